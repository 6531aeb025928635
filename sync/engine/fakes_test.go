package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// In-memory fakes of the engine's Server and PACS for unit tests that run in milliseconds, beside the tests
// against the real server side (helpers_test.go). They answer as the real ones do — errors included:
// *client.OfflineError for a server that cannot be reached, *api.Error with its status for a refusal — and
// record every call. failNext scripts failures.

// script is a queue of failures per method, shared by the two fakes.
type script struct {
	mu    sync.Mutex
	fails map[string][]error
	calls map[string]int
}

// failNext makes the next len(errs) calls of method fail with errs, in order (a nil error lets one through).
func (s *script) failNext(method string, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails == nil {
		s.fails = map[string][]error{}
	}
	s.fails[method] = append(s.fails[method], errs...)
}

// call counts a call of method and returns the failure scripted for it, if any.
func (s *script) call(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[method]++
	q := s.fails[method]
	if len(q) == 0 {
		return nil
	}
	s.fails[method] = q[1:]
	return q[0]
}

// count is how many times method was called.
func (s *script) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func offline(what string) error {
	return &client.OfflineError{Err: fmt.Errorf("%s: connection reset by peer", what)}
}

func refusal(status int, code api.ErrorCode) error {
	return &api.Error{Code: code, Message: "refused by the fake", Status: status}
}

// fakeServer is an in-memory NeuroNova server for one user.
type fakeServer struct {
	script
	user     api.User
	password string

	mu       sync.Mutex
	tokens   *api.Tokens
	feed     []api.Change          // in seq order
	results  map[string]fakeResult // by Idempotency-Key
	reports  map[string]json.RawMessage
	events   map[string]bool // audit event IDs stored
	studies  map[int64][]api.PatientStudy
	cursors  []int64 // cursors the feed was asked for
	uploaded []string
}

type fakeResult struct {
	id   string
	body []byte
}

func newFakeServer() *fakeServer {
	return &fakeServer{user: api.User{ID: 3, LoginID: risUser, Role: api.RoleRIS}, password: "secret",
		results: map[string]fakeResult{}, reports: map[string]json.RawMessage{}, events: map[string]bool{},
		studies: map[int64][]api.PatientStudy{}}
}

func (f *fakeServer) BaseURL() string { return "http://fake.invalid" }

func (f *fakeServer) Tokens() *api.Tokens {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

func (f *fakeServer) Login(_ context.Context, loginID, password string) (*api.Tokens, error) {
	if err := f.call("Login"); err != nil {
		return nil, err
	}
	if loginID != f.user.LoginID || password != f.password {
		return nil, refusal(401, api.CodeLoginFail)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = &api.Tokens{Access: "a", Refresh: "r", AccessExpiresAt: time.Now().Add(time.Hour), User: f.user}
	return f.tokens, nil
}

func (f *fakeServer) Logout(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = nil
	return nil
}

// addChange appends a change to the feed with the next seq.
func (f *fakeServer) addChange(kind, id string, data any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(data)
	f.feed = append(f.feed, api.Change{Seq: int64(len(f.feed) + 1), Kind: kind, ObjectID: id, Op: "created", Data: b})
}

func (f *fakeServer) Changes(_ context.Context, cursor int64, limit int) (*client.FeedPage, error) {
	f.mu.Lock()
	f.cursors = append(f.cursors, cursor)
	f.mu.Unlock()
	if err := f.call("Changes"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	page := &client.FeedPage{NextCursor: cursor}
	for _, c := range f.feed {
		if c.Seq <= cursor {
			continue
		}
		if len(page.Changes) == limit {
			page.HasMore = true
			break
		}
		page.Changes = append(page.Changes, c)
		page.NextCursor = c.Seq
	}
	return page, nil
}

// UploadResult stores a result once per key, as the server does: the same key with the same body replays
// it, with another body is a conflict.
func (f *fakeServer) UploadResult(_ context.Context, key string, up api.AIResultUpload) (*api.AIResult, bool, error) {
	if err := f.call("UploadResult"); err != nil {
		return nil, false, err
	}
	body, _ := json.Marshal(up)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploaded = append(f.uploaded, key)
	if r, ok := f.results[key]; ok {
		if !bytes.Equal(r.body, body) {
			return nil, false, refusal(409, api.CodeConflict)
		}
		return &api.AIResult{ID: r.id, Model: up.Model}, true, nil
	}
	r := fakeResult{id: fmt.Sprintf("ai_req_%04d", len(f.results)+1), body: body}
	f.results[key] = r
	return &api.AIResult{ID: r.id, Model: up.Model}, false, nil
}

// storedResults is how many distinct results the server holds.
func (f *fakeServer) storedResults() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.results)
}

func (f *fakeServer) SaveOrderResult(_ context.Context, orderID, _ string, req api.OrderResultRequest) (*api.Order, error) {
	if err := f.call("SaveOrderResult"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[orderID] = req.WorkerResult
	return &api.Order{ID: orderID, Version: int64(len(f.reports))}, nil
}

func (f *fakeServer) ForwardAudit(_ context.Context, events []api.ForwardedAuditEvent) (*api.AuditBatchResult, error) {
	if err := f.call("ForwardAudit"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var res api.AuditBatchResult
	for _, ev := range events {
		if f.events[ev.EventID] {
			res.Duplicates++
			continue
		}
		f.events[ev.EventID] = true
		res.Stored++
	}
	return &res, nil
}

func (f *fakeServer) PatientStudies(_ context.Context, patientID int64) ([]api.PatientStudy, error) {
	if err := f.call("PatientStudies"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.studies[patientID], nil
}

// fakePACS is an in-memory Orthanc behind the proxy, holding whole DICOM files.
type fakePACS struct {
	script
	mu        sync.Mutex
	studies   map[string]*api.StudyManifest // by Orthanc study ID
	files     map[string][]byte             // by Orthanc instance ID
	corrupt   map[string]bool               // instances whose download differs from the manifest
	cutAfter  map[string]int                // series streams cut after this many parts
	streamed  []string                      // series asked for, in order
	fetched   []string                      // instances downloaded one by one, in order
	stored    map[string][]byte             // uploads by Orthanc ID
	failParts map[string]bool               // SOP Instance UIDs whose STOW-RS part fails
	batches   []int                         // the size of each STOW-RS request
	manifestC chan struct{}                 // when set, StudyManifest waits until it is closed
}

func newFakePACS() *fakePACS {
	return &fakePACS{studies: map[string]*api.StudyManifest{}, files: map[string][]byte{}, corrupt: map[string]bool{},
		cutAfter: map[string]int{}, stored: map[string][]byte{}, failParts: map[string]bool{}}
}

// addStudy stores a study of the given series sizes (instances per series) and returns its Orthanc ID and
// manifest.
func (f *fakePACS) addStudy(sizes ...int) (string, *api.StudyManifest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fakeOrthancID(len(f.studies)*1000 + 999)
	m := &api.StudyManifest{OrthancID: id, StudyInstanceUID: testsvc.NewUID()}
	for _, n := range sizes {
		series := testsvc.NewUID()
		for i := range n {
			sop := testsvc.NewUID()
			b := testsvc.DICOM(testsvc.Instance{PatientID: "P-1", PatientName: "FAKE^PATIENT", StudyUID: m.StudyInstanceUID,
				SeriesUID: series, SOPUID: sop, SeriesDescription: "T1", InstanceNumber: i + 1})
			sum := md5.Sum(b)
			in := api.ManifestInstance{OrthancID: fakeOrthancID(len(f.files)), SOPInstanceUID: sop, SeriesInstanceUID: series,
				Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])}
			f.files[in.OrthancID] = b
			m.Instances = append(m.Instances, in)
		}
	}
	f.studies[id] = m
	return id, m
}

func fakeOrthancID(n int) string {
	h := fmt.Sprintf("%040x", n)
	return h[0:8] + "-" + h[8:16] + "-" + h[16:24] + "-" + h[24:32] + "-" + h[32:40]
}

// file returns what Orthanc sends for an instance: its stored file, one byte changed when corrupt.
func (f *fakePACS) file(id string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[id]
	if ok && f.corrupt[id] {
		b = slices.Clone(b)
		b[len(b)-1] ^= 0xff
	}
	return b, ok
}

func (f *fakePACS) StudyManifest(ctx context.Context, studyID string) (*api.StudyManifest, error) {
	if err := f.call("StudyManifest"); err != nil {
		return nil, err
	}
	if f.manifestC != nil {
		select {
		case <-f.manifestC:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second): // fail the test rather than hang it
			return nil, errors.New("fake: no series stream began before the manifest was asked for")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.studies[studyID]; ok {
		return m, nil
	}
	return f.uploadedStudy(studyID)
}

// uploadedStudy is the manifest of the instances uploaded to the study with Orthanc ID studyID; f.mu held.
func (f *fakePACS) uploadedStudy(studyID string) (*api.StudyManifest, error) {
	var m *api.StudyManifest
	for oid, b := range f.stored {
		id, sum, err := segInfo(b)
		if err != nil || api.OrthancID(id.PatientID, id.StudyUID) != studyID {
			continue
		}
		if m == nil {
			m = &api.StudyManifest{OrthancID: studyID, StudyInstanceUID: id.StudyUID}
		}
		m.Instances = append(m.Instances, api.ManifestInstance{OrthancID: oid, SOPInstanceUID: id.SOPUID, SeriesInstanceUID: id.SeriesUID,
			Size: int64(len(b)), MD5: sum})
	}
	if m == nil {
		return nil, refusal(404, api.CodeNotFound)
	}
	return m, nil
}

func (f *fakePACS) StudySeries(_ context.Context, studyID string) (string, []string, error) {
	if err := f.call("StudySeries"); err != nil {
		return "", nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.studies[studyID]
	if !ok {
		return "", nil, refusal(404, api.CodeNotFound)
	}
	var series []string
	for _, in := range m.Instances {
		if !slices.Contains(series, in.SeriesInstanceUID) {
			series = append(series, in.SeriesInstanceUID)
		}
	}
	return m.StudyInstanceUID, series, nil
}

// RetrieveSeries streams the stored files of a series, cut (an OfflineError) after cutAfter parts when set.
func (f *fakePACS) RetrieveSeries(ctx context.Context, studyUID, seriesUID string, part func(io.Reader) error) error {
	if err := f.call("RetrieveSeries"); err != nil {
		return err
	}
	f.mu.Lock()
	f.streamed = append(f.streamed, seriesUID)
	if f.manifestC != nil {
		select {
		case <-f.manifestC:
		default:
			close(f.manifestC) // the stream began before the manifest was answered
		}
	}
	var ids []string
	for _, m := range f.studies {
		for _, in := range m.Instances {
			if m.StudyInstanceUID == studyUID && in.SeriesInstanceUID == seriesUID {
				ids = append(ids, in.OrthancID)
			}
		}
	}
	cut, isCut := f.cutAfter[seriesUID]
	f.mu.Unlock()
	for i, id := range ids {
		if isCut && i == cut {
			return offline("series stream")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b, _ := f.file(id)
		if err := part(bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakePACS) DownloadInstance(_ context.Context, id string, w io.Writer) (client.Download, error) {
	if err := f.call("DownloadInstance"); err != nil {
		return client.Download{}, err
	}
	f.mu.Lock()
	f.fetched = append(f.fetched, id)
	f.mu.Unlock()
	b, ok := f.file(id)
	if !ok {
		return client.Download{}, refusal(404, api.CodeNotFound)
	}
	if _, err := w.Write(b); err != nil {
		return client.Download{}, err
	}
	sum := md5.Sum(b)
	return client.Download{Size: int64(len(b)), MD5: hex.EncodeToString(sum[:])}, nil
}

func (f *fakePACS) TranscodeInstance(context.Context, string, string, io.Writer) (client.Download, error) {
	f.call("TranscodeInstance")
	return client.Download{}, refusal(400, api.CodeInvalid) // the fake holds only decodable files
}

// UploadInstance stores a DICOM object under the ID Orthanc gives it, made from its UIDs: the same instance
// twice is stored once, and the first file stays (a different file under the same UIDs is AlreadyStored).
func (f *fakePACS) UploadInstance(_ context.Context, b []byte) (*client.Stored, error) {
	if err := f.call("UploadInstance"); err != nil {
		return nil, err
	}
	id, _, err := segInfo(b)
	if err != nil {
		return nil, refusal(400, api.CodeInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	oid, fresh := f.store(id, b)
	st := &client.Stored{ID: oid, Status: "AlreadyStored"}
	if fresh {
		st.Status = "Success"
	}
	return st, nil
}

// store keeps b under its instance's Orthanc ID unless an instance is held there already; f.mu held.
func (f *fakePACS) store(id dicomkit.Identity, b []byte) (oid string, fresh bool) {
	oid = api.OrthancID(id.PatientID, id.StudyUID, id.SeriesUID, id.SOPUID)
	if _, held := f.stored[oid]; held {
		return oid, false
	}
	f.stored[oid] = b
	return oid, true
}

// StoreInstances stores each file as UploadInstance does, in one call, as Orthanc's STOW-RS does: an
// instance held already counts as stored; a SOP Instance UID in failParts fails. It records each batch's size.
func (f *fakePACS) StoreInstances(_ context.Context, files [][]byte) (*client.StowResult, error) {
	if err := f.call("StoreInstances"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, len(files))
	res := &client.StowResult{Failed: map[string]int{}}
	for _, b := range files {
		id, _, err := segInfo(b)
		if err != nil {
			return nil, refusal(400, api.CodeInvalid) // the server refuses the whole request
		}
		if f.failParts[id.SOPUID] {
			res.Failed[id.SOPUID] = 0xC000
			continue
		}
		f.store(id, b)
		res.Stored = append(res.Stored, id.SOPUID)
	}
	return res, nil
}

func (f *fakePACS) InstanceSOPUID(_ context.Context, id string) (string, error) {
	b, err := f.storedFile("InstanceSOPUID", id)
	if err != nil {
		return "", err
	}
	sop, _, err := segInfo(b)
	return sop.SOPUID, err
}

func (f *fakePACS) InstanceMD5(_ context.Context, id string) (string, error) {
	b, err := f.storedFile("InstanceMD5", id)
	if err != nil {
		return "", err
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:]), nil
}

// storedFile is a call of method about an uploaded instance: the file stored under id.
func (f *fakePACS) storedFile(method, id string) ([]byte, error) {
	if err := f.call(method); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.stored[id]
	if !ok {
		return nil, refusal(404, api.CodeNotFound)
	}
	return b, nil
}

// fakeClock is the engine's clock in the unit tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// onFakes is an engine on a fresh cache and the fakes, logged in, with the waits of its retries shortened
// to a millisecond and its clock fake.
type onFakes struct {
	e     *Engine
	c     *cache.Cache
	srv   *fakeServer
	pacs  *fakePACS
	clock *fakeClock
}

func newOnFakes(t *testing.T, opts Options) *onFakes {
	t.Helper()
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &onFakes{c: c, srv: newFakeServer(), pacs: newFakePACS(), clock: &fakeClock{now: time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)}}
	opts.BcryptCost = 4
	opts.Now = f.clock.Now
	if opts.RoundRetryMax == 0 {
		opts.RoundRetryMax = time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f.e = NewWith(c, f.srv, f.pacs, opts)
	if _, err := f.e.Login(context.Background(), risUser, f.srv.password); err != nil {
		t.Fatal(err)
	}
	return f
}
