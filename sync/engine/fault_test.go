package engine

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// childEnv makes the test binary a sync process: it opens the cache, logs in, runs one round and exits
// (0 when the round succeeded, 3 when it failed), so that the fault test can kill it with SIGKILL.
const childEnv = "NEURONOVA_SYNC_TEST_CHILD"

func childRound() int {
	dir, url, user, pw := os.Getenv(childEnv), os.Getenv("NN_CHILD_URL"), os.Getenv("NN_CHILD_USER"), os.Getenv("NN_CHILD_PASSWORD")
	c, err := cache.Open(dir, cache.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer c.Close()
	cl, err := newChildClient(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	e := New(c, cl, Options{BcryptCost: 4, BackoffBase: 100 * time.Millisecond, RoundRetryMax: 300 * time.Millisecond, Workers: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := e.Login(ctx, user, pw); err != nil {
		fmt.Fprintln(os.Stderr, "child: login:", err)
		return 3
	}
	sum, err := e.Round(ctx, nil)
	fmt.Printf("child round: %+v err=%v\n", sum, err)
	if err != nil {
		return 3
	}
	return 0
}

// TestFaultsKillAndCutDuringPullAndPush records an M1 result and four SEGs (a STOW-RS request at least) before
// each of 20 sync rounds run by a separate sync process, and at a random moment of each round does one of:
// SIGKILL the sync process, SIGKILL the server, SIGKILL Orthanc, or cut every connection mid-transfer. Every
// other round first evicts the pulled demo study so that the round pulls while it pushes. Then everything is
// restarted and rounds run until the outbox is empty. Every result must exist exactly once on the server
// (counted by Idempotency-Key in the server's database) and every SEG exactly once in Orthanc (by SOP
// Instance UID); the cache must pass Check, every result be marked synced, and the demo study be complete
// again.
func TestFaultsKillAndCutDuringPullAndPush(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	cut, err := testsvc.NewCutter(strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	dir := t.TempDir() + "/cache"
	c, err := cache.Open(dir, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	study := localStudy(t, c)
	if err := c.SetPinned(ctx, study, true); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("random seed %d", seed)

	const rounds = 20
	const segsPerRound = segBatchMin // each round's SEGs go in a STOW-RS request, confirmed by the study's manifest
	var sops, keys []string
	kills := map[string]int{}
	deadline := time.Now().Add(150 * time.Second)
	for i := range rounds {
		if time.Now().After(deadline) {
			t.Fatalf("the fault rounds took longer than their bound (at round %d)", i)
		}
		inputs := []cache.ResultInput{{Kind: "m1", Payload: m1Result(fmt.Sprintf("fault-%d-%d", seed, i))}}
		for range segsPerRound {
			sop, seg := segFor(study)
			inputs = append(inputs, cache.ResultInput{Kind: "seg", Payload: seg})
			sops = append(sops, sop)
		}
		if _, err := c.RecordResults(ctx, study, inputs); err != nil {
			t.Fatal(err)
		}
		if err := c.RecordAudit(ctx, risUser, "study.open", study, fmt.Sprintf("fault round %d", i)); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if _, err := c.GC(ctx, 1); err != nil { // evict the pulled demo study: this round pulls it again
				t.Fatal(err)
			}
		}
		child := exec.Command(self)
		child.Env = append(os.Environ(), childEnv+"="+dir, "NN_CHILD_URL="+cut.URL, "NN_CHILD_USER="+risUser, "NN_CHILD_PASSWORD="+s.Accounts[risUser])
		var out strings.Builder
		child.Stdout, child.Stderr = &out, &out
		if err := testsvc.StartChild(child); err != nil { // dies with this binary
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- child.Wait() }()
		fault := []string{"sync", "server", "orthanc", "cut"}[rng.IntN(4)]
		select {
		case <-done:
			fault = "none (the round ended first)"
		case <-time.After(delay(rng, i)):
			switch fault {
			case "sync":
				child.Process.Signal(syscall.SIGKILL)
			case "server":
				s.Server.Kill()
			case "orthanc":
				s.Orthanc.Kill()
			case "cut":
				cut.Cut()
			}
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				child.Process.Signal(syscall.SIGKILL)
				<-done
				t.Errorf("round %d: the sync process hung after the fault %s:\n%s", i, fault, out.String())
			}
		}
		kills[fault]++
		if !s.Orthanc.Running() {
			if err := s.StartOrthanc(); err != nil {
				t.Fatal(err)
			}
		}
		if !s.Server.Running() {
			if err := s.StartServer(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("faults: %v", kills)

	// Recovery: rounds in this process until the outbox is empty.
	e := engineOn(t, c, s.URL, Options{})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	var sum *Summary
	for try := 0; ; try++ {
		sum, err = e.Round(ctx, nil)
		if err == nil && sum.OutboxLeft == 0 && sum.PullFailed == 0 {
			break
		}
		if try == 4 {
			t.Fatalf("no clean round after recovery: %+v %v", sum, err)
		}
	}

	// Exactly once on the server, by Idempotency-Key.
	entries, err := c.Outbox(ctx, 10*rounds)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Kind == "result.m1" {
			keys = append(keys, en.IdempotencyKey)
		}
	}
	db, err := sql.Open("sqlite3", "file:"+s.Dir+"/server.db?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	expected, found, duplicated := 0, 0, 0
	for _, k := range keys {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ai_results WHERE idempotency_key = ?`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		expected++
		if n >= 1 {
			found++
		}
		if n > 1 {
			duplicated += n - 1
		}
	}
	segExpected, segFound, segDup := 0, 0, 0
	for _, sop := range sops {
		n, err := s.CountSOP(sop)
		if err != nil {
			t.Fatal(err)
		}
		segExpected++
		if n >= 1 {
			segFound++
		}
		if n > 1 {
			segDup += n - 1
		}
	}
	pid, err := c.RemotePatientByNumber(ctx, viewerdemo.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	byNonce := 0
	for i := range rounds {
		byNonce += countNonce(t, e, pid, fmt.Sprintf("fault-%d-%d", seed, i))
	}
	t.Logf("AI results: expected %d, found %d, duplicated %d (by Idempotency-Key; %d by content)", expected, found, duplicated, byNonce)
	t.Logf("SEG instances: expected %d, found %d, duplicated %d (by SOP Instance UID in Orthanc)", segExpected, segFound, segDup)
	if expected != rounds || found != expected || duplicated != 0 || byNonce != rounds {
		t.Errorf("AI results: expected %d, found %d, duplicated %d, by content %d", expected, found, duplicated, byNonce)
	}
	if segExpected != rounds*segsPerRound || segFound != segExpected || segDup != 0 {
		t.Errorf("SEGs: expected %d, found %d, duplicated %d", segExpected, segFound, segDup)
	}

	// Nothing the radiologist produced is missing, and the cache is sound.
	var unsynced int
	n, err := c.OutboxCounts(ctx)
	if err != nil || n.Pending != 0 || n.Sent != (1+segsPerRound)*rounds {
		t.Errorf("outbox %+v %v: want %d sent, none pending", n, err, (1+segsPerRound)*rounds)
	}
	byManifest := 0
	for _, en := range entries {
		if en.SentAt.IsZero() {
			unsynced++
		}
		if strings.Contains(en.Confirmation, "STOW-RS") {
			byManifest++
		}
	}
	t.Logf("SEGs confirmed by a study manifest after STOW-RS: %d of %d (the others one by one)", byManifest, segExpected)
	if byManifest == 0 {
		t.Error("no SEG went by the batched path")
	}
	evs, err := e.Status(ctx)
	if err != nil || evs.AuditQueue != 0 || unsynced != 0 {
		t.Errorf("after recovery: status %+v %v, %d unsent", evs, err, unsynced)
	}
	rep, err := c.Check(ctx)
	if err != nil || !rep.OK() || len(rep.MissingFiles) != 0 {
		t.Errorf("cache check %+v %v", rep, err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Instances < 620+3 {
		t.Errorf("cache holds %+v (%v): want the demo study complete again", st, err)
	}
	t.Logf("cache after recovery: %d instances, check %+v; last round %+v", st.Instances, rep.OK(), sum)
}

func newChildClient(url string) (*client.Client, error) {
	return client.New(url, client.Options{RequestTimeout: 10 * time.Second, DownloadTimeout: 30 * time.Second})
}

// delay is when a round's fault strikes after the sync process starts: within the first 0.6 s of a
// push-only round, within the first 2 s of a round that also pulls the demo study.
func delay(rng *rand.Rand, round int) time.Duration {
	if round%2 == 1 {
		return time.Duration(100+rng.IntN(1900)) * time.Millisecond
	}
	return time.Duration(30+rng.IntN(570)) * time.Millisecond
}
