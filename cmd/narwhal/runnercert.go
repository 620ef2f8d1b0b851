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

	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

const runnerCertHelp = `Usage: narwhal runner-cert [--id ID --fleet-key-file FILE] [--ca-cert FILE --ca-key FILE]
                           [--dir DIR] [--host NAME ...] [--valid DURATION] [--force]

Makes the secrets of a runner: a TLS certificate and key for runnerd's gRPC server (valid for the
given host names and IPs plus localhost, 127.0.0.1 and ::1) and its bearer token. Writes
DIR/runner.crt, DIR/runner.key (mode 0600) and DIR/runner.token (0600), and prints how to use
them. Existing files are kept unless --force.

With --id and --fleet-key-file, the token is runner ID's own token, derived from the fleet key (the
first key in FILE, the one the dispatcher signs new calls with; docs/rpc.md): the dispatcher
presents it to that runner only, and accepts that runner's reports only when signed with it.
Without --id the token is random, for trying runnerd alone. With --ca-cert and --ca-key the
certificate is issued by that CA for ID (the dispatcher trusts the CA); without them it is
self-signed (its own CA). Make a CA once with "narwhal runner-cert --dir ca".

Flags:
  --id ID               the runner's ID (runnerd's id)
  --fleet-key-file FILE the dispatcher's fleet keys, one per line (# comments); needs --id
  --ca-cert FILE        PEM certificate of the CA that issues runner certificates; needs --id
  --ca-key FILE         PEM key of that CA
  --dir DIR             where to write the files (default .)
  --host NAME           a DNS name or IP address the dispatcher reaches the runner at (repeatable)
  --valid DURATION      how long the certificate is valid (default 8760h, a year)
  --force               overwrite existing files

Examples:
  narwhal runner-cert --dir /etc/narwhal --host runner1.internal --host 10.0.0.7
  narwhal runner-cert --id runner1 --fleet-key-file fleet.key --ca-cert ca/runner.crt \
      --ca-key ca/runner.key --dir /etc/narwhal --host runner1.internal
`

// Names of the files runner-cert writes.
const (
	runnerCertFile  = "runner.crt"
	runnerKeyFile   = "runner.key"
	runnerTokenFile = "runner.token"
)

type runnerCertOptions struct {
	id, fleetKeyFile string
	caCert, caKey    string
	dir              string
	hosts            hostList
	valid            time.Duration
	force            bool
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
	fl.StringVar(&o.id, "id", "", "runner ID")
	fl.StringVar(&o.fleetKeyFile, "fleet-key-file", "", "file of fleet keys")
	fl.StringVar(&o.caCert, "ca-cert", "", "CA certificate (PEM)")
	fl.StringVar(&o.caKey, "ca-key", "", "CA key (PEM)")
	fl.StringVar(&o.dir, "dir", ".", "output directory")
	fl.Var(&o.hosts, "host", "host name or IP (repeatable)")
	fl.DurationVar(&o.valid, "valid", 365*24*time.Hour, "validity")
	fl.BoolVar(&o.force, "force", false, "overwrite existing files")
	if err := fl.Parse(args); err != nil {
		return flagError(err)
	}
	if fl.NArg() > 0 || o.valid <= 0 || !o.consistent() {
		fmt.Fprintln(stderr, "narwhal runner-cert: unexpected argument, non-positive --valid, or --fleet-key-file,"+
			" --ca-cert or --ca-key without --id (or one CA file without the other); see --help")
		return exitError(2)
	}
	if err := writeRunnerSecrets(o); err != nil {
		return err
	}
	return printRunnerCertUsage(stdout, o)
}

// consistent reports whether the flags that name a runner come together.
func (o runnerCertOptions) consistent() bool {
	named := o.fleetKeyFile != "" || o.caCert != "" || o.caKey != ""
	return (o.id != "" || !named) && (o.caCert == "") == (o.caKey == "")
}

// writeRunnerSecrets makes the certificate, key and token and writes them.
func writeRunnerSecrets(o runnerCertOptions) error {
	certPEM, keyPEM, err := runnerCertificate(o)
	if err != nil {
		return fmt.Errorf("make certificate: %w", err)
	}
	token, err := runnerToken(o)
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

// runnerCertificate issues the runner's certificate with the CA, or makes a
// self-signed one without a CA.
func runnerCertificate(o runnerCertOptions) (certPEM, keyPEM []byte, err error) {
	if o.caCert == "" {
		return tlsgen.SelfSigned(o.hosts, o.valid)
	}
	caCert, err := os.ReadFile(o.caCert)
	if err != nil {
		return nil, nil, err
	}
	caKey, err := os.ReadFile(o.caKey)
	if err != nil {
		return nil, nil, err
	}
	return tlsgen.Issue(caCert, caKey, o.id, o.hosts, o.valid)
}

// runnerToken derives the runner's own token from the first fleet key, or
// makes a random one without a fleet key.
func runnerToken(o runnerCertOptions) (string, error) {
	if o.fleetKeyFile == "" {
		return tlsgen.Token()
	}
	data, err := os.ReadFile(o.fleetKeyFile)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if k := strings.TrimSpace(line); k != "" && !strings.HasPrefix(k, "#") {
			if err := (runnerkey.Fleet{k}).Check(); err != nil {
				return "", fmt.Errorf("%s: %w", o.fleetKeyFile, err)
			}
			return runnerkey.Token(k, o.id), nil
		}
	}
	return "", fmt.Errorf("%s: %w", o.fleetKeyFile, runnerkey.ErrNoKey)
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

The dispatcher trusts %[2]s, or the CA that issued it (NARWHAL_RUNNER_CA), and presents
%[4]s only when it is this runner's own token, derived from the fleet key for the runner's
ID (--id, --fleet-key-file): reports are signed with it. Keep %[3]s and %[4]s secret.
Rotation (of the fleet key, and so of every runner's token) is in docs/rpc.md.
`, abs, runnerCertFile, runnerKeyFile, runnerTokenFile, strings.Join(hosts, ", "),
		time.Now().Add(o.valid).UTC().Format(time.DateOnly))
	return err
}
