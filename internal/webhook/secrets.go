package webhook

import (
	"context"
	"encoding/json"
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

// SecretLines reads secrets given one a line (a secret file, or
// NARWHAL_WEBHOOK_SECRET): each line is one whole secret, byte for byte but
// for its line ending ("\n" or "\r\n"); empty lines are dropped. Nothing else
// separates secrets: a comma or a space is part of the secret it is in.
func SecretLines(s string) StaticSecrets {
	var out StaticSecrets
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			out = append(out, []byte(line))
		}
	}
	return out
}

// SecretValue reads the secrets of a Secrets Manager secret string: a JSON
// list of strings gives one secret per non-empty element (the rotation
// form, ["new", "old"]); any other value is one secret, exactly as stored.
func SecretValue(s string) StaticSecrets {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		if s == "" {
			return nil
		}
		return StaticSecrets{[]byte(s)}
	}
	var out StaticSecrets
	for _, v := range list {
		if v != "" {
			out = append(out, []byte(v))
		}
	}
	return out
}
