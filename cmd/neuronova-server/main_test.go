package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }

// TestConfigFromEnvironmentAndFlags: the environment sets defaults, flags win, secrets come from the
// environment only, and bad values are named.
func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"NEURONOVA_ADDR": "127.0.0.1:9999", "NEURONOVA_DB": "/var/lib/nn.db", "ORTHANC_URL": "http://10.0.0.5:8042",
		"ORTHANC_USER": "nn", "ORTHANC_PASSWORD": "secret", "REDIS_ADDR": "127.0.0.1:6380", "NEURONOVA_RATE": "5", "NEURONOVA_BURST": "7"}
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig([]string{"--addr", "127.0.0.1:7000", "--demo"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.DB != "/var/lib/nn.db" || c.OrthancURL != "http://10.0.0.5:8042" || c.OrthancUser != "nn" ||
		c.OrthancPassword != "secret" || c.RedisAddr != "127.0.0.1:6380" || c.Rate != 5 || c.Burst != 7 || !c.Demo {
		t.Fatalf("config %+v", c)
	}
	d, err := parseConfig(nil, func(k string) string { return map[string]string{"ORTHANC_USER": "u", "ORTHANC_PASSWORD": "p"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr != "127.0.0.1:8080" || d.RedisAddr != "127.0.0.1:6379" || d.OrthancURL != "http://127.0.0.1:8042" || d.Rate != 10 || d.Burst != 20 {
		t.Fatalf("defaults %+v", d)
	}
	for _, c := range []struct {
		args    []string
		env     map[string]string
		mention string
	}{
		{nil, map[string]string{"ORTHANC_USER": "u"}, "ORTHANC_PASSWORD"},
		{nil, map[string]string{"ORTHANC_USER": "u", "ORTHANC_PASSWORD": "p", "NEURONOVA_RATE": "fast"}, "NEURONOVA_RATE"},
		{[]string{"--burst", "0"}, map[string]string{"ORTHANC_USER": "u", "ORTHANC_PASSWORD": "p"}, "burst"},
		{[]string{"--orthanc-password", "p"}, map[string]string{"ORTHANC_USER": "u", "ORTHANC_PASSWORD": "p"}, "orthanc-password"},
		{[]string{"extra"}, map[string]string{"ORTHANC_USER": "u", "ORTHANC_PASSWORD": "p"}, "extra"},
	} {
		_, err := parseConfig(c.args, func(k string) string { return c.env[k] })
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%v %v: %v, want an error naming %s", c.args, c.env, err, c.mention)
		}
	}
	if _, err := parseConfig([]string{"--help"}, getenv); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

// syncBuffer is a buffer that the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoServerAsANewUserWouldTryIt starts the server as `neuronova-server --demo` does, on real Redis and
// Orthanc: it prints one "demo account: ROLE login_id password" line per role, each account logs in, the
// demo study is in Orthanc and readable through the proxy, /api/orthanc/ without a token answers 401, and the
// server shuts down cleanly when asked. Starting it a second time refreshes the passwords and keeps the data.
func TestDemoServerAsANewUserWouldTryIt(t *testing.T) {
	orthancURL, user, password := testsvc.FreshOrthanc(t)
	redisAddr := testsvc.Redis(t)
	db := filepath.Join(t.TempDir(), "server.db")
	// A one-slice stand-in for the 620-file demo study keeps the test light; the upload path is the same.
	writeStudy := func(dir string) error {
		inst := testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: "2.25.1001", SeriesUID: "2.25.1002",
			SOPUID: "2.25.1003", SeriesDescription: "T1CE"}
		return os.WriteFile(filepath.Join(dir, "slice.dcm"), testsvc.DICOM(inst), 0o644)
	}
	var firstPasswords map[string]string
	for round := 1; round <= 2; round++ {
		cfg, err := parseConfig([]string{"--demo", "--addr", "127.0.0.1:0", "--bcrypt-cost", "4"}, func(k string) string {
			return map[string]string{"NEURONOVA_DB": db, "ORTHANC_URL": orthancURL, "ORTHANC_USER": user, "ORTHANC_PASSWORD": password,
				"REDIS_ADDR": redisAddr, "NEURONOVA_REDIS_PREFIX": "demo-test:"}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.writeStudy = writeStudy
		addrc := make(chan string, 1)
		cfg.listening = func(addr string) { addrc <- addr }
		ctx, stop := context.WithCancel(context.Background())
		var out, logs syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), &out) }()
		var base string
		select {
		case addr := <-addrc:
			base = "http://" + addr
		case err := <-done:
			stop()
			t.Fatalf("the server stopped before listening: %v\n%s", err, logs.String())
		}

		accounts := regexp.MustCompile(`(?m)^demo account: ([A-Z]+) (\S+) (\S+)$`).FindAllStringSubmatch(out.String(), -1)
		if len(accounts) != len(api.Roles) {
			t.Fatalf("round %d printed %d demo accounts, want %d:\n%s", round, len(accounts), len(api.Roles), out.String())
		}
		passwords := map[string]string{}
		tokens := map[api.Role]string{}
		for i, a := range accounts {
			role, login, pw := api.Role(a[1]), a[2], a[3]
			if role != api.Roles[i] {
				t.Errorf("account %d is %s, want %s", i, role, api.Roles[i])
			}
			passwords[login] = pw
			body, _ := json.Marshal(api.LoginRequest{LoginID: login, Password: pw})
			resp, err := http.Post(base+"/api/auth/login/", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var tok api.Tokens
			json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || tok.Access == "" || tok.Refresh == "" || tok.User.Role != role || tok.User.MustChangePassword {
				t.Fatalf("login as %s %s: %s %+v", role, login, resp.Status, tok.User)
			}
			tokens[role] = tok.Access
		}
		if round == 1 {
			firstPasswords = passwords
		} else {
			for login, pw := range passwords {
				if firstPasswords[login] == pw {
					t.Errorf("the demo password of %s did not change between runs", login)
				}
			}
		}

		for _, path := range []string{"/api/orthanc/", "/api/orthanc/instances", "/api/patients/"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s without a token: %s, want 401", path, resp.Status)
			}
		}
		getJSON := func(token, path string, v any) int {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if v != nil && resp.StatusCode == http.StatusOK {
				if err := json.Unmarshal(b, v); err != nil {
					t.Fatalf("GET %s: %v: %s", path, err, b)
				}
			}
			return resp.StatusCode
		}
		var patients []struct {
			ID     int64  `json:"id"`
			Number string `json:"patient_number"`
		}
		if s := getJSON(tokens[api.RoleDoctor], "/api/patients/", &patients); s != http.StatusOK || len(patients) != 2 {
			t.Fatalf("the doctor lists %d demo patients (%d), want 2", len(patients), s)
		}
		var orders []api.Order
		if s := getJSON(tokens[api.RoleDoctor], "/api/ocs/", &orders); s != http.StatusOK || len(orders) != 3 {
			t.Fatalf("the doctor lists %d demo orders (%d), want 3", len(orders), s)
		}
		var mine []struct {
			ID int64 `json:"id"`
		}
		if s := getJSON(tokens[api.RolePatient], "/api/patients/", &mine); s != http.StatusOK || len(mine) != 1 {
			t.Fatalf("the demo PATIENT sees %d patients (%d), want only the phantom", len(mine), s)
		}
		var studies []struct {
			OrthancID string `json:"orthanc_id"`
		}
		if s := getJSON(tokens[api.RolePatient], "/api/patients/"+strconv.FormatInt(mine[0].ID, 10)+"/studies/", &studies); s != http.StatusOK || len(studies) != 1 {
			t.Fatalf("the phantom has %d studies in Orthanc (%d), want 1", len(studies), s)
		}
		if s := getJSON(tokens[api.RolePatient], "/api/orthanc/studies/"+studies[0].OrthancID, nil); s != http.StatusOK {
			t.Fatalf("the PATIENT reads the demo study through the proxy: %d", s)
		}
		if s := getJSON(tokens[api.RoleLIS], "/api/orthanc/studies/"+studies[0].OrthancID, nil); s != http.StatusForbidden {
			t.Fatalf("LIS reads the demo study through the proxy: %d, want 403", s)
		}
		var ready api.Health
		if s := getJSON("", "/readyz", &ready); s != http.StatusOK || ready.Checks["orthanc"] != "ok" || ready.Checks["redis"] != "ok" {
			t.Fatalf("readyz %d %+v", s, ready)
		}

		stop()
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
			t.Fatalf("no shutdown in the log:\n%s", logs.String())
		}
		if _, err := http.Get(base + "/healthz"); err == nil {
			t.Fatal("the server still answers after shutdown")
		}
	}
}
