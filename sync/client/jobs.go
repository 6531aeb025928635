package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/neuronova/neuronova/api"
)

// The server's AI job queue: a workstation without a usable accelerator submits a model run; `neuronova
// worker` claims it, runs it and completes or fails it under the claim's lease.

// SubmitJob queues a model run on the server and answers the queued job.
func (c *Client) SubmitJob(ctx context.Context, req api.JobRequest) (*api.Job, error) {
	var out api.Job
	if err := c.call(ctx, http.MethodPost, "/api/jobs/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Job answers a job's state (to its submitter, the worker holding it and administrators).
func (c *Client) Job(ctx context.Context, id string) (*api.Job, error) {
	var out api.Job
	if err := c.call(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+"/", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// ClaimJob takes the next queued job of one of models, waiting up to wait (at most 20 s) for one; nil, nil
// when none came.
func (c *Client) ClaimJob(ctx context.Context, models []string, wait time.Duration) (*api.Job, error) {
	body, err := json.Marshal(api.ClaimRequest{Models: models, WaitMillis: int(wait.Milliseconds())})
	if err != nil {
		return nil, err
	}
	// A long poll: bounded by DownloadTimeout, not RequestTimeout, which may be shorter than the wait.
	r := request{method: http.MethodPost, path: "/api/jobs/claim/", auth: true, download: true, body: body,
		header: http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}}
	resp, cancel, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil, nil
	}
	var j api.Job
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &OfflineError{Err: fmt.Errorf("POST /api/jobs/claim/: answer cut off or unreadable: %w", err)}
	}
	if j.ID == "" || j.Lease == "" {
		return nil, fmt.Errorf("POST /api/jobs/claim/: the server answered a job without an ID or lease")
	}
	return &j, nil
}

// RenewJob extends the lease of a claimed job that is still running, so that it is not delivered to another
// worker; the answer says when the renewed lease runs out. A lease no longer held answers CONFLICT.
func (c *Client) RenewJob(ctx context.Context, id, lease string) (*api.Job, error) {
	var out api.Job
	err := c.call(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/renew/", nil, api.RenewJobRequest{Lease: lease}, &out, true)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CompleteJob hands in the result of a claimed job under its lease; the server stores it once (the job's ID
// is its idempotency key) and notifies the submitter.
func (c *Client) CompleteJob(ctx context.Context, id, lease string, result api.AIResultUpload) (*api.Job, error) {
	var out api.Job
	err := c.call(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/complete/", nil,
		api.CompleteJobRequest{Lease: lease, Result: result}, &out, true)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// FailJob records a failed run of a claimed job; with retry the server queues it again until its deliveries
// are used up, then moves it to the dead letters.
func (c *Client) FailJob(ctx context.Context, id, lease, reason string, retry bool) (*api.Job, error) {
	var out api.Job
	err := c.call(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/fail/", nil,
		api.FailJobRequest{Lease: lease, Error: reason, Retry: retry}, &out, true)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeadJobs lists the dead-lettered jobs (administrators), at most limit.
func (c *Client) DeadJobs(ctx context.Context, limit int) ([]api.Job, error) {
	var out []api.Job
	err := c.call(ctx, http.MethodGet, "/api/jobs/dead/", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &out, true)
	return out, err
}
