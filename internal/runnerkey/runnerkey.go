// Package runnerkey gives every runner its own credentials without a
// registry: the dispatcher holds the fleet keys, and runner X's bearer token
// is derived from a fleet key and X's ID. runnerd knows only its own token:
// it presents nothing, the dispatcher presents X's token when it calls X
// over gRPC, and X signs every report it publishes with it, so the
// dispatcher can tell X's reports from anyone else's on the queue (the
// queue is transport, not proof). docs/rpc.md describes rotation.
package runnerkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Header is the message header that carries a report's signature.
const Header = "signature"

// MinKeyLen is the shortest fleet key accepted.
const MinKeyLen = 16

// tokenLabel is the HMAC message of a runner's token, before its ID.
const tokenLabel = "narwhal runner "

// Token returns runner id's bearer token under fleetKey:
// base64url(HMAC-SHA256(fleetKey, "narwhal runner " + id)), 43 characters.
func Token(fleetKey, id string) string {
	return mac([]byte(fleetKey), []byte(tokenLabel+id))
}

// Sign returns the signature of a report body under a runner's token:
// base64url(HMAC-SHA256(token, body)) over the exact bytes published.
func Sign(token string, body []byte) string { return mac([]byte(token), body) }

func mac(key, msg []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Fleet is the dispatcher's list of fleet keys. The first derives the tokens
// of new calls; every one verifies reports, so a key being rotated out still
// verifies the reports of runners not yet given the new token.
type Fleet []string

// ErrNoKey says a Fleet has no key.
var ErrNoKey = errors.New("no runner fleet key configured")

// Check reports a Fleet that cannot work: no key, or a key too short.
func (f Fleet) Check() error {
	if len(f) == 0 {
		return ErrNoKey
	}
	for i, k := range f {
		if len(k) < MinKeyLen {
			return fmt.Errorf("runner fleet key %d is shorter than %d characters", i+1, MinKeyLen)
		}
	}
	return nil
}

// Token returns the token the dispatcher presents to runner id: derived
// from the first key, "" without one.
func (f Fleet) Token(id string) string {
	if len(f) == 0 {
		return ""
	}
	return Token(f[0], id)
}

// Verify reports whether sig is runner id's signature of body under any of
// the fleet's keys. The comparison is constant-time.
func (f Fleet) Verify(id string, body []byte, sig string) bool {
	want, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(want) != sha256.Size || id == "" {
		return false
	}
	ok := false
	for _, k := range f {
		got, _ := base64.RawURLEncoding.DecodeString(Sign(Token(k, id), body))
		ok = hmac.Equal(got, want) || ok
	}
	return ok
}
