package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// auth checks bearer tokens. Tokens are kept as SHA-256 digests and every
// digest is compared in constant time, so neither a token's bytes nor its
// length nor which token matched shows in the timing.
type auth struct {
	digests  [][sha256.Size]byte
	insecure bool
}

func newAuth(tokens []string, insecure bool) auth {
	a := auth{insecure: insecure}
	for _, t := range tokens {
		if t != "" {
			a.digests = append(a.digests, sha256.Sum256([]byte(t)))
		}
	}
	return a
}

// valid reports whether token is one of the accepted tokens.
func (a auth) valid(token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range a.digests {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1 && token != ""
}

// wrap answers 401 with a WWW-Authenticate challenge (RFC 6750) unless the
// request carries an accepted bearer token.
func (a auth) wrap(next http.Handler) http.Handler {
	if a.insecure {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", `Bearer realm="narwhal"`)
			writeFailure(w, fail(http.StatusUnauthorized, "missing bearer token", nil))
		case !a.valid(token):
			w.Header().Set("WWW-Authenticate", `Bearer realm="narwhal", error="invalid_token"`)
			writeFailure(w, fail(http.StatusUnauthorized, "invalid bearer token", nil))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" header
// value (the scheme is case-insensitive).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
