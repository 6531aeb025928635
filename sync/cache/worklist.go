package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/viewer"
)

// SyncState is where a study stands with the central server.
type SyncState string

const (
	SyncLocal    SyncState = "local"    // imported here, unknown to the server
	SyncPulled   SyncState = "pulled"   // came from the server/PACS, nothing to send
	SyncPending  SyncState = "pending"  // has results or changes waiting in the outbox
	SyncSynced   SyncState = "synced"   // everything here is on the server
	SyncConflict SyncState = "conflict" // the server disagrees; a person must decide
)

// ParseSyncState accepts a state name in any case.
func ParseSyncState(s string) (SyncState, bool) {
	st := SyncState(strings.ToLower(strings.TrimSpace(s)))
	switch st {
	case SyncLocal, SyncPulled, SyncPending, SyncSynced, SyncConflict:
		return st, true
	}
	return "", false
}

// SortKey orders the worklist.
type SortKey string

const (
	SortDate      SortKey = "date"     // study date and time (default: newest first)
	SortName      SortKey = "name"     // patient name
	SortPatientID SortKey = "id"       // patient ID
	SortOpened    SortKey = "opened"   // last opened (default: most recent first)
	SortImported  SortKey = "imported" // import time (default: most recent first)
)

// Query selects worklist rows. Zero fields select everything; the zero Query lists the newest studies.
type Query struct {
	// Text: every word must match, as a prefix, a word of the patient name, the patient ID or the
	// accession number (case-insensitive): "smi jo" finds SMITH^JOHN.
	Text string
	// From and To bound the study date, YYYYMMDD, inclusive; either may be empty.
	From, To string
	// Modality: the study has a series of this modality ("MR").
	Modality string
	// Description: a case-insensitive substring of the study description.
	Description string
	// Types: the study has a series of each of these types.
	Types []viewer.SeriesType
	// Sync: the study is in this sync state; empty for any.
	Sync SyncState
	// Sort orders the rows in its natural direction (date, opened, imported: most recent first; name,
	// id: A to Z); Reverse turns it round. The default is SortDate.
	Sort    SortKey
	Reverse bool
	// Offset and Limit page the rows; Limit 0 means 50, at most 1000.
	Offset, Limit int
}

// StudyRow is one worklist row.
type StudyRow struct {
	UID, PatientName, PatientID, BirthDate, Sex string
	Date, Time, Description, Accession          string // Date YYYYMMDD
	Institution                                 string
	Modalities                                  []string
	Types                                       []viewer.SeriesType
	NumSeries, NumInstances                     int
	Bytes                                       int64
	ImportedAt, OpenedAt                        time.Time // OpenedAt zero: never opened
	Pinned                                      bool
	Sync                                        SyncState
}

// Page is one page of worklist rows; HasMore says whether another page follows.
type Page struct {
	Rows    []StudyRow
	HasMore bool
}

const studyColumns = `s.uid, s.patient_name, s.patient_id, s.birth_date, s.sex, s.study_date, s.study_time, s.description,
	s.accession, s.modalities, s.type_mask, s.num_series, s.num_instances, s.size_bytes, s.imported_at, s.opened_at, s.pinned, s.sync_state,
	s.institution`

func scanStudyRow(sc interface{ Scan(...any) error }) (StudyRow, error) {
	var r StudyRow
	var mods string
	var mask, imported, opened int64
	var pinned int
	var sync string
	err := sc.Scan(&r.UID, &r.PatientName, &r.PatientID, &r.BirthDate, &r.Sex, &r.Date, &r.Time, &r.Description,
		&r.Accession, &mods, &mask, &r.NumSeries, &r.NumInstances, &r.Bytes, &imported, &opened, &pinned, &sync, &r.Institution)
	if err != nil {
		return r, err
	}
	if mods != "" {
		r.Modalities = strings.Split(mods, `\`)
	}
	for _, t := range []viewer.SeriesType{viewer.T1, viewer.T1CE, viewer.T2, viewer.FLAIR, viewer.SEG, viewer.DWI, viewer.SWI, viewer.Other} {
		if mask&typeBits[t] != 0 {
			r.Types = append(r.Types, t)
		}
	}
	r.ImportedAt = time.UnixMilli(imported)
	if opened != 0 {
		r.OpenedAt = time.UnixMilli(opened)
	}
	r.Pinned, r.Sync = pinned == 1, SyncState(sync)
	return r, nil
}

// denseTerm is the number of studies a search word must match to be checked per row rather than looked up.
const denseTerm = 1000

// countCap bounds the counting of a search word's matches.
const countCap = 100_000

// maxWords and maxText bound a query (search words; bytes of its text and of its description), within
// SQLite's limits on expression depth and LIKE patterns and at a small cost per query.
const (
	maxWords = 16
	maxText  = 1024
)

// checkSize refuses, as ErrBadQuery, a query beyond maxWords or maxText.
func (q Query) checkSize() error {
	if n := len(splitWords(q.Text)); n > maxWords {
		return fmt.Errorf("%w: %d search words, at most %d", ErrBadQuery, n, maxWords)
	}
	if len(q.Text) > maxText || len(q.Description) > maxText {
		return fmt.Errorf("%w: search text or description longer than %d bytes", ErrBadQuery, maxText)
	}
	return nil
}

// ErrBadQuery is returned for a query with an invalid field; the message names it.
var ErrBadQuery = errors.New("invalid worklist query")

// Worklist returns one page of studies matching q. Text words use the search-term index; the date range
// and the sort order use the studies' indexes, so a page costs a few milliseconds on 100,000 studies.
func (c *Cache) Worklist(ctx context.Context, q Query) (*Page, error) {
	if err := q.checkSize(); err != nil {
		return nil, err
	}
	var f sqlFilter
	if err := c.searchWords(ctx, q, &f); err != nil {
		return nil, err
	}
	if err := q.filters(&f); err != nil {
		return nil, err
	}
	order, err := q.order()
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	if q.Offset < 0 {
		return nil, fmt.Errorf("%w: negative offset", ErrBadQuery)
	}
	// Two steps: the page's row ids are found and sorted on narrow rows, then only they are read in full.
	inner := `SELECT s.id FROM studies s`
	if len(f.where) > 0 {
		inner += ` WHERE ` + strings.Join(f.where, " AND ")
	}
	inner += ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
	query := `SELECT ` + studyColumns + ` FROM studies s WHERE s.id IN (` + inner + `) ORDER BY ` + order
	rows, err := c.rdb.QueryContext(ctx, query, append(f.args, limit+1, q.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("worklist: %w", err)
	}
	defer rows.Close()
	page := &Page{}
	for rows.Next() {
		r, err := scanStudyRow(rows)
		if err != nil {
			return nil, fmt.Errorf("worklist: %w", err)
		}
		page.Rows = append(page.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("worklist: %w", err)
	}
	if len(page.Rows) > limit {
		page.Rows, page.HasMore = page.Rows[:limit], true
	}
	return page, nil
}

// sqlFilter is the WHERE conditions of a worklist query (joined by AND) and their arguments.
type sqlFilter struct {
	where []string
	args  []any
}

func (f *sqlFilter) add(cond string, args ...any) {
	f.where = append(f.where, cond)
	f.args = append(f.args, args...)
}

// searchWords adds the search words of q. The rarest is looked up in the term index (IN) and drives the
// query; the others are checked per candidate (EXISTS on the study's terms). One common word alone under a
// time order is instead checked row by row while the sort index is walked, which stops as soon as the page
// is full.
func (c *Cache) searchWords(ctx context.Context, q Query, f *sqlFilter) error {
	words := splitWords(q.Text)
	counts := make([]int, len(words))
	for i, w := range words {
		if err := c.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM study_terms WHERE term >= ? AND term < ? LIMIT ?)`,
			w, w+"\xff", countCap).Scan(&counts[i]); err != nil {
			return fmt.Errorf("worklist: %w", err)
		}
	}
	rarest := -1
	for i := range words {
		if rarest < 0 || counts[i] < counts[rarest] {
			rarest = i
		}
	}
	timeOrder := q.Sort == "" || q.Sort == SortDate || q.Sort == SortOpened || q.Sort == SortImported
	switch {
	case len(words) == 0:
	case len(words) == 1 && timeOrder && counts[0] >= denseTerm:
		f.add(`EXISTS (SELECT 1 FROM study_terms t WHERE t.study_id = s.id AND t.term >= ? AND t.term < ?)`, words[0], words[0]+"\xff")
	default:
		// The words are intersected on the term index alone; only matching studies are then read.
		sub := `SELECT t0.study_id FROM study_terms t0 WHERE t0.term >= ? AND t0.term < ?`
		args := []any{words[rarest], words[rarest] + "\xff"}
		for i, w := range words {
			if i != rarest {
				sub += ` AND EXISTS (SELECT 1 FROM study_terms tk WHERE tk.study_id = t0.study_id AND tk.term >= ? AND tk.term < ?)`
				args = append(args, w, w+"\xff")
			}
		}
		f.add(`s.id IN (`+sub+`)`, args...)
	}
	return nil
}

// filters adds the conditions of q's other fields, refusing invalid ones as ErrBadQuery.
func (q Query) filters(f *sqlFilter) error {
	for _, d := range []struct{ name, v string }{{"From", q.From}, {"To", q.To}} {
		if d.v != "" && (len(d.v) != 8 || strings.Trim(d.v, "0123456789") != "") {
			return fmt.Errorf("%w: %s date %q is not YYYYMMDD", ErrBadQuery, d.name, d.v)
		}
	}
	if q.From != "" {
		f.add(`s.study_date >= ?`, q.From)
	}
	if q.To != "" {
		f.add(`s.study_date <= ? AND s.study_date <> ''`, q.To)
	}
	if m := strings.ToUpper(strings.TrimSpace(q.Modality)); m != "" {
		f.add(`instr('\' || s.modalities || '\', ?) > 0`, `\`+m+`\`)
	}
	if d := strings.TrimSpace(q.Description); d != "" {
		esc := strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`).Replace(d)
		f.add(`s.description LIKE ? ESCAPE '!'`, "%"+esc+"%")
	}
	var mask int64
	for _, t := range q.Types {
		b, ok := typeBits[t]
		if !ok {
			return fmt.Errorf("%w: series type %q", ErrBadQuery, t)
		}
		mask |= b
	}
	if mask != 0 {
		f.add(`s.type_mask & ? = ?`, mask, mask)
	}
	if q.Sync != "" {
		if _, ok := ParseSyncState(string(q.Sync)); !ok {
			return fmt.Errorf("%w: sync state %q (want local, pulled, pending, synced or conflict)", ErrBadQuery, q.Sync)
		}
		f.add(`s.sync_state = ?`, string(q.Sync))
	}
	return nil
}

// order is the ORDER BY of q's sort key and direction.
func (q Query) order() (string, error) {
	natural := map[SortKey]string{SortDate: "DESC", "": "DESC", SortName: "ASC", SortPatientID: "ASC", SortOpened: "DESC", SortImported: "DESC"}
	dir, ok := natural[q.Sort]
	if !ok {
		return "", fmt.Errorf("%w: sort key %q (want date, name, id, opened or imported)", ErrBadQuery, q.Sort)
	}
	if q.Reverse {
		dir = map[string]string{"ASC": "DESC", "DESC": "ASC"}[dir]
	}
	column := map[SortKey]string{SortDate: "s.study_date %[1]s, s.study_time", "": "s.study_date %[1]s, s.study_time", SortName: "s.name_key",
		SortPatientID: "s.patient_id", SortOpened: "s.opened_at", SortImported: "s.imported_at"}[q.Sort]
	return fmt.Sprintf(column+" %[1]s, s.id %[1]s", dir), nil
}

// StudyInfo returns the worklist row of one study, or ErrNotFound.
func (c *Cache) StudyInfo(ctx context.Context, uid string) (*StudyRow, error) {
	row := c.rdb.QueryRowContext(ctx, `SELECT `+studyColumns+` FROM studies s WHERE s.uid = ?`, uid)
	r, err := scanStudyRow(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("study %s: %w", uid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	return &r, nil
}

// PatientStudies lists the cached studies of the patient with PatientID id, oldest first: the studies an
// exam groups and the patient's priors are among them.
func (c *Cache) PatientStudies(ctx context.Context, id string) ([]StudyRow, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT `+studyColumns+` FROM studies s WHERE s.patient_id = ? AND s.patient_id <> ''
		ORDER BY s.study_date, s.study_time, s.uid`, id)
	if err != nil {
		return nil, fmt.Errorf("studies of patient %q: %w", id, err)
	}
	defer rows.Close()
	var out []StudyRow
	for rows.Next() {
		r, err := scanStudyRow(rows)
		if err != nil {
			return nil, fmt.Errorf("studies of patient %q: %w", id, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FindStudy resolves what a user typed to one study UID: a full StudyInstanceUID, a unique UID prefix, or
// an accession number or patient ID that names exactly one study.
func (c *Cache) FindStudy(ctx context.Context, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fmt.Errorf("no study given")
	}
	for _, q := range []string{
		`SELECT uid FROM studies WHERE uid = ?1 AND ?2 <> ''`,
		`SELECT uid FROM studies WHERE uid >= ?1 AND uid < ?2 LIMIT 2`,
		`SELECT uid FROM studies WHERE accession = ?1 AND ?2 <> '' LIMIT 2`,
		`SELECT uid FROM studies WHERE patient_id = ?1 AND ?2 <> '' LIMIT 2`,
	} {
		rows, err := c.rdb.QueryContext(ctx, q, ref, ref+"\xff")
		if err != nil {
			return "", err
		}
		var uids []string
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return "", err
			}
			uids = append(uids, u)
		}
		rows.Close()
		switch len(uids) {
		case 1:
			return uids[0], nil
		case 2:
			return "", fmt.Errorf("%q matches more than one study: give the full StudyInstanceUID", ref)
		}
	}
	return "", fmt.Errorf("study %q: %w (try neuronova ls)", ref, ErrNotFound)
}
