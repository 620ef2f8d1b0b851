// Package tlsgen makes the secrets of a local runner: a self-signed TLS
// certificate for its gRPC server and a bearer token. `narwhal runner-cert`
// prints them; tests use them for real TLS on loopback.
package tlsgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// DefaultHosts are always in a certificate from SelfSigned, so a local runner
// is reachable by its loopback names.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// SelfSigned returns a PEM certificate and PEM (PKCS#8) ECDSA P-256 key for a
// server named by hosts (DNS names or IP addresses, made into SANs), plus
// DefaultHosts. The certificate is its own CA: a client trusts it by putting
// certPEM in its pool. It is valid from a minute ago for validFor.
func SelfSigned(hosts []string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	if validFor <= 0 {
		return nil, nil, errors.New("self-signed certificate: validity must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: generate key: %w", err)
	}
	tmpl, err := template(hosts, validFor)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: sign: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// template is the certificate for hosts: a CA (so it can sign itself and be
// trusted as a root) for server authentication, with the hosts as SANs.
func template(hosts []string, validFor time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	now := time.Now()
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"narwhal"}, CommonName: "narwhal runner"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range slices.Concat(hosts, DefaultHosts) {
		addSAN(t, h)
	}
	return t, nil
}

// addSAN adds h as an IP or DNS SAN, once.
func addSAN(t *x509.Certificate, h string) {
	if h == "" {
		return
	}
	if ip := net.ParseIP(h); ip != nil {
		if !slices.ContainsFunc(t.IPAddresses, ip.Equal) {
			t.IPAddresses = append(t.IPAddresses, ip)
		}
		return
	}
	if !slices.Contains(t.DNSNames, h) {
		t.DNSNames = append(t.DNSNames, h)
	}
}

// Token returns a new bearer token: 32 random bytes, base64url without
// padding (43 characters).
func Token() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
