package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// worklistColumns are the worklist's columns: title, width and the study's value.
var worklistColumns = []struct {
	title string
	width float32
	value func(*viewer.Study) string
}{
	{"Patient", 150, func(s *viewer.Study) string { return s.PatientName }},
	{"ID", 120, func(s *viewer.Study) string { return s.PatientID }},
	{"Date", 80, func(s *viewer.Study) string { return s.StudyDate }},
	{"Description", 220, func(s *viewer.Study) string { return s.Description }},
	{"Series", 50, func(s *viewer.Study) string { return fmt.Sprint(len(s.Series)) }},
	{"Sequences", 170, sequences},
}

func sequences(s *viewer.Study) string {
	var ts []string
	for _, se := range s.Series {
		ts = append(ts, string(se.Type))
	}
	return strings.Join(ts, " ")
}

// Worklist lists studies with a search field (patient name or ID, description, sequences) and sortable
// columns (tap a header; tap again to reverse). Selecting a row opens the study.
type Worklist struct {
	// OnOpen is called with the study the reader chose.
	OnOpen func(*viewer.Study)

	all     []*viewer.Study
	shown   []*viewer.Study
	query   string
	sortCol int
	desc    bool
	search  *widget.Entry
	table   *widget.Table
	content fyne.CanvasObject
}

// NewWorklist makes a worklist of studies.
func NewWorklist(studies []*viewer.Study) *Worklist {
	w := &Worklist{all: studies, sortCol: 2, desc: true}
	w.search = widget.NewEntry()
	w.search.SetPlaceHolder("Search patient, ID, description, sequence…")
	w.search.OnChanged = w.Search
	w.table = widget.NewTable(
		func() (int, int) { return len(w.shown), len(worklistColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(worklistColumns[id.Col].value(w.shown[id.Row]))
		})
	w.table.ShowHeaderRow = true
	w.table.CreateHeader = func() fyne.CanvasObject { return widget.NewButton("", nil) }
	w.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		b := o.(*widget.Button)
		title := worklistColumns[id.Col].title
		if id.Col == w.sortCol {
			title += map[bool]string{false: " ▲", true: " ▼"}[w.desc]
		}
		b.SetText(title)
		col := id.Col
		b.OnTapped = func() { w.SortBy(col) }
	}
	for c, col := range worklistColumns {
		w.table.SetColumnWidth(c, col.width)
	}
	w.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(w.shown) && w.OnOpen != nil {
			w.OnOpen(w.shown[id.Row])
		}
	}
	w.content = container.NewBorder(w.search, nil, nil, nil, w.table)
	w.refresh()
	return w
}

// Content is the worklist's canvas object.
func (w *Worklist) Content() fyne.CanvasObject { return w.content }

// SetStudies replaces the studies listed.
func (w *Worklist) SetStudies(studies []*viewer.Study) {
	w.all = studies
	w.refresh()
}

// Search shows the studies whose patient name, ID, description or sequences contain every word of q
// (case-insensitive).
func (w *Worklist) Search(q string) {
	w.query = q
	if w.search.Text != q {
		w.search.SetText(q)
	}
	w.refresh()
}

// SortBy sorts by column col (0 patient … 5 sequences); sorting by the same column again reverses.
func (w *Worklist) SortBy(col int) {
	if col == w.sortCol {
		w.desc = !w.desc
	} else {
		w.sortCol, w.desc = col, false
	}
	w.refresh()
}

// Shown returns the studies listed, in order.
func (w *Worklist) Shown() []*viewer.Study { return w.shown }

func (w *Worklist) refresh() {
	words := strings.Fields(strings.ToLower(w.query))
	w.shown = w.shown[:0]
	for _, st := range w.all {
		text := strings.ToLower(strings.Join([]string{st.PatientName, st.PatientID, st.Description, sequences(st)}, " "))
		if !slices.ContainsFunc(words, func(word string) bool { return !strings.Contains(text, word) }) {
			w.shown = append(w.shown, st)
		}
	}
	value := worklistColumns[w.sortCol].value
	slices.SortStableFunc(w.shown, func(a, b *viewer.Study) int {
		c := cmp.Compare(value(a), value(b))
		if w.sortCol == 4 { // series count: numeric
			c = cmp.Compare(len(a.Series), len(b.Series))
		}
		if w.desc {
			return -c
		}
		return c
	})
	w.table.Refresh()
}
