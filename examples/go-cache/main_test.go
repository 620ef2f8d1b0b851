package main

import "testing"

func TestGreeting(t *testing.T) {
	if got := greeting("narwhal"); got != "hello, narwhal" {
		t.Fatalf("greeting = %q", got)
	}
}
