package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/runnerkey"
)

func TestRunnerCertWritesAUsablePairAndToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	var out, errOut bytes.Buffer
	err := runRunnerCert(t.Context(), []string{"--dir", dir, "--host", "runner1.internal", "--host", "10.0.0.7"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for name, mode := range map[string]os.FileMode{runnerCertFile: 0o644, runnerKeyFile: 0o600, runnerTokenFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v mode %v, want %v", name, err, fi.Mode().Perm(), mode)
		}
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, runnerCertFile))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, runnerKeyFile))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key pair: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cert.DNSNames, "runner1.internal") || !slices.Contains(cert.DNSNames, "localhost") {
		t.Fatalf("SANs: %v %v", cert.DNSNames, cert.IPAddresses)
	}
	token, _ := os.ReadFile(filepath.Join(dir, runnerTokenFile))
	if tok := strings.TrimSpace(string(token)); len(tok) != 43 {
		t.Fatalf("token %q", tok)
	}
	if s := out.String(); !strings.Contains(s, "token_file: "+dir+"/runner.token") || !strings.Contains(s, "runner1.internal") {
		t.Fatalf("usage output:\n%s", s)
	}
}

func TestRunnerCertKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := runRunnerCert(t.Context(), []string{"--dir", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, runnerTokenFile))
	err := runRunnerCert(t.Context(), []string{"--dir", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second run: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, runnerTokenFile)); !bytes.Equal(before, again) {
		t.Fatal("token replaced without --force")
	}
	if err := runRunnerCert(t.Context(), []string{"--dir", dir, "--force"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, runnerTokenFile)); bytes.Equal(before, again) {
		t.Fatal("token not replaced with --force")
	}
	if err := runRunnerCert(t.Context(), []string{"--bogus"}, &out, &errOut); err != exitError(2) {
		t.Fatalf("bad flag: %v", err)
	}
}

// With --id and a fleet key, the token is the runner's own derived token;
// with a CA, the certificate is issued by it for the runner.
func TestRunnerCertDerivesTheRunnersTokenAndIssuesFromACA(t *testing.T) {
	base := t.TempDir()
	var out, errOut bytes.Buffer
	ca := filepath.Join(base, "ca")
	if err := runRunnerCert(t.Context(), []string{"--dir", ca}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(base, "fleet.key")
	writeTestFile(t, keys, "# new first\nfleet-key-new-0123456789\nfleet-key-old-0123456789\n")
	dir := filepath.Join(base, "r7")
	err := runRunnerCert(t.Context(), []string{"--id", "r7", "--fleet-key-file", keys, "--ca-cert",
		filepath.Join(ca, runnerCertFile), "--ca-key", filepath.Join(ca, runnerKeyFile), "--dir", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	token, _ := os.ReadFile(filepath.Join(dir, runnerTokenFile))
	if got := strings.TrimSpace(string(token)); got != runnerkey.Token("fleet-key-new-0123456789", "r7") {
		t.Fatalf("token %q, want r7's token under the first fleet key", got)
	}
	caPEM, _ := os.ReadFile(filepath.Join(ca, runnerCertFile))
	certPEM, _ := os.ReadFile(filepath.Join(dir, runnerCertFile))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil || cert.Subject.CommonName != "r7" {
		t.Fatalf("issued certificate: CN %q, verify %v", cert.Subject.CommonName, err)
	}
	if err := runRunnerCert(t.Context(), []string{"--fleet-key-file", keys}, &out, &errOut); err != exitError(2) {
		t.Fatalf("--fleet-key-file without --id: %v", err)
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
