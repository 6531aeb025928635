package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
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
