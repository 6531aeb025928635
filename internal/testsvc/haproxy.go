package testsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/deploy"
)

const haproxyInstall = "scripts/setup.sh (apt-get install haproxy)"

// HAProxy is deploy/haproxy/haproxy.cfg running in front of a test's replicas, on loopback ports with a test
// certificate.
type HAProxy struct {
	URL      string       // https://127.0.0.1:PORT
	HTTPURL  string       // http://127.0.0.1:PORT, which only redirects
	Client   *http.Client // trusts the test certificate
	svc      *service
	replicas []string
}

// StartHAProxy runs the production HAProxy configuration with its ports and certificate replaced and its
// replicas at the given host:port addresses, and stops it when the test ends.
func StartHAProxy(t testing.TB, replicas ...string) *HAProxy {
	t.Helper()
	program := findProgram(t, haproxyInstall, "haproxy")
	https, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var pool *x509.CertPool
	svc, err := launch("haproxy", program, func(dir string) ([]string, error) {
		pemPath := filepath.Join(dir, "tls.pem")
		var err error
		if pool, err = writeTestCertificate(pemPath); err != nil {
			return nil, err
		}
		cfg, err := HAProxyConfig(deploy.HAProxyCfg, https, plain, pemPath, replicas)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "haproxy.cfg")
		return []string{"-db", "-f", path}, os.WriteFile(path, []byte(cfg), 0o600)
	})
	if err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	h := &HAProxy{URL: fmt.Sprintf("https://127.0.0.1:%d", https), HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", plain), svc: svc,
		replicas: replicas, Client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Cleanup(svc.stop)
	if err := svc.waitReady(20*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", https))
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// HAProxyConfig rewrites haproxy.cfg for a test: its two binds on loopback ports (TLS with the certificate at
// pemPath, and plain HTTP), and its servers replaced by replicas. It fails when the file lacks what it replaces.
func HAProxyConfig(cfg string, https, plain int, pemPath string, replicas []string) (string, error) {
	var out []string
	binds, servers := 0, 0
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "bind" && f[1] == ":443":
			line = fmt.Sprintf("\tbind 127.0.0.1:%d ssl crt %s alpn http/1.1", https, pemPath)
			binds++
		case len(f) >= 2 && f[0] == "bind" && f[1] == ":80":
			line = fmt.Sprintf("\tbind 127.0.0.1:%d", plain)
			binds++
		case len(f) >= 1 && f[0] == "server":
			if servers++; servers > 1 {
				continue
			}
			var lines []string
			for i, r := range replicas {
				lines = append(lines, "\tserver replica"+strconv.Itoa(i+1)+" "+r)
			}
			line = strings.Join(lines, "\n")
		}
		out = append(out, line)
	}
	if binds != 2 || servers == 0 {
		return "", fmt.Errorf("haproxy.cfg has %d of its two binds and %d servers", binds, servers)
	}
	return strings.Join(out, "\n"), nil
}

// writeTestCertificate writes a self-signed certificate for 127.0.0.1 and its key to path and returns a pool
// that trusts it.
func writeTestCertificate(path string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "neuronova test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}
