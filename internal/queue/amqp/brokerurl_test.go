package amqp

import "testing"

func TestBrokerURL(t *testing.T) {
	t.Parallel()
	got, err := BrokerURL("amqps://b-1.mq.us-east-1.amazonaws.com:5671", `{"username":"narwhal","password":"p@ss/word"}`)
	if err != nil || got != "amqps://narwhal:p%40ss%2Fword@b-1.mq.us-east-1.amazonaws.com:5671" {
		t.Fatalf("%q %v", got, err)
	}
	for _, tc := range [][2]string{
		{"amqps://b:5671", `not json`}, {"amqps://b:5671", `{"password":"x"}`},
		{"https://b", `{"username":"u","password":"x"}`}, {"", `{"username":"u","password":"x"}`},
	} {
		if _, err := BrokerURL(tc[0], tc[1]); err == nil {
			t.Errorf("BrokerURL(%q, %q) succeeded", tc[0], tc[1])
		}
	}
}
