package tlsgen

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

// A certificate issued by a CA verifies against that CA alone, names the
// runner, serves and authenticates clients, and is no CA itself.
func TestIssueSignsARunnerLeaf(t *testing.T) {
	t.Parallel()
	caCert, caKey, err := SelfSigned(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := Issue(caCert, caKey, "runner-7", []string{"runner-7.internal"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("cert and key do not pair: %v", err)
	}
	cert := parse(t, certPEM)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caCert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "runner-7.internal",
			KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for %v: %v", usage, err)
		}
	}
	if cert.IsCA || cert.Subject.CommonName != "runner-7" || !slices.Contains(cert.DNSNames, "localhost") {
		t.Errorf("cert: CA %v, CN %q, DNS %v", cert.IsCA, cert.Subject.CommonName, cert.DNSNames)
	}
	if cert.NotAfter.After(parse(t, caCert).NotAfter) {
		t.Errorf("leaf outlives its CA: %v", cert.NotAfter)
	}
	leaf, leafKey, _ := Issue(caCert, caKey, "other", nil, time.Hour)
	if _, _, err := Issue(leaf, leafKey, "x", nil, time.Hour); err == nil {
		t.Error("a leaf certificate issued another")
	}
}
