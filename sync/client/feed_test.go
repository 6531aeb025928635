package client

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/internal/feedfake"
)

func TestParseFeedPage(t *testing.T) {
	good := string(feedfake.Change(5, api.KindOrder, "ocs_1", map[string]any{"order_id": "ocs_1"}))
	deep := `{"seq":6,"kind":"ai_result","object_id":"9","data":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`
	for _, tc := range []struct {
		name, page string
		changes    int
		skipped    []string // seq kind object_id: reason prefix
		next       int64
		more       bool
		err        string
	}{
		{name: "empty", page: `{"changes":[],"next_cursor":4,"has_more":false}`, next: 4},
		{name: "null changes", page: `{"changes":null,"next_cursor":4}`, next: 4},
		{name: "good", page: `{"next_cursor":5,"has_more":true,"changes":[` + good + `]}`, changes: 1, next: 5, more: true},
		{name: "too deep", page: `{"changes":[` + good + `,` + deep + `],"next_cursor":6}`, changes: 1, next: 6,
			skipped: []string{"change 6 (ai_result 9) skipped: nested 20001 levels deep"}},
		{name: "malformed", page: `{"changes":[{"seq":7,"kind":1,"object_id":"x","data":{}},{"seq":"8"},` + good + `],"next_cursor":8}`,
			changes: 1, next: 8, skipped: []string{"change 7 ( x) skipped: not a valid change", "change 0 ( ) skipped: not a valid change"}},
		{name: "incomplete", page: `{"changes":[{"seq":9,"kind":"order","object_id":"o"},{"seq":10,"kind":"","object_id":"o","data":{}}],"next_cursor":10}`,
			next: 10, skipped: []string{"change 9 (order o) skipped: incomplete", "change 10 ( o) skipped: incomplete"}},
		{name: "names fold like encoding/json", page: `{"CHANGES":[` + good + `],"Next_Cursor":5,"unknown":[[[1]]]}`, changes: 1, next: 5},
		{name: "cut off", page: `{"changes":[` + good, err: "unexpected end"},
		{name: "data after", page: `{"changes":[],"next_cursor":1} x`, err: "data after the end"},
		{name: "not an object", page: `[` + good + `]`, err: "where '{' was expected"},
		{name: "changes not an array", page: `{"changes":{"a":1},"next_cursor":1}`, err: "where '[' was expected"},
		{name: "bad cursor", page: `{"changes":[],"next_cursor":"x"}`, err: "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseFeedPage([]byte(tc.page))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) != tc.changes || p.NextCursor != tc.next || p.HasMore != tc.more || len(p.Skipped) != len(tc.skipped) {
				t.Fatalf("page %+v", p)
			}
			for i, want := range tc.skipped {
				if got := p.Skipped[i].String(); !strings.HasPrefix(got, want) {
					t.Errorf("skipped %q, want %q…", got, want)
				}
			}
		})
	}
}

// TestChangesBoundsThePage: a page over the client's bound is asked again with a smaller limit; one change
// over it alone is skipped, read only as far as its seq, and the feed goes on after it.
func TestChangesBoundsThePage(t *testing.T) {
	ctx := context.Background()
	fake := feedfake.New()
	defer fake.Close()
	for seq := int64(1); seq <= 6; seq++ {
		size := 300
		if seq == 4 {
			size = 9000
		}
		fake.Add(seq, feedfake.Change(seq, api.KindAIResult, "r", map[string]any{"text": strings.Repeat("x", size)}))
	}
	c, err := New(fake.URL, Options{MaxFeedPage: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "u", "p"); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	var skipped []SkippedChange
	cursor := int64(0)
	for range 10 {
		p, err := c.Changes(ctx, cursor, 8)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range p.Changes {
			seqs = append(seqs, ch.Seq)
		}
		skipped = append(skipped, p.Skipped...)
		if len(p.Changes)+len(p.Skipped) == 0 {
			break
		}
		cursor = p.NextCursor
	}
	if !reflect.DeepEqual(seqs, []int64{1, 2, 3, 5, 6}) || len(skipped) != 1 ||
		skipped[0] != (SkippedChange{Seq: 4, Kind: api.KindAIResult, ObjectID: "r", Reason: "larger than 4096 bytes"}) {
		t.Fatalf("applied %v, skipped %+v", seqs, skipped)
	}
}

// FuzzParseFeedPage: any page decodes without panicking; every change kept is complete and within
// MaxChangeDepth; and a page that encoding/json decodes whole gives the same cursor and the same changes,
// less the skipped ones, in order.
func FuzzParseFeedPage(f *testing.F) {
	good := feedfake.Change(5, api.KindOrder, "ocs_1", map[string]any{"order_id": "ocs_1", "n": []int{1, 2}})
	f.Add([]byte(`{"changes":[` + string(good) + `],"next_cursor":5,"has_more":true}`))
	f.Add([]byte(`{"changes":[{"seq":6,"kind":"ai_result","object_id":"9","data":[[[[[[1]]]]]]},{"seq":7}],"next_cursor":7}`))
	f.Add([]byte(`{"changes":null,"next_cursor":0,"x":"\"]}"}`))
	f.Add([]byte(`{"changes":[` + string(good[:40])))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseFeedPage(b)
		oversizePage(b, int64(len(b)))
		var whole api.ChangesPage
		jsonErr := json.Unmarshal(b, &whole)
		if err != nil {
			// A page is an object: encoding/json also takes a bare null, which is no page.
			if jsonErr == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
				t.Fatalf("encoding/json decodes the page, parseFeedPage fails: %v", err)
			}
			return
		}
		for _, ch := range p.Changes {
			if ch.Seq <= 0 || ch.Kind == "" || ch.ObjectID == "" || !json.Valid(ch.Data) || bytes.Equal(ch.Data, []byte("null")) {
				t.Fatalf("kept an incomplete change %+v", ch)
			}
		}
		if jsonErr != nil {
			return
		}
		if p.NextCursor != whole.NextCursor || p.HasMore != whole.HasMore || len(p.Changes)+len(p.Skipped) != len(whole.Changes) {
			t.Fatalf("page %+v, encoding/json %+v", p, whole)
		}
		i := 0
		for _, ch := range whole.Changes {
			if i < len(p.Changes) && reflect.DeepEqual(ch, p.Changes[i]) {
				i++
			}
		}
		if i != len(p.Changes) {
			t.Fatalf("changes %+v are not those of encoding/json %+v, in order", p.Changes, whole.Changes)
		}
	})
}

func TestSkippedChangeString(t *testing.T) {
	s := SkippedChange{Seq: 3, Kind: "ai_result", ObjectID: "7", Reason: "nested"}
	if got := s.String(); got != "change 3 (ai_result 7) skipped: nested" {
		t.Fatal(got)
	}
	if got := clip(strings.Repeat("é", 100)); len(got) > maxHeadText+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Fatalf("clip: %q", got)
	}
}
