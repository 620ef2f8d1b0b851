// Package embedded is the secrets.Backend of `narwhal dev`: a table in its
// SQLite database (the modernc.org/sqlite driver, like store/sqlite) whose
// documents are encrypted at rest with AES-256-GCM from the standard
// library.
//
// The key is a file of 32 random bytes beside the database, created 0600 on
// first use; a key file that others may read (any group or other permission
// bit) or of another size is refused. Every write seals the repository's
// document with a fresh random 12-byte nonce, and the repository's name is
// the additional data, so a row copied to another repository does not open.
// Without the key file the secrets are lost: the database alone holds
// nothing readable.
package embedded

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/sqlitewal"
)

// Backend is a secrets.Backend in SQLite. It is safe for concurrent use.
type Backend struct {
	db   *sql.DB
	aead cipher.AEAD
}

var _ secrets.Backend = (*Backend)(nil)

const schema = `CREATE TABLE IF NOT EXISTS repo_secrets (
	repo   TEXT PRIMARY KEY,
	sealed BLOB NOT NULL
)`

// Open opens the secrets table of the database at dbPath (both created when
// missing) with the key in keyPath (created when missing, see the package
// documentation). The caller must Close it.
func Open(ctx context.Context, dbPath, keyPath string) (*Backend, error) {
	if err := sqlitewal.CheckPath(dbPath); err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if err := sqlitewal.Enable(ctx, dbPath); err != nil {
		return nil, fmt.Errorf("open secrets %s: %w", dbPath, err)
	}
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open secrets %s: %w", dbPath, err)
	}
	db.SetMaxOpenConns(1) // one writer; secrets are read once per job
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open secrets %s: %w", dbPath, err)
	}
	return &Backend{db: db, aead: aead}, nil
}

// Close closes the database.
func (b *Backend) Close() error { return b.db.Close() }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return cipher.NewGCM(block)
}

// Read returns repo's document, decrypted.
func (b *Backend) Read(ctx context.Context, repo string) ([]byte, error) {
	return b.read(ctx, b.db, repo)
}

// queryer is what read needs of a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (b *Backend) read(ctx context.Context, q queryer, repo string) ([]byte, error) {
	var sealed []byte
	err := q.QueryRowContext(ctx, `SELECT sealed FROM repo_secrets WHERE repo = ?`, repo).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets of %s: %w", repo, err)
	}
	return b.open(repo, sealed)
}

// Update replaces repo's document by fn's result in one transaction.
func (b *Backend) Update(ctx context.Context, repo string, fn func(old []byte) ([]byte, error)) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update secrets of %s: %w", repo, err)
	}
	defer tx.Rollback()
	old, err := b.read(ctx, tx, repo)
	if err != nil {
		return err
	}
	doc, err := fn(old)
	if err != nil {
		return err
	}
	if err := b.write(ctx, tx, repo, doc); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update secrets of %s: %w", repo, err)
	}
	return nil
}

// write stores doc sealed, or deletes the row when doc is nil.
func (b *Backend) write(ctx context.Context, tx *sql.Tx, repo string, doc []byte) error {
	var err error
	if doc == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM repo_secrets WHERE repo = ?`, repo)
	} else {
		var sealed []byte
		if sealed, err = b.seal(repo, doc); err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO repo_secrets (repo, sealed) VALUES (?, ?)
				ON CONFLICT (repo) DO UPDATE SET sealed = excluded.sealed`, repo, sealed)
		}
	}
	if err != nil {
		return fmt.Errorf("write secrets of %s: %w", repo, err)
	}
	return nil
}
