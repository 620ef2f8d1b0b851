package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/tlsgen"
	"github.com/narwhal-ci/narwhal/internal/webhook"
)

// Layout of the state directory (Config.Dir); docs/dev.md lists it too.
const (
	storeFile     = "narwhal.db"     // the SQLite store (and the repository secrets, encrypted)
	secretsKey    = "secrets.key"    // the key of the repository secrets (0600), kept across starts
	logsDir       = "logs"           // the file system log store
	blobsDir      = "blobs"          // the file system blob store: snapshots/, cache/, artifacts/
	runnersDir    = "runners"        // runners/<id>/{jobs,outbox}
	secretFile    = "webhook-secret" // the webhook secret, kept across starts
	tokenFile     = "api-token"      // the REST API's bearer token, kept across starts
	tlsDir        = "tls"            // the runners' certificate and key (new at each start), fleet key (kept)
	certFile      = "runner.pem"
	keyFile       = "runner-key.pem"
	fleetKeyFile  = "fleet-key"  // derives each runner's token (runnerkey)
	demoRepoDir   = "demo-repo"  // the git repository of --demo
	runnerTagFile = "runner-tag" // the tag in the default runner name, kept across starts
	certValidity  = 30 * 24 * time.Hour
	secretPerm    = 0o600
	stateDirPerms = 0o700
)

// secrets are what the state directory keeps for a start.
type secrets struct {
	webhookSecret string // the one narwhal dev signs its own deliveries with
	// webhookSecrets are the secrets accepted: the lines of the state
	// directory's webhook-secret (its first line is webhookSecret), then the
	// lines of each Config.WebhookSecretFiles.
	webhookSecrets webhook.StaticSecrets
	apiToken       string
	certPEM        []byte
	keyPEM         []byte
	fleetKey       string // each runner's token is runnerkey.Token(fleetKey, id)
}

// loadSecrets makes the state directory and reads (or creates) the webhook
// secret and the API token, which stay the same across starts so that a
// configured webhook keeps working, and the runners' fleet key, kept so that
// reports a crash left in an outbox still verify after a restart; it writes
// a new runner certificate, which nothing outside this process needs.
func loadSecrets(dir string, extra []string) (secrets, error) {
	var s secrets
	if err := os.MkdirAll(filepath.Join(dir, tlsDir), stateDirPerms); err != nil {
		return s, fmt.Errorf("state directory: %w", err)
	}
	var err error
	if s.webhookSecret, s.webhookSecrets, err = webhookSecrets(filepath.Join(dir, secretFile), extra); err != nil {
		return s, err
	}
	if s.apiToken, err = keptSecret(filepath.Join(dir, tokenFile)); err != nil {
		return s, err
	}
	if s.certPEM, s.keyPEM, err = tlsgen.SelfSigned(nil, certValidity); err != nil {
		return s, fmt.Errorf("runner certificate: %w", err)
	}
	if s.fleetKey, err = keptSecret(filepath.Join(dir, tlsDir, fleetKeyFile)); err != nil {
		return s, err
	}
	for name, data := range map[string][]byte{certFile: s.certPEM, keyFile: s.keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, tlsDir, name), data, secretPerm); err != nil {
			return s, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return s, nil
}

// webhookSecrets reads the kept webhook secret file (created when missing)
// and the extra secret files, each holding secrets one a line
// (webhook.SecretLines), and returns the first secret and all of them.
func webhookSecrets(path string, extra []string) (string, webhook.StaticSecrets, error) {
	if _, err := keptSecret(path); err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(path) // each secret as written, not trimmed
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	all := webhook.SecretLines(string(data))
	for _, name := range extra {
		data, err := os.ReadFile(name)
		if err != nil {
			return "", nil, fmt.Errorf("webhook secret file: %w", err)
		}
		more := webhook.SecretLines(string(data))
		if len(more) == 0 {
			return "", nil, fmt.Errorf("webhook secret file %s holds no secret", name)
		}
		all = append(all, more...)
	}
	return string(all[0]), all, nil
}

// keptSecret reads the secret in path, or creates it with a new random value.
func keptSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(data)) != "" {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	v, err := tlsgen.Token()
	if err != nil {
		return "", fmt.Errorf("new %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, []byte(v+"\n"), secretPerm); err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return v, nil
}

// runnerName is the default runner name prefix of the stack in dir:
// "dev-<tag>", where tag is random, made at the first start and kept in dir.
// Runner IDs label the containers their executor makes and its sweep removes,
// so two stacks on one Docker engine must not share them; a restart of the
// same stack keeps them, so that it recovers its jobs, delivers the reports
// left in its outboxes and sweeps its own leftovers. (Two processes on one
// dir do not both start: the second finds the runners' outboxes locked.)
func runnerName(dir string) (string, error) {
	path := filepath.Join(dir, runnerTagFile)
	data, err := os.ReadFile(path)
	if tag := strings.TrimSpace(string(data)); err == nil && validTag(tag) {
		return "dev-" + tag, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", runnerTagFile, err)
	}
	b := make([]byte, 3)
	rand.Read(b) // never fails
	tag := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tag+"\n"), secretPerm); err != nil {
		return "", fmt.Errorf("write %s: %w", runnerTagFile, err)
	}
	return "dev-" + tag, nil
}

// validTag accepts a runner tag of 1 to 16 lower-case letters and digits.
func validTag(tag string) bool {
	if tag == "" || len(tag) > 16 {
		return false
	}
	for _, c := range tag {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
