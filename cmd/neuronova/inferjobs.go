package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference/jobs"
	"github.com/neuronova/neuronova/sync/cache"
)

// paramVia marks a job's maker: "cli" for `neuronova infer`, whose work (files in --out, a progress line)
// only that command can do.
const paramVia = "via"

// inferJob is what a `neuronova infer` run names in the job queue.
type inferJob struct {
	model                      string // the family (m1, mg, mm) or a model id
	input, genes, proteins     string
	out, series, reference, ep string
}

// request is the job's request: each file named with its content's SHA-256, so that the same paths with
// other contents are another request.
func (j inferJob) request(q *jobq.Queue) jobs.Request {
	inputs, params := map[string]string{}, map[string]string{paramVia: "cli", "series": j.series,
		"reference": j.reference, "provider": j.ep}
	for role, path := range map[string]string{"input": j.input, "genes": j.genes, "proteins": j.proteins} {
		if path == "" {
			continue
		}
		inputs[role] = path
		if abs, err := filepath.Abs(path); err == nil {
			if fi, err := os.Stat(abs); err == nil {
				inputs[role] = abs
				if !fi.IsDir() {
					params[role+"_sha256"], _ = jobq.FileSHA256(abs)
				}
			}
		}
	}
	if abs, err := filepath.Abs(j.out); err == nil {
		params["out"] = abs
	}
	return q.Request(j.model, inputs, params, false)
}

// Owners of the job queue (jobq.Options.Owner).
const (
	ownerWindow = "a NeuroNova window"
	ownerInfer  = "neuronova infer"
)

// openInferJobs opens the job queue in dir for `neuronova infer`, holding it. While another infer owns it,
// this one waits its turn (one model run at a time); a window, or an owner that does not say, makes it
// refuse: the window runs what it owns for as long as it is open.
func openInferJobs(ctx context.Context, dir string, run jobq.Runner, stderr io.Writer) (*jobq.Queue, error) {
	said := false
	for {
		q, err := jobq.Open(dir, run, jobq.Options{Hold: true, Owner: ownerInfer})
		var locked *jobq.LockedError
		if !errors.As(err, &locked) {
			if err == nil {
				saySetAside(q, stderr)
			}
			return q, err
		}
		if locked.Owner != ownerInfer {
			return nil, fmt.Errorf("%v (one model run at a time): run the model from the window's AI tab, or close the window and run infer again", err)
		}
		if !said {
			fmt.Fprintf(stderr, "waiting: %v\n", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// inferQueued does work, a model run of `neuronova infer`, as a job of the workstation's queue in the data
// directory, so that it is listed with the window's jobs and runs one at a time with them. It holds the
// store (jobq.Options.Hold): the jobs it finds are the window's. It waits for another infer, and refuses to
// run beside a window (openInferJobs). Work's own error is returned as is (usage errors keep their exit
// status); the job records it.
func inferQueued(ctx context.Context, data string, job inferJob, stderr io.Writer, work func(context.Context) error) error {
	dir, err := cache.ResolveDir(data, os.Getenv)
	if err != nil {
		return err
	}
	var workErr error
	run := func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		if workErr = work(ctx); workErr != nil {
			return nil, nil, workErr
		}
		res, err := json.Marshal(map[string]string{"out": req.Params["out"]})
		return res, nil, err
	}
	q, err := openInferJobs(ctx, dir, run, stderr)
	if err != nil {
		return err
	}
	defer q.Close()
	j, _, err := q.Run(ctx, job.request(q), nil, nil)
	if workErr != nil {
		return workErr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: job %s done (the window's jobs list shows it)\n", strings.ToLower(job.model), j.ID)
	return nil
}
