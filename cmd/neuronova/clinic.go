package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/cmd/neuronova/internal/pdfreport"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// clinic adapts the sync engine (the cache's orders, reports through the outbox, notifications) and the
// server client (the online actions, registration, administration) to the workstation's ui.Clinic. The
// local audit trail names the signed-in clinician.
type clinic struct {
	e      *engine.Engine
	cl     *client.Client
	c      *cache.Cache
	osUser string // the actor while nobody is signed in
}

var _ ui.Clinic = (*clinic)(nil)

func newClinic(e *engine.Engine, c *cache.Cache) *clinic {
	return &clinic{e: e, cl: e.Client(), c: c, osUser: c.Actor()}
}

func session(s *engine.Session) *ui.Session { return &ui.Session{User: s.User, Offline: s.Offline} }

func (k *clinic) SignIn(ctx context.Context, login, password string) (*ui.Session, error) {
	s, err := k.e.Login(ctx, login, password)
	if err != nil {
		return nil, err
	}
	k.c.SetActor(s.User.LoginID)
	return session(s), nil
}

func (k *clinic) ChangePassword(ctx context.Context, oldPassword, newPassword string) (*ui.Session, error) {
	s, err := k.e.ChangePassword(ctx, oldPassword, newPassword)
	if err != nil {
		return nil, err
	}
	return session(s), nil
}

func (k *clinic) SignOut(ctx context.Context) error {
	err := k.e.Logout(ctx)
	k.c.SetActor(k.osUser)
	return err
}

func (k *clinic) Orders(ctx context.Context, f ui.OrderFilter) ([]api.Order, error) {
	return k.e.Orders(ctx, engine.OrderFilter{Mine: f.Mine, Unassigned: f.Unassigned, Open: f.Open, Status: f.Status})
}

// Order reads an order from the cache with its results, draft and outbox state; with its history from the
// server when the server answers within a moment.
func (k *clinic) Order(ctx context.Context, id string) (*ui.OrderView, error) {
	o, err := k.e.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &ui.OrderView{Order: *o}
	if k.cl.Tokens() != nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if fresh, err := k.cl.Order(sctx, id); err == nil {
			v.Order = *fresh
		}
		cancel()
	}
	if v.Results, err = k.e.OrderResults(ctx, id); err != nil {
		return nil, err
	}
	if v.Draft, err = k.e.Draft(ctx, id); err != nil && !errors.Is(err, cache.ErrNotFound) {
		return nil, err
	}
	st, err := k.e.ReportState(ctx, id)
	if err != nil {
		return nil, err
	}
	v.Pending, v.Refused = st.Pending, st.Refused
	v.StudyUID, _ = k.orderStudy(ctx, &v.Order)
	return v, nil
}

// offline says that an online action needs the server.
func offline(action string, err error) error {
	if client.IsOffline(err) {
		return fmt.Errorf("the server cannot be reached: %s needs it; try again when online (%w)", action, err)
	}
	return err
}

func (k *clinic) Act(ctx context.Context, orderID, action string, body any) error {
	if _, err := k.cl.OrderAction(ctx, orderID, action, randomKey(), body); err != nil {
		return offline(action, err)
	}
	_, err := k.e.RefreshFeed(ctx)
	return err
}

// randomKey is a fresh Idempotency-Key.
func randomKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (k *clinic) Review(ctx context.Context, resultID string, req api.ReviewRequest) error {
	if _, err := k.cl.ReviewResult(ctx, resultID, req); err != nil {
		return offline("the review", err)
	}
	_, err := k.e.RefreshFeed(ctx)
	return err
}

func (k *clinic) SaveDraft(ctx context.Context, orderID string, report json.RawMessage) error {
	return k.c.SaveDraft(ctx, orderID, report)
}

func (k *clinic) SaveReport(ctx context.Context, orderID string, report json.RawMessage, submit bool) error {
	return k.e.SaveReport(ctx, orderID, report, submit)
}

// OpenStudy opens the order's study from the cache, pulling it from the server first when it is not there.
func (k *clinic) OpenStudy(ctx context.Context, orderID string, p func(stage string, done, total int)) (*viewer.Study, error) {
	o, err := k.e.Order(ctx, orderID)
	if err != nil {
		return nil, err
	}
	uid, err := k.orderStudy(ctx, o)
	if errors.Is(err, cache.ErrNotFound) {
		if err := k.pull(ctx, o, p); err != nil {
			return nil, err
		}
		uid, err = k.orderStudy(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	return k.c.OpenStudy(ctx, uid)
}

// orderStudy finds the cached study of an order: the one whose accession is the order (attached to it, or
// pulled for it), else the one its report names, else the patient's latest (a study that reached the archive
// without the order, straight from a modality).
func (k *clinic) orderStudy(ctx context.Context, o *api.Order) (string, error) {
	if uid, err := k.c.FindStudy(ctx, o.ID); err == nil {
		return uid, nil
	}
	if r, err := api.ParseRISReport(o.WorkerResult); err == nil && r.DICOM.StudyUID != "" {
		if _, err := k.c.StudyInfo(ctx, r.DICOM.StudyUID); err == nil {
			return r.DICOM.StudyUID, nil
		}
	}
	page, err := k.c.Worklist(ctx, cache.Query{Text: o.PatientNumber, Sort: cache.SortDate, Limit: 50})
	if err != nil {
		return "", err
	}
	for _, row := range page.Rows {
		if row.PatientID == o.PatientNumber {
			return row.UID, nil
		}
	}
	return "", fmt.Errorf("order %s: %w", o.ID, cache.ErrNotFound)
}

// pull fetches the study of an order from the server into the cache: the one whose accession is the order,
// else the patient's latest.
func (k *clinic) pull(ctx context.Context, o *api.Order, p func(stage string, done, total int)) error {
	studies, err := k.cl.PatientStudies(ctx, o.PatientID)
	if err != nil {
		return offline("fetching the images", err)
	}
	if len(studies) == 0 {
		return fmt.Errorf("order %s has no images in the archive yet", o.ID)
	}
	pick := studies[0]
	for _, st := range studies {
		if st.AccessionNumber == o.ID || (pick.AccessionNumber != o.ID && st.StudyDate > pick.StudyDate) {
			pick = st
		}
	}
	_, err = k.e.Prefetch(ctx, pick.OrthancID, func(pr engine.Progress) { p("download", pr.Done, pr.Total) })
	return offline("fetching the images", err)
}

func (k *clinic) Attach(ctx context.Context, orderID, studyUID string, p func(stage string, done, total int)) error {
	if _, err := k.c.StudyInfo(ctx, studyUID); errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("the study shown is not in the local cache: import it (File menu, or drop its folder) and open it from the worklist")
	}
	return k.e.AttachStudy(ctx, orderID, studyUID, func(pr engine.Progress) { p("rewriting for the order", pr.Done, pr.Total) })
}

// Print writes the order's report as a PDF and records it in the local audit trail.
func (k *clinic) Print(ctx context.Context, orderID string, images []image.Image, path string) error {
	v, err := k.Order(ctx, orderID)
	if err != nil {
		return err
	}
	if err := writeReportPDF(path, pdfreport.Report{Order: v.Order, Results: v.Results, Images: images, PrintedBy: k.c.Actor(), Printed: time.Now()}); err != nil {
		return err
	}
	k.e.Audit(ctx, "report.print", orderID, path)
	return nil
}

// writeReportPDF writes r to path; a failed write leaves no file.
func writeReportPDF(path string, r pdfreport.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pdfreport.Write(f, r); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func (k *clinic) Patients(ctx context.Context, query string) ([]api.Patient, error) {
	ps, err := k.cl.Patients(ctx, query, 500)
	return ps, offline("the patient list", err)
}

func (k *clinic) RegisterPatient(ctx context.Context, req api.CreatePatientRequest) (*api.Patient, error) {
	p, err := k.cl.CreatePatient(ctx, req)
	if err != nil {
		return nil, offline("registering a patient", err)
	}
	_, err = k.e.RefreshFeed(ctx)
	return p, err
}

func (k *clinic) CreateOrder(ctx context.Context, req api.CreateOrderRequest) (*api.Order, error) {
	o, err := k.cl.CreateOrder(ctx, req)
	if err != nil {
		return nil, offline("ordering", err)
	}
	_, err = k.e.RefreshFeed(ctx)
	return o, err
}

func (k *clinic) Users(ctx context.Context) ([]api.User, error) {
	us, err := k.cl.Users(ctx, "")
	return us, offline("the account list", err)
}

// CreateUser creates an account with a random temporary password, to be changed at the first sign-in.
func (k *clinic) CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, string, error) {
	req.Password = randomKey()[:16]
	u, err := k.cl.CreateUser(ctx, req)
	if err != nil {
		return nil, "", offline("creating an account", err)
	}
	return u, req.Password, nil
}

func (k *clinic) SetActive(ctx context.Context, userID int64, active bool) error {
	_, err := k.cl.UpdateUser(ctx, userID, api.UpdateUserRequest{IsActive: &active})
	return offline("changing an account", err)
}

func (k *clinic) Unlock(ctx context.Context, userID int64) error {
	_, err := k.cl.UnlockUser(ctx, userID)
	return offline("unlocking an account", err)
}

func (k *clinic) ResetPassword(ctx context.Context, userID int64) (string, error) {
	r, err := k.cl.ResetPassword(ctx, userID)
	if err != nil {
		return "", offline("resetting a password", err)
	}
	return r.TemporaryPassword, nil
}

// Audit reads the server's audit log; a login is looked up among the accounts.
func (k *clinic) Audit(ctx context.Context, q ui.AuditQuery) ([]api.AuditRecord, int64, error) {
	f := client.AuditQuery{PatientID: q.PatientID, Action: q.Action, Since: q.Since, Until: q.Until, Before: q.Before, Limit: 200}
	if q.Login != "" {
		users, err := k.cl.Users(ctx, "")
		if err != nil {
			return nil, 0, offline("the audit log", err)
		}
		for _, u := range users {
			if u.LoginID == q.Login {
				f.UserID = u.ID
			}
		}
		if f.UserID == 0 {
			return nil, 0, fmt.Errorf("no account is called %q", q.Login)
		}
	}
	page, err := k.cl.Audit(ctx, f)
	if err != nil {
		return nil, 0, offline("the audit log", err)
	}
	return page.Records, page.NextCursor, nil
}

func (k *clinic) Listen(ctx context.Context, on func(api.Notification)) { k.e.Listen(ctx, on) }
