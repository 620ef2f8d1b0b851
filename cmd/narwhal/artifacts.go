package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/apiclient"
	"github.com/narwhal-ci/narwhal/internal/console"
)

const artifactsHelp = `Usage: narwhal artifacts [flags] JOB

JOB is a job's whole ID, a unique prefix of it (at least 6 characters), or its
repository and build number, OWNER/NAME#N.

Lists the artifacts a job's steps uploaded (narwhal.yml's artifacts:): name,
step, size, SHA-256 and when each expires; expired ones are listed as such
and can no longer be downloaded. With --download DIR it writes them under
DIR, each at its name (dist/app.tar.gz becomes DIR/dist/app.tar.gz, the
directories created), checking every file against its recorded size and
SHA-256 as it arrives: a file that does not match is not kept. A name that
would land outside DIR is refused. Existing files are replaced.

Flags:
  --download DIR    download the artifacts into DIR (created if need be)
  --name NAME       only this artifact (with --download)
  --json            print {"artifacts": [...]} for scripts
` + apiFlagsHelp + `
Examples:
  narwhal artifacts 3fa1c2d0e9b8a7f6e5d4
  narwhal artifacts acme/app#42 --download out
  narwhal artifacts 3fa1c2 --download . --name dist/app.tar.gz
`

// runArtifacts is `narwhal artifacts JOB [--download DIR [--name NAME]]`.
func runArtifacts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("artifacts", artifactsHelp, stderr)
	o := addAPIFlags(fs)
	dir := fs.String("download", "", "")
	name := fs.String("name", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, ok, err := parseCommand(fs, args, 1, artifactsHelp, stderr)
	if !ok {
		return err
	}
	if *name != "" && *dir == "" {
		fmt.Fprintf(stderr, "narwhal artifacts: --name needs --download DIR\n")
		return exitError(2)
	}
	c, err := o.client("artifacts", stderr)
	if err != nil {
		return err
	}
	id, err := c.ResolveJob(ctx, pos[0])
	if err != nil {
		return err
	}
	list, err := c.Artifacts(ctx, id)
	switch {
	case err != nil:
		return err
	case *dir != "":
		return downloadAll(ctx, c, id, selectArtifacts(list, *name), *dir, *name, stdout, stderr)
	case *asJSON:
		return printJSON(stdout, api.ArtifactList{Artifacts: list})
	}
	printArtifacts(stdout, list, time.Now())
	return nil
}

func printArtifacts(w io.Writer, list []api.ArtifactView, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no artifacts")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTEP\tSIZE\tSHA256\tEXPIRES")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Step, console.Bytes(a.Size), a.SHA256[:min(len(a.SHA256), 16)], expiry(a, now))
	}
	tw.Flush()
}

// expiry says when a expires: "in 6d", "expired 3h ago", "never".
func expiry(a api.ArtifactView, now time.Time) string {
	switch {
	case a.Expired:
		return "expired " + relTime(a.ExpiresAt, now)
	case a.ExpiresAt.IsZero():
		return "never"
	}
	return "in " + strings.TrimSuffix(relTime(now, a.ExpiresAt), " ago")
}

// selectArtifacts is the artifacts to download: all of list, or the one named name.
func selectArtifacts(list []api.ArtifactView, name string) []api.ArtifactView {
	if name == "" {
		return list
	}
	for _, a := range list {
		if a.Name == name {
			return []api.ArtifactView{a}
		}
	}
	return nil
}

// downloadAll writes each artifact of list under dir, going on after a
// failure, and fails with exit status 1 when any did (each said why on
// stderr). Expired artifacts are skipped, with a note.
func downloadAll(ctx context.Context, c *apiclient.Client, id string, list []api.ArtifactView, dir, name string, stdout, stderr io.Writer) error {
	if name != "" && len(list) == 0 {
		return &apiclient.Error{Status: 404, Message: fmt.Sprintf("job %s has no artifact %s", id, name)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("download directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("download directory: %w", err)
	}
	defer root.Close()
	failed := 0
	for _, a := range list {
		if a.Expired {
			fmt.Fprintf(stderr, "narwhal artifacts: %s expired %s; not downloaded\n", a.Name, relTime(a.ExpiresAt, time.Now()))
			failed += boolInt(name != "")
			continue
		}
		if err := saveArtifact(ctx, c, root, id, a); err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx, ctx.Err())
			}
			fmt.Fprintf(stderr, "narwhal artifacts: %s: %v\n", a.Name, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%s  %s  sha256 %s verified\n", filepath.Join(dir, filepath.FromSlash(a.Name)), console.Bytes(a.Size), a.SHA256[:min(len(a.SHA256), 16)])
	}
	if failed > 0 {
		return exitError(1)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// saveArtifact downloads a into a temporary file beside where it goes in
// root, and renames it into place once its size and SHA-256 matched. root
// keeps every path, symbolic links included, inside the download directory.
func saveArtifact(ctx context.Context, c *apiclient.Client, root *os.Root, id string, a api.ArtifactView) error {
	if !localName(a.Name) {
		return fmt.Errorf("refused: the name would land outside the download directory")
	}
	name := filepath.FromSlash(a.Name)
	if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("write into the download directory: %w", err) // "path escapes from parent" through a link
	}
	tmp := filepath.Join(filepath.Dir(name), ".narwhal-download-"+randomSuffix())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write into the download directory: %w", err)
	}
	defer root.Remove(tmp) // fails harmlessly once renamed
	err = c.DownloadArtifact(ctx, id, a, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		return fmt.Errorf("write into the download directory: %w", err)
	}
	return nil
}

// localName reports whether an artifact's name is a relative, clean,
// "/"-separated path that stays below the directory it is written in.
func localName(name string) bool {
	return name != "" && path.Clean(name) == name && !strings.ContainsAny(name, "\\\x00") &&
		filepath.IsLocal(filepath.FromSlash(name))
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// printStepStorage writes, per step, what it did with its cache and the
// artifacts it left; nothing when no step used either.
func printStepStorage(w io.Writer, steps []api.StepView, now time.Time) {
	var lines [][2]string
	for _, s := range steps {
		for _, u := range s.Caches {
			lines = append(lines, [2]string{s.Name, console.CacheLine(u)})
		}
		for _, a := range s.Artifacts {
			when := expiry(a, now)
			if !a.Expired {
				when = "expires " + when
			}
			lines = append(lines, [2]string{s.Name, fmt.Sprintf("artifact %s (%s, %s)", a.Name, console.Bytes(a.Size), when)})
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tCACHE AND ARTIFACTS")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\n", l[0], l[1])
	}
	tw.Flush()
}
