package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/sync/cache"
)

// The batched path of the relay. The SEGs of a study go to Orthanc in STOW-RS requests of several instances,
// Workers at a time, and are confirmed together by the study's manifest (every instance's SOP Instance UID and
// MD5): a few calls for many SEGs, where one by one each costs an upload and two checks. Whatever this path
// does not confirm is left to the one-by-one relay, which stays the authority: it sends again, retries with
// backoff, sets aside what is refused, and reports a different file under the same SOP Instance UID as a
// conflict. Orthanc stores an instance once (its ID is a hash of its UIDs), so a SEG sent by both paths, or
// sent again after a crash, is still stored once.

const (
	// segBatchMin is the fewest due SEGs of one study that take the batched path: the manifest lists the
	// whole study, so one or two SEGs of a large study are quicker confirmed one by one.
	segBatchMin = 4
	// segBatchItems and segBatchBytes bound one STOW-RS request (the server holds an upload of up to 8 MiB in
	// memory while it checks it, a larger one on disk).
	segBatchItems = 16
	segBatchBytes = 8 << 20
)

// outSEG is a SEG on the batched path: its outbox item, its identity and its MD5.
type outSEG struct {
	it  cache.OutboxItem
	id  dicomkit.Identity
	md5 string
}

// studySEGs are the due SEGs of one study, and whether Orthanc answered any STOW-RS request of them.
type studySEGs struct {
	segs     []*outSEG
	answered atomic.Bool
}

// pushBatched sends the SEGs of every study with at least segBatchMin of them due by the batched path and
// records those confirmed in one transaction. It returns the other items, in their order, for the relay.
func (e *Engine) pushBatched(ctx context.Context, items []cache.OutboxItem, sum *Summary, p ProgressFunc) ([]cache.OutboxItem, error) {
	studies := segStudies(items)
	if len(studies) == 0 {
		return items, nil
	}
	type batch struct {
		study *studySEGs
		segs  []*outSEG
	}
	var batches []batch
	for _, st := range studies {
		for _, b := range splitBatches(st.segs) {
			batches = append(batches, batch{st, b})
		}
	}
	var mu sync.Mutex // progress is reported by one worker at a time
	sent := 0
	err := workpool.ForEach(ctx, len(batches), e.opts.Workers, func(ctx context.Context, _, i int) error {
		if e.storeBatch(ctx, batches[i].segs) {
			batches[i].study.answered.Store(true)
		}
		mu.Lock()
		sent += len(batches[i].segs)
		p(Progress{Phase: PhasePush, Done: sent, Total: len(items)})
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err // the round was cancelled
	}
	var done []cache.Confirmed
	for _, st := range studies {
		if st.answered.Load() {
			done = append(done, e.confirmStudy(ctx, st.segs)...)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.cache.OutboxDoneAll(context.WithoutCancel(ctx), done); err != nil {
		return nil, err
	}
	sum.SEGs += len(done)
	sum.Pushed += len(done)
	confirmed := make(map[int64]bool, len(done))
	for _, d := range done {
		confirmed[d.ID] = true
	}
	rest := make([]cache.OutboxItem, 0, len(items)-len(done))
	for _, it := range items {
		if !confirmed[it.ID] {
			rest = append(rest, it)
		}
	}
	p(Progress{Phase: PhasePush, Done: len(done), Total: len(items)})
	return rest, nil
}

// segStudies groups the readable SEGs of items by study (PatientID and Study Instance UID), in the order of
// their first SEG, keeping the studies with at least segBatchMin of them.
func segStudies(items []cache.OutboxItem) []*studySEGs {
	type key struct{ patient, study string }
	byStudy := map[key]*studySEGs{}
	var order []*studySEGs
	for _, it := range items {
		if it.Kind != "result.seg" {
			continue
		}
		id, sum, err := segInfo(it.Payload)
		if err != nil {
			continue // the relay sets it aside, saying why
		}
		k := key{id.PatientID, id.StudyUID}
		st := byStudy[k]
		if st == nil {
			st = &studySEGs{}
			byStudy[k] = st
			order = append(order, st)
		}
		st.segs = append(st.segs, &outSEG{it: it, id: id, md5: sum})
	}
	var out []*studySEGs
	for _, st := range order {
		if len(st.segs) >= segBatchMin {
			out = append(out, st)
		}
	}
	return out
}

// splitBatches cuts segs into STOW-RS requests of at most segBatchItems SEGs and segBatchBytes bytes (a
// larger SEG goes alone).
func splitBatches(segs []*outSEG) [][]*outSEG {
	var out [][]*outSEG
	var cur []*outSEG
	size := 0
	for _, s := range segs {
		if len(cur) > 0 && (len(cur) == segBatchItems || size+len(s.it.Payload) > segBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, s)
		size += len(s.it.Payload)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// storeBatch sends segs in one STOW-RS request and reports whether Orthanc answered it. A request refused or
// cut leaves its SEGs to the relay; so does a part Orthanc failed, which the manifest will not list.
func (e *Engine) storeBatch(ctx context.Context, segs []*outSEG) bool {
	files := make([][]byte, len(segs))
	for i, s := range segs {
		files[i] = s.it.Payload
	}
	res, err := e.pacs.StoreInstances(ctx, files)
	if err != nil {
		e.log.Info("a STOW-RS batch was not stored; its SEGs go one by one", "segs", len(segs), "err", err)
		return false
	}
	if len(res.Failed) > 0 {
		e.log.Info("Orthanc failed parts of a STOW-RS batch; they go one by one", "failed", res.Failed)
	}
	return true
}

// confirmStudy reads the manifest of the study of segs and returns a confirmation for each SEG it lists
// under its SOP Instance UID with its MD5: Orthanc holds exactly that file. A manifest that cannot be read
// confirms none.
func (e *Engine) confirmStudy(ctx context.Context, segs []*outSEG) []cache.Confirmed {
	id := segs[0].id
	m, err := e.pacs.StudyManifest(ctx, api.OrthancID(id.PatientID, id.StudyUID))
	if err == nil && m.StudyInstanceUID != id.StudyUID {
		err = fmt.Errorf("the manifest is of study %s", m.StudyInstanceUID)
	}
	if err != nil {
		e.log.Info("the SEGs of a study could not be confirmed by its manifest; they go one by one", "study", id.StudyUID, "err", err)
		return nil
	}
	held := make(map[string]api.ManifestInstance, len(m.Instances))
	for _, in := range m.Instances {
		held[in.SOPInstanceUID] = in
	}
	var done []cache.Confirmed
	for _, s := range segs {
		if in, ok := held[s.id.SOPUID]; ok && in.MD5 == s.md5 {
			done = append(done, cache.Confirmed{ID: s.it.ID,
				Confirmation: fmt.Sprintf("orthanc %s sop %s md5 %s (STOW-RS, study manifest)", in.OrthancID, s.id.SOPUID, s.md5)})
		}
	}
	return done
}
