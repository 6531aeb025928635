package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// Library is the local study cache as the workstation uses it. sync/cache implements it through a small
// adapter in cmd/neuronova, so that this package builds without cgo.
type Library interface {
	// Worklist lists up to limit studies matching every word of text (patient name, ID or accession, by
	// word prefix), sorted by sort ("name", "id", or "" for newest first); more says whether others match.
	Worklist(ctx context.Context, text, sort string, limit int) (rows []WorklistRow, more bool, err error)
	// Open reads a study for the viewer and records that it was opened.
	Open(ctx context.Context, uid string) (*viewer.Study, error)
	// Import adds paths to the cache, reporting progress, and says what it imported, skipped and rejected.
	Import(ctx context.Context, paths []string, p viewer.Progress) (report string, err error)
}

// WorklistRow is one study of the worklist: from the library, or a study of this session (the demo
// study, folders given on the command line) that lives in memory only.
type WorklistRow struct {
	UID, PatientName, PatientID, Date, Description string
	Series                                         int
	Types                                          []viewer.SeriesType
	Sync                                           string        // the library's sync state; "session" for in-memory studies
	study                                          *viewer.Study // in-memory studies only
}

func sessionRow(st *viewer.Study) WorklistRow {
	r := WorklistRow{UID: st.UID, PatientName: st.PatientName, PatientID: st.PatientID, Date: st.StudyDate,
		Description: st.Description, Series: len(st.Series), Sync: "session", study: st}
	for _, se := range st.Series {
		r.Types = append(r.Types, se.Type)
	}
	return r
}

func (r WorklistRow) sequences() string {
	var ts []string
	for _, t := range r.Types {
		ts = append(ts, string(t))
	}
	return strings.Join(ts, " ")
}

// worklistColumns are the worklist's columns: title, width and the row's value.
var worklistColumns = []struct {
	title string
	width float32
	value func(WorklistRow) string
}{
	{"Patient", 150, func(r WorklistRow) string { return r.PatientName }},
	{"ID", 120, func(r WorklistRow) string { return r.PatientID }},
	{"Date", 80, func(r WorklistRow) string { return r.Date }},
	{"Description", 220, func(r WorklistRow) string { return r.Description }},
	{"Series", 50, func(r WorklistRow) string { return fmt.Sprint(r.Series) }},
	{"Sequences", 170, WorklistRow.sequences},
	{"Sync", 70, func(r WorklistRow) string { return r.Sync }},
}

// worklistLimit is the most cached studies one search lists.
const worklistLimit = 1000

// Worklist lists the studies of the library and of this session, with a search field (the library reads
// it in its own query language; session studies must contain every plain word in their name, ID,
// description or sequences) and sortable columns (tap a header; tap again to reverse). Selecting a row opens the study.
// Library queries run in a worker goroutine.
type Worklist struct {
	// OnOpen is called with the study the reader chose; OnError with a failure to list or open.
	OnOpen  func(*viewer.Study)
	OnError func(error)

	lib     Library // nil: session studies only
	session []*viewer.Study
	rows    []WorklistRow
	more    bool // the cache has more matches than listed
	query   string
	sortCol int
	desc    bool
	gen     int // refresh generation: late answers of older queries are dropped
	search  *widget.Entry
	note    *widget.Label
	table   *widget.Table
	content fyne.CanvasObject
}

// NewWorklist makes a worklist of the library lib (which may be nil) and the session studies.
func NewWorklist(lib Library, session []*viewer.Study) *Worklist {
	w := &Worklist{lib: lib, session: session, sortCol: 2, desc: true, note: widget.NewLabel("")}
	w.search = widget.NewEntry()
	w.search.SetPlaceHolder("Search: name or ID words, date:2024-01-01.., type:t1ce,flair, mod:MR, desc:…, sync:pending")
	w.search.OnChanged = w.Search
	w.table = widget.NewTable(
		func() (int, int) { return len(w.rows), len(worklistColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(worklistColumns[id.Col].value(w.rows[id.Row]))
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
		w.OpenRow(id.Row)
		w.table.UnselectAll()
	}
	w.content = container.NewBorder(w.search, w.note, nil, nil, w.table)
	w.Refresh()
	return w
}

// Content is the worklist's canvas object.
func (w *Worklist) Content() fyne.CanvasObject { return w.content }

// Search lists the studies matching q.
func (w *Worklist) Search(q string) {
	w.query = q
	if w.search.Text != q {
		w.search.SetText(q)
	}
	w.Refresh()
}

// SortBy sorts by column col (0 patient … 6 sync); sorting by the same column again reverses.
func (w *Worklist) SortBy(col int) {
	if col == w.sortCol {
		w.desc = !w.desc
	} else {
		w.sortCol, w.desc = col, false
	}
	w.Refresh()
}

// Rows returns the rows listed, in order.
func (w *Worklist) Rows() []WorklistRow { return w.rows }

// Refresh lists the studies again: the session's now, the cache's when its query answers.
func (w *Worklist) Refresh() {
	w.gen++
	gen, query := w.gen, w.query
	// Session studies match the plain words; field filters (date:…, type:…) are the library's.
	var words []string
	for _, word := range strings.Fields(strings.ToLower(query)) {
		if !strings.Contains(word, ":") {
			words = append(words, word)
		}
	}
	var rows []WorklistRow
	for _, st := range w.session {
		r := sessionRow(st)
		text := strings.ToLower(strings.Join([]string{r.PatientName, r.PatientID, r.Description, r.sequences()}, " "))
		if !slices.ContainsFunc(words, func(word string) bool { return !strings.Contains(text, word) }) {
			rows = append(rows, r)
		}
	}
	if w.lib == nil {
		w.show(rows, false)
		return
	}
	// With a library the list changes once, when its answer arrives.
	lib, sort := w.lib, map[int]string{0: "name", 1: "id"}[w.sortCol]
	go func() {
		found, more, err := lib.Worklist(context.Background(), query, sort, worklistLimit)
		do(func() {
			if gen != w.gen {
				return
			}
			if err != nil {
				w.fail(fmt.Errorf("worklist: %w", err))
				return
			}
			w.show(append(rows, found...), more)
		})
	}()
}

// show sorts and lists rows.
func (w *Worklist) show(rows []WorklistRow, more bool) {
	value := worklistColumns[w.sortCol].value
	slices.SortStableFunc(rows, func(a, b WorklistRow) int {
		c := cmp.Compare(value(a), value(b))
		if w.sortCol == 4 { // series count: numeric
			c = cmp.Compare(a.Series, b.Series)
		}
		if w.desc {
			return -c
		}
		return c
	})
	w.rows, w.more = rows, more
	switch {
	case more:
		w.note.SetText(fmt.Sprintf("The first %d matches of the library: refine the search for the others.", worklistLimit))
	case len(rows) == 0:
		w.note.SetText("No study matches.")
	case len(rows) == 1:
		w.note.SetText("1 study")
	default:
		w.note.SetText(fmt.Sprintf("%d studies", len(rows)))
	}
	w.table.Refresh()
}

// OpenRow hands row i's study to OnOpen, reading it from the library first (in a worker).
func (w *Worklist) OpenRow(i int) {
	if w.OnOpen == nil || i < 0 || i >= len(w.rows) {
		return
	}
	r := w.rows[i]
	if r.study != nil {
		w.OnOpen(r.study)
		return
	}
	lib := w.lib
	go func() {
		st, err := lib.Open(context.Background(), r.UID)
		do(func() {
			if err != nil {
				w.fail(fmt.Errorf("open study %s: %w", r.UID, err))
				return
			}
			w.OnOpen(st)
		})
	}()
}

func (w *Worklist) fail(err error) {
	if w.OnError != nil {
		w.OnError(err)
	}
}
