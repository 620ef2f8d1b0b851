package tlsgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Issue returns a PEM certificate and PEM (PKCS#8) ECDSA P-256 key of runner
// id, signed by the CA whose PEM certificate and key are given: a leaf (not
// a CA) named CN=id, for server and client authentication, with hosts plus
// DefaultHosts as SANs, valid from a minute ago for validFor (never past the
// CA's own expiry). A dispatcher that trusts the CA trusts every runner it
// issued, and each runner keeps a key of its own.
func Issue(caCertPEM, caKeyPEM []byte, id string, hosts []string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	if id == "" || validFor <= 0 {
		return nil, nil, errors.New("issue certificate: want a runner ID and a positive validity")
	}
	ca, err := tls.X509KeyPair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: CA pair: %w", err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil || !caCert.IsCA {
		return nil, nil, fmt.Errorf("issue certificate: the CA certificate is not a CA (%v)", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: generate key: %w", err)
	}
	tmpl, err := template(hosts, validFor)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	tmpl.Subject = pkix.Name{Organization: []string{"narwhal"}, CommonName: id}
	tmpl.IsCA, tmpl.KeyUsage = false, x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.NotAfter = minTime(tmpl.NotAfter, caCert.NotAfter)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: sign: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
