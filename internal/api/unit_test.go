package api

import (
	"testing"
	"time"
)

func TestTrimPartialRune(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"caf\xc3\xa9", "caf\xc3\xa9"},         // complete 2-byte character
		{"caf\xc3", "caf"},                     // cut after 1 of 2 bytes
		{"ok \xe2\x9c", "ok "},                 // cut after 2 of 3
		{"ok \xe2\x9c\x93", "ok \xe2\x9c\x93"}, // ✓ complete
		{"\xf0\x9f\x90", ""},                   // cut after 3 of 4
		{"bad \x9c", "bad \x9c"},               // a stray continuation byte stays
		{"bad \xff", "bad \xff"},               // an invalid byte stays
	}
	for _, tt := range tests {
		if got := string(trimPartialRune([]byte(tt.in))); got != tt.want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Token abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		token, ok := bearer(tt.header)
		if token != tt.token || ok != tt.ok {
			t.Errorf("bearer(%q) = %q, %v; want %q, %v", tt.header, token, ok, tt.token, tt.ok)
		}
	}
}

func TestPercentilesNearestRank(t *testing.T) {
	one := percentiles([]time.Duration{3 * time.Second})
	if *one != (Percentiles{Count: 1, P50: 3, P90: 3, P99: 3}) {
		t.Errorf("one sample: %+v", *one)
	}
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted input
		d = append(d, time.Duration(i)*time.Second)
	}
	if p := percentiles(d); *p != (Percentiles{Count: 100, P50: 50, P90: 90, P99: 99}) {
		t.Errorf("1..100: %+v", *p)
	}
}
