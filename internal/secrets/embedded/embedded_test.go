package embedded

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/secretstest"
)

func openTemp(t *testing.T) (*Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := Open(context.Background(), filepath.Join(dir, "narwhal.db"), filepath.Join(dir, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, dir
}

func TestContract(t *testing.T) {
	secretstest.Run(t, func(t *testing.T) secrets.Backend {
		b, _ := openTemp(t)
		return b
	})
}

func TestKeyFileCreated0600(t *testing.T) {
	_, dir := openTemp(t)
	fi, err := os.Stat(filepath.Join(dir, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Fatalf("key file mode %v size %d, want 0600 and %d bytes", fi.Mode(), fi.Size(), KeySize)
	}
}

func TestLooseKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "secrets.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{7}, KeySize), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644) // whatever the umask
	_, err := Open(context.Background(), filepath.Join(dir, "narwhal.db"), key)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open with a 0644 key = %v, want a refusal naming chmod 600", err)
	}
	os.WriteFile(key, []byte("short"), 0o600)
	os.Chmod(key, 0o600)
	if _, err := Open(context.Background(), filepath.Join(dir, "narwhal.db"), key); err == nil {
		t.Fatal("Open with a short key succeeded")
	}
}

// TestEncryptedAtRest reads the database file's table directly: neither the
// value nor the name is there, each write has a new nonce, and a row moved
// to another repository does not decrypt.
func TestEncryptedAtRest(t *testing.T) {
	b, dir := openTemp(t)
	s := secrets.New(b)
	ctx := context.Background()
	for range 2 {
		if err := s.PutSecret(ctx, "acme/app", "DB_PASSWORD", secrets.Value{Value: "hunter2-plain"}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "narwhal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT sealed FROM repo_secrets WHERE repo = 'acme/app'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) || bytes.Contains(sealed, []byte("DB_PASSWORD")) {
		t.Fatal("the stored row holds the plain value or name")
	}
	first := append([]byte(nil), sealed[:12]...)
	if err := s.PutSecret(ctx, "acme/app", "DB_PASSWORD", secrets.Value{Value: "hunter2-plain"}); err != nil {
		t.Fatal(err)
	}
	db.QueryRow(`SELECT sealed FROM repo_secrets WHERE repo = 'acme/app'`).Scan(&sealed)
	if bytes.Equal(first, sealed[:12]) {
		t.Fatal("two writes used the same nonce")
	}
	if _, err := db.Exec(`INSERT INTO repo_secrets (repo, sealed) VALUES ('evil/app', ?)`, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "evil/app"); err == nil {
		t.Fatal("a row copied to another repository decrypted")
	}
}

func TestOtherKeyDoesNotDecrypt(t *testing.T) {
	b, dir := openTemp(t)
	ctx := context.Background()
	if err := secrets.New(b).PutSecret(ctx, "acme/app", "A", secrets.Value{Value: "v"}); err != nil {
		t.Fatal(err)
	}
	b2, err := Open(ctx, filepath.Join(dir, "narwhal.db"), filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if _, err := secrets.New(b2).Resolve(ctx, "acme/app"); err == nil || !strings.Contains(err.Error(), "do not decrypt") {
		t.Fatalf("Resolve with another key = %v, want a decrypt error", err)
	}
}

// TestConcurrentOpensShareOneKey: processes starting at once (two narwhal
// dev on one directory) end up with the same key.
func TestConcurrentOpensShareOneKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			b, err := Open(ctx, filepath.Join(dir, "narwhal.db"), filepath.Join(dir, "secrets.key"))
			if err == nil {
				b.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".secrets-key-") {
			t.Errorf("temporary key file %s left", e.Name())
		}
	}
}
