package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// viewerdemoPatient is the demo study's PatientID, the number of the demo patient --demo registers.
var viewerdemoPatient = viewerdemo.PatientID

// replicaSet is two neuronova-server processes on one PostgreSQL and one Redis, behind HAProxy.
type replicaSet struct {
	procs []*testsvc.Proc
	addrs []string
	proxy *testsvc.HAProxy
}

// startReplicas seeds the database with --demo (accounts, patients, the demo study in Orthanc) in a first run,
// then starts two replicas without it, and HAProxy in front of them. It returns the demo accounts.
func startReplicas(t *testing.T, env []string) (*replicaSet, map[string]string) {
	bin, err := testsvc.ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rs := &replicaSet{}
	for range 3 {
		p, err := testsvc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		rs.addrs = append(rs.addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	seed := testsvc.NewProc("seed", dir, []string{bin, "--demo", "--addr", rs.addrs[2]}, env)
	if err := seed.Start(); err != nil {
		t.Fatal(err)
	}
	waitReplica(t, seed, rs.addrs[2])
	seed.Kill()
	log, err := os.ReadFile(filepath.Join(dir, "seed.log"))
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^demo account: [A-Z]+ (\S+) (\S+)$`).FindAllStringSubmatch(string(log), -1) {
		accounts[m[1]] = m[2]
	}
	rs.addrs = rs.addrs[:2]
	for i, addr := range rs.addrs {
		p := testsvc.NewProc(fmt.Sprintf("replica%d", i+1), dir, []string{bin, "--addr", addr}, env)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		waitReplica(t, p, addr)
		rs.procs = append(rs.procs, p)
	}
	rs.proxy = testsvc.StartHAProxy(t, rs.addrs...)
	return rs, accounts
}

// waitReplica waits until a server answers /readyz.
func waitReplica(t *testing.T, p *testsvc.Proc, addr string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("%s not ready (running %v):\n%s", addr, p.Running(), p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workstation is one sync engine of the fault test and what it recorded.
type workstation struct {
	user    string
	e       *Engine
	c       *cache.Cache
	study   string
	keys    []string // Idempotency-Keys of its results
	sops    []string // SOP Instance UIDs of its SEGs
	reports int
	audits  int
}

// notificationLog collects, across reconnections, the AI_RESULT notifications an administrator's client gets.
type notificationLog struct {
	mu      sync.Mutex
	results map[string]int
	reconn  int
}

// listen keeps a WebSocket open to one replica after the other (replica 2 first), reconnecting with the last
// notification's ID after each death, until ctx ends.
func (n *notificationLog) listen(ctx context.Context, token string, addrs []string) {
	last := ""
	for i := 1; ctx.Err() == nil; i++ {
		h := http.Header{"Authorization": {"Bearer " + token}}
		if last != "" {
			h.Set(api.LastEventIDHeader, last)
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, _, err := websocket.Dial(dctx, "ws://"+addrs[i%len(addrs)]+"/ws/notifications", &websocket.DialOptions{HTTPHeader: h})
		cancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				break
			}
			var m api.Notification
			if json.Unmarshal(b, &m) == nil && m.ID != "" {
				last = m.ID
				if m.Type == api.EventAIResult {
					n.mu.Lock()
					n.results[m.ResultID]++
					n.mu.Unlock()
				}
			}
		}
		conn.CloseNow()
		n.mu.Lock()
		n.reconn++
		n.mu.Unlock()
	}
}

// TestReplicasFaults: four workstations' sync engines push AI results, SEGs, reports and audit events through
// HAProxy to two replicas on PostgreSQL, Redis and Orthanc, while the replicas are killed (SIGKILL) and
// restarted 20 times at random, Redis is killed and restarted once and PostgreSQL once. Afterwards every
// result is on the server exactly once, every SEG in Orthanc exactly once, every report saved once, every
// forwarded audit event stored once and every write audited; and an administrator's WebSocket client, which
// reconnects to whichever replica lives with the ID of the last notification it got, has received the
// notification of every result.
func TestReplicasFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the replica fault test runs for about a minute; not under -short")
	}
	testsvc.RequireStack(t)
	pg := testsvc.StartPostgres(t)
	dsn := pg.NewDB(t)
	redis := testsvc.StartRedis(t)
	orthancURL, orthancUser, orthancPassword := testsvc.FreshOrthanc(t)
	env := append(os.Environ(), "NEURONOVA_DB="+dsn, "REDIS_ADDR="+redis.Addr, "ORTHANC_URL="+orthancURL, "ORTHANC_USER="+orthancUser,
		"ORTHANC_PASSWORD="+orthancPassword, "NEURONOVA_TRUSTED_PROXIES=127.0.0.1", "NEURONOVA_BCRYPT_COST=4",
		"NEURONOVA_RATE=1000", "NEURONOVA_BURST=1000", "NEURONOVA_LOG_LEVEL=warn")
	rs, accounts := startReplicas(t, env)
	ctx := context.Background()
	tlsClient := func() *http.Client {
		tr := rs.proxy.Client.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: rs.proxy.Client.Transport.(*http.Transport).TLSClientConfig.RootCAs}
		return &http.Client{Transport: tr}
	}

	// An order of the demo patient, accepted and started by ris1, for its reports.
	hc := tlsClient()
	tokens := map[string]string{}
	for _, u := range []string{"admin1", "doctor1", "ris1"} {
		var tok api.Tokens
		callAPI(t, hc, "POST", rs.proxy.URL+"/api/auth/login/", "", api.LoginRequest{LoginID: u, Password: accounts[u]}, &tok)
		tokens[u] = tok.Access
	}
	var patients []api.Patient
	callAPI(t, hc, "GET", rs.proxy.URL+"/api/patients/?q="+viewerdemoPatient, tokens["doctor1"], nil, &patients)
	if len(patients) == 0 {
		t.Fatal("the demo patient is not registered")
	}
	var order api.Order
	callAPI(t, hc, "POST", rs.proxy.URL+"/api/ocs/", tokens["doctor1"], api.CreateOrderRequest{PatientID: patients[0].ID, JobRole: api.JobRIS, JobType: "MRI"}, &order)
	for _, act := range []string{"accept", "start"} {
		callAPI(t, hc, "POST", rs.proxy.URL+"/api/ocs/"+order.ID+"/"+act+"/", tokens["ris1"], nil, nil)
	}
	adminTok := tokens["admin1"]

	notes := &notificationLog{results: map[string]int{}}
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go notes.listen(lctx, adminTok, []string{rs.addrs[1], rs.addrs[0]})

	// Four workstations push until the faults are over and their outboxes are empty.
	var stations []*workstation
	for _, u := range []string{"ris1", "doctor1", "admin1", "system"} {
		c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cl, err := client.New(rs.proxy.URL, client.Options{HTTP: tlsClient(), RequestTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		e := New(c, cl, Options{BcryptCost: 4, BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second, RoundRetryMax: 500 * time.Millisecond,
			NoPrefetch: true})
		if _, err := e.Login(ctx, u, accounts[u]); err != nil {
			t.Fatal(err)
		}
		stations = append(stations, &workstation{user: u, e: e, c: c, study: localStudy(t, c)})
	}
	chaosDone := make(chan struct{})
	errs := make(chan error, len(stations))
	var wg sync.WaitGroup
	for _, w := range stations {
		wg.Go(func() { errs <- w.push(ctx, order.ID, chaosDone) })
	}

	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("random seed %d", seed)
	kills := 0
	for k := range 20 {
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		i := rng.IntN(2)
		rs.procs[i].Kill()
		kills++
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		switch k {
		case 6:
			redis.Restart(t, true)
		case 13:
			pg.Restart(t, true)
		}
		if err := rs.procs[i].Start(); err != nil {
			t.Fatal(err)
		}
		waitReplica(t, rs.procs[i], rs.addrs[i])
	}
	close(chaosDone)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	// Count what arrived, straight from PostgreSQL and Orthanc.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string, args ...any) int {
		var n int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	var results, dupResults, unaudited, segs, dupSegs, reports, audits, wantReports, wantAudits int
	var resultIDs []string
	for _, w := range stations {
		for _, k := range w.keys {
			n := count("SELECT count(*) FROM ai_results WHERE idempotency_key = $1", k)
			results += min(n, 1)
			dupResults += max(n-1, 0)
			var id string
			if n > 0 {
				conn.QueryRow(ctx, "SELECT id FROM ai_results WHERE idempotency_key = $1", k).Scan(&id)
				resultIDs = append(resultIDs, id)
				if count("SELECT count(*) FROM audit WHERE action = 'ai_result.upload' AND object_id = $1 AND outcome = 'SUCCESS'", id) != 1 {
					unaudited++
				}
			}
		}
		for _, sop := range w.sops {
			n := orthancCount(t, orthancURL, orthancUser, orthancPassword, sop)
			segs += min(n, 1)
			dupSegs += max(n-1, 0)
		}
		wantReports += w.reports
		wantAudits += w.audits
	}
	reports = count("SELECT count(*) FROM order_history WHERE order_id = $1 AND action = 'RESULT_SAVED'", order.ID)
	audits = count("SELECT count(*) FROM audit WHERE source = 'workstation' AND action = 'study.open' AND detail LIKE '%replicas-%'")
	saves := count("SELECT count(*) FROM audit WHERE action = 'order.save_result' AND object_id = $1 AND outcome = 'SUCCESS'", order.ID)
	want := 0
	for _, w := range stations {
		want += len(w.keys)
	}
	// Every result's notification reaches the administrator's client.
	missing := resultIDs
	for deadline := time.Now().Add(30 * time.Second); len(missing) > 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		notes.mu.Lock()
		var still []string
		for _, id := range missing {
			if notes.results[id] == 0 {
				still = append(still, id)
			}
		}
		missing = still
		notes.mu.Unlock()
	}
	t.Logf("faults: %d replica kills, Redis killed once, PostgreSQL killed once; the listener reconnected %d times", kills, notes.reconn)
	t.Logf("AI results: %d pushed, %d on the server, %d duplicated, %d without their audit record", want, results, dupResults, unaudited)
	t.Logf("SEGs: %d pushed, %d in Orthanc, %d duplicated", want, segs, dupSegs)
	t.Logf("reports: %d pushed, %d saved in the order's history (%d audited saves); workstation audit events: %d recorded, %d stored",
		wantReports, reports, saves, wantAudits, audits)
	t.Logf("notifications: %d of %d results announced to the client on the other replica", len(resultIDs)-len(missing), len(resultIDs))
	if results != want || dupResults != 0 || unaudited != 0 || segs != want || dupSegs != 0 || reports != wantReports ||
		saves < reports || audits != wantAudits || len(missing) != 0 || want == 0 {
		t.Fatal("something was lost or duplicated (see the counts above)")
	}
}

// push records results, SEGs, reports (ris1) and audit events, and syncs, round after round, until the faults
// are over and its outbox is empty.
func (w *workstation) push(ctx context.Context, orderID string, chaosDone <-chan struct{}) error {
	for i := 0; ; i++ {
		over := false
		select {
		case <-chaosDone:
			over = true
		default:
		}
		if !over && i < 8 {
			if err := w.record(ctx, orderID, i); err != nil {
				return err
			}
		}
		sum, err := w.e.Round(ctx, nil)
		if over && err == nil && sum.OutboxLeft == 0 {
			st, err := w.e.Status(ctx)
			if err == nil && st.AuditQueue == 0 {
				return nil
			}
		}
		if i > 400 {
			return fmt.Errorf("%s: no clean round after the faults: %+v %v", w.user, sum, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *workstation) record(ctx context.Context, orderID string, i int) error {
	nonce := fmt.Sprintf("replicas-%s-%d-%s", w.user, i, testsvc.RandomHex(3))
	sop, seg := segFor(w.study)
	inputs := []cache.ResultInput{{Kind: "m1", Payload: m1Result(nonce)}, {Kind: "seg", Payload: seg}}
	if w.user == "ris1" {
		report, _ := json.Marshal(Report{OrderID: orderID, WorkerResult: json.RawMessage(fmt.Sprintf(`{"findings":%q}`, nonce))})
		inputs = append(inputs, cache.ResultInput{Kind: "report", Payload: report})
		w.reports++
	}
	if _, err := w.c.RecordResults(ctx, w.study, inputs); err != nil {
		return err
	}
	if err := w.c.RecordAudit(ctx, w.user, "study.open", w.study, nonce); err != nil {
		return err
	}
	w.audits++
	w.sops = append(w.sops, sop)
	entries, err := w.c.Outbox(ctx, 100000)
	if err != nil {
		return err
	}
	w.keys = w.keys[:0]
	for _, en := range entries {
		if en.Kind == "result.m1" {
			w.keys = append(w.keys, en.IdempotencyKey)
		}
	}
	return nil
}

// callAPI sends one JSON request and decodes a 2xx answer into out; anything else fails the test.
func callAPI(t *testing.T, hc *http.Client, method, url, token string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, url, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// orthancCount is how many instances Orthanc holds under a SOP Instance UID.
func orthancCount(t *testing.T, url, user, password, sop string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/tools/lookup", strings.NewReader(sop))
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var found []struct{ Type string }
	json.NewDecoder(resp.Body).Decode(&found)
	n := 0
	for _, f := range found {
		if f.Type == "Instance" {
			n++
		}
	}
	return n
}
