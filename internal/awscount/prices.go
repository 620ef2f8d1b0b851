package awscount

import "strings"

// Prices are on-demand list prices of one region, in US dollars per unit.
// They are figures to compare with, copied from the AWS price pages: check
// them before relying on a total (docs/cost.md).
type Prices struct {
	Region          string
	DynamoWriteUnit float64 // on-demand write request unit
	DynamoReadUnit  float64 // on-demand read request unit
	S3Put           float64 // PUT, COPY, POST, LIST request (S3 Standard)
	S3Get           float64 // GET and every other request
	SecretsCall     float64 // Secrets Manager API call
	LambdaRequest   float64 // Lambda invocation
	LambdaGBSecond  float64 // Lambda duration, arm64
	HTTPRequest     float64 // API Gateway HTTP API request
}

// USEast1 are the prices of us-east-1 (N. Virginia) as listed in 2025:
// DynamoDB on-demand $0.625 per million writes and $0.125 per million
// reads, S3 $0.005 per 1,000 PUT/LIST and $0.0004 per 1,000 GET, Secrets
// Manager $0.05 per 10,000 calls, Lambda $0.20 per million requests and
// $0.0000133334 per GB-second on arm64, HTTP API $1.00 per million.
// Amazon MQ bills broker hours, not messages: a message costs nothing more.
var USEast1 = Prices{
	Region:          "us-east-1",
	DynamoWriteUnit: 0.625e-6, DynamoReadUnit: 0.125e-6,
	S3Put: 0.005e-3, S3Get: 0.0004e-3,
	SecretsCall:   0.05e-4,
	LambdaRequest: 0.20e-6, LambdaGBSecond: 0.0000133334,
	HTTPRequest: 1.00e-6,
}

// s3Tier1 are the S3 operations billed at the PUT price.
var s3Tier1 = map[string]bool{"S3.PutObject": true, "S3.CopyObject": true, "S3.ListObjectsV2": true,
	"S3.ListObjects": true, "S3.CreateMultipartUpload": true, "S3.UploadPart": true, "S3.CompleteMultipartUpload": true}

// S3Requests counts the S3 calls of t by price: put are those billed at the
// PUT price (PUT, COPY, POST, LIST), get every other one (GET, HEAD, ...).
func (t Tally) S3Requests() (put, get int) {
	for op, n := range t.Calls {
		switch {
		case s3Tier1[op]:
			put += n
		case strings.HasPrefix(op, "S3."):
			get += n
		}
	}
	return put, get
}

// Dollars is what the calls of t cost.
func (p Prices) Dollars(t Tally) float64 {
	put, get := t.S3Requests()
	usd := t.WriteUnits*p.DynamoWriteUnit + t.ReadUnits*p.DynamoReadUnit +
		float64(put)*p.S3Put + float64(get)*p.S3Get
	return usd + float64(t.Service("Secrets Manager"))*p.SecretsCall
}

// Lambda is what invocations of a function of memoryMB cost that ran for
// billedMs milliseconds in all.
func (p Prices) Lambda(invocations int, billedMs float64, memoryMB int) float64 {
	return float64(invocations)*p.LambdaRequest + billedMs/1000*float64(memoryMB)/1024*p.LambdaGBSecond
}
