package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

var randRead = rand.Read

// feedKey is the change-feed cursor of the logged-in user (the feed is filtered per user).
func (e *Engine) feedKey() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.session == nil {
		return keyFeedCursor
	}
	return keyFeedCursor + "." + strings.ToLower(e.session.User.LoginID)
}

// pullFeed applies the change feed after the stored cursor, page by page, each page and its cursor in one
// transaction. A change that cannot be decoded is skipped: logged, counted and listed in the summary, and kept
// in the cache (SkippedChanges); the cursor goes past it, so that one bad change never stops the feed.
func (e *Engine) pullFeed(ctx context.Context, sum *Summary, p ProgressFunc) error {
	e.clinic.feed.Lock()
	defer e.clinic.feed.Unlock()
	key := e.feedKey()
	for {
		v, err := e.cache.SyncValue(ctx, key, "0")
		if err != nil {
			return err
		}
		var cursor int64
		if _, err := fmt.Sscan(v, &cursor); err != nil {
			return fmt.Errorf("cursor %q: %w", v, err)
		}
		page, err := e.server.Changes(ctx, cursor, 500)
		if err != nil {
			return err
		}
		n := len(page.Changes) + len(page.Skipped)
		if n > 0 {
			skipped := make([]cache.SkippedChange, len(page.Skipped))
			for i, s := range page.Skipped {
				skipped[i] = cache.SkippedChange{Seq: s.Seq, Kind: s.Kind, ObjectID: s.ObjectID, Reason: s.Reason}
			}
			if err := e.cache.ApplyChanges(context.WithoutCancel(ctx), key, page.Changes, skipped, page.NextCursor); err != nil {
				return err
			}
		}
		for _, s := range page.Skipped {
			e.log.Warn("change feed: undecodable change skipped", "seq", s.Seq, "cursor", cursor, "kind", s.Kind, "object_id", s.ObjectID, "reason", s.Reason)
			sum.SkippedChanges++
			sum.Errors = append(sum.Errors, "change feed: "+s.String())
		}
		sum.Changes += len(page.Changes)
		p(Progress{Phase: PhaseFeed, Done: sum.Changes, Total: sum.Changes})
		if !page.HasMore || n == 0 {
			return nil
		}
	}
}

// Worklist is the server's worklist as the cache holds it: the orders the feed brought that are still open
// (not confirmed, not cancelled), urgent first, oldest first. It works offline.
func (e *Engine) Worklist(ctx context.Context) ([]api.Order, error) {
	objs, err := e.cache.RemoteObjects(ctx, api.KindOrder)
	if err != nil {
		return nil, err
	}
	var out []api.Order
	for id, raw := range objs {
		var o api.Order
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		if o.Status == api.OrderConfirmed || o.Status == api.OrderCancelled {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Priority == "urgent") != (out[j].Priority == "urgent") {
			return out[i].Priority == "urgent"
		}
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// prefetchWorklist downloads the studies of the patients of the open imaging (RIS) orders.
func (e *Engine) prefetchWorklist(ctx context.Context, sum *Summary, p ProgressFunc) error {
	orders, err := e.Worklist(ctx)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, o := range orders {
		if o.JobRole != api.JobRIS || seen[o.PatientID] {
			continue
		}
		seen[o.PatientID] = true
		studies, err := e.server.PatientStudies(ctx, o.PatientID)
		if client.StatusOf(err) == 403 || client.StatusOf(err) == 404 {
			continue // not a patient whose images this user may read
		}
		if err != nil {
			return err
		}
		for _, st := range studies {
			if err := e.prefetch(ctx, st.OrthancID, sum, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prefetch downloads one Orthanc study (by Orthanc ID) into the cache, as rounds do for the worklist.
func (e *Engine) Prefetch(ctx context.Context, orthancStudyID string, p ProgressFunc) (*Summary, error) {
	if p == nil {
		p = func(Progress) {}
	}
	if err := e.ensureOnline(ctx); err != nil {
		return &Summary{}, err
	}
	sum := &Summary{}
	err := e.prefetch(ctx, orthancStudyID, sum, p)
	if client.IsOffline(err) {
		e.setOnline(false, err)
	}
	return sum, err
}

// inMemoryPart is the largest part of a series stream held in memory to be checked before it is written;
// larger ones are written as they come and read back.
const inMemoryPart = 16 << 20

// partBuffers hold parts of series streams while they are checked.
var partBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// receivePart writes one part of a series stream to a new file in dir and returns its path, size, MD5
// (hex), transfer syntax and SOP Instance UID.
func receivePart(dir string, r io.Reader) (path string, n int64, sum, ts, sop string, err error) {
	buf := partBuffers.Get().(*bytes.Buffer)
	defer partBuffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, inMemoryPart+1)); err != nil {
		return "", 0, "", "", "", err
	}
	b := buf.Bytes()
	f, err := os.CreateTemp(dir, "part-*.dcm")
	if err != nil {
		return "", 0, "", "", "", err
	}
	path = f.Name()
	h := md5.New()
	h.Write(b)
	_, err = f.Write(b)
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.MultiWriter(f, h), r)
		n = int64(len(b)) + rest
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", 0, "", "", "", err
	}
	if n > int64(len(b)) {
		ts, sop, err = fileSyntaxAndUID(path)
		if err != nil {
			os.Remove(path)
			return "", 0, "", "", "", err
		}
	} else {
		ts, sop = syntaxAndUID(bytes.NewReader(b), n)
	}
	return path, n, hex.EncodeToString(h.Sum(nil)), ts, sop, nil
}

// fileSyntaxAndUID reads the transfer syntax and SOP Instance UID of a DICOM file (syntaxAndUID).
func fileSyntaxAndUID(path string) (ts, sop string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	ts, sop = syntaxAndUID(f, st.Size())
	return ts, sop, nil
}

// syntaxAndUID reads the transfer syntax and SOP Instance UID of the size bytes of a DICOM file read from r:
// from its file meta information when that holds both (dicomkit.ReadMeta), else from its header
// (dicomkit.ParseHeader); empty when unreadable (the import then says why).
func syntaxAndUID(r io.ReaderAt, size int64) (ts, sop string) {
	if m, err := dicomkit.ReadMeta(r, size); err == nil && m.TransferSyntax != "" && m.MediaInstance != "" {
		return m.TransferSyntax, m.MediaInstance
	}
	ds, err := dicomkit.ParseHeader(r, size)
	if err != nil {
		return "", ""
	}
	return dicomkit.Text(&ds, tag.TransferSyntaxUID), dicomkit.Text(&ds, tag.SOPInstanceUID)
}
