package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
)

// loadWorkstations is how many workstations BenchmarkSyncLoad simulates, and loadRounds how many sync rounds
// each makes.
const (
	loadWorkstations = 50
	loadRounds       = 6
)

// BenchmarkSyncLoad: 50 simulated workstations, each its own account, make sync rounds at once — the change feed
// from its cursor, one AI result with an Idempotency-Key, a batch of forwarded audit events, the patient list —
// against one replica and against two behind the production HAProxy, on SQLite and on PostgreSQL. It reports the
// p50 and p99 of a round and the rounds per second of each setup (one run: -benchtime 1x; scripts/bench-replicas.sh
// prints them side by side). The replicas run in this process, each with its own store pool and HTTP server.
func BenchmarkSyncLoad(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		for _, replicas := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/replicas=%d", store, replicas), func(b *testing.B) {
				var rounds []time.Duration
				var elapsed time.Duration
				for range b.N {
					r, e := syncLoad(b, store, replicas)
					rounds, elapsed = append(rounds, r...), elapsed+e
				}
				slices.Sort(rounds)
				b.ReportMetric(float64(rounds[len(rounds)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(rounds[len(rounds)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(len(rounds))/elapsed.Seconds(), "rounds/s")
			})
		}
	}
}

// syncLoad starts the setup and runs the workstations' rounds; it returns each round's time and the wall time.
func syncLoad(b *testing.B, store string, replicas int) ([]time.Duration, time.Duration) {
	b.StopTimer()
	defer b.StartTimer()
	db := filepath.Join(b.TempDir(), "server.db")
	if store == "postgres" {
		db = testsvc.PostgresDB(b)
	}
	orthancURL, user, password := testsvc.Orthanc(b)
	env := map[string]string{"NEURONOVA_DB": db, "ORTHANC_URL": orthancURL, "ORTHANC_USER": user, "ORTHANC_PASSWORD": password,
		"REDIS_ADDR": testsvc.Redis(b), "NEURONOVA_REDIS_PREFIX": "load-" + testsvc.RandomHex(3) + ":", "NEURONOVA_BCRYPT_COST": "4",
		"NEURONOVA_TRUSTED_PROXIES": "127.0.0.1", "NEURONOVA_RATE": "1000", "NEURONOVA_BURST": "1000"}
	addrs := make([]string, replicas)
	var printed syncBuffer
	var reps []*replica
	for i := range addrs {
		p, err := testsvc.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
		args := []string{"--addr", addrs[i]}
		if i == 0 {
			args = append(args, "--demo")
		}
		reps = append(reps, startReplica(b, env, &printed, args...))
	}
	base, client := reps[0].base, &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	if replicas > 1 {
		proxy := testsvc.StartHAProxy(b, addrs...)
		base, client = proxy.URL, proxy.Client
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 100
		waitReady(b, client, base)
	}
	admin := regexp.MustCompile(`(?m)^demo account: ADMIN (\S+) (\S+)$`).FindStringSubmatch(printed.String())
	adminTok := loadLogin(b, client, base, admin[1], admin[2])
	var patients []api.Patient
	call(b, client, "GET", base+"/api/patients/", adminTok, nil, &patients)

	// One RIS account per workstation, made by the administrator through the API.
	tokens := make([]string, loadWorkstations)
	for i := range tokens {
		login, pw := fmt.Sprintf("ws%02d-%s", i, testsvc.RandomHex(2)), "load-test-password-1"
		call(b, client, "POST", base+"/api/users/", adminTok, api.CreateUserRequest{LoginID: login, Name: login, Role: api.RoleRIS, Password: pw}, nil)
		tok := loadLogin(b, client, base, login, pw)
		var fresh api.Tokens
		call(b, client, "POST", base+"/api/auth/change-password/", tok, api.ChangePasswordRequest{OldPassword: pw, NewPassword: pw + "x"}, &fresh)
		tokens[i] = fresh.Access
	}

	var mu sync.Mutex
	var rounds []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for w := range loadWorkstations {
		wg.Go(func() {
			cursor := int64(0)
			for r := range loadRounds {
				t0 := time.Now()
				cursor = syncRound(b, client, base, tokens[w], patients[w%len(patients)].ID, cursor, fmt.Sprintf("ws%d-r%d-%s", w, r, testsvc.RandomHex(4)))
				mu.Lock()
				rounds = append(rounds, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return rounds, time.Since(start)
}

// syncRound is what a workstation's sync round asks of the server.
func syncRound(b *testing.B, client *http.Client, base, token string, patientID, cursor int64, key string) int64 {
	for {
		var page api.ChangesPage
		call(b, client, "GET", fmt.Sprintf("%s/api/changes/?cursor=%d&limit=500", base, cursor), token, nil, &page)
		cursor = page.NextCursor
		if !page.HasMore {
			break
		}
	}
	up := api.AIResultUpload{Model: api.ModelM1, ModelVersion: "demo-1", PatientID: patientID, StudyUID: "2.25.1",
		Result: json.RawMessage(`{"volumes_ml":{"wt":41.9,"tc":16.3,"et":9.1},"grade":"G4"}`)}
	callHeader(b, client, "POST", base+"/api/ai/results/", token, up, nil, http.Header{"Idempotency-Key": {key}})
	events := api.AuditBatch{}
	for i := range 5 {
		events.Events = append(events.Events, api.ForwardedAuditEvent{EventID: fmt.Sprintf("%s-%d", key, i), OccurredAt: time.Now().UTC(),
			Action: "viewer.open_series", ObjectType: "series", ObjectID: "2.25.2", Outcome: api.OutcomeSuccess})
	}
	call(b, client, "POST", base+"/api/audit/events/", token, events, nil)
	call(b, client, "GET", base+"/api/ocs/", token, nil, nil)
	return cursor
}

func loadLogin(b *testing.B, client *http.Client, base, login, password string) string {
	var tok api.Tokens
	call(b, client, "POST", base+"/api/auth/login/", "", api.LoginRequest{LoginID: login, Password: password}, &tok)
	return tok.Access
}

func call(b *testing.B, client *http.Client, method, url, token string, in, out any) {
	callHeader(b, client, method, url, token, in, out, nil)
}

// callHeader is apiCall for any testing.TB, failing on anything but a 2xx answer.
func callHeader(b *testing.B, client *http.Client, method, url, token string, in, out any, header http.Header) {
	if s := apiCall(b, client, method, url, token, in, out, header); s/100 != 2 {
		b.Fatalf("%s %s: %d", method, url, s)
	}
}

func waitReady(tb testing.TB, client *http.Client, base string) {
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("no ready replica behind the proxy")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
