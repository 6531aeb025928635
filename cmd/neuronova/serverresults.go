package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
)

// The AI tab lists the server's results of a study beside the kept ones, as the last sync brought them: a
// run of this workstation the server lists is one entry, with the server's review.

// withServer adds the server's results of study uid to the kept versions vs of it: the review of a result
// uploaded from here goes on the run's entry, any other result is an entry of its own.
func withServer(vs []ui.ResultVersion, uid string, rs []cache.ServerResult) []ui.ResultVersion {
	for _, r := range rs {
		review := serverReview(r)
		i := -1
		for j, v := range vs {
			if r.Local != 0 && v.StudyUID == uid && v.Run == r.Local {
				i = j
				break
			}
		}
		if i >= 0 {
			vs[i].Server = review
			continue
		}
		vs = append(vs, ui.ResultVersion{StudyUID: uid, Version: 1, Model: serverModel(r.AIResult), Time: r.CreatedAt, Server: review})
	}
	return vs
}

// serverReview is how the AI tab names a server result and its review; users the cached orders do not name
// are given by number.
func serverReview(r cache.ServerResult) *ui.ServerReview {
	name := func(name string, id int64) string {
		if name != "" {
			return name
		}
		return fmt.Sprintf("user %d", id)
	}
	s := &ui.ServerReview{ID: r.ID, RunBy: name(r.CreatorName, r.CreatedBy), Status: r.ReviewStatus, Comment: r.ReviewComment}
	if r.ReviewedBy != nil {
		s.Reviewer = name(r.ReviewerName, *r.ReviewedBy)
	}
	if r.ReviewedAt != nil {
		s.At = *r.ReviewedAt
	}
	return s
}

// serverModel is the model of a server result as the AI tab names it: its id from the result's provenance
// ("m1-demo"), else the model and version the upload named.
func serverModel(r api.AIResult) string {
	var p inference.Provenance
	if json.Unmarshal(r.Result, &p) == nil && p.Model.ID != "" {
		return p.Model.ID
	}
	return r.Model + " " + r.ModelVersion
}

// reviewLine is the card's line of a server review: "server ai_req_0001: approved by Dr Ada, 2026-12-03 06:10
// — agrees".
func reviewLine(s *ui.ServerReview) string {
	line := "server " + s.ID + ": "
	if s.Status == "" || s.Status == api.ReviewPending {
		return line + "pending review"
	}
	line += s.Status
	if s.Reviewer != "" {
		line += " by " + s.Reviewer
	}
	if !s.At.IsZero() {
		line += ", " + s.At.Local().Format("2006-01-02 15:04")
	}
	if s.Comment != "" {
		line += " — " + s.Comment
	}
	return line
}

// serverResult reads the card of a server result no run of this workstation holds, as the cache holds it
// (offline: as the last sync brought it). An M1 result gets the card of a kept M1 run; its segmentation is
// not kept here.
func (l library) serverResult(ctx context.Context, v ui.ResultVersion) (*ui.AIResult, error) {
	raw, err := l.c.RemoteObject(ctx, api.KindAIResult, v.Server.ID)
	if err != nil {
		return nil, err
	}
	var r api.AIResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("server result %s: %w", v.Server.ID, err)
	}
	saved := fmt.Sprintf("the server as %s, run by %s %s", r.ID, v.Server.RunBy, r.CreatedAt.Local().Format("2006-01-02 15:04"))
	if r.OrderID != "" {
		saved += " for order " + r.OrderID
	}
	out := &ui.AIResult{Saved: saved}
	if res, _, err := parseKeptM1(r.Result); err == nil && r.Model == api.ModelM1 {
		out.Model, out.Banner, out.Lines = res.Model.ID+" "+res.Model.Version, res.Banner, m1Findings(res)
		if js, err := json.Marshal(res); err == nil {
			out.Summary, _ = api.ParseM1Summary(js)
		}
	} else if card, err := serverOmicsCard(r); err == nil { // MG or MM: no segmentation
		out.Model, out.Banner, out.Lines = card.Model, card.Banner, append(card.Lines, reviewLine(v.Server))
		return out, nil
	} else {
		var p inference.Provenance
		json.Unmarshal(r.Result, &p)
		out.Model, out.Banner = r.Model+" "+r.ModelVersion, p.Banner
		out.Lines = []string{"result: " + shortText(string(r.Result), 300)}
	}
	out.Lines = append(out.Lines, "segmentation: not kept on this workstation", reviewLine(v.Server))
	return out, nil
}

func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
