package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
)

// scriptedAnalyzer stands in for the models in this widget test; the M1 pipeline itself runs the real
// ONNX Runtime in inference/m1 and through the workstation in cmd/neuronova.
type scriptedAnalyzer struct{ labels *viewer.LabelMap }

func (a scriptedAnalyzer) RunM1(ctx context.Context, st *viewer.Study, _ string, p func(string, int, int)) (*AIResult, error) {
	for i, stage := range []string{"resample", "network", "map back"} {
		p(stage, i+1, 3)
	}
	return &AIResult{Model: "m1-demo 1.0.0", Banner: "DEMONSTRATION MODEL — NOT FOR CLINICAL USE", Labels: a.labels,
		Lines: []string{"WT 1.2 mL", "grade G4 0.81"}}, ctx.Err()
}

func TestAIPanelShowsResultAndOverlay(t *testing.T) {
	st := smallStudy(t)
	ai := viewer.NewLabelMap(st.Labels.Geometry)
	ai.Source = "m1-demo 1.0.0"
	ai.Data[ai.Index(20, 10, 5)] = viewer.LabelET
	w, _ := newTestWorkstation(t, Services{AI: scriptedAnalyzer{ai}}, st)
	vp := w.Reading.Viewport(1)

	test.Tap(w.AI.run)
	waitFor(t, "the result", func() bool { return w.AI.Result() != nil })
	if !strings.Contains(w.AI.card.Text, "WT 1.2 mL") || w.AI.banner.Text != "DEMONSTRATION MODEL — NOT FOR CLINICAL USE" {
		t.Errorf("card %q, banner %q", w.AI.card.Text, w.AI.banner.Text)
	}
	if m, banner := w.Reading.Labels(); m != ai || banner == "" {
		t.Fatal("the AI segmentation is not drawn")
	}
	if vp.labels != ai || vp.banner.Text != "DEMONSTRATION MODEL — NOT FOR CLINICAL USE" || vp.banner.Hidden {
		t.Errorf("viewport labels %v, banner %q hidden %v", vp.labels == ai, vp.banner.Text, vp.banner.Hidden)
	}
	// Back to the study's own label map: no banner.
	w.AI.show.SetChecked(false)
	if m, banner := w.Reading.Labels(); m != st.Labels || banner != "" || vp.labels != st.Labels || !vp.banner.Hidden {
		t.Error("unticking the AI segmentation does not bring back the study's labels without the banner")
	}
}

func TestAIPanelWithoutModels(t *testing.T) {
	w, _ := newTestWorkstation(t, Services{}, smallStudy(t))
	if !w.AI.run.Disabled() || !strings.Contains(w.AI.stage.Text, "No AI models") {
		t.Errorf("without an analyzer: run enabled %v, %q", !w.AI.run.Disabled(), w.AI.stage.Text)
	}
}
