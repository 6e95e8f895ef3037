package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM cert and key signed by the CA.
func (ca *testCA) issue(t *testing.T, serial int64, client bool) ([]byte, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func TestCertReloaderAndClientCerts(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "ca.pem")
	write := func(serial int64) {
		c, k := ca.issue(t, serial, false)
		os.WriteFile(certFile, c, 0o600)
		os.WriteFile(keyFile, k, 0o600)
	}
	write(100)
	os.WriteFile(caFile, ca.pem, 0o600)
	r, err := NewCertReloader(certFile, keyFile, caFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.ServerConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	verified := make(chan bool, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			err = tc.Handshake()
			verified <- err == nil && len(tc.ConnectionState().VerifiedChains) > 0
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	dial := func(cfg *tls.Config) int64 {
		t.Helper()
		cfg.RootCAs, cfg.ServerName = pool, "localhost"
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := dial(&tls.Config{}); s != 100 || <-verified {
		t.Fatalf("first handshake: serial %d (want 100), or a client without certificate was verified", s)
	}
	cc, ck := ca.issue(t, 7, true)
	pair, _ := tls.X509KeyPair(cc, ck)
	if dial(&tls.Config{Certificates: []tls.Certificate{pair}}); !<-verified {
		t.Fatal("a client certificate signed by the CA was not verified")
	}
	other := newCA(t)
	oc, ok := other.issue(t, 8, true)
	opair, _ := tls.X509KeyPair(oc, ok)
	if c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{opair}}); err == nil {
		c.Handshake()
		c.Close()
		if <-verified {
			t.Fatal("a client certificate of another CA was accepted")
		}
	}

	// A renewed certificate is served without restart (mtime checked at most once per interval).
	write(200)
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(certFile, future, future)
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	if s := dial(&tls.Config{}); s != 200 {
		t.Fatalf("after renewal: serial %d, want 200", s)
	}
	<-verified
	// A broken file keeps the pair in use.
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	future = future.Add(time.Second)
	os.Chtimes(keyFile, future, future)
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	if s := dial(&tls.Config{}); s != 200 {
		t.Fatalf("after a broken key file: serial %d, want 200 kept", s)
	}
}
