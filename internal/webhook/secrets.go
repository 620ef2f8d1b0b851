package webhook

import (
	"context"
	"strings"
)

// SecretSource yields the webhook secrets accepted now: one, or several
// while a secret is being rotated. Implementations are safe for concurrent use.
type SecretSource interface {
	Secrets(ctx context.Context) ([][]byte, error)
}

// StaticSecrets is a fixed list of secrets, for NARWHAL_WEBHOOK_SECRET and tests.
type StaticSecrets [][]byte

// Secrets returns s.
func (s StaticSecrets) Secrets(context.Context) ([][]byte, error) { return s, nil }

// ParseSecrets splits a secret string holding one or more secrets separated
// by newlines or commas; spaces around each are trimmed and empty ones dropped.
func ParseSecrets(s string) StaticSecrets {
	var out StaticSecrets
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, []byte(f))
		}
	}
	return out
}
