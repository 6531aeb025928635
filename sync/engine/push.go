package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// errPermanent marks a refusal that sending again cannot fix: the item is set aside (dead), never dropped.
type errPermanent struct{ err error }

func (e *errPermanent) Error() string { return e.err.Error() }
func (e *errPermanent) Unwrap() error { return e.err }

func permanent(err error) error { return &errPermanent{err: err} }

// classify decides what a failed send means: offline (retry later), permanent (set aside) or retry.
func classify(err error) error {
	if err == nil || client.IsOffline(err) {
		return err
	}
	var pe *errPermanent
	if errors.As(err, &pe) {
		return err
	}
	switch client.StatusOf(err) {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity:
		return permanent(err)
	}
	return err
}

// push is the outbox relay: every unsent, live item, oldest first. The SEGs of studies with several due go
// first, in STOW-RS batches (pushBatched); the rest go one at a time (SQLite has no SKIP LOCKED: one relay
// per cache, guarded by relay.lock). The SEGs of a study whose images wait for their attachment (heldSEGs)
// go in a second pass once the attachment is confirmed, else in a later round.
func (e *Engine) push(ctx context.Context, sum *Summary, p ProgressFunc) error {
	items, err := e.cache.DueOutbox(ctx, e.opts.Now(), false, 1<<20)
	if err != nil {
		return err
	}
	for pass := 0; pass < 2 && len(items) > 0; pass++ {
		ready, held, err := e.heldSEGs(ctx, items)
		if err != nil {
			return err
		}
		rest, err := e.pushBatched(ctx, ready, sum, p)
		if err != nil {
			return err
		}
		if err := e.relay(ctx, rest, len(ready)-len(rest), len(ready), sum, p); err != nil {
			return err
		}
		items = held
	}
	return nil
}

// relay sends items one at a time; done of total items of the round are confirmed already (progress).
func (e *Engine) relay(ctx context.Context, items []cache.OutboxItem, done, total int, sum *Summary, p ProgressFunc) error {
	for i, it := range items {
		p(Progress{Phase: PhasePush, Done: done + i, Total: total})
		err := e.sendWithRetries(ctx, it, sum)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sum.Failed++
		sum.Errors = append(sum.Errors, fmt.Sprintf("outbox %d (%s): %v", it.ID, it.Kind, err))
		wctx := context.WithoutCancel(ctx)
		var pe *errPermanent
		if errors.As(err, &pe) {
			sum.Dead++
			if derr := e.cache.OutboxDead(wctx, it.ID, err.Error()); derr != nil {
				return derr
			}
			continue
		}
		if rerr := e.cache.OutboxRetry(wctx, it.ID, e.opts.Now().Add(e.backoff(it.Attempts+1)), err.Error()); rerr != nil {
			return rerr
		}
		if client.IsOffline(err) {
			return err // the server is gone: the rest waits for the next round
		}
	}
	p(Progress{Phase: PhasePush, Done: total, Total: total})
	return nil
}

// sendWithRetries sends one item, retrying within the round when the server could not be reached (a
// connection cut, a restart), with backoff and jitter.
func (e *Engine) sendWithRetries(ctx context.Context, it cache.OutboxItem, sum *Summary) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = classify(e.send(ctx, it, sum))
		if err == nil || !client.IsOffline(err) || attempt >= e.opts.RoundRetries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff(attempt+1, roundRetryBase, e.opts.RoundRetryMax)):
		}
	}
}

// send delivers one item and records the server's confirmation.
func (e *Engine) send(ctx context.Context, it cache.OutboxItem, sum *Summary) error {
	var confirmation string
	var err error
	kind := strings.TrimPrefix(it.Kind, "result.")
	switch {
	case it.Kind == "result.seg" || it.Kind == "result.sr": // DICOM objects: a SEG, or a measurement report (SR)
		confirmation, err = e.sendSEG(ctx, it)
		if err == nil && it.Kind == "result.seg" {
			sum.SEGs++
		}
	case it.Kind == cache.KindReport:
		confirmation, err = e.sendReport(ctx, it)
		if err == nil {
			sum.Reports++
		}
	case it.Kind == cache.KindAttach:
		confirmation, err = e.sendAttach(ctx, it)
	case strings.HasPrefix(it.Kind, "result.") && kind != "":
		confirmation, err = e.sendResult(ctx, it, kind)
		if err == nil {
			sum.Results++
		}
	default:
		return permanent(fmt.Errorf("unknown outbox kind %q", it.Kind))
	}
	if err != nil {
		return err
	}
	if err := e.cache.OutboxDone(context.WithoutCancel(ctx), it.ID, confirmation); err != nil {
		return err
	}
	sum.Pushed++
	return nil
}

// sendResult uploads an AI result. The payload is either a complete api.AIResultUpload (model set) or the
// pipeline's bare JSON result, wrapped with the kind as model (its model_version and provenance fields, when
// present, are used). A missing patient is resolved from the
// study's PatientID through the change feed's patients, a missing study UID from the result's study.
func (e *Engine) sendResult(ctx context.Context, it cache.OutboxItem, kind string) (string, error) {
	up, err := e.resultUpload(ctx, it, kind)
	if err != nil {
		return "", err
	}
	r, replayed, err := e.server.UploadResult(ctx, it.IdempotencyKey, up)
	if err != nil {
		return "", err
	}
	if r.ID == "" {
		return "", fmt.Errorf("the server answered without a result ID")
	}
	c := "ai_result " + r.ID
	if replayed {
		c += " (replayed)"
	}
	return c, nil
}

func (e *Engine) resultUpload(ctx context.Context, it cache.OutboxItem, kind string) (api.AIResultUpload, error) {
	var up api.AIResultUpload
	if !json.Valid(it.Payload) {
		return up, permanent(fmt.Errorf("result payload is not JSON"))
	}
	if err := json.Unmarshal(it.Payload, &up); err != nil || up.Model == "" || len(up.Result) == 0 {
		var bare struct {
			ModelVersion string          `json:"model_version"`
			Provenance   json.RawMessage `json:"provenance"`
		}
		json.Unmarshal(it.Payload, &bare)
		if bare.ModelVersion == "" {
			bare.ModelVersion = "unspecified"
		}
		up = api.AIResultUpload{Model: strings.ToUpper(kind), ModelVersion: bare.ModelVersion, Result: json.RawMessage(it.Payload),
			Provenance: bare.Provenance}
	}
	if up.StudyUID == "" {
		up.StudyUID = it.StudyUID
	}
	if up.PatientID == 0 {
		id, err := e.patientOfStudy(ctx, up.StudyUID)
		if err != nil {
			return up, err
		}
		up.PatientID = id
	}
	return up, nil
}

// patientOfStudy maps a cached study to the server's patient through the study's PatientID, which is the
// patient number on the server.
func (e *Engine) patientOfStudy(ctx context.Context, studyUID string) (int64, error) {
	if studyUID == "" {
		return 0, permanent(errors.New("the result names no study and no patient"))
	}
	info, err := e.cache.StudyInfo(ctx, studyUID)
	if err != nil {
		return 0, fmt.Errorf("study %s: %w", studyUID, err)
	}
	id, err := e.cache.RemotePatientByNumber(ctx, info.PatientID)
	if errors.Is(err, cache.ErrNotFound) {
		// Not (yet) a registered patient the user sees: retry later, the feed may bring it.
		return 0, fmt.Errorf("patient %q of study %s is not (yet) known to the server for this user", info.PatientID, studyUID)
	}
	return id, err
}

// segInfo reads the identity of a DICOM object as the server reads it (PatientID, Study, Series and SOP
// Instance UIDs: dicomkit.ReadIdentity) and its MD5.
func segInfo(b []byte) (id dicomkit.Identity, sum string, err error) {
	if id, err = dicomkit.ReadIdentity(bytes.NewReader(b)); err != nil {
		return id, "", err
	}
	h := md5.Sum(b)
	return id, hex.EncodeToString(h[:]), nil
}

// sendSEG stores a SEG (any DICOM object) in Orthanc through the server, then confirms it: Orthanc must hold
// an instance with the same SOP Instance UID whose stored file has the same MD5. Orthanc stores an instance
// once, so sending again after a crash is harmless; a different object under the same UID is a conflict a
// person must resolve (never overwritten).
func (e *Engine) sendSEG(ctx context.Context, it cache.OutboxItem) (string, error) {
	id, sum, err := segInfo(it.Payload)
	if err != nil {
		return "", permanent(fmt.Errorf("SEG: %w", err))
	}
	sop := id.SOPUID
	st, err := e.pacs.UploadInstance(ctx, it.Payload)
	if err != nil {
		return "", err
	}
	gotUID, err := e.pacs.InstanceSOPUID(ctx, st.ID)
	if err != nil {
		return "", err
	}
	if gotUID != sop {
		return "", permanent(fmt.Errorf("SEG %s: Orthanc stored it as instance %s with SOP Instance UID %q", sop, st.ID, gotUID))
	}
	gotSum, err := e.pacs.InstanceMD5(ctx, st.ID)
	if err != nil {
		return "", err
	}
	if gotSum != sum {
		return "", permanent(fmt.Errorf("SEG %s: Orthanc holds a different file under this SOP Instance UID (MD5 %s, ours %s; %s)", sop, gotSum, sum, st.Status))
	}
	return fmt.Sprintf("orthanc %s sop %s md5 %s (%s)", st.ID, sop, sum, st.Status), nil
}

// auditCursor is the id of the last local audit event the server confirmed.
func (e *Engine) auditCursor(ctx context.Context) (int64, error) {
	v, err := e.cache.SyncValue(ctx, keyAuditCursor, "0")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// workstationID names this cache in forwarded event IDs: random, made once.
func (e *Engine) workstationID(ctx context.Context) (string, error) {
	id, err := e.cache.SyncValue(ctx, keyWorkstation, "")
	if err != nil || id != "" {
		return id, err
	}
	var b [8]byte
	if _, err := randRead(b[:]); err != nil {
		return "", err
	}
	id = hex.EncodeToString(b[:])
	return id, e.cache.SetSyncValue(ctx, keyWorkstation, id)
}

// forwardAudit sends the local audit events after the cursor in batches; the cursor moves only after the
// server confirmed a batch, and event IDs (workstation + row id) make a batch sent twice harmless.
func (e *Engine) forwardAudit(ctx context.Context, sum *Summary, p ProgressFunc) error {
	ws, err := e.workstationID(ctx)
	if err != nil {
		return err
	}
	for {
		after, err := e.auditCursor(ctx)
		if err != nil {
			return err
		}
		evs, err := e.cache.AuditEventsAfter(ctx, after, auditBatchLimit)
		if err != nil || len(evs) == 0 {
			return err
		}
		p(Progress{Phase: PhaseAudit, Done: sum.AuditForwarded, Total: sum.AuditForwarded + len(evs)})
		batch := make([]api.ForwardedAuditEvent, len(evs))
		for i, ev := range evs {
			batch[i] = forwarded(ws, ev)
		}
		res, err := e.server.ForwardAudit(ctx, batch)
		if err != nil {
			return err
		}
		sum.AuditForwarded += res.Stored
		sum.AuditDuplicates += res.Duplicates
		if err := e.cache.SetSyncValue(context.WithoutCancel(ctx), keyAuditCursor, strconv.FormatInt(evs[len(evs)-1].ID, 10)); err != nil {
			return err
		}
	}
}

// forwarded turns a local audit event into the server's form (bounded as the server requires).
func forwarded(ws string, ev cache.NumberedAuditEvent) api.ForwardedAuditEvent {
	action := ev.Action
	if action == "" {
		action = "unknown"
	}
	detail := ev.Detail
	if ev.Actor != "" {
		detail = "actor " + ev.Actor + "; " + detail
	}
	target := ev.Target
	if len(target) > 128 {
		detail = "target " + target + "; " + detail
		target = target[:128]
	}
	outcome := api.OutcomeSuccess
	if strings.Contains(action, "denied") {
		outcome = api.OutcomeDenied
	}
	return api.ForwardedAuditEvent{EventID: fmt.Sprintf("ws-%s-%d", ws, ev.ID), OccurredAt: ev.At.UTC(), Action: clip(action, 64),
		ObjectType: "workstation", ObjectID: target, Outcome: outcome, Detail: clip(detail, 2000)}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// QueueRefusedAgain puts the outbox items the server refused for good back in the queue for the next round,
// once a person has fixed the cause (the order assigned, the rule met), records that in the local audit
// trail, and returns how many.
func (e *Engine) QueueRefusedAgain(ctx context.Context) (int, error) {
	n, err := e.cache.OutboxRevive(ctx)
	if err != nil || n == 0 {
		return n, err
	}
	return n, e.cache.RecordAudit(ctx, e.actor(), "outbox.resend", "", fmt.Sprintf("%d refused items queued again", n))
}
