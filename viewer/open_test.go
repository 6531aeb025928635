package viewer

import (
	"errors"
	"strings"
	"testing"
)

// TestFindSeries picks by type, number and UID; an empty choice is the only series, and with several the
// error lists them.
func TestFindSeries(t *testing.T) {
	t1 := &Series{UID: "1.2.1", Number: 1, Type: T1, Description: "t1 ax"}
	ce := &Series{UID: "1.2.2", Number: 2, Type: T1CE, Description: "t1 post"}
	st := &Study{UID: "1.2", Series: []*Series{t1, ce}}
	for which, want := range map[string]*Series{"T1CE": ce, "t1": t1, "2": ce, "1.2.1": t1} {
		if se, err := FindSeries(st, which); se != want || err != nil {
			t.Errorf("%q: %v %v", which, se, err)
		}
	}
	if _, err := FindSeries(st, "FLAIR"); !errors.Is(err, ErrNoSeries) || !strings.Contains(err.Error(), "1 T1 (t1 ax), 2 T1CE (t1 post)") {
		t.Errorf("FLAIR: %v", err)
	}
	if _, err := FindSeries(st, ""); !errors.Is(err, ErrSeveralSeries) || !strings.Contains(err.Error(), "has 2, choose one: 1 T1 (t1 ax), 2 T1CE (t1 post)") {
		t.Errorf("no choice of two: %v", err)
	}
	if se, err := FindSeries(&Study{UID: "1.3", Series: []*Series{ce}}, ""); se != ce || err != nil {
		t.Errorf("no choice of one: %v %v", se, err)
	}
	if _, err := FindSeries(&Study{UID: "1.4"}, ""); !errors.Is(err, ErrNoSeries) {
		t.Errorf("no series: %v", err)
	}
}
