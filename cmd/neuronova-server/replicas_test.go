package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// replica is one neuronova-server running in this process with its own listener and configuration.
type replica struct {
	base string
	stop context.CancelFunc
	done chan error
	logs *syncBuffer
}

// startReplica runs the server with env and args until the test ends (or stop is called), and waits until it
// listens. out receives what it prints (the demo accounts).
func startReplica(t testing.TB, env map[string]string, out io.Writer, args ...string) *replica {
	t.Helper()
	cfg, err := parseConfig(args, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.writeStudy = func(dir string) error {
		inst := testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: testsvc.NewUID(),
			SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID(), SeriesDescription: "T1CE"}
		return os.WriteFile(filepath.Join(dir, "slice.dcm"), testsvc.DICOM(inst), 0o644)
	}
	addrc := make(chan string, 1)
	cfg.listening = func(addr string) { addrc <- addr }
	ctx, stop := context.WithCancel(context.Background())
	r := &replica{stop: stop, done: make(chan error, 1), logs: &syncBuffer{}}
	go func() { r.done <- run(ctx, cfg, slog.New(slog.NewJSONHandler(r.logs, nil)), out) }()
	t.Cleanup(func() { stop(); <-r.done })
	select {
	case addr := <-addrc:
		r.base = "http://" + addr
	case err := <-r.done:
		r.done <- err
		t.Fatalf("replica stopped before listening: %v\n%s", err, r.logs.String())
	}
	return r
}

// apiCall sends one JSON request and decodes the answer into out when it is 2xx; it returns the status.
func apiCall(t testing.TB, client *http.Client, method, url, token string, in, out any, header http.Header) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %.200s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

// TestReplicasBehindHAProxy: two replicas sharing one database and one Redis, behind the production HAProxy
// configuration (TLS, health checks on /readyz). A session begun on one is honoured, refreshed and ended on the
// other; a notification caused on one reaches a WebSocket client of the other; patient numbers and order IDs
// stay unique when both create at once; the rate limit is one bucket across both; X-Forwarded-For is taken
// from the proxy only. A replica told to stop drains: /readyz turns 503, its WebSocket clients are told to
// reconnect (1012), its request in flight finishes, and the proxy keeps answering from the other one.
func TestReplicasBehindHAProxy(t *testing.T) {
	orthancURL, user, password := testsvc.Orthanc(t)
	env := map[string]string{"NEURONOVA_DB": filepath.Join(t.TempDir(), "server.db"), "ORTHANC_URL": orthancURL, "ORTHANC_USER": user,
		"ORTHANC_PASSWORD": password, "REDIS_ADDR": testsvc.Redis(t), "NEURONOVA_REDIS_PREFIX": "replicas-" + testsvc.RandomHex(3) + ":",
		"NEURONOVA_TRUSTED_PROXIES": "127.0.0.1", "NEURONOVA_DRAIN_DELAY": "2s", "NEURONOVA_RATE": "2", "NEURONOVA_BURST": "150",
		"NEURONOVA_BCRYPT_COST": "4"}
	ports := make([]string, 2)
	for i := range ports {
		p, err := testsvc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	var printed syncBuffer
	r1 := startReplica(t, env, &printed, "--demo", "--addr", ports[0])
	r2 := startReplica(t, env, io.Discard, "--addr", ports[1])
	proxy := testsvc.StartHAProxy(t, ports...)
	web := proxy.Client
	direct := &http.Client{Timeout: time.Minute}
	for deadline := time.Now().Add(15 * time.Second); ; {
		if apiCall(t, web, "GET", proxy.URL+"/readyz", "", nil, nil, nil) == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the proxy never found a ready replica")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := apiCall(t, web, "GET", proxy.HTTPURL+"/readyz", "", nil, nil, nil); s != http.StatusMovedPermanently {
		t.Fatalf("plain HTTP: %d, want a redirect to HTTPS", s)
	}
	accounts := map[string]string{}
	for _, a := range regexp.MustCompile(`(?m)^demo account: [A-Z]+ (\S+) (\S+)$`).FindAllStringSubmatch(printed.String(), -1) {
		accounts[a[1]] = a[2]
	}
	login := func(id string, header http.Header) api.Tokens {
		t.Helper()
		var tok api.Tokens
		if s := apiCall(t, web, "POST", proxy.URL+"/api/auth/login/", "", api.LoginRequest{LoginID: id, Password: accounts[id]}, &tok, header); s != http.StatusOK {
			t.Fatalf("login %s through the proxy: %d", id, s)
		}
		return tok
	}

	// A session is the same on both replicas.
	doctor := login("doctor1", http.Header{"X-Forwarded-For": {"6.6.6.6"}})
	for _, r := range []*replica{r1, r2} {
		if s := apiCall(t, direct, "GET", r.base+"/api/auth/me/", doctor.Access, nil, nil, nil); s != http.StatusOK {
			t.Fatalf("the token on %s: %d", r.base, s)
		}
	}
	var refreshed api.Tokens
	if s := apiCall(t, direct, "POST", r2.base+"/api/auth/refresh/", "", api.RefreshRequest{Refresh: doctor.Refresh}, &refreshed, nil); s != http.StatusOK {
		t.Fatalf("refresh on the other replica: %d", s)
	}
	if s := apiCall(t, direct, "POST", r1.base+"/api/auth/logout/", refreshed.Access, nil, nil, nil); s != http.StatusNoContent {
		t.Fatalf("logout: %d", s)
	}
	for _, tok := range []string{doctor.Access, refreshed.Access} {
		if s := apiCall(t, direct, "GET", r2.base+"/api/auth/me/", tok, nil, nil, nil); s != http.StatusUnauthorized {
			t.Fatalf("a token of a session ended on the other replica: %d", s)
		}
	}
	admin := login("admin1", nil)
	var page api.AuditPage
	apiCall(t, web, "GET", proxy.URL+"/api/audit/?action=LOGIN_SUCCESS", admin.Access, nil, &page, nil)
	for _, r := range page.Records {
		if r.LoginID == "doctor1" && r.ClientAddr != "127.0.0.1" {
			t.Fatalf("a client chose its address through the proxy: %+v", r)
		}
	}

	// A notification caused on one replica reaches a client of the other (through Redis).
	ris := login("ris1", nil)
	doctor = login("doctor1", nil)
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(r1.base, "http")+"/ws/notifications",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + ris.Access}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var patients []api.Patient
	apiCall(t, direct, "GET", r2.base+"/api/patients/", doctor.Access, nil, &patients, nil)
	var order api.Order
	if s := apiCall(t, direct, "POST", r2.base+"/api/ocs/", doctor.Access, api.CreateOrderRequest{PatientID: patients[0].ID,
		JobRole: api.JobRIS, JobType: "MRI"}, &order, nil); s != http.StatusCreated {
		t.Fatalf("order on replica 2: %d", s)
	}
	waitEvent(t, ws, order.ID)

	// Both replicas create at once: numbers and IDs stay unique.
	var mu sync.Mutex
	numbers, ids := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for i := range 20 {
		r := []*replica{r1, r2}[i%2]
		wg.Go(func() {
			var p api.Patient
			s := apiCall(t, direct, "POST", r.base+"/api/patients/", doctor.Access, api.CreatePatientRequest{Name: fmt.Sprintf("Twin %d", i),
				BirthDate: "1980-01-01", Gender: "F"}, &p, nil)
			var o api.Order
			s2 := apiCall(t, direct, "POST", r.base+"/api/ocs/", doctor.Access, api.CreateOrderRequest{PatientID: patients[0].ID,
				JobRole: api.JobRIS, JobType: "MRI"}, &o, nil)
			mu.Lock()
			defer mu.Unlock()
			if s != http.StatusCreated || s2 != http.StatusCreated || numbers[p.Number] || ids[o.ID] {
				t.Errorf("creation %d on %s: %d %q, %d %q (a duplicate, or refused)", i, r.base, s, p.Number, s2, o.ID)
			}
			numbers[p.Number], ids[o.ID] = true, true
		})
	}
	wg.Wait()

	// One rate-limit bucket per user across the replicas (burst 150, 2/s).
	nurse := login("nurse1", nil)
	limited := 0
	for i := range 170 {
		if apiCall(t, direct, "GET", []*replica{r1, r2}[i%2].base+"/api/auth/me/", nurse.Access, nil, nil, nil) == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 170 calls alternating replicas were limited, want those beyond the shared burst of 150", limited)
	}

	// Replica 1 drains: a claim waiting on it finishes, its WebSocket client is told to reconnect, /readyz says
	// draining, and the proxy answers from replica 2 throughout.
	claimed := make(chan int, 1)
	go func() {
		claimed <- apiCall(t, direct, "POST", r1.base+"/api/jobs/claim/", ris.Access, api.ClaimRequest{Models: []string{api.ModelMG}, WaitMillis: 3000}, nil, nil)
	}()
	time.Sleep(300 * time.Millisecond)
	r1.stop()
	for err == nil { // the notifications of the orders above come first
		_, _, err = ws.Read(context.Background())
	}
	if websocket.CloseStatus(err) != websocket.StatusServiceRestart {
		t.Fatalf("the WebSocket client of the draining replica got %v, want 1012 (reconnect)", err)
	}
	var health api.Health
	if s := apiCall(t, direct, "GET", r1.base+"/readyz", "", nil, &health, nil); s != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d", s)
	}
	for range 30 {
		if s := apiCall(t, web, "GET", proxy.URL+"/api/auth/me/", ris.Access, nil, nil, nil); s != http.StatusOK {
			t.Fatalf("the proxy during the drain: %d", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := <-claimed; s != http.StatusNoContent {
		t.Fatalf("the claim in flight on the draining replica: %d, want its 204", s)
	}
	if err := <-r1.done; err != nil {
		t.Fatalf("replica 1 stopped with %v", err)
	}
	r1.done <- nil
	ws2, _, err := websocket.Dial(context.Background(), "wss"+strings.TrimPrefix(proxy.URL, "https")+"/ws/notifications",
		&websocket.DialOptions{HTTPClient: web, HTTPHeader: http.Header{"Authorization": {"Bearer " + ris.Access}}})
	if err != nil {
		t.Fatalf("reconnect through the proxy: %v", err)
	}
	defer ws2.CloseNow()
	if s := apiCall(t, web, "POST", proxy.URL+"/api/ocs/", doctor.Access, api.CreateOrderRequest{PatientID: patients[0].ID,
		JobRole: api.JobRIS, JobType: "MRI"}, &order, nil); s != http.StatusCreated {
		t.Fatalf("order through the proxy after the drain: %d", s)
	}
	waitEvent(t, ws2, order.ID)
}

// waitEvent reads notifications until one names orderID.
func waitEvent(t *testing.T, ws *websocket.Conn, orderID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("no notification of order %s: %v", orderID, err)
		}
		var n api.Notification
		if json.Unmarshal(b, &n) == nil && n.OrderID == orderID {
			return
		}
	}
}
