package runnerkey

import "testing"

const k1, k2 = "fleet-key-one-0123456789", "fleet-key-two-0123456789"

func TestTokenIsPerRunnerAndKey(t *testing.T) {
	a, b, a2 := Token(k1, "a"), Token(k1, "b"), Token(k2, "a")
	if a == b || a == a2 || len(a) != 43 {
		t.Fatalf("tokens %q %q %q: want distinct 43-character tokens", a, b, a2)
	}
	if Token(k1, "a") != a {
		t.Fatal("Token is not deterministic")
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"kind":"job","runner_id":"a"}`)
	old, cur := Fleet{k1}, Fleet{k2, k1}
	sig := Sign(Token(k1, "a"), body)
	cases := []struct {
		name  string
		fleet Fleet
		id    string
		body  []byte
		sig   string
		want  bool
	}{
		{"own token", old, "a", body, sig, true},
		{"rotation: an older key still verifies", cur, "a", body, sig, true},
		{"another runner's ID", old, "b", body, sig, false},
		{"signed by another runner", old, "a", body, Sign(Token(k1, "b"), body), false},
		{"body changed", old, "a", append([]byte(" "), body...), sig, false},
		{"unsigned", old, "a", body, "", false},
		{"garbage", old, "a", body, "!!", false},
		{"key removed", Fleet{k2}, "a", body, sig, false},
		{"no keys", nil, "a", body, sig, false},
	}
	for _, c := range cases {
		if got := c.fleet.Verify(c.id, c.body, c.sig); got != c.want {
			t.Errorf("%s: Verify = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFleet(t *testing.T) {
	if err := (Fleet{}).Check(); err == nil {
		t.Error("an empty fleet passes Check")
	}
	if err := (Fleet{"short"}).Check(); err == nil {
		t.Error("a short key passes Check")
	}
	if got := (Fleet{k2, k1}).Token("a"); got != Token(k2, "a") {
		t.Errorf("Token uses %q, want the first key's", got)
	}
}
