package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestParseKeptM1 reads an M1 result kept as the pipeline wrote it and wrapped in an upload for an order, and
// refuses what is not one.
func TestParseKeptM1(t *testing.T) {
	res := m1.Result{Provenance: inference.Provenance{Banner: "DEMO — NOT FOR CLINICAL USE", Model: inference.ModelRef{ID: "m1-demo", Version: "1.0.0"}},
		Volumes: m1.Volumes{ET: 1.25}}
	plain, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := json.Marshal(api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1.0.0", OrderID: "ord-7", Result: plain})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		order string
	}{{"plain", plain, ""}, {"for an order", wrapped, "ord-7"}} {
		got, order, err := parseKeptM1(tc.in)
		if err != nil || order != tc.order || got.Model.ID != "m1-demo" || got.Banner != res.Banner || got.Volumes.ET != 1.25 {
			t.Errorf("%s: %+v, order %q, %v", tc.name, got, order, err)
		}
	}
	for _, bad := range []string{"", "[]", `{"volumes_ml":{"et":1}}`, `{"model":"m1","result":{}}`} {
		if _, _, err := parseKeptM1([]byte(bad)); err == nil || !strings.Contains(err.Error(), "kept M1 result") {
			t.Errorf("%q: %v, want an error naming the kept M1 result", bad, err)
		}
	}
}

func FuzzParseKeptM1(f *testing.F) {
	f.Add([]byte(`{"model":{"id":"m1-demo"},"volumes_ml":{"et":1}}`))
	f.Add([]byte(`{"model":"m1","order_id":"o","result":{"model":{"id":"m1-demo"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, _, err := parseKeptM1(b)
		if err == nil && res.Model.ID == "" {
			t.Fatal("a result with no model accepted")
		}
	})
}

// TestKeptResultWithUnreadableSEG: a kept run whose SEG cannot be read still shows its card, which says why
// there is no segmentation.
func TestKeptResultWithUnreadableSEG(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	lib := library{c}
	st, err := lib.OpenExam(ctx, demo.Study().UID, viewer.ExamByDay)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(m1.Result{Provenance: inference.Provenance{Banner: "DEMO — NOT FOR CLINICAL USE",
		Model: inference.ModelRef{ID: "m1-demo", Version: "1.0.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordResults(ctx, st.UID, []cache.ResultInput{{Kind: "m1", Payload: js}, {Kind: "seg", Payload: []byte("not a SEG")}}); err != nil {
		t.Fatal(err)
	}
	vs, err := lib.Results(ctx, st)
	if err != nil || len(vs) != 1 || !strings.HasPrefix(vs[0].String(), "v1 AI run m1-demo, ") {
		t.Fatalf("versions %v, %v", vs, err)
	}
	res, err := lib.Result(ctx, st, vs[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Labels != nil || !strings.Contains(res.Lines[len(res.Lines)-1], "segmentation not shown: its SEG could not be read") ||
		res.Banner != "DEMO — NOT FOR CLINICAL USE" || !strings.Contains(res.Saved, "in the outbox") {
		t.Errorf("card %q %q, saved %q, labels %v", res.Banner, res.Lines, res.Saved, res.Labels != nil)
	}
}
