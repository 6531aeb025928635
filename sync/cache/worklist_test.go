package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

var (
	surnames = []string{"SMITH", "NGUYEN", "GARCIA", "MÜLLER", "ROSSI", "DUBOIS", "KOWALSKI", "TANAKA", "OKAFOR", "SILVA", "JOHANSSON", "PATEL", "COHEN", "MURPHY", "IVANOV", "HANSEN"}
	givens   = []string{"JOHN", "MARIA", "WEI", "ANNA", "LUCA", "SOPHIE", "PIOTR", "YUKI", "CHIDI", "ANA", "ERIK", "PRIYA", "DAVID", "SIOBHAN", "OLGA", "LARS"}
	descs    = []string{"MR BRAIN W/WO CONTRAST", "MR BRAIN TUMOUR PROTOCOL", "MR HEAD", "CT HEAD", "MR SPINE", "PET-CT BRAIN"}
	states   = []SyncState{SyncLocal, SyncPulled, SyncPending, SyncSynced}
)

// generateStudies inserts n synthetic worklist rows (studies with patients and search terms, no series)
// the way import records them. Row i is deterministic in (seed, i).
func generateStudies(tb testing.TB, c *Cache, n int, seed uint64) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 2))
	for start := 0; start < n; start += 10000 {
		err := c.write(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+10000, n); i++ {
				st := &viewer.Study{
					UID:             fmt.Sprintf("1.2.826.0.1.3680043.10.1%03d.%d", seed, i),
					PatientName:     surnames[rng.IntN(len(surnames))] + "^" + givens[rng.IntN(len(givens))] + fmt.Sprint(i%97),
					PatientID:       fmt.Sprintf("P%07d", i/2),
					StudyDate:       fmt.Sprintf("%04d%02d%02d", 2015+rng.IntN(11), 1+rng.IntN(12), 1+rng.IntN(28)),
					StudyTime:       fmt.Sprintf("%02d%02d00", 7+rng.IntN(12), rng.IntN(60)),
					Description:     descs[rng.IntN(len(descs))],
					AccessionNumber: fmt.Sprintf("A%08d", i),
				}
				if err := upsertStudy(ctx, tx, st, int64(1_700_000_000_000+i)); err != nil {
					return err
				}
				mod := "MR"
				if strings.HasPrefix(st.Description, "CT") {
					mod = "CT"
				} else if strings.HasPrefix(st.Description, "PET") {
					mod = `CT\PT`
				}
				mask := int64(0)
				if mod == "MR" {
					mask = 1 | 2 | 4 | 8
					if rng.IntN(4) == 0 {
						mask = 1 | 4 | 128
					}
				} else {
					mask = 128
				}
				opened := int64(0)
				if rng.IntN(3) == 0 {
					opened = int64(1_710_000_000_000 + rng.IntN(1e9))
				}
				if _, err := tx.ExecContext(ctx, `UPDATE studies SET modalities = ?, type_mask = ?, num_series = 4, num_instances = 620,
					size_bytes = 71000000, sync_state = ?, opened_at = ? WHERE uid = ?`, mod, mask, string(states[rng.IntN(len(states))]), opened, st.UID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := c.wdb.Exec(`ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

// worklistQueries are the benchmark's and the test's mix of worklist searches.
var worklistQueries = []Query{
	{},
	{Text: "smi"},
	{Text: "nguyen wei"},
	{Text: "P00012"},
	{Text: "A0000500"},
	{From: "20230101", To: "20230131"},
	{Modality: "CT"},
	{Description: "tumour"},
	{Types: []viewer.SeriesType{viewer.T1CE, viewer.FLAIR}},
	{Sync: SyncPending},
	{Text: "garcia", From: "20200101", Sort: SortName},
	{Sort: SortName, Offset: 200},
	{Sort: SortPatientID, Reverse: true},
	{Sort: SortOpened},
	{Modality: "MR", Types: []viewer.SeriesType{viewer.T1CE}, Sync: SyncLocal, Sort: SortDate},
	{Text: "zzzz-nobody"},
}

func TestWorklistQueries(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	const n = 3000
	generateStudies(t, c, n, 7)
	// All rows, by brute force, to compare every query with.
	var all []StudyRow
	for off := 0; ; off += 1000 {
		p, err := c.Worklist(ctx, Query{Limit: 1000, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Rows...)
		if !p.HasMore {
			break
		}
	}
	if len(all) != n {
		t.Fatalf("paging through everything gave %d rows, want %d", len(all), n)
	}
	match := func(q Query, r StudyRow) bool {
		for _, w := range splitWords(q.Text) {
			ok := false
			for _, term := range searchTerms(r.PatientName, r.PatientID, r.Accession) {
				ok = ok || strings.HasPrefix(term, w)
			}
			if !ok {
				return false
			}
		}
		if q.From != "" && r.Date < q.From || q.To != "" && r.Date > q.To {
			return false
		}
		if q.Modality != "" && !slices.Contains(r.Modalities, q.Modality) {
			return false
		}
		if q.Description != "" && !strings.Contains(strings.ToLower(r.Description), strings.ToLower(q.Description)) {
			return false
		}
		for _, ty := range q.Types {
			if !slices.Contains(r.Types, ty) {
				return false
			}
		}
		return q.Sync == "" || r.Sync == q.Sync
	}
	for _, q := range worklistQueries {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			want := 0
			for _, r := range all {
				if match(q, r) {
					want++
				}
			}
			q.Limit = 1000
			skipped := min(q.Offset, want)
			var got []StudyRow
			for ; ; q.Offset += q.Limit {
				p, err := c.Worklist(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.Rows...)
				if !p.HasMore {
					break
				}
			}
			for i, r := range got {
				if !match(q, r) {
					t.Fatalf("row %d does not match: %+v", i, r)
				}
			}
			if len(got)+skipped != want {
				t.Fatalf("%d rows (offset %d), want %d", len(got), skipped, want)
			}
			less := map[SortKey]func(a, b StudyRow) bool{
				SortDate:      func(a, b StudyRow) bool { return a.Date+a.Time > b.Date+b.Time },
				"":            func(a, b StudyRow) bool { return a.Date+a.Time > b.Date+b.Time },
				SortName:      func(a, b StudyRow) bool { return strings.ToLower(a.PatientName) < strings.ToLower(b.PatientName) },
				SortPatientID: func(a, b StudyRow) bool { return a.PatientID < b.PatientID },
				SortOpened:    func(a, b StudyRow) bool { return a.OpenedAt.After(b.OpenedAt) },
			}[q.Sort]
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				if q.Reverse {
					a, b = b, a
				}
				if less(b, a) {
					t.Fatalf("rows %d and %d out of order for sort %q: %+v / %+v", i-1, i, q.Sort, a.PatientName, b.PatientName)
				}
			}
		})
	}
}

func TestWorklistBadQueryAndFind(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	generateStudies(t, c, 20, 3)
	for _, q := range []Query{{From: "2024-1-1"}, {Sort: "size"}, {Sync: "lost"}, {Offset: -1}, {Types: []viewer.SeriesType{"T9"}}} {
		if _, err := c.Worklist(ctx, q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %+v: %v, want ErrBadQuery", q, err)
		}
	}
	uid, err := c.FindStudy(ctx, "A00000007")
	if err != nil || !strings.HasSuffix(uid, ".7") {
		t.Fatalf("find by accession: %q %v", uid, err)
	}
	if _, err := c.FindStudy(ctx, "1.2.826.0.1.3680043.10.1003."); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := c.FindStudy(ctx, "nothing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown study: %v", err)
	}
}

// TestWorklistBoundsQuery: a query beyond SQLite's limits (more search words than its expression depth
// allows, a description longer than a LIKE pattern may be) is refused as ErrBadQuery by ParseQuery and by
// Worklist; a query at the bounds runs.
func TestWorklistBoundsQuery(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, t.TempDir())
	generateStudies(t, c, 20, 4)
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("smi ", n)) }
	for _, tc := range []struct {
		text string
		q    Query
	}{
		{words(1200), Query{Text: words(1200)}},
		{`desc:"` + strings.Repeat("x", 60000) + `"`, Query{Description: strings.Repeat("x", 60000)}},
	} {
		if _, err := ParseQuery(tc.text); !errors.Is(err, ErrBadQuery) {
			t.Errorf("ParseQuery of a %d-byte query: %v, want ErrBadQuery", len(tc.text), err)
		}
		if _, err := c.Worklist(ctx, tc.q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("Worklist of a %d-byte query: %v, want ErrBadQuery", len(tc.text), err)
		}
	}
	q, err := ParseQuery(words(maxWords) + ` desc:"` + strings.Repeat("x", maxText) + `"`)
	if err != nil {
		t.Fatalf("a query at the bounds: %v", err)
	}
	if _, err := c.Worklist(ctx, q); err != nil {
		t.Fatalf("a query at the bounds: %v", err)
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Query
		err  bool
	}{
		{in: "", want: Query{}},
		{in: "smith john", want: Query{Text: "smith john"}},
		{in: `date:2024-01-01..2024-03-31 mod:mr desc:"brain tumour" type:t1ce,flair sync:pending sort:-name limit:20 offset:40`,
			want: Query{From: "20240101", To: "20240331", Modality: "MR", Description: "brain tumour", Types: []viewer.SeriesType{viewer.T1CE, viewer.FLAIR},
				Sync: SyncPending, Sort: SortName, Reverse: true, Limit: 20, Offset: 40}},
		{in: "date:20240101..", want: Query{From: "20240101"}},
		{in: "id:P0001 from:20200101", want: Query{Text: "P0001", From: "20200101"}},
		{in: "date:2024-13-01", err: true},
		{in: "colour:red", err: true},
		{in: `desc:"open`, err: true},
		{in: "sort:size", err: true},
		{in: "limit:-1", err: true},
	} {
		got, err := ParseQuery(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v", tc.in, err)
			continue
		}
		if !tc.err && fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"20GB": 20e9, "500 MB": 500e6, "1.5GiB": 1.5 * (1 << 30), "123456": 123456, "2tb": 2e12} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "20XB", "-5GB", "0", "1e400GB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
