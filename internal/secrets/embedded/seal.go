package embedded

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
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
	if errors.Is(err, os.ErrNotExist) {
		return createKey(path)
	}
	return key, err
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

func createKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create secrets key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write secrets key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write secrets key %s: %w", path, err)
	}
	return key, nil
}
