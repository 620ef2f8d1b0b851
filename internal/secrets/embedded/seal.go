package embedded

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// KeySize is the length of the key file: an AES-256 key.
const KeySize = 32

// seal encrypts doc for repo: nonce, then ciphertext and tag.
func (b *Backend) seal(repo string, doc []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(doc)+b.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, doc, []byte(repo)), nil
}

// open decrypts what seal made for repo.
func (b *Backend) open(repo string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("secrets of %s: stored value too short", repo)
	}
	doc, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(repo))
	if err != nil {
		return nil, fmt.Errorf("secrets of %s do not decrypt with this key: %w", repo, err)
	}
	return doc, nil
}

// loadKey reads the key file at path, creating it (0600, KeySize random
// bytes) when missing. It refuses a file others may read or of another size.
func loadKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	if err := createKey(path); err != nil {
		return nil, err
	}
	return readKey(path) // ours, or the one another process linked first
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets key %s: mode %v lets others read it; want a regular file with mode 0600 (chmod 600)", path, fi.Mode())
	}
	key := make([]byte, KeySize+1)
	n, err := io.ReadFull(f, key)
	if n != KeySize || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("secrets key %s: want exactly %d bytes", path, KeySize)
	}
	return key[:KeySize], nil
}

// createKey writes a new key to a temporary file (0600) and links it at
// path, so that a reader never sees a partial key and two processes
// starting at once end up with one key; a path that exists meanwhile is
// left alone.
func createKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return fmt.Errorf("secrets key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-key-*")
	if err != nil {
		return fmt.Errorf("create secrets key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write secrets key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create secrets key %s: %w", path, err)
	}
	return nil
}
