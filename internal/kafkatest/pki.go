package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority for a test's TLS: a server
// certificate for localhost, 127.0.0.1 and ::1, a client certificate, and
// PEM files of the CA and the client's key pair for clients configured by
// file (ssl.truststore.location, ssl.keystore.location). Each NewPKI is a
// different CA, so a second one stands for a CA the brokers do not know.
type PKI struct {
	// Pool holds the CA certificate.
	Pool *x509.CertPool
	// Server and Client are the key pairs the CA signed.
	Server, Client tls.Certificate
	// CAFile is the CA certificate, PEM.
	CAFile string
	// ClientFile is the client certificate and its key, PEM, in one file.
	ClientFile string
}

// NewPKI makes a CA and its certificates, valid for a day, with the PEM
// files in the test's temporary folder.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kprod test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, name string, usage x509.ExtKeyUsage) (tls.Certificate, []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return cert, append(certPEM, keyPEM...)
	}
	k := &PKI{Pool: x509.NewCertPool()}
	k.Pool.AddCert(ca)
	k.Server, _ = issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	var clientPEM []byte
	k.Client, clientPEM = issue(3, "kprod client", x509.ExtKeyUsageClientAuth)
	dir := t.TempDir()
	k.CAFile, k.ClientFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem")
	if err := os.WriteFile(k.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.ClientFile, clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ServerTLS is the brokers' TLS config (kfake.TLS takes it); with mutual
// set they require a client certificate signed by the CA.
func (k *PKI) ServerTLS(mutual bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{k.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, k.Pool
	}
	return c
}

// ClientTLS trusts the CA and, with cert set, presents the client
// certificate.
func (k *PKI) ClientTLS(cert bool) *tls.Config {
	c := &tls.Config{RootCAs: k.Pool, MinVersion: tls.VersionTLS12}
	if cert {
		c.Certificates = []tls.Certificate{k.Client}
	}
	return c
}
