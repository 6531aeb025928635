package ui

import (
	"context"
	"encoding/json"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// SequencePanel chooses which series of the exam is its T1, T1CE, T2 and FLAIR: the hanging protocol lays
// them out and M1 runs on them. The choice starts as the classifier's and is remembered per exam.
type SequencePanel struct {
	w       *Workstation
	exam    *viewer.Study
	selects [4]*hotSelect
	options []*viewer.Series // the exam's series, in the order of each select's options (after "—")
	box     *fyne.Container
	quiet   bool // setting the selects, not the reader
}

func newSequencePanel(w *Workstation) *SequencePanel {
	p := &SequencePanel{w: w}
	grid := container.NewGridWithColumns(2)
	for i, t := range viewer.BrainTumourTypes {
		s := newSelect(nil, func(string) { p.chosen(t) })
		s.PlaceHolder = "—"
		p.selects[i] = s
		grid.Add(container.NewBorder(nil, nil, widget.NewLabel(string(t)), nil, s))
	}
	p.box = container.NewVBox(widget.NewLabelWithStyle("Sequences (hanging and M1)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), grid)
	return p
}

// Content is the panel's canvas object.
func (p *SequencePanel) Content() fyne.CanvasObject { return p.box }

// seriesLabel names a series in the choices: number and description, and, in an exam of several studies,
// the study's time.
func seriesLabel(ex *viewer.Study, se *viewer.Series) string {
	s := fmt.Sprintf("%d %s", se.Number, se.Description)
	if len(ex.Members) > 1 {
		if st := ex.StudyOf(se); st.StudyTime != "" {
			s += "  (" + viewer.FormatTime(st.StudyTime) + ")"
		}
	}
	return s
}

// SetExam lists ex's series in the choices and reads the choice remembered for it (in a worker), which,
// when it differs from the classifier's, lays the exam out again.
func (p *SequencePanel) SetExam(ex *viewer.Study) {
	p.exam, p.options = ex, nil
	var labels []string
	if ex != nil {
		p.options = ex.Series
		for _, se := range ex.Series {
			labels = append(labels, seriesLabel(ex, se))
		}
	}
	for _, s := range p.selects {
		s.Options = labels
	}
	p.show()
	if ex == nil || p.w.lib == nil || ex.Exam == "" {
		return
	}
	lib, key := p.w.lib, sequencesKey(ex.Exam)
	go func() {
		s, err := lib.Setting(context.Background(), key)
		do(func() {
			if err != nil || s == "" || p.exam != ex {
				return
			}
			var choice map[viewer.SeriesType]string
			if json.Unmarshal([]byte(s), &choice) != nil {
				return
			}
			for _, t := range viewer.BrainTumourTypes {
				if uid := choice[t]; uid != "" && (ex.Sequence(t) == nil || ex.Sequence(t).UID != uid) {
					if se := ex.SeriesByUID(uid); se != nil {
						p.w.Reading.SetSequence(t, se)
					}
				}
			}
			p.show()
		})
	}()
}

// sequencesKey is the library setting that remembers an exam's choice of sequences.
func sequencesKey(exam string) string { return "exam-sequences/" + exam }

// show selects each sequence's series.
func (p *SequencePanel) show() {
	p.quiet = true
	defer func() { p.quiet = false }()
	for i, t := range viewer.BrainTumourTypes {
		s := p.selects[i]
		se := (*viewer.Series)(nil)
		if p.exam != nil {
			se = p.exam.Sequence(t)
		}
		if se == nil {
			s.ClearSelected()
		} else {
			s.SetSelected(seriesLabel(p.exam, se))
		}
	}
}

// chosen takes the reader's choice for sequence t: the layout shows it, M1 will use it, the exam remembers it.
func (p *SequencePanel) chosen(t viewer.SeriesType) {
	if p.quiet || p.exam == nil {
		return
	}
	i := 0
	for k, role := range viewer.BrainTumourTypes {
		if role == t {
			i = k
		}
	}
	n := p.selects[i].SelectedIndex()
	if n < 0 || n >= len(p.options) {
		return
	}
	p.Choose(t, p.options[n])
}

// Choose makes se the exam's series of sequence t.
func (p *SequencePanel) Choose(t viewer.SeriesType, se *viewer.Series) {
	p.w.Reading.SetSequence(t, se)
	p.show()
	if p.w.lib == nil || p.exam.Exam == "" {
		return
	}
	b, _ := json.Marshal(p.exam.Sequences)
	lib, key := p.w.lib, sequencesKey(p.exam.Exam)
	go func() {
		if err := lib.SetSetting(context.Background(), key, string(b)); err != nil {
			do(func() { p.w.message.SetText("The choice of sequences is not remembered: " + err.Error()) })
		}
	}()
}
