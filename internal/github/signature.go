// Package github turns GitHub webhook deliveries into narwhal job requests:
// it checks the X-Hub-Signature-256 header and parses push, pull_request and
// ping payloads with go-github. It is pure: no I/O, no AWS or Lambda types.
package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader is the header GitHub puts the HMAC-SHA256 of the body in.
const SignatureHeader = "X-Hub-Signature-256"

const sigPrefix = "sha256="

// Signature errors. A delivery without a signature and one whose signature
// does not verify are told apart so that logs say which happened; both mean
// the delivery must be rejected.
var (
	// ErrNoSignature: the X-Hub-Signature-256 header is missing or empty.
	ErrNoSignature = errors.New("missing " + SignatureHeader)
	// ErrBadSignature: the header is malformed, or matches none of the secrets.
	ErrBadSignature = errors.New("bad " + SignatureHeader)
)

// Sign returns the X-Hub-Signature-256 value of body under secret:
// "sha256=" and the hex HMAC-SHA256. Tests, samples and `narwhal trigger` use it.
func Sign(body, secret []byte) string {
	return sigPrefix + hex.EncodeToString(mac(body, secret))
}

// VerifySignature checks header, the X-Hub-Signature-256 value, against the
// HMAC-SHA256 of the exact body bytes under each of secrets in turn; one match
// is enough, so a secret can be rotated by accepting the old and the new one
// for a while. The comparison is constant-time. It returns nil, or an error
// matching ErrNoSignature or ErrBadSignature. No secrets means no delivery
// verifies.
func VerifySignature(body []byte, header string, secrets [][]byte) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrNoSignature
	}
	hexSum, ok := strings.CutPrefix(header, sigPrefix)
	if !ok {
		return fmt.Errorf("%w: want the sha256= prefix", ErrBadSignature)
	}
	want, err := hex.DecodeString(hexSum)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("%w: not a hex SHA-256 digest", ErrBadSignature)
	}
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	for _, s := range secrets {
		if len(s) > 0 && hmac.Equal(mac(body, s), want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no secret matches", ErrBadSignature)
}

func mac(body, secret []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}
