package docker

import (
	"strings"
	"testing"
)

func TestPullError(t *testing.T) {
	tests := []struct {
		name, stream, want string
	}{
		{"success", `{"status":"Pulling from library/busybox"}` + "\n" + `{"status":"Digest: sha256:abc"}` + "\n", ""},
		{"empty", "", ""},
		{"error detail", `{"status":"Pulling"}{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown (short)"}`, "manifest unknown"},
		{"error only", `{"error":"toomanyrequests"}`, "toomanyrequests"},
		{"truncated", `{"status":"Pull`, "read progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pullError(strings.NewReader(tt.stream))
			if tt.want == "" {
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
