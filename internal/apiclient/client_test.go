package apiclient

import "testing"

// TestAPIErrorsFromOtherServers: the answers of API Gateway and proxies read
// as well as ours.
func TestAPIErrorsFromOtherServers(t *testing.T) {
	t.Parallel()
	c := &Client{}
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{404, `{"error":"job x not found"}`, "404 job x not found"},
		{500, `{"message":"Internal Server Error"}`, "500 Internal Server Error"}, // API Gateway's own
		{502, `<html>Bad Gateway</html>`, "502 bad gateway"},
		{401, `{"error":"missing bearer token"}`, "401 missing bearer token (set NARWHAL_TOKEN or pass --token)"},
	}
	for _, tt := range tests {
		if got := c.errorOf(tt.status, []byte(tt.body)).Error(); got != tt.want {
			t.Errorf("errorOf(%d, %s) = %q, want %q", tt.status, tt.body, got, tt.want)
		}
	}
}
