package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// CertReloader serves a certificate and key from files, reloading them when
// either file changes (checked at most once per interval, on a handshake), so
// that a renewed certificate is served without a restart. A reload that
// fails keeps the pair in use and logs why. With a client CA file, it also
// reloads the pool that verifies client certificates (mutual TLS).
type CertReloader struct {
	certFile, keyFile, caFile string
	interval                  time.Duration
	log                       *slog.Logger

	mu       sync.Mutex
	checked  time.Time
	certMod  [2]time.Time
	caMod    time.Time
	cert     atomic.Pointer[tls.Certificate]
	clientCA atomic.Pointer[x509.CertPool]
}

// NewCertReloader loads the files once; an error here is fatal at start-up.
// caFile may be empty.
func NewCertReloader(certFile, keyFile, caFile string, log *slog.Logger) (*CertReloader, error) {
	c := &CertReloader{certFile: certFile, keyFile: keyFile, caFile: caFile, interval: time.Second, log: log}
	if err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

func (c *CertReloader) reload(force bool) error {
	cm, err1 := modTime(c.certFile)
	km, err2 := modTime(c.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	if force || cm != c.certMod[0] || km != c.certMod[1] {
		pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		c.cert.Store(&pair)
		c.certMod = [2]time.Time{cm, km}
		if !force {
			c.log.Info("tls certificate reloaded", "cert", c.certFile)
		}
	}
	if c.caFile == "" {
		return nil
	}
	am, err := modTime(c.caFile)
	if err != nil {
		return fmt.Errorf("tls client ca: %w", err)
	}
	if force || am != c.caMod {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return fmt.Errorf("tls client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls client ca: %s holds no PEM certificate", c.caFile)
		}
		c.clientCA.Store(pool)
		c.caMod = am
		if !force {
			c.log.Info("tls client ca reloaded", "ca", c.caFile)
		}
	}
	return nil
}

func (c *CertReloader) maybeReload() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.checked) < c.interval {
		return
	}
	c.checked = now
	if err := c.reload(false); err != nil {
		c.log.Error("tls files not reloaded; the previous ones stay in use", "error", err)
	}
}

// GetCertificate is for tls.Config.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.maybeReload()
	return c.cert.Load(), nil
}

// ServerConfig returns a TLS configuration for a listener. With verifyClients
// and a client CA, a client certificate signed by the CA is requested and
// verified when given; the data-plane guard decides which routes require one
// (probes need none).
func (c *CertReloader) ServerConfig(verifyClients bool, nextProtos ...string) *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate, NextProtos: nextProtos}
	if !verifyClients || c.caFile == "" {
		return base
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c.maybeReload()
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = c.clientCA.Load()
		return cfg, nil
	}
	return base
}
