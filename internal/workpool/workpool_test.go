package workpool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestForEachVisitsEveryIndexOnceOnBoundedWorkers: each index is visited once, by a worker numbered below
// the bound, and no more calls than workers run at once.
func TestForEachVisitsEveryIndexOnceOnBoundedWorkers(t *testing.T) {
	const n, workers = 1000, 3
	seen := make([]atomic.Int32, n)
	var running, most atomic.Int32
	err := ForEach(context.Background(), n, workers, func(_ context.Context, w, i int) error {
		r := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		if w < 0 || w >= workers {
			t.Errorf("worker %d", w)
		}
		seen[i].Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("index %d visited %d times", i, c)
		}
	}
	if m := most.Load(); m > workers {
		t.Errorf("%d calls ran at once, bound %d", m, workers)
	}
	if err := ForEach(context.Background(), 0, 4, func(context.Context, int, int) error { t.Error("called"); return nil }); err != nil {
		t.Errorf("no work: %v", err)
	}
}

// TestForEachStopsAtTheFirstError: the error of one call is returned and the loop hands out no more
// indexes; a call that waits for its ctx sees it end.
func TestForEachStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	err := ForEach(context.Background(), 10000, 4, func(ctx context.Context, w, i int) error {
		calls.Add(1)
		switch {
		case i == 10:
			return boom
		case i > 10 && i < 14:
			<-ctx.Done() // ends only because call 10 failed
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if c := calls.Load(); c >= 10000 {
		t.Errorf("%d calls: the loop did not stop", c)
	}
}

// TestForEachAndDrainReturnCancellation: a cancelled ctx stops both loops with its error.
func TestForEachAndDrainReturnCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := ForEach(ctx, 10000, 2, func(_ context.Context, _, i int) error {
		if i == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ForEach: %v", err)
	}
	jobs := make(chan int) // never closed: only the cancellation ends Drain
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		for i := 0; ; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	err = Drain(ctx, 3, jobs, func(_ context.Context, _ int, j int) error {
		if j == 50 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain: %v", err)
	}
}

// TestDrainTakesEveryJobUntilClosed: every job sent is handled once; the first error ends the loop.
func TestDrainTakesEveryJobUntilClosed(t *testing.T) {
	jobs := make(chan int)
	go func() {
		for i := range 500 {
			jobs <- i
		}
		close(jobs)
	}()
	var mu sync.Mutex
	got := map[int]int{}
	if err := Drain(context.Background(), 4, jobs, func(_ context.Context, _ int, j int) error {
		mu.Lock()
		got[j]++
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if got[i] != 1 {
			t.Fatalf("job %d handled %d times", i, got[i])
		}
	}
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs = make(chan int)
	go func() {
		defer close(jobs)
		for i := 0; ; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := Drain(ctx, 2, jobs, func(_ context.Context, _ int, j int) error {
		if j == 7 {
			cancel() // the sender's stop, as a caller does on a fatal error
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Drain: %v, want boom", err)
	}
}
