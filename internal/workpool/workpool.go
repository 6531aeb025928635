// Package workpool is NeuroNova's one worker pool: a loop whose iterations run on a bounded number of
// goroutines, which stops at the first error or when its context ends. It is golang.org/x/sync/errgroup with
// a fixed set of workers, each knowing its number (for per-worker scratch buffers).
package workpool

import (
	"context"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// ForEach calls fn(ctx, worker, i) for every i in [0, n) on at most workers goroutines (GOMAXPROCS when
// workers <= 0); worker is the goroutine's number in [0, workers). It stops handing out indexes at the
// first error of fn or when ctx ends, waits for the calls under way, and returns that error (ctx's error
// when ctx ended first). The ctx passed to fn ends at the first error.
func ForEach(ctx context.Context, n, workers int, fn func(ctx context.Context, worker, i int) error) error {
	var next atomic.Int64
	return run(ctx, min(size(workers), n), func(context.Context) (int, bool) {
		i := int(next.Add(1) - 1)
		return i, i < n
	}, fn)
}

// Drain calls fn(ctx, worker, job) for every job received from jobs, until jobs is closed, on at most
// workers goroutines (GOMAXPROCS when workers <= 0); it stops as ForEach does. The sender must stop
// sending when ctx ends or fn fails: select on the ctx it cancels then.
func Drain[T any](ctx context.Context, workers int, jobs <-chan T, fn func(ctx context.Context, worker int, job T) error) error {
	return run(ctx, size(workers), func(ctx context.Context) (T, bool) {
		select {
		case j, ok := <-jobs:
			return j, ok
		case <-ctx.Done():
			var zero T
			return zero, false
		}
	}, fn)
}

func size(workers int) int {
	if workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return workers
}

// run starts workers goroutines that take jobs from next until it has none, fn fails or ctx ends.
func run[T any](ctx context.Context, workers int, next func(context.Context) (T, bool), fn func(context.Context, int, T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for w := range workers {
		g.Go(func() error {
			for {
				if err := gctx.Err(); err != nil {
					return ctx.Err() // nil when another worker's error ended gctx: that one is returned
				}
				job, ok := next(gctx)
				if !ok {
					return ctx.Err()
				}
				if err := fn(gctx, w, job); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}
