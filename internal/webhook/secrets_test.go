package webhook

import (
	"reflect"
	"testing"
)

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	cases := map[string]StaticSecrets{
		"one":                 {[]byte("one")},
		"new\nold":            {[]byte("new"), []byte("old")},
		" new , old ,\n\r\n ": {[]byte("new"), []byte("old")},
		"":                    nil,
		",\n,":                nil,
	}
	for in, want := range cases {
		if got := ParseSecrets(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSecrets(%q) = %q, want %q", in, got, want)
		}
	}
}
