package amqp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// BrokerURL puts the credentials of an Amazon MQ broker secret
// ({"username","password"}, the shape the Lambda MQ event source also reads)
// into endpoint (amqps://host:port), giving the URL for Config.URL. The
// functions read the secret from Secrets Manager and call this.
func BrokerURL(endpoint, secret string) (string, error) {
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(secret), &cred); err != nil {
		return "", fmt.Errorf(`broker secret: want {"username","password"}: %w`, err)
	}
	if cred.Username == "" {
		return "", errors.New("broker secret: empty username")
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return "", fmt.Errorf("broker endpoint %q: want amqps://host:port", endpoint)
	}
	u.User = url.UserPassword(cred.Username, cred.Password)
	return u.String(), nil
}
