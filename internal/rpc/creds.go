package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// handshakeWatch is the client's TLS credentials, remembering whether the
// last handshake failed because the runner's certificate is not trusted, so
// the Unavailable that follows is not retried in vain.
type handshakeWatch struct {
	credentials.TransportCredentials
	last *atomic.Pointer[tls.CertificateVerificationError] // nil after any other outcome
}

var errNoCA = errors.New("no CA certificate to trust (ClientConfig.CAPEM)")

func newHandshakeWatch(caPEM []byte, serverName string) (*handshakeWatch, error) {
	if len(caPEM) == 0 {
		return nil, errNoCA
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate found in the CA PEM")
	}
	creds := credentials.NewTLS(&tls.Config{
		RootCAs:    pool,
		ServerName: serverName,
		MinVersion: tls.VersionTLS13,
	})
	return &handshakeWatch{TransportCredentials: creds,
		last: new(atomic.Pointer[tls.CertificateVerificationError])}, nil
}

// ClientHandshake implements credentials.TransportCredentials.
func (w *handshakeWatch) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := w.TransportCredentials.ClientHandshake(ctx, authority, conn)
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		w.last.Store(verr)
	} else {
		w.last.Store(nil)
	}
	return c, info, err
}

// Clone implements credentials.TransportCredentials; the clone shares what
// it watches.
func (w *handshakeWatch) Clone() credentials.TransportCredentials {
	return &handshakeWatch{TransportCredentials: w.TransportCredentials.Clone(), last: w.last}
}

// untrusted returns the certificate verification error behind err, an
// Unavailable status, or nil when that is not why the call failed.
func (w *handshakeWatch) untrusted(err error) error {
	verr := w.last.Load()
	if verr == nil || status.Code(err) != codes.Unavailable {
		return nil
	}
	// gRPC may quote the handshake error inside its message (%q).
	msg, text := status.Convert(err).Message(), verr.Error()
	quoted := strconv.Quote(text)
	if !strings.Contains(msg, text) && !strings.Contains(msg, quoted[1:len(quoted)-1]) {
		return nil
	}
	return verr
}
