package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

const runnerCertHelp = `Usage: narwhal runner-cert [--dir DIR] [--host NAME ...] [--valid DURATION] [--force]

Makes the secrets of a runner: a self-signed TLS certificate and key for runnerd's gRPC server
(its own CA, valid for the given host names and IPs plus localhost, 127.0.0.1 and ::1) and a
bearer token. Writes DIR/runner.crt, DIR/runner.key (mode 0600) and DIR/runner.token (0600), and
prints how to use them. Existing files are kept unless --force.

Flags:
  --dir DIR           where to write the files (default .)
  --host NAME         a DNS name or IP address the dispatcher reaches the runner at (repeatable)
  --valid DURATION    how long the certificate is valid (default 8760h, a year)
  --force             overwrite existing files

Examples:
  narwhal runner-cert --dir /etc/narwhal --host runner1.internal --host 10.0.0.7
`

// Names of the files runner-cert writes.
const (
	runnerCertFile  = "runner.crt"
	runnerKeyFile   = "runner.key"
	runnerTokenFile = "runner.token"
)

type runnerCertOptions struct {
	dir   string
	hosts hostList
	valid time.Duration
	force bool
}

// hostList collects repeated --host flags.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func runRunnerCert(_ context.Context, args []string, stdout, stderr io.Writer) error {
	o := runnerCertOptions{}
	fl := flag.NewFlagSet("runner-cert", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, runnerCertHelp) }
	fl.StringVar(&o.dir, "dir", ".", "output directory")
	fl.Var(&o.hosts, "host", "host name or IP (repeatable)")
	fl.DurationVar(&o.valid, "valid", 365*24*time.Hour, "validity")
	fl.BoolVar(&o.force, "force", false, "overwrite existing files")
	if err := fl.Parse(args); err != nil {
		return flagError(err)
	}
	if fl.NArg() > 0 || o.valid <= 0 {
		fmt.Fprintln(stderr, "narwhal runner-cert: unexpected argument or non-positive --valid; see --help")
		return exitError(2)
	}
	if err := writeRunnerSecrets(o); err != nil {
		return err
	}
	return printRunnerCertUsage(stdout, o)
}

// writeRunnerSecrets makes the certificate, key and token and writes them.
func writeRunnerSecrets(o runnerCertOptions) error {
	certPEM, keyPEM, err := tlsgen.SelfSigned(o.hosts, o.valid)
	if err != nil {
		return fmt.Errorf("make certificate: %w", err)
	}
	token, err := tlsgen.Token()
	if err != nil {
		return fmt.Errorf("make token: %w", err)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.dir, err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{runnerCertFile, certPEM, 0o644},
		{runnerKeyFile, keyPEM, 0o600},
		{runnerTokenFile, []byte(token + "\n"), 0o600},
	}
	if !o.force {
		for _, f := range files {
			p := filepath.Join(o.dir, f.name)
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s exists; pass --force to replace it", p)
			}
		}
	}
	for _, f := range files {
		if err := writeSecretFile(filepath.Join(o.dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeSecretFile writes data with exactly mode, also over an existing file
// with looser permissions.
func writeSecretFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

func printRunnerCertUsage(w io.Writer, o runnerCertOptions) error {
	abs, err := filepath.Abs(o.dir)
	if err != nil {
		abs = o.dir
	}
	hosts := append(append([]string{}, o.hosts...), tlsgen.DefaultHosts...)
	_, err = fmt.Fprintf(w, `Wrote %[1]s/%[2]s, %[1]s/%[3]s (0600) and %[1]s/%[4]s (0600).
The certificate is valid for %[5]s until %[6]s.

runnerd (in its configuration file):
  tls:
    cert: %[1]s/%[2]s
    key: %[1]s/%[3]s
  token_file: %[1]s/%[4]s

The dispatcher trusts %[2]s as the runner's CA (rpc.ClientConfig.CAPEM) and sends the
token of %[4]s (rpc.ClientConfig.Token). Keep %[3]s and %[4]s secret. To rotate the token,
list the old and the new one in runnerd's tokens until the dispatcher uses the new one.
`, abs, runnerCertFile, runnerKeyFile, runnerTokenFile, strings.Join(hosts, ", "),
		time.Now().Add(o.valid).UTC().Format(time.DateOnly))
	return err
}
