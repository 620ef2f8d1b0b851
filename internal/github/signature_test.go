package github

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"zen":"Design for failure."}`)
	secret, old := []byte("narwhal-test-secret"), []byte("old-secret")
	good := Sign(body, secret)
	cases := []struct {
		name    string
		body    []byte
		header  string
		secrets [][]byte
		want    error
	}{
		{"valid", body, good, [][]byte{secret}, nil},
		{"valid with spaces around", body, " " + good + " ", [][]byte{secret}, nil},
		{"rotated: new secret second", body, good, [][]byte{old, secret}, nil},
		{"rotated: old secret still accepted", body, Sign(body, old), [][]byte{secret, old}, nil},
		{"tampered body", []byte(`{"zen":"Design for success."}`), good, [][]byte{secret}, ErrBadSignature},
		{"body with a trailing newline", append(append([]byte{}, body...), '\n'), good, [][]byte{secret}, ErrBadSignature},
		{"wrong secret", body, Sign(body, []byte("guess")), [][]byte{secret}, ErrBadSignature},
		{"missing header", body, "", [][]byte{secret}, ErrNoSignature},
		{"sha1 header", body, "sha1=" + strings.Repeat("a", 40), [][]byte{secret}, ErrBadSignature},
		{"no prefix", body, strings.TrimPrefix(good, "sha256="), [][]byte{secret}, ErrBadSignature},
		{"not hex", body, "sha256=" + strings.Repeat("z", 64), [][]byte{secret}, ErrBadSignature},
		{"short digest", body, good[:len(good)-2], [][]byte{secret}, ErrBadSignature},
		{"upper-case hex", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), [][]byte{secret}, nil},
		{"no secrets configured", body, good, nil, ErrBadSignature},
		{"empty secret never matches", body, Sign(body, nil), [][]byte{{}}, ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.body, tc.header, tc.secrets)
			if tc.want == nil && err != nil {
				t.Fatalf("VerifySignature: %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// The example from GitHub's "Validating webhook deliveries" documentation.
	got := Sign([]byte("Hello, World!"), []byte("It's a Secret to Everybody"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}
