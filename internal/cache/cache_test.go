package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/blob/blobtest"
	blobfs "github.com/narwhal-ci/narwhal/internal/blob/fs"
	blobs3 "github.com/narwhal-ci/narwhal/internal/blob/s3"
	"github.com/narwhal-ci/narwhal/internal/snapshot"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

// The suite runs against both blob backends.
func TestFS(t *testing.T) {
	t.Parallel()
	suite(t, func(t *testing.T) blob.Store { return blobfs.New(t.TempDir()) })
}

func TestS3(t *testing.T) {
	client := s3bucket.Client(t)
	suite(t, func(t *testing.T) blob.Store { return blobs3.New(client, s3bucket.New(t, client, "cache"), "narwhal") })
}

func suite(t *testing.T, open func(t *testing.T) blob.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"HitAndMiss", testHitAndMiss},
		{"RestoreKeysOrder", testRestoreKeysOrder},
		{"PerRepository", testPerRepository},
		{"EvictsLeastRecentlyUsed", testEviction},
		{"OverCap", testOverCap},
		{"KeepsWhatIsThere", testKeeps},
		{"SaveRefusesLinks", testSaveRefusesLinks},
		{"HostileArchive", testHostileArchive},
		{"NothingToSave", testNothingToSave},
		{"EntriesAndRemove", testEntriesAndRemove},
		{"TouchesOnlyOldEntries", testTouchAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var goCache = Spec{Key: "go-1", RestoreKeys: []string{"go-"}, Paths: []string{".cache/go-build", "vendor/"}}

// testHitAndMiss: a saved entry is restored on a hit, only its paths; a key
// never saved is a miss that touches nothing.
func testHitAndMiss(t *testing.T, s blob.Store) {
	ws := testenv.Files(t, map[string]string{".cache/go-build/ab": "object", "vendor/m/x.go": "package x", "main.go": "package main"})
	saved := save(t, s, "acme/app", ws, goCache, 0)
	if saved.Size == 0 || saved.Content != int64(len("object")+len("package x")) || saved.Missing != nil {
		t.Errorf("Saved = %+v", saved)
	}
	ws2 := t.TempDir()
	res, err := Restore(t.Context(), s, "acme/app", ws2, goCache, snapshot.Limits{})
	if err != nil || !res.Hit || res.Key != "go-1" || res.Size != saved.Size {
		t.Fatalf("Restore = %+v, %v; want a hit of %d bytes", res, err, saved.Size)
	}
	if got := files(t, ws2); !slices.Equal(got, []string{".cache/go-build/ab=object", "vendor/m/x.go=package x"}) {
		t.Errorf("restored %v", got)
	}
	ws3 := t.TempDir()
	res, err = Restore(t.Context(), s, "acme/app", ws3, Spec{Key: "node-1", RestoreKeys: []string{"node-"}, Paths: []string{"node_modules"}}, snapshot.Limits{})
	if err != nil || res.Key != "" || res.Hit {
		t.Errorf("Restore of a missing key = %+v, %v; want a miss", res, err)
	}
	if got := files(t, ws3); len(got) != 0 {
		t.Errorf("a miss left %v", got)
	}
}

// testRestoreKeysOrder: on a miss the restore keys are tried in order, and
// for each the most recently used entry with that prefix wins; a restore
// makes its entry the most recently used.
func testRestoreKeysOrder(t *testing.T, s blob.Store) {
	for _, k := range []string{"go-a", "go-b", "node-1"} {
		ws := testenv.Files(t, map[string]string{"c/which": k})
		save(t, s, "acme/app", ws, Spec{Key: k, Paths: []string{"c"}}, 0)
		tick()
	}
	restore := func(key string, restoreKeys ...string) Restored {
		t.Helper()
		ws := t.TempDir()
		res, err := restore(t.Context(), s, "acme/app", ws, Spec{Key: key, RestoreKeys: restoreKeys, Paths: []string{"c"}}, snapshot.Limits{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := files(t, ws); res.Key != "" && !slices.Equal(got, []string{"c/which=" + res.Key}) {
			t.Errorf("restored %s, files %v", res.Key, got)
		}
		return res
	}
	for _, tc := range []struct {
		key         string
		restoreKeys []string
		want        string
	}{
		{"go-z", []string{"go-"}, "go-b"},            // the newest go- entry
		{"go-z", []string{"node-", "go-"}, "node-1"}, // the first prefix that matches, even when older
		{"go-z", []string{"rust-", "go-a"}, "go-a"},  // a prefix matching nothing is passed over
		{"go-z", []string{"rust-"}, ""},              // a miss
		{"go-a", []string{"node-"}, "go-a"},          // the exact key first; this restore touches go-a
		{"go-z", []string{"go-"}, "go-a"},            // which is now the most recently used
		{"go-b", nil, "go-b"},                        // exact, without restore keys
		{"go-", []string{"go-", "node-"}, "go-b"},    // "go-" is no entry: a prefix of go-b, now the newest
	} {
		res := restore(tc.key, tc.restoreKeys...)
		if res.Key != tc.want || res.Hit != (tc.want == tc.key) {
			t.Errorf("Restore %s %v = %+v, want %q", tc.key, tc.restoreKeys, res, tc.want)
		}
		tick()
	}
}

// testPerRepository: another repository (even one whose name needs
// escaping) sees none of a repository's entries.
func testPerRepository(t *testing.T, s blob.Store) {
	ws := testenv.Files(t, map[string]string{".cache/go-build/x": "acme"})
	save(t, s, "acme/app", ws, goCache, 0)
	ws = testenv.Files(t, map[string]string{".cache/go-build/x": "dot"})
	save(t, s, "acme/.github", ws, goCache, 0)
	for repo, want := range map[string]string{"acme/app": "acme", "acme/.github": "dot", "acme/_github": "", "acme/app2": "", "other/app": ""} {
		dst := t.TempDir()
		res, err := Restore(t.Context(), s, repo, dst, goCache, snapshot.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if res.Hit {
			data, _ := os.ReadFile(filepath.Join(dst, ".cache/go-build/x"))
			got = string(data)
		}
		if got != want {
			t.Errorf("%s restored %q, want %q", repo, got, want)
		}
	}
	for _, repo := range []string{"noslash", "a/b/c", "/b", "a/"} {
		if _, err := Restore(t.Context(), s, repo, t.TempDir(), goCache, snapshot.Limits{}); err == nil {
			t.Errorf("repository %q accepted", repo)
		}
	}
}

// testEviction: past the cap, the entries used longest ago go first, and
// never the one just saved.
func testEviction(t *testing.T, s blob.Store) {
	one := entrySize(t, s)
	cap := 2*one + one/2 // two entries fit, three do not
	for _, k := range []string{"k-a", "k-b"} {
		save(t, s, "acme/app", randomWorkspace(t), Spec{Key: k, Paths: []string{"c"}}, cap)
		tick()
	}
	if _, err := restore(t.Context(), s, "acme/app", t.TempDir(), Spec{Key: "k-a", Paths: []string{"c"}}, snapshot.Limits{}, 0); err != nil {
		t.Fatal(err)
	}
	tick()
	saved := save(t, s, "acme/app", randomWorkspace(t), Spec{Key: "k-c", Paths: []string{"c"}}, cap)
	if !slices.Equal(saved.Evicted, []string{"k-b"}) {
		t.Errorf("evicted %v, want k-b (k-a was restored since)", saved.Evicted)
	}
	if got := keys(t, s); !slices.Equal(got, []string{"acme/app k-a", "acme/app k-c", "other/app k-x"}) {
		t.Errorf("entries %v", got)
	}
}

// entrySize saves an entry of another repository and returns its size.
func entrySize(t *testing.T, s blob.Store) int64 {
	return save(t, s, "other/app", randomWorkspace(t), Spec{Key: "k-x", Paths: []string{"c"}}, 0).Size
}

// testOverCap: an entry larger than the cap is not stored.
func testOverCap(t *testing.T, s blob.Store) {
	_, err := Save(t.Context(), s, "acme/app", randomWorkspace(t), Spec{Key: "k", Paths: []string{"c"}}, SaveOptions{MaxBytes: 1000, Spool: t.TempDir()})
	if !errors.Is(err, ErrOverCap) {
		t.Errorf("Save over the cap: %v", err)
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("entries %v", got)
	}
}

// testKeeps: a path the workspace already has (not empty) is left as it
// is; an empty directory is replaced.
func testKeeps(t *testing.T, s blob.Store) {
	save(t, s, "acme/app", testenv.Files(t, map[string]string{".cache/go-build/x": "cached", "vendor/y": "cached"}), goCache, 0)
	ws := testenv.Files(t, map[string]string{".cache/go-build/x": "mine"})
	os.Mkdir(filepath.Join(ws, "vendor"), 0o755)
	res, err := Restore(t.Context(), s, "acme/app", ws, goCache, snapshot.Limits{})
	if err != nil || !slices.Equal(res.Kept, []string{".cache/go-build"}) {
		t.Fatalf("Restore = %+v, %v; want .cache/go-build kept", res, err)
	}
	if got := files(t, ws); !slices.Equal(got, []string{".cache/go-build/x=mine", "vendor/y=cached"}) {
		t.Errorf("workspace after the restore: %v", got)
	}
}

// testSaveRefusesLinks: a cache path through a link (out of the workspace
// or within it) is not saved, and what it points at is not read.
func testSaveRefusesLinks(t *testing.T, s blob.Store) {
	outside := testenv.Files(t, map[string]string{"go-build/secret": "s3cr3t"})
	ws := t.TempDir()
	os.Mkdir(filepath.Join(ws, "real"), 0o755)
	os.Symlink(outside, filepath.Join(ws, ".cache"))
	os.Symlink("real", filepath.Join(ws, "vendor"))
	for _, paths := range [][]string{{".cache/go-build"}, {".cache"}, {"vendor"}} {
		_, err := Save(t.Context(), s, "acme/app", ws, Spec{Key: "go-1", Paths: paths}, SaveOptions{Spool: t.TempDir()})
		if !errors.Is(err, snapshot.ErrUnsafePath) {
			t.Errorf("Save of %v: %v, want ErrUnsafePath", paths, err)
		}
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("entries %v", got)
	}
}

// testHostileArchive: an entry whose archive escapes, has a link where a
// cache path's directory would be, or is cut short, restores nothing, leaves
// the workspace as it was and writes nothing outside it.
func testHostileArchive(t *testing.T, s blob.Store) {
	outside := t.TempDir()
	whole := hostile(t, []tar.Header{{Name: ".cache/", Typeflag: tar.TypeDir}, {Name: ".cache/go-build/", Typeflag: tar.TypeDir},
		{Name: ".cache/go-build/x", Typeflag: tar.TypeReg, Size: 4096}})
	for name, archive := range map[string][]byte{
		"dot-dot":      hostile(t, []tar.Header{{Name: "../../escaped", Typeflag: tar.TypeReg, Size: 1}}),
		"absolute":     hostile(t, []tar.Header{{Name: filepath.Join(outside, "escaped"), Typeflag: tar.TypeReg, Size: 1}}),
		"through-link": hostile(t, []tar.Header{{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "out/escaped", Typeflag: tar.TypeReg, Size: 1}}),
		"link-component": hostile(t, []tar.Header{{Name: "elsewhere/go-build/", Typeflag: tar.TypeDir},
			{Name: ".cache", Typeflag: tar.TypeSymlink, Linkname: "elsewhere"}}),
		"link-outside": hostile(t, []tar.Header{{Name: ".cache", Typeflag: tar.TypeSymlink, Linkname: outside}}),
		"truncated":    whole[:len(whole)/2],
	} {
		if err := s.Put(t.Context(), "cache/acme/app/go-1", bytes.NewReader(archive)); err != nil {
			t.Fatal(err)
		}
		ws := testenv.Files(t, map[string]string{"main.go": "package main"})
		res, err := Restore(t.Context(), s, "acme/app", ws, goCache, snapshot.Limits{})
		if name == "link-outside" {
			// The link stays in the staging directory: no path is placed.
			if err != nil || len(res.Kept) != 0 {
				t.Errorf("%s: Restore = %+v, %v", name, res, err)
			}
		} else if err == nil {
			t.Errorf("%s: restored %+v", name, res)
		}
		if got := testenv.Tree(t, ws); !slices.Equal(got, []string{"main.go"}) {
			t.Errorf("%s: workspace after the restore: %v", name, got)
		}
		for _, p := range []string{filepath.Join(outside, "escaped"), filepath.Join(filepath.Dir(ws), "escaped")} {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%s: %s was written", name, p)
			}
		}
	}
}

// testNothingToSave: a cache none of whose paths exist is not saved.
func testNothingToSave(t *testing.T, s blob.Store) {
	ws := testenv.Files(t, map[string]string{"main.go": "package main"})
	_, err := Save(t.Context(), s, "acme/app", ws, goCache, SaveOptions{Spool: t.TempDir()})
	if !errors.Is(err, ErrNothingToSave) || !strings.Contains(err.Error(), ".cache/go-build, vendor") {
		t.Errorf("Save of nothing: %v", err)
	}
	if got := keys(t, s); len(got) != 0 {
		t.Errorf("entries %v", got)
	}
}

// testEntriesAndRemove: Entries lists every repository's entries, least
// recently used first; Remove deletes one and refuses other keys.
func testEntriesAndRemove(t *testing.T, s blob.Store) {
	save(t, s, "acme/.github", testenv.Files(t, map[string]string{"c/x": "1"}), Spec{Key: "k-1", Paths: []string{"c"}}, 0)
	tick()
	save(t, s, "acme/app", testenv.Files(t, map[string]string{"c/x": "2"}), Spec{Key: "k-2", Paths: []string{"c"}}, 0)
	blobtest.Put(t, s, "snapshots/j/1/build.tar.zst", "not a cache")
	es, err := Entries(t.Context(), s)
	if err != nil || len(es) != 2 {
		t.Fatalf("Entries = %+v, %v", es, err)
	}
	if es[0].Repo != "acme/.github" || es[0].Key != "k-1" || es[0].Blob != "cache/acme/_.github/k-1" || es[1].Key != "k-2" ||
		es[0].Size == 0 || es[0].Used.After(es[1].Used) {
		t.Errorf("Entries = %+v", es)
	}
	if err := Remove(t.Context(), s, es[0].Blob); err != nil {
		t.Fatal(err)
	}
	if err := Remove(t.Context(), s, "snapshots/j/1/build.tar.zst"); err == nil {
		t.Error("Remove of a snapshot succeeded")
	}
	if got := keys(t, s); !slices.Equal(got, []string{"acme/app k-2"}) {
		t.Errorf("entries after Remove: %v", got)
	}
}

// testTouchAfter: a restore touches its entry only when its last use is
// TouchAfter old (here: always, or never).
func testTouchAfter(t *testing.T, s blob.Store) {
	spec := Spec{Key: "k-1", Paths: []string{"c"}}
	save(t, s, "acme/app", testenv.Files(t, map[string]string{"c/x": "1"}), spec, 0)
	used := func() time.Time {
		es, err := Entries(t.Context(), s)
		if err != nil || len(es) != 1 {
			t.Fatalf("Entries = %+v, %v", es, err)
		}
		return es[0].Used
	}
	saved := used()
	tick()
	if _, err := Restore(t.Context(), s, "acme/app", t.TempDir(), spec, snapshot.Limits{}); err != nil {
		t.Fatal(err)
	}
	if !used().Equal(saved) {
		t.Errorf("an entry used %v ago was touched", time.Since(saved))
	}
	if _, err := restore(t.Context(), s, "acme/app", t.TempDir(), spec, snapshot.Limits{}, time.Second); err != nil {
		t.Fatal(err)
	}
	if !used().After(saved) {
		t.Errorf("an entry used %v ago, more than a second, was not touched", time.Since(saved))
	}
}

func save(t *testing.T, s blob.Store, repo, ws string, spec Spec, max int64) Saved {
	t.Helper()
	saved, err := Save(t.Context(), s, repo, ws, spec, SaveOptions{MaxBytes: max, Spool: t.TempDir()})
	if err != nil {
		t.Fatalf("Save %s of %s: %v", spec.Key, repo, err)
	}
	return saved
}

// tick waits until S3's LastModified, in whole seconds, tells the next
// write from the last.
func tick() { time.Sleep(1100 * time.Millisecond) }

// keys lists the entries as "repo key", sorted.
func keys(t *testing.T, s blob.Store) []string {
	t.Helper()
	es, err := Entries(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Repo+" "+e.Key)
	}
	slices.Sort(out)
	return out
}

// randomWorkspace holds c/data, 16 KiB that do not compress.
func randomWorkspace(t *testing.T) string {
	data := make([]byte, 16<<10)
	rand.Read(data)
	return testenv.Files(t, map[string]string{"c/data": string(data)})
}

// files lists the regular files under dir as "name=content".
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range testenv.Tree(t, dir) {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			out = append(out, name+"="+string(data))
		}
	}
	return out
}

// hostile builds a zstd-compressed tar of entries, each regular file holding
// "x" bytes.
func hostile(t *testing.T, entries []tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Mode = 0o755
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// A repository part is kept when it is a plain segment of at most 127
// bytes, escaped with '_' when it starts with '.' or '_' and fits with the
// '_', and hashed otherwise.
func TestSegmentBounds(t *testing.T) {
	t.Parallel()
	plain, dotted := strings.Repeat("a", maxSegmentLen), "."+strings.Repeat("a", maxSegmentLen-2)
	for in, want := range map[string]string{
		plain: plain, dotted: "_" + dotted, "_x": "__x", "a.b": "a.b",
	} {
		if got := segment(in); got != want {
			t.Errorf("segment(%.20q, %d bytes) = %.20q, want %.20q", in, len(in), got, want)
		}
	}
	for _, in := range []string{plain + "a", dotted + "a", "..", ".", "a b", "é"} {
		if got := segment(in); !strings.HasPrefix(got, "_x") || len(got) != 34 {
			t.Errorf("segment(%.20q, %d bytes) = %q, want it hashed", in, len(in), got)
		}
	}
}
