package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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

// inferQueued does work, a model run of `neuronova infer`, as a job of the workstation's queue in the data
// directory, so that it is listed with the window's jobs and runs one at a time with them. It holds the
// store (jobq.Options.Hold): the jobs it finds are the window's. While a window owns the store the command
// does not run beside it (two model runs would share the GPU) and says so. Work's own error is returned
// as is (usage errors keep their exit status); the job records it.
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
	q, err := jobq.Open(dir, run, jobq.Options{Hold: true})
	if jobq.IsLocked(err) {
		return fmt.Errorf("a NeuroNova window owns the job queue in %s (one model run at a time): run the model from its AI tab, or close it and run infer again",
			filepath.Join(dir, jobq.Dir))
	}
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
