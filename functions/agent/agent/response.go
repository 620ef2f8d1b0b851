package agent

import (
	"encoding/json"
	"maps"

	"github.com/aws/aws-lambda-go/events"
)

// failure is a rejected request: the status to answer, the message for the
// client, and the cause for the log (which may say more than the client sees).
type failure struct {
	status int
	msg    string
	cause  error
}

func fail(status int, msg string, cause error) *failure {
	return &failure{status: status, msg: msg, cause: cause}
}

// reply is an answer: a status and a JSON body.
type reply struct {
	status int
	body   any
}

// Response bodies. They are part of the agent's HTTP contract (docs/intake.md).
type (
	pongBody struct {
		Pong bool `json:"pong"`
	}
	createdBody struct {
		JobID     string `json:"job_id"`
		Status    string `json:"status"`
		Published bool   `json:"published"`
	}
	duplicateBody struct {
		Duplicate bool   `json:"duplicate"`
		JobID     string `json:"job_id"`
	}
	ignoredBody struct {
		Ignored string `json:"ignored"`
	}
	errorBody struct {
		Error string `json:"error"`
	}
)

var jsonHeaders = map[string]string{"Content-Type": "application/json"}

// v2Response renders rep in the HTTP API (2.0) response shape.
func v2Response(rep reply) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(rep.body)
	if err != nil { // only our own plain structs are marshalled
		body = []byte(`{"error":"encode response"}`)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: rep.status, Headers: maps.Clone(jsonHeaders), Body: string(body)}
}

// v1Response renders a 2.0 response in the REST (1.0) shape.
func v1Response(r events.APIGatewayV2HTTPResponse) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: r.StatusCode, Headers: r.Headers, Body: r.Body}
}
