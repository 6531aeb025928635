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
	"github.com/neuronova/neuronova/viewer/measure"
)

// Library is the local study cache as the workstation uses it. sync/cache implements it through a small
// adapter in cmd/neuronova, so that this package builds without cgo.
type Library interface {
	// Worklist lists up to limit studies matching every word of text (patient name, ID or accession, by
	// word prefix), sorted by sort ("name", "id", or "" for newest first); more says whether others match.
	Worklist(ctx context.Context, text, sort string, limit int) (rows []WorklistRow, more bool, err error)
	// Open reads a study for the viewer and records that it was opened.
	Open(ctx context.Context, uid string) (*viewer.Study, error)
	// OpenExam reads the exam of study uid under rule (the study and the patient's other cached studies the
	// rule groups with it, merged) and records that it was opened.
	OpenExam(ctx context.Context, uid string, rule viewer.ExamRule) (*viewer.Study, error)
	// PatientStudies lists a patient's cached studies, oldest first: the exams and priors are among them.
	PatientStudies(ctx context.Context, patientID string) ([]WorklistRow, error)
	// Import adds paths to the cache, reporting progress, and says what it imported, skipped and rejected.
	Import(ctx context.Context, paths []string, p viewer.Progress) (report string, err error)

	// Measurements returns the measurements kept on these series; SaveMeasurement keeps one (new or
	// edited), DeleteMeasurement removes one.
	Measurements(ctx context.Context, seriesUIDs []string) ([]measure.Measurement, error)
	SaveMeasurement(ctx context.Context, m measure.Measurement) error
	DeleteMeasurement(ctx context.Context, id string) error
	// ExportSR writes the measurements of an exam's studies as DICOM SRs (TID 1500, one per study) into the
	// outbox, for the server and Orthanc, and says what it did.
	ExportSR(ctx context.Context, exam *viewer.Study, ms []measure.Measurement, observer string) (string, error)
	// Setting reads a setting ("" when unset); SetSetting keeps one.
	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
}

// WorklistRow is one exam of the worklist (one study, or several of one patient that the exam rule groups):
// from the library, or of this session (the demo study, folders given on the command line), which lives in
// memory only.
type WorklistRow struct {
	UID, PatientName, PatientID, Date, Time, Description string
	BirthDate, Sex, Accession                            string
	Modalities                                           []string
	Series                                               int
	Types                                                []viewer.SeriesType
	Sync                                                 string   // the library's sync state; "session" for in-memory studies
	Studies                                              []string // the StudyInstanceUIDs the row groups (UID first)
	exam                                                 string   // the exam key
	study                                                *viewer.Study
}

func sessionRow(st *viewer.Study) WorklistRow {
	r := WorklistRow{UID: st.UID, PatientName: st.PatientName, PatientID: st.PatientID, Date: st.StudyDate, Time: st.StudyTime,
		Description: st.Description, BirthDate: st.PatientBirthDate, Sex: st.PatientSex, Accession: st.AccessionNumber,
		Series: len(st.Series), Sync: "session", Studies: st.StudyUIDs(), exam: st.Exam, study: st}
	for _, se := range st.Series {
		r.Types = append(r.Types, se.Type)
		if se.Modality != "" && !slices.Contains(r.Modalities, se.Modality) {
			r.Modalities = append(r.Modalities, se.Modality)
		}
	}
	return r
}

// sequences lists the row's series types once each, the brain tumour sequences first in their order.
func (r WorklistRow) sequences() string {
	rank := func(t viewer.SeriesType) int {
		if i := slices.Index(viewer.BrainTumourTypes, t); i >= 0 {
			return i
		}
		return len(viewer.BrainTumourTypes)
	}
	types := slices.Clone(r.Types)
	slices.SortStableFunc(types, func(a, b viewer.SeriesType) int { return rank(a) - rank(b) })
	var ts []string
	for _, t := range types {
		if !slices.Contains(ts, string(t)) {
			ts = append(ts, string(t))
		}
	}
	return strings.Join(ts, " ")
}

// sexAge is "F 54 y" at the study date.
func (r WorklistRow) sexAge() string {
	return strings.TrimSpace(r.Sex + " " + viewer.Age(r.BirthDate, r.Date))
}

// groupRows merges the rows of one exam under rule (the first row's UID names it); rows keep their order.
func groupRows(rows []WorklistRow, rule viewer.ExamRule) []WorklistRow {
	var out []WorklistRow
	at := map[string]int{}
	for _, r := range rows {
		k := r.exam
		if k == "" {
			k = rule.Key(r.PatientID, r.Date, r.Accession, r.UID)
			r.exam = k
		}
		i, ok := at[k]
		if !ok {
			if len(r.Studies) == 0 {
				r.Studies = []string{r.UID}
			}
			at[k] = len(out)
			out = append(out, r)
			continue
		}
		g := &out[i]
		for _, uid := range r.Studies {
			if !slices.Contains(g.Studies, uid) {
				g.Studies = append(g.Studies, uid)
			}
		}
		if len(r.Studies) == 0 && !slices.Contains(g.Studies, r.UID) {
			g.Studies = append(g.Studies, r.UID)
		}
		g.Series += r.Series
		g.Types = append(g.Types, r.Types...)
		for _, m := range r.Modalities {
			if !slices.Contains(g.Modalities, m) {
				g.Modalities = append(g.Modalities, m)
			}
		}
		if r.Description != "" && !strings.Contains(g.Description, r.Description) {
			g.Description = strings.TrimPrefix(g.Description+" + "+r.Description, " + ")
		}
		if r.Accession != "" && !strings.Contains(g.Accession, r.Accession) {
			g.Accession = strings.TrimPrefix(g.Accession+", "+r.Accession, ", ")
		}
	}
	return out
}

// worklistColumns are the worklist's columns: title, width and the row's value. The open exam is marked ▶.
var worklistColumns = []struct {
	title string
	width float32
	value func(WorklistRow) string
}{
	{"Patient", 160, func(r WorklistRow) string { return viewer.PersonName(r.PatientName) }},
	{"ID", 110, func(r WorklistRow) string { return r.PatientID }},
	{"Sex/age", 64, WorklistRow.sexAge},
	{"Date", 136, func(r WorklistRow) string {
		return strings.TrimSpace(viewer.FormatDate(r.Date) + " " + viewer.FormatTime(r.Time))
	}},
	{"Mod", 40, func(r WorklistRow) string { return strings.Join(r.Modalities, " ") }},
	{"Accession", 90, func(r WorklistRow) string { return r.Accession }},
	{"Description", 200, func(r WorklistRow) string {
		if n := len(r.Studies); n > 1 {
			return fmt.Sprintf("%s (%d studies)", r.Description, n)
		}
		return r.Description
	}},
	{"Series", 50, func(r WorklistRow) string { return fmt.Sprint(r.Series) }},
	{"Sequences", 150, WorklistRow.sequences},
	{"Sync", 76, func(r WorklistRow) string { return r.Sync }},
}

// worklist column numbers the code sorts by.
const (
	colPatient = 0
	colID      = 1
	colDate    = 3
	colSeries  = 7
)

// worklistLimit is the most cached studies one search lists.
const worklistLimit = 1000

// Worklist lists the exams of the library and of this session (a session study also in the library is
// listed once, from the library), with a search field (the library reads it in its own query language;
// session studies must contain every plain word in their name, ID, description or sequences) and sortable
// columns (tap a header; tap again to reverse). Selecting a row opens the exam; the open one is marked.
// Library queries run in a worker goroutine.
type Worklist struct {
	// OnOpen is called with the exam the reader chose; OnError with a failure to open.
	OnOpen  func(*viewer.Study)
	OnError func(error)
	// Rule groups studies into exams.
	Rule viewer.ExamRule

	lib     Library // nil: session studies only
	session []*viewer.Study
	rows    []WorklistRow
	more    bool // the cache has more matches than listed
	query   string
	sortCol int
	desc    bool
	gen     int    // refresh generation: late answers of older queries are dropped
	open    string // the exam key of the exam shown
	search  *hotEntry
	note    *widget.Label
	table   *hotTable
	content fyne.CanvasObject
}

// NewWorklist makes a worklist of the library lib (which may be nil) and the session studies.
func NewWorklist(lib Library, session []*viewer.Study) *Worklist {
	w := &Worklist{lib: lib, session: session, sortCol: colDate, desc: true, note: widget.NewLabel(""), Rule: viewer.ExamByDay}
	w.note.Wrapping = fyne.TextWrapWord
	w.search = newEntry()
	w.search.SetPlaceHolder("Search: name or ID words, date:2024-01-01.., type:t1ce,flair, mod:MR, desc:…, sync:pending")
	w.search.OnChanged = w.Search
	w.table = newTable(
		func() (int, int) { return len(w.rows), len(worklistColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			r := w.rows[id.Row]
			text := worklistColumns[id.Col].value(r)
			open := w.open != "" && r.exam == w.open
			if id.Col == colPatient && open {
				text = "▶ " + text
			}
			l.TextStyle.Bold = open
			l.SetText(text)
		})
	w.table.ShowHeaderRow = true
	w.table.CreateHeader = func() fyne.CanvasObject { return newButton("", "", nil) }
	w.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		b := o.(*hotButton)
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

// Search lists the exams matching q.
func (w *Worklist) Search(q string) {
	w.query = q
	if w.search.Text != q {
		w.search.SetText(q)
	}
	w.Refresh()
}

// SortBy sorts by column col (see worklistColumns); sorting by the same column again reverses.
func (w *Worklist) SortBy(col int) {
	if col == w.sortCol {
		w.desc = !w.desc
	} else {
		w.sortCol, w.desc = col, false
	}
	w.Refresh()
}

// SetOpen marks the exam shown (its exam key).
func (w *Worklist) SetOpen(exam string) {
	w.open = exam
	w.table.Refresh()
}

// Rows returns the rows listed, in order.
func (w *Worklist) Rows() []WorklistRow { return w.rows }

// Refresh lists the exams again: the session's now, the library's when its query answers.
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
		w.show(rows, false, nil)
		return
	}
	// With a library the list changes once, when its answer arrives.
	lib, sort := w.lib, map[int]string{colPatient: "name", colID: "id"}[w.sortCol]
	go func() {
		found, more, err := lib.Worklist(context.Background(), query, sort, worklistLimit)
		do(func() {
			if gen != w.gen {
				return
			}
			w.show(mergeSession(rows, found), more, err)
		})
	}()
}

// mergeSession lists the session's rows before the library's, leaving out those the library holds.
func mergeSession(session, library []WorklistRow) []WorklistRow {
	held := map[string]bool{}
	for _, r := range library {
		held[r.UID] = true
	}
	var out []WorklistRow
	for _, r := range session {
		if !slices.ContainsFunc(r.Studies, func(uid string) bool { return held[uid] }) {
			out = append(out, r)
		}
	}
	return append(out, library...)
}

// show groups rows into exams, sorts and lists them; err says why the library could not list (shown until
// the next search answers).
func (w *Worklist) show(rows []WorklistRow, more bool, err error) {
	rows = groupRows(rows, w.Rule)
	value := worklistColumns[w.sortCol].value
	slices.SortStableFunc(rows, func(a, b WorklistRow) int {
		c := cmp.Compare(value(a), value(b))
		switch w.sortCol {
		case colSeries:
			c = cmp.Compare(a.Series, b.Series)
		case colDate:
			c = cmp.Compare(a.Date+a.Time, b.Date+b.Time)
		}
		if w.desc {
			return -c
		}
		return c
	})
	w.rows, w.more = rows, more
	switch {
	case err != nil:
		w.note.SetText(fmt.Sprintf("Search: %v", err))
	case more:
		w.note.SetText(fmt.Sprintf("The first %d matches of the library: refine the search for the others.", worklistLimit))
	case len(rows) == 0:
		w.note.SetText("No exam matches.")
	case len(rows) == 1:
		w.note.SetText("1 exam")
	default:
		w.note.SetText(fmt.Sprintf("%d exams", len(rows)))
	}
	w.table.Refresh()
}

// Note returns what the line under the list says.
func (w *Worklist) Note() string { return w.note.Text }

// OpenRow hands row i's exam to OnOpen, reading it from the library first (in a worker).
func (w *Worklist) OpenRow(i int) {
	if w.OnOpen == nil || i < 0 || i >= len(w.rows) {
		return
	}
	r := w.rows[i]
	if r.study != nil {
		w.OnOpen(r.study)
		return
	}
	lib, rule := w.lib, w.Rule
	go func() {
		st, err := lib.OpenExam(context.Background(), r.UID, rule)
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
