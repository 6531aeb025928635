package ui

import (
	"context"
	"fmt"
	"slices"

	"github.com/neuronova/neuronova/viewer"
)

// priorChoice is an earlier exam of the patient shown, as the toolbar's prior list offers it.
type priorChoice struct {
	label string
	row   WorklistRow   // from the library
	study *viewer.Study // or of this session
}

// findPriors lists the patient's exams before ex (newest first), from the session and the library (in a
// worker), and offers them in the toolbar.
func (w *Workstation) findPriors(ex *viewer.Study) {
	w.priors = nil
	w.priorSelect.Options = nil
	w.priorSelect.ClearSelected()
	w.priorSelect.Disable()
	if ex == nil || ex.PatientID == "" {
		return
	}
	var found []priorChoice
	for _, st := range w.Worklist.session {
		if st.PatientID == ex.PatientID && st.StudyDate < ex.StudyDate && st.StudyDate != "" {
			found = append(found, priorChoice{row: sessionRow(st), study: st})
		}
	}
	if w.lib == nil {
		w.offerPriors(ex, found)
		return
	}
	lib, rule := w.lib, w.Prefs.ExamRule
	go func() {
		rows, err := lib.PatientStudies(context.Background(), ex.PatientID)
		do(func() {
			if w.Reading.Study() != ex {
				return
			}
			if err != nil {
				w.message.SetText("Priors: " + err.Error())
			}
			var earlier []WorklistRow
			for _, r := range rows {
				if r.Date != "" && r.Date < ex.StudyDate && !slices.Contains(ex.StudyUIDs(), r.UID) {
					earlier = append(earlier, r)
				}
			}
			for _, r := range groupRows(earlier, rule) {
				found = append(found, priorChoice{row: r})
			}
			w.offerPriors(ex, found)
		})
	}()
}

// offerPriors shows the priors found, newest first.
func (w *Workstation) offerPriors(ex *viewer.Study, found []priorChoice) {
	slices.SortStableFunc(found, func(a, b priorChoice) int {
		return -cmpStrings(a.row.Date+a.row.Time, b.row.Date+b.row.Time)
	})
	w.priors = found
	var labels []string
	for i := range found {
		r := found[i].row
		found[i].label = fmt.Sprintf("%s  %s (%d series)", viewer.FormatDate(r.Date), r.Description, r.Series)
		labels = append(labels, found[i].label)
	}
	w.priorSelect.Options = labels
	if len(labels) > 0 {
		w.priorSelect.Enable()
		w.priorSelect.PlaceHolder = fmt.Sprintf("%d priors", len(labels))
	} else {
		w.priorSelect.PlaceHolder = "no prior"
	}
	w.priorSelect.Refresh()
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ComparePrior shows the active series beside the same sequence of prior i (0: the newest), reading the prior
// from the library first (in a worker).
func (w *Workstation) ComparePrior(i int) {
	if i < 0 || i >= len(w.priors) {
		w.message.SetText("No earlier exam of this patient to compare with.")
		return
	}
	c := w.priors[i]
	if c.study != nil {
		w.showPrior(c.study)
		return
	}
	lib, rule, ex := w.lib, w.Prefs.ExamRule, w.Reading.Study()
	go func() {
		prior, err := lib.OpenExam(context.Background(), c.row.UID, rule)
		do(func() {
			if err != nil {
				w.message.SetText("Prior: " + err.Error())
				return
			}
			if w.Reading.Study() == ex {
				w.showPrior(prior)
			}
		})
	}()
}

// showPrior lays the prior out beside the study and lists its measurements too.
func (w *Workstation) showPrior(prior *viewer.Study) {
	w.Reading.Compare(prior)
	w.layouts.SetSelected(LayoutPrior.String())
	w.Measures.load(prior)
	w.refreshStatus()
}
