package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/redis"
)

func queue(t *testing.T, cfg redis.QueueConfig) (*redis.Queue, *redis.Client, string) {
	t.Helper()
	c, _, prefix := open(t, redis.Config{})
	q, err := c.Queue(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q, c, prefix
}

func submit(t *testing.T, q *redis.Queue, model string, patient int64) *api.Job {
	t.Helper()
	j, err := server.NewJob(api.JobRequest{Model: model, PatientID: patient, Inputs: []byte(`{"series":["1.2.3"]}`)}, 99,
		fmt.Sprintf("job-%d-%d", patient, time.Now().UnixNano()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

func mustClaim(t *testing.T, q *redis.Queue, models []string, worker int64) *api.Job {
	t.Helper()
	j, err := q.Claim(context.Background(), models, worker, 0)
	if err != nil || j == nil {
		t.Fatalf("worker %d claims %v: %v (job %v)", worker, models, err, j)
	}
	return j
}

// TestQueueConsumerGroupDeliversEachJobOnce: two workers claiming at the same time from the consumer group
// get every job exactly once; each claim is pending in the group until completed, and completion acknowledges
// it and records the result.
func TestQueueConsumerGroupDeliversEachJobOnce(t *testing.T) {
	q, _, prefix := queue(t, redis.QueueConfig{})
	_, raw, _ := open(t, redis.Config{})
	ctx := context.Background()
	const n = 20
	submitted := map[string]bool{}
	for i := range n {
		submitted[submit(t, q, []string{api.ModelM1, api.ModelMG}[i%2], int64(i+1)).ID] = true
	}
	var mu sync.Mutex
	claimed := map[string]int64{}
	var wg sync.WaitGroup
	for _, worker := range []int64{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := q.Claim(ctx, []string{api.ModelM1, api.ModelMG}, worker, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				if by, twice := claimed[j.ID]; twice {
					t.Errorf("job %s delivered to worker %d and again to %d", j.ID, by, worker)
				}
				claimed[j.ID] = worker
				mu.Unlock()
				if j.Status != api.JobRunning || j.Attempts != 1 || j.Lease == "" || j.ClaimedBy == nil || *j.ClaimedBy != worker {
					t.Errorf("claimed job state: %+v", j)
				}
			}
		}()
	}
	wg.Wait()
	if len(claimed) != n {
		t.Fatalf("%d of %d jobs claimed", len(claimed), n)
	}
	for id := range submitted {
		if _, ok := claimed[id]; !ok {
			t.Errorf("job %s never delivered", id)
		}
	}
	// The group "workers" holds every claim as pending until it is acknowledged.
	pending := func() int64 {
		var total int64
		for _, m := range []string{api.ModelM1, api.ModelMG} {
			p, err := raw.XPending(ctx, prefix+"jobs:"+m, "workers").Result()
			if err != nil {
				t.Fatal(err)
			}
			total += p.Count
		}
		return total
	}
	if p := pending(); p != n {
		t.Fatalf("%d entries pending in the consumer group, want %d", p, n)
	}
	for id, worker := range claimed {
		j, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Complete(ctx, id, j.Lease, worker+10, "ai_req_x"); !server.IsCode(err, api.CodeConflict) {
			t.Fatalf("another worker completed job %s: %v", id, err)
		}
		done, err := q.Complete(ctx, id, j.Lease, worker, "ai_req_"+id[:4])
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != api.JobDone || done.ResultID != "ai_req_"+id[:4] || done.Lease != "" {
			t.Fatalf("completed job: %+v", done)
		}
		if _, err := q.Complete(ctx, id, j.Lease, worker, "ai_req_again"); !server.IsCode(err, api.CodeConflict) {
			t.Fatalf("a job completed twice: %v", err)
		}
	}
	if p := pending(); p != 0 {
		t.Fatalf("%d entries still pending after completion", p)
	}
	if j, err := q.Claim(ctx, []string{api.ModelM1, api.ModelMG, api.ModelMM}, 3, 0); err != nil || j != nil {
		t.Fatalf("an empty queue handed out %+v (%v)", j, err)
	}
}

// TestQueueRetriesThenDeadLetters: a job failed with retry is queued again with a new lease each time, until
// it has been delivered MaxDeliveries times; then it is failed and in the dead letters. A failure without
// retry ends the job at once and is not a dead letter.
func TestQueueRetriesThenDeadLetters(t *testing.T) {
	q, _, _ := queue(t, redis.QueueConfig{MaxDeliveries: 3})
	ctx := context.Background()
	j := submit(t, q, api.ModelMG, 5)
	var leases []string
	for attempt := 1; attempt <= 3; attempt++ {
		c := mustClaim(t, q, []string{api.ModelMG}, 7)
		if c.ID != j.ID || c.Attempts != attempt {
			t.Fatalf("delivery %d: %+v", attempt, c)
		}
		for _, old := range leases {
			if old == c.Lease {
				t.Fatalf("delivery %d reused lease %s", attempt, old)
			}
			if _, err := q.Fail(ctx, j.ID, old, 7, "stale", true); !server.IsCode(err, api.CodeConflict) {
				t.Fatalf("a stale lease was accepted: %v", err)
			}
		}
		leases = append(leases, c.Lease)
		f, err := q.Fail(ctx, j.ID, c.Lease, 7, "CUDA out of memory", true)
		if err != nil {
			t.Fatal(err)
		}
		if attempt < 3 {
			if f.Status != api.JobQueued || f.Error != "CUDA out of memory" || f.Lease != "" {
				t.Fatalf("after failure %d: %+v, want queued again", attempt, f)
			}
		} else if f.Status != api.JobFailed || !strings.Contains(f.Error, "dead letters") {
			t.Fatalf("after the last delivery: %+v, want failed and dead-lettered", f)
		}
	}
	if c, err := q.Claim(ctx, []string{api.ModelMG}, 7, 0); err != nil || c != nil {
		t.Fatalf("a dead job was delivered again: %+v (%v)", c, err)
	}
	ended := submit(t, q, api.ModelMG, 6)
	c := mustClaim(t, q, []string{api.ModelMG}, 7)
	if f, err := q.Fail(ctx, ended.ID, c.Lease, 7, "input CSV has no Hugo_Symbol column", false); err != nil || f.Status != api.JobFailed {
		t.Fatalf("failure without retry: %+v %v", f, err)
	}
	dead, err := q.Dead(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != j.ID || dead[0].Attempts != 3 {
		t.Fatalf("dead letters %+v, want only %s after 3 deliveries", dead, j.ID)
	}
	if _, err := q.Fail(ctx, ended.ID, c.Lease, 7, "", true); err == nil {
		t.Fatal("a failure without an error message was accepted")
	}
}

// TestQueueRedeliversAbandonedClaims: a claim not finished within the visibility timeout is taken over by the
// next worker with a new lease, and the first worker's lease is refused; a job abandoned MaxDeliveries times
// goes to the dead letters.
func TestQueueRedeliversAbandonedClaims(t *testing.T) {
	q, _, _ := queue(t, redis.QueueConfig{Visibility: time.Millisecond, MaxDeliveries: 2})
	ctx := context.Background()
	j := submit(t, q, api.ModelM1, 1)
	first := mustClaim(t, q, []string{api.ModelM1}, 1)
	time.Sleep(20 * time.Millisecond) // longer than the visibility timeout: the claim is now idle
	second := mustClaim(t, q, []string{api.ModelM1}, 2)
	if second.ID != j.ID || second.Attempts != 2 || second.Lease == first.Lease || *second.ClaimedBy != 2 {
		t.Fatalf("redelivery: %+v after %+v", second, first)
	}
	if _, err := q.Holds(ctx, j.ID, first.Lease, 1); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("the first worker still holds the job: %v", err)
	}
	if _, err := q.Complete(ctx, j.ID, first.Lease, 1, "ai_req_late"); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("the first worker completed a job taken over: %v", err)
	}
	if h, err := q.Holds(ctx, j.ID, second.Lease, 2); err != nil || h.ID != j.ID {
		t.Fatalf("the second worker does not hold the job: %v", err)
	}
	time.Sleep(20 * time.Millisecond) // the second worker goes quiet too: this was the last delivery
	if c, err := q.Claim(ctx, []string{api.ModelM1}, 3, 0); err != nil || c != nil {
		t.Fatalf("a job past its deliveries was handed out: %+v (%v)", c, err)
	}
	got, err := q.Job(ctx, j.ID)
	if err != nil || got.Status != api.JobFailed || !strings.Contains(got.Error, "dead letters") {
		t.Fatalf("abandoned job: %+v (%v)", got, err)
	}
	dead, err := q.Dead(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != j.ID {
		t.Fatalf("dead letters %+v (%v)", dead, err)
	}
}

// TestQueueClaimWaitsForWork: a claim that waits receives a job submitted while it waits.
func TestQueueClaimWaitsForWork(t *testing.T) {
	q, _, _ := queue(t, redis.QueueConfig{})
	ctx := context.Background()
	got := make(chan *api.Job, 1)
	go func() {
		j, err := q.Claim(ctx, []string{api.ModelMM}, 4, 20*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- j
	}()
	time.Sleep(50 * time.Millisecond) // let the claim start waiting; the test holds either way
	j := submit(t, q, api.ModelMM, 9)
	c := <-got
	if c == nil || c.ID != j.ID || c.Model != api.ModelMM || c.PatientID != 9 || string(c.Inputs) != `{"series":["1.2.3"]}` {
		t.Fatalf("waiting claim received %+v, want %+v", c, j)
	}
}

// TestQueueRefusesBadRequests names the problem and queues nothing.
func TestQueueRefusesBadRequests(t *testing.T) {
	q, _, _ := queue(t, redis.QueueConfig{})
	ctx := context.Background()
	if err := q.Submit(ctx, &api.Job{Model: "M2", PatientID: 1}); !server.IsCode(err, api.CodeInvalid) {
		t.Fatalf("unknown model submitted: %v", err)
	}
	if _, err := q.Claim(ctx, nil, 1, 0); !server.IsCode(err, api.CodeInvalid) {
		t.Fatalf("claim without models: %v", err)
	}
	if _, err := q.Claim(ctx, []string{"GPT"}, 1, 0); !server.IsCode(err, api.CodeInvalid) {
		t.Fatalf("claim of an unknown model: %v", err)
	}
	if _, err := q.Job(ctx, "nope"); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if j, err := q.Claim(ctx, []string{api.ModelM1, api.ModelMG, api.ModelMM}, 1, 0); err != nil || j != nil {
		t.Fatalf("a refused submission was queued: %+v (%v)", j, err)
	}
}

// TestReconcileRequeuesWhatRedisLost: after Redis loses its data (here: every key of the prefix deleted, the
// streams and their group included), Reconcile queues the database's unfinished jobs again so that a worker can
// claim them, leaves a job Redis still holds alone, and returns those Redis has ended.
func TestReconcileRequeuesWhatRedisLost(t *testing.T) {
	q, _, prefix := queue(t, redis.QueueConfig{})
	_, raw, _ := open(t, redis.Config{})
	ctx := context.Background()
	lost, kept, done := submit(t, q, api.ModelM1, 1), submit(t, q, api.ModelMG, 2), submit(t, q, api.ModelMM, 3)
	claimed := mustClaim(t, q, []string{api.ModelMM}, 7)
	if _, err := q.Complete(ctx, claimed.ID, claimed.Lease, 7, "ai_req_0001"); err != nil {
		t.Fatal(err)
	}
	// Redis loses the first job and its stream (a restart without persistence).
	if err := raw.Del(ctx, prefix+"job:"+lost.ID, prefix+"jobs:M1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Job(ctx, lost.ID); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("job still in Redis after the loss: %v", err)
	}
	ended, requeued, err := q.Reconcile(ctx, []*api.Job{lost, kept, done})
	if err != nil {
		t.Fatal(err)
	}
	if requeued != 1 || len(ended) != 1 || ended[0].ID != done.ID || ended[0].Status != api.JobDone || ended[0].ResultID != "ai_req_0001" {
		t.Fatalf("reconcile: requeued %d, ended %+v; want 1 requeued and %s done", requeued, ended, done.ID)
	}
	if got := mustClaim(t, q, []string{api.ModelM1}, 8); got.ID != lost.ID {
		t.Fatalf("claimed %s after reconcile, want the lost job %s", got.ID, lost.ID)
	}
	// A second reconcile queues nothing twice.
	if _, requeued, err := q.Reconcile(ctx, []*api.Job{lost, kept}); err != nil || requeued != 0 {
		t.Fatalf("second reconcile requeued %d (%v)", requeued, err)
	}
}

// TestQueueRenewKeepsAClaim: a worker that renews its lease keeps the job past many visibility timeouts
// (another worker's claims get nothing); the claim and each renewal say when the lease runs out; once the
// renewals stop the job is delivered again, and the old lease can no longer be renewed. Only the lease's
// worker may renew it.
func TestQueueRenewKeepsAClaim(t *testing.T) {
	const visibility = 300 * time.Millisecond
	q, _, _ := queue(t, redis.QueueConfig{Visibility: visibility, MaxDeliveries: 3})
	ctx := context.Background()
	j := submit(t, q, api.ModelM1, 1)
	first := mustClaim(t, q, []string{api.ModelM1}, 1)
	if first.LeaseExpiresAt == nil || first.LeaseExpiresAt.Sub(time.Now()) > visibility || first.LeaseExpiresAt.Before(time.Now()) {
		t.Fatalf("the claim's lease runs out at %v, want within %v", first.LeaseExpiresAt, visibility)
	}
	if _, err := q.Renew(ctx, j.ID, first.Lease, 2); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("another worker renewed the lease: %v", err)
	}
	for end := time.Now().Add(4 * visibility); time.Now().Before(end); {
		r, err := q.Renew(ctx, j.ID, first.Lease, 1)
		if err != nil || r.LeaseExpiresAt == nil || r.LeaseExpiresAt.Before(time.Now().Add(visibility/2)) {
			t.Fatalf("renew: %+v %v", r, err)
		}
		if c, err := q.Claim(ctx, []string{api.ModelM1}, 2, 0); err != nil || c != nil {
			t.Fatalf("a renewed job was handed to another worker: %+v %v", c, err)
		}
		time.Sleep(visibility / 3)
	}
	time.Sleep(visibility + 50*time.Millisecond)
	second := mustClaim(t, q, []string{api.ModelM1}, 2)
	if second.ID != j.ID || second.Attempts != 2 || second.Lease == first.Lease {
		t.Fatalf("after the renewals stopped: %+v", second)
	}
	if _, err := q.Renew(ctx, j.ID, first.Lease, 1); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("the lost lease was renewed: %v", err)
	}
	if r, err := q.Renew(ctx, j.ID, second.Lease, 2); err != nil || r.Status != api.JobRunning {
		t.Fatalf("the new lease: %+v %v", r, err)
	}
}
