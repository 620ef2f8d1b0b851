package webhook

import (
	"reflect"
	"testing"
)

func TestSecretLines(t *testing.T) {
	t.Parallel()
	cases := map[string]StaticSecrets{
		"one":                {[]byte("one")},
		"new\nold\n":         {[]byte("new"), []byte("old")},
		"new\r\n\r\nold\r\n": {[]byte("new"), []byte("old")},
		"a,b":                {[]byte("a,b")}, // a comma is part of the secret
		" spaced , secret ":  {[]byte(" spaced , secret ")},
		"":                   nil,
		"\n\n":               nil,
	}
	for in, want := range cases {
		if got := SecretLines(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SecretLines(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecretValue(t *testing.T) {
	t.Parallel()
	cases := map[string]StaticSecrets{
		"one":               {[]byte("one")},
		"a,b\nc":            {[]byte("a,b\nc")}, // not a list: one secret as stored
		`["new,1", "old"]`:  {[]byte("new,1"), []byte("old")},
		`["", "only"]`:      {[]byte("only")},
		`[]`:                nil,
		"":                  nil,
		`{"not": "a list"}`: {[]byte(`{"not": "a list"}`)},
	}
	for in, want := range cases {
		if got := SecretValue(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SecretValue(%q) = %q, want %q", in, got, want)
		}
	}
}
