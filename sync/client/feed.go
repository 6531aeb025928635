package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/neuronova/neuronova/api"
)

// Bounds of what the client reads from the change feed, so that a broken or hostile server cannot exhaust
// its memory or stop its sync: the body of one page (the default of Options.MaxFeedPage), and the nesting of
// one change (the server stores free-form results at most 16 levels deep; SQLite's JSON functions refuse
// more than 1000).
const (
	MaxFeedPage    = 64 << 20
	MaxChangeDepth = 64
)

// FeedPage is one page of the change feed, each change decoded on its own: a change that cannot be decoded
// is left out of Changes and listed in Skipped, and NextCursor moves past it all the same.
type FeedPage struct {
	Changes    []api.Change // the changes that decoded, in feed order
	Skipped    []SkippedChange
	NextCursor int64
	HasMore    bool
}

// SkippedChange is a change of the feed that could not be decoded: its seq, kind and object ID as far as
// they could be read (zero values when not), and why it was skipped.
type SkippedChange struct {
	Seq      int64
	Kind     string
	ObjectID string
	Reason   string
}

func (s SkippedChange) String() string {
	return fmt.Sprintf("change %d (%s %s) skipped: %s", s.Seq, s.Kind, s.ObjectID, s.Reason)
}

// Changes returns the change feed after cursor (what the caller may see), at most limit changes. A page
// whose body would pass Options.MaxFeedPage is asked again with half the limit; a single change that large
// is skipped, read only as far as its seq.
func (c *Client) Changes(ctx context.Context, cursor int64, limit int) (*FeedPage, error) {
	limit = max(limit, 1)
	for {
		q := url.Values{"cursor": {strconv.FormatInt(cursor, 10)}, "limit": {strconv.Itoa(limit)}}
		body, complete, err := c.getBounded(ctx, "/api/changes/", q, c.opts.MaxFeedPage)
		if err != nil {
			return nil, err
		}
		if !complete && limit > 1 {
			limit /= 2
			continue
		}
		var p *FeedPage
		if complete {
			p, err = parseFeedPage(body)
		} else {
			p, err = oversizePage(body, c.opts.MaxFeedPage)
		}
		if err == nil && len(p.Changes)+len(p.Skipped) > 0 && p.NextCursor <= cursor {
			err = fmt.Errorf("next_cursor %d does not move past cursor %d", p.NextCursor, cursor)
		}
		if err != nil {
			return nil, &OfflineError{Err: fmt.Errorf("GET /api/changes/ after %d: answer cut off or unreadable: %w", cursor, err)}
		}
		return p, nil
	}
}

// getBounded GETs a JSON answer and reads at most limit bytes of it; complete is false when it is longer.
func (c *Client) getBounded(ctx context.Context, path string, query url.Values, limit int64) (body []byte, complete bool, err error) {
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: path, query: query, auth: true,
		header: http.Header{"Accept": {"application/json"}}})
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, &OfflineError{Err: fmt.Errorf("GET %s: answer cut off: %w", path, err)}
	}
	if int64(len(body)) > limit {
		return body[:limit], false, nil
	}
	return body, true, nil
}

// parseFeedPage decodes a page of the change feed ({"changes": [...], "next_cursor": N, "has_more": B}),
// each change on its own (decodeChange). Only a page whose frame is broken is an error.
func parseFeedPage(b []byte) (*FeedPage, error) {
	s := &jsonScan{b: b}
	p := &FeedPage{}
	err := s.members(func(key string) error {
		switch {
		case strings.EqualFold(key, "changes"): // names match as encoding/json matches them; the last one counts
			p.Changes, p.Skipped = nil, nil
			return s.elements(func() error {
				raw, depth, err := s.value()
				if err != nil {
					return err
				}
				ch, skip := decodeChange(raw, depth)
				if skip != nil {
					p.Skipped = append(p.Skipped, *skip)
				} else {
					p.Changes = append(p.Changes, ch)
				}
				return nil
			})
		case strings.EqualFold(key, "next_cursor"):
			return s.decode(&p.NextCursor)
		case strings.EqualFold(key, "has_more"):
			return s.decode(&p.HasMore)
		}
		_, _, err := s.value()
		return err
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, fmt.Errorf("change feed page: %w", err)
	}
	return p, nil
}

// oversizePage reads the first bytes of a one-change page longer than limit: as far as that change's seq (the
// server writes seq, kind and object_id first), which is skipped; the feed goes on after it.
func oversizePage(prefix []byte, limit int64) (*FeedPage, error) {
	s := &jsonScan{b: prefix}
	var h SkippedChange
	errFound := errors.New("found")
	err := s.members(func(key string) error {
		if !strings.EqualFold(key, "changes") {
			_, _, err := s.value()
			return err
		}
		return s.elements(func() error {
			s.head(&h)
			return errFound
		})
	})
	if !errors.Is(err, errFound) || h.Seq <= 0 {
		return nil, fmt.Errorf("change feed page: one change is larger than %d bytes, and its seq cannot be read from its start", limit)
	}
	h.Reason = fmt.Sprintf("larger than %d bytes", limit)
	return &FeedPage{Skipped: []SkippedChange{h}, NextCursor: h.Seq, HasMore: true}, nil
}

// decodeChange decodes one change of depth levels; a change that is too deep, malformed or incomplete comes
// back as skipped, with what of its head could be read.
func decodeChange(raw []byte, depth int) (api.Change, *SkippedChange) {
	var ch api.Change
	reason := ""
	if depth > MaxChangeDepth {
		reason = fmt.Sprintf("nested %d levels deep, more than %d", depth, MaxChangeDepth)
	} else if err := json.Unmarshal(raw, &ch); err != nil {
		reason = "not a valid change: " + err.Error()
	} else if ch.Seq <= 0 || ch.Kind == "" || ch.ObjectID == "" || len(ch.Data) == 0 || string(ch.Data) == "null" {
		reason = "incomplete (seq, kind, object_id or data missing)"
	}
	if reason == "" {
		return ch, nil
	}
	skip := &SkippedChange{Reason: reason}
	(&jsonScan{b: raw}).head(skip)
	return api.Change{}, skip
}
