package tlsgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"slices"
	"testing"
	"time"
)

func TestSelfSignedParsesWithSANs(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM, err := SelfSigned([]string{"runner-1.internal", "10.0.0.7", "localhost"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("cert and key do not pair: %v", err)
	}
	cert := parse(t, certPEM)
	wantDNS := []string{"runner-1.internal", "localhost"}
	if !slices.Equal(cert.DNSNames, wantDNS) {
		t.Errorf("DNS SANs = %v, want %v (no duplicates)", cert.DNSNames, wantDNS)
	}
	for _, ip := range []string{"10.0.0.7", "127.0.0.1", "::1"} {
		if !slices.ContainsFunc(cert.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP SANs %v lack %s", cert.IPAddresses, ip)
		}
	}
	if len(cert.IPAddresses) != 3 {
		t.Errorf("IP SANs = %v, want 3", cert.IPAddresses)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T is not ECDSA P-256", cert.PublicKey)
	}
	if d := time.Until(cert.NotAfter); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("NotAfter in %v, want about 24h", d)
	}
	if time.Now().Before(cert.NotBefore) {
		t.Errorf("not yet valid: NotBefore %v", cert.NotBefore)
	}
}

// The certificate verifies against itself for each of its names, which is
// how a client trusts a self-signed runner.
func TestSelfSignedVerifiesAsOwnRoot(t *testing.T) {
	t.Parallel()
	certPEM, _, err := SelfSigned([]string{"runner.example"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := parse(t, certPEM)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for _, name := range []string{"runner.example", "localhost", "127.0.0.1", "::1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: pool}); err == nil {
		t.Error("verified for a name not in the SANs")
	}
}

func TestSelfSignedKeysDiffer(t *testing.T) {
	t.Parallel()
	_, k1, err1 := SelfSigned(nil, time.Hour)
	_, k2, err2 := SelfSigned(nil, time.Hour)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if string(k1) == string(k2) {
		t.Error("two calls gave the same key")
	}
}

func TestSelfSignedRejectsNoValidity(t *testing.T) {
	t.Parallel()
	if _, _, err := SelfSigned(nil, 0); err == nil {
		t.Error("validity 0 accepted")
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	a, err := Token()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Token()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Errorf("token %q: %d bytes, err %v; want 32 bytes of base64url", a, len(raw), err)
	}
	if len(a) != 43 || a == b {
		t.Errorf("tokens %q and %q: want two different 43-character tokens", a, b)
	}
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("not one PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
