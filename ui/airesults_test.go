package ui

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
)

// keptLibrary is a memLibrary that keeps AI results: version 1 (a model's run) and version 2 (an edit).
type keptLibrary struct {
	*memLibrary
	versions []ResultVersion
	results  map[int64]*AIResult
}

func (l keptLibrary) Results(_ context.Context, st *viewer.Study) ([]ResultVersion, error) {
	return l.versions, nil
}

func (l keptLibrary) Result(_ context.Context, st *viewer.Study, v ResultVersion) (*AIResult, error) {
	if res, ok := l.results[v.Run]; ok {
		return res, nil
	}
	return nil, fmt.Errorf("no run %d", v.Run)
}

// TestAIPanelRestoresKeptResults: opening a study whose library keeps results shows the latest version's
// card and overlay with the list of versions, latest first; choosing the other version shows its own.
func TestAIPanelRestoresKeptResults(t *testing.T) {
	st := smallStudy(t)
	maps := map[int64]*viewer.LabelMap{}
	res := map[int64]*AIResult{}
	for run, n := range map[int64]int{10: 3, 20: 5} {
		m := viewer.NewLabelMap(st.Labels.Geometry)
		for i := range n {
			m.Data[m.Index(10+i, 10, 5)] = viewer.LabelET
		}
		maps[run] = m
		res[run] = &AIResult{Model: "m1-demo 1.0.0", Banner: "DEMONSTRATION MODEL — NOT FOR CLINICAL USE", Labels: m,
			Lines: []string{fmt.Sprintf("ET %d voxels", n)}, Saved: "the local cache"}
	}
	at := time.Date(2026, 12, 3, 5, 20, 0, 0, time.Local)
	lib := keptLibrary{memLibrary: newMemLibrary(st), results: res, versions: []ResultVersion{
		{StudyUID: st.UID, Run: 20, Version: 2, Model: "m1-demo", Editor: "alice", Time: at.Add(11 * time.Minute)},
		{StudyUID: st.UID, Run: 10, Version: 1, Model: "m1-demo", Time: at},
	}}
	w, _ := newTestWorkstation(t, Services{Library: lib}, st)
	waitFor(t, "the kept result", func() bool { return w.AI.Result() != nil })
	want := []string{"v2 edited by alice, 2026-12-03 05:31", "v1 AI run m1-demo, 2026-12-03 05:20"}
	if got := w.AI.Versions(); strings.Join(got, "|") != strings.Join(want, "|") || w.AI.versions.SelectedIndex() != 0 {
		t.Errorf("versions %q (selected %d), want %q", got, w.AI.versions.SelectedIndex(), want)
	}
	if !strings.Contains(w.AI.card.Text, "ET 5 voxels") || w.AI.banner.Text != res[20].Banner || !w.AI.show.Checked {
		t.Errorf("card %q, banner %q, overlay ticked %v", w.AI.card.Text, w.AI.banner.Text, w.AI.show.Checked)
	}
	if m, banner := w.Reading.Labels(); m != maps[20] || banner != res[20].Banner {
		t.Error("the latest version's segmentation is not drawn")
	}
	w.AI.ChooseVersion(1)
	waitFor(t, "version 1", func() bool { m, _ := w.Reading.Labels(); return m == maps[10] })
	if !strings.Contains(w.AI.card.Text, "ET 3 voxels") || w.AI.Result() != res[10] {
		t.Errorf("after choosing v1: card %q", w.AI.card.Text)
	}
}

// slowLibrary is a keptLibrary whose reads of run slow wait for gate.
type slowLibrary struct {
	keptLibrary
	slow int64
	gate chan struct{}
}

func (l slowLibrary) Result(ctx context.Context, st *viewer.Study, v ResultVersion) (*AIResult, error) {
	if v.Run == l.slow {
		<-l.gate
	}
	return l.keptLibrary.Result(ctx, st, v)
}

// TestAIPanelShowsTheLastVersionChosen: a version chosen while the read of another is still under way
// stays shown when that older read ends last.
func TestAIPanelShowsTheLastVersionChosen(t *testing.T) {
	st := smallStudy(t)
	res := map[int64]*AIResult{
		10: {Model: "m1-demo 1.0.0", Banner: "DEMONSTRATION MODEL — NOT FOR CLINICAL USE", Lines: []string{"run 10"}},
		20: {Model: "m1-demo 1.0.0", Banner: "DEMONSTRATION MODEL — NOT FOR CLINICAL USE", Lines: []string{"run 20"}},
	}
	at := time.Date(2026, 12, 3, 5, 20, 0, 0, time.Local)
	lib := slowLibrary{keptLibrary: keptLibrary{memLibrary: newMemLibrary(st), results: res, versions: []ResultVersion{
		{StudyUID: st.UID, Run: 20, Version: 2, Model: "m1-demo", Editor: "alice", Time: at.Add(time.Minute)},
		{StudyUID: st.UID, Run: 10, Version: 1, Model: "m1-demo", Time: at},
	}}, slow: 10, gate: make(chan struct{})}
	w, _ := newTestWorkstation(t, Services{Library: lib}, st)
	waitFor(t, "the kept result", func() bool { return w.AI.Result() == res[20] })
	var calls atomic.Int64
	orig := do
	do = func(fn func()) { orig(fn); calls.Add(1) }
	defer func() { do = orig }()
	w.AI.ChooseVersion(1) // its read waits
	w.AI.ChooseVersion(0)
	waitFor(t, "version 2 again", func() bool { return w.AI.Result() == res[20] && calls.Load() > 0 })
	n := calls.Load()
	close(lib.gate)
	waitFor(t, "the read of version 1 to end", func() bool { return calls.Load() > n })
	if w.AI.Result() != res[20] || !strings.Contains(w.AI.card.Text, "run 20") {
		t.Errorf("the read of version 1, ended last, replaced the version chosen last: card %q", w.AI.card.Text)
	}
}
