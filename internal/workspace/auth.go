package workspace

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// Reasons an AuthError gives, for people: the job's error says one of them.
const (
	ReasonAuthRequired  = "repository requires authentication: configure a GitHub App or token"
	ReasonTokenRejected = "token rejected: the repository refused the clone credential; check the GitHub App's installation on it (contents: read) or the token's access"
)

// BasicCredential is the HTTP basic credential a clone sends for token
// (base64 of x-access-token:token).
func BasicCredential(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
}

// TokenForms are the strings that must not reach a log for a clone with
// token: the token and its BasicCredential; none for no token.
func TokenForms(token string) []string {
	if token == "" {
		return nil
	}
	return []string{token, BasicCredential(token)}
}

// AuthError is a clone that the server refused for want of credentials
// (TokenSent false) or because it refused the token it got (TokenSent true).
type AuthError struct {
	URL       string // the clone URL, without user information
	TokenSent bool
	Detail    string // what git said, scrubbed of the token
}

func (e *AuthError) Error() string {
	reason := ReasonAuthRequired
	if e.TokenSent {
		reason = ReasonTokenRejected
	}
	return reason + " (" + e.URL + ": " + e.Detail + ")"
}

// authFailure matches what git prints when an http(s) server wants
// credentials or refuses them: 401 leads git to ask for a user name, which it
// may not (no prompt), 403 is a refusal, and GitHub answers 404 for a private
// repository it does not show to the caller.
var authFailure = regexp.MustCompile(`Authentication failed|could not read (Username|Password)|` +
	`returned error: (401|403|404)|Repository not found|repository '[^']*' not found`)

// authError is the *AuthError of a failed fetch whose message says the
// server wanted credentials or refused them, nil for any other failure.
func (g *git) authError(err error) error {
	u := strings.ToLower(g.opts.URL)
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") || !authFailure.MatchString(err.Error()) {
		return nil
	}
	return &AuthError{URL: redactURL(g.opts.URL), TokenSent: g.opts.Token != "", Detail: lastLine(err.Error())}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
