package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// fakeClinic plays the server and the cache for the clinical views; the engine behind the real one is tested
// against a real server in sync/engine and cmd/neuronova.
type fakeClinic struct {
	mu         sync.Mutex
	user       api.User
	password   string
	mustChange bool
	orders     map[string]*api.Order
	results    map[string][]api.AIResult
	drafts     map[string]json.RawMessage
	reports    []string // "order submit report"
	acts       []string // "order action"
	reviews    []string // "result status comment"
	refused    string
	users      []api.User
	created    []api.CreateUserRequest
	audits     []AuditQuery
	patients   []api.Patient
	printed    []string
	notes      chan api.Notification
}

func newFakeClinic(role api.Role) *fakeClinic {
	return &fakeClinic{user: api.User{ID: 5, LoginID: "user5", Name: "Test User", Role: role}, password: "right",
		orders: map[string]*api.Order{}, results: map[string][]api.AIResult{}, drafts: map[string]json.RawMessage{},
		notes: make(chan api.Notification, 10)}
}

func (f *fakeClinic) SignIn(_ context.Context, login, password string) (*Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if password != f.password {
		return nil, errors.New("LOGIN_FAIL: wrong login ID or password")
	}
	u := f.user
	u.MustChangePassword = f.mustChange
	return &Session{User: u}, nil
}

func (f *fakeClinic) ChangePassword(_ context.Context, old, new string) (*Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old != f.password {
		return nil, errors.New("INVALID: old_password is wrong")
	}
	f.password, f.mustChange = new, false
	return &Session{User: f.user}, nil
}

func (f *fakeClinic) SignOut(context.Context) error { return nil }

func (f *fakeClinic) Orders(_ context.Context, flt OrderFilter) ([]api.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Order
	for _, o := range f.orders {
		if flt.Status != "" && o.Status != flt.Status {
			continue
		}
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeClinic) Order(_ context.Context, id string) (*OrderView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %s: not in the cache", id)
	}
	return &OrderView{Order: *o, Results: slices.Clone(f.results[id]), Draft: f.drafts[id], Refused: f.refused}, nil
}

func (f *fakeClinic) Act(_ context.Context, id, action string, body any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, id+" "+action)
	o := f.orders[id]
	switch action {
	case "accept":
		w := f.user.ID
		o.WorkerID, o.WorkerName, o.Status = &w, f.user.Name, api.OrderAccepted
	case "start":
		o.Status = api.OrderInProgress
	case "confirm":
		o.Status = api.OrderConfirmed
	case "cancel":
		o.Status, o.CancelReason = api.OrderCancelled, body.(api.CancelOrderRequest).Reason
	}
	return nil
}

func (f *fakeClinic) Review(_ context.Context, id string, req api.ReviewRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reviews = append(f.reviews, id+" "+req.Status+" "+req.Comment)
	for _, rs := range f.results {
		for i := range rs {
			if rs[i].ID == id {
				rs[i].ReviewStatus, rs[i].ReviewComment = req.Status, req.Comment
			}
		}
	}
	return nil
}

func (f *fakeClinic) SaveDraft(_ context.Context, id string, r json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drafts[id] = r
	return nil
}

func (f *fakeClinic) SaveReport(_ context.Context, id string, r json.RawMessage, submit bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drafts[id] = r
	f.reports = append(f.reports, fmt.Sprintf("%s %v %s", id, submit, r))
	return nil
}

func (f *fakeClinic) OpenStudy(context.Context, string, func(string, int, int)) (*viewer.Study, error) {
	return nil, errors.New("no images in the fake")
}

func (f *fakeClinic) Attach(_ context.Context, id, uid string, p func(string, int, int)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, id+" attach "+uid)
	return nil
}

func (f *fakeClinic) Print(_ context.Context, id string, images []image.Image, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.printed = append(f.printed, fmt.Sprintf("%s %d %s", id, len(images), path))
	return nil
}

func (f *fakeClinic) Patients(context.Context, string) ([]api.Patient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.patients), nil
}

func (f *fakeClinic) RegisterPatient(_ context.Context, req api.CreatePatientRequest) (*api.Patient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := api.Patient{ID: int64(len(f.patients) + 1), Number: fmt.Sprintf("P2026%05d", len(f.patients)+1), Name: req.Name, BirthDate: req.BirthDate, Gender: req.Gender}
	f.patients = append(f.patients, p)
	return &p, nil
}

func (f *fakeClinic) CreateOrder(_ context.Context, req api.CreateOrderRequest) (*api.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("ocs_%04d", len(f.orders)+1)
	o := &api.Order{ID: id, PatientID: req.PatientID, JobRole: req.JobRole, JobType: req.JobType, Priority: req.Priority,
		Status: api.OrderOrdered, DoctorID: f.user.ID, DoctorName: f.user.Name, DoctorRequest: req.DoctorRequest, CreatedAt: time.Now()}
	f.orders[id] = o
	return o, nil
}

func (f *fakeClinic) Users(context.Context) ([]api.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.users), nil
}

func (f *fakeClinic) CreateUser(_ context.Context, req api.CreateUserRequest) (*api.User, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	u := api.User{ID: int64(len(f.users) + 10), LoginID: req.LoginID, Name: req.Name, Role: req.Role, IsActive: true, MustChangePassword: true}
	f.users = append(f.users, u)
	return &u, "temp-0123456789", nil
}

func (f *fakeClinic) SetActive(_ context.Context, id int64, active bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.users {
		if f.users[i].ID == id {
			f.users[i].IsActive = active
		}
	}
	return nil
}

func (f *fakeClinic) Unlock(context.Context, int64) error { return nil }

func (f *fakeClinic) ResetPassword(context.Context, int64) (string, error) {
	return "reset-0123456789", nil
}

func (f *fakeClinic) Audit(_ context.Context, q AuditQuery) ([]api.AuditRecord, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, q)
	return []api.AuditRecord{{ID: 9, At: time.Now(), LoginID: "ris1", Action: "order.accept", Outcome: api.OutcomeSuccess, Source: "server"}}, 0, nil
}

func (f *fakeClinic) Listen(ctx context.Context, on func(api.Notification)) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-f.notes:
			on(n)
		}
	}
}

func (f *fakeClinic) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// newClinicWorkstation opens a workstation on the fake, signed in (through the dialog) as its user.
func newClinicWorkstation(t *testing.T, f *fakeClinic) (*Workstation, fyne.Window) {
	t.Helper()
	newTestApp(t)
	win := test.NewWindow(nil)
	t.Cleanup(win.Close)
	w := NewWorkstation(win.Canvas(), Services{Clinic: f}, nil)
	win.SetContent(w.Content())
	win.Resize(fyne.NewSize(1280, 800))
	w.Clinic.ShowSignIn()
	d := w.Clinic.SignInForm
	test.Type(d.Login, f.user.LoginID)
	test.Type(d.Password, "right")
	test.Tap(d.SignIn)
	waitFor(t, "the sign-in", func() bool { return w.Clinic.Session() != nil || w.Clinic.PasswordForm != nil })
	return w, win
}

// ordersForEveryState makes orders in every state where the user is the ordering doctor, the worker, or
// neither, of both RIS and LIS.
func ordersForEveryState(f *fakeClinic) {
	me, other := f.user.ID, int64(99)
	n := 0
	for _, job := range []api.JobRole{api.JobRIS, api.JobLIS} {
		for _, st := range []api.OrderStatus{api.OrderOrdered, api.OrderAccepted, api.OrderInProgress, api.OrderResultReady, api.OrderConfirmed, api.OrderCancelled} {
			for _, part := range []string{"doctor", "worker", "none"} {
				n++
				o := &api.Order{ID: fmt.Sprintf("ocs_%04d", n), PatientName: "Jane Doe", PatientNumber: "P1", JobRole: job, JobType: "MRI",
					Status: st, Priority: "normal", DoctorID: other, DoctorName: "Dr Other", CreatedAt: time.Now().Add(-time.Hour)}
				switch part {
				case "doctor":
					o.DoctorID = me
				case "worker":
					o.WorkerID = &me
				}
				if st != api.OrderOrdered && o.WorkerID == nil {
					o.WorkerID = &other
				}
				f.orders[o.ID] = o
				f.results[o.ID] = []api.AIResult{{ID: "ai_" + o.ID, Model: api.ModelM1, ReviewStatus: api.ReviewPending, Result: json.RawMessage(`{"model":{"id":"m1-demo"}}`)}}
			}
		}
	}
}

// TestEveryActionTheUIOffersIsAllowed: for every role, the workstation has a control for exactly the actions
// api.Permissions allows that role (none missing, none more), and whatever it shows on an order, in any state
// and whatever the user's part in it, is one of them.
func TestEveryActionTheUIOffersIsAllowed(t *testing.T) {
	for _, a := range Actions {
		if len(api.Permissions[a]) == 0 {
			t.Errorf("the workstation offers %s, which api.Permissions does not know", a)
		}
	}
	for _, role := range api.Roles {
		t.Run(string(role), func(t *testing.T) {
			f := newFakeClinic(role)
			ordersForEveryState(f)
			w, _ := newClinicWorkstation(t, f)
			u := w.Clinic
			var allowed []string
			for _, a := range Actions {
				if api.May(role, a) {
					allowed = append(allowed, a)
				}
			}
			if (u.Admin != nil) != (api.May(role, ActUserList) || api.May(role, ActAuditQuery)) {
				t.Errorf("admin view present %v", u.Admin != nil)
			}
			ids := slices.Sorted(func(yield func(string) bool) {
				for id := range f.orders {
					if !yield(id) {
						return
					}
				}
			})
			reviews := false // a pending AI result got review buttons
			for _, id := range ids {
				u.Panel.Show(id)
				waitFor(t, "order "+id, func() bool { v := u.Panel.View(); return v != nil && v.Order.ID == id })
				for action, bs := range u.Panel.Controls() {
					for _, b := range bs {
						if b.Visible() && !api.May(role, action) {
							t.Errorf("order %s (%s): %q shown, but %s may not %s", id, f.orders[id].Status, b.Text, role, action)
						}
					}
				}
				reviews = reviews || slices.ContainsFunc(u.Panel.Cards, func(c *ResultCard) bool { return c.Approve != nil })
			}
			has := controlsOf(u, reviews)
			if !slices.Equal(has, allowed) {
				t.Errorf("controls for %v, want those api.Permissions allows: %v", has, allowed)
			}
		})
	}
}

// controlsOf lists the actions the clinical views have controls for (reviews: a result card had review
// buttons), sorted as Actions.
func controlsOf(u *ClinicUI, reviews bool) []string {
	set := map[string]bool{ActResultReview: reviews, ActPatientCreate: u.Orders.NewPatient != nil, ActOrderCreate: u.Orders.NewOrder != nil}
	for a := range u.Panel.Controls() {
		set[a] = true
	}
	if u.Admin != nil {
		for a := range u.Admin.Controls() {
			set[a] = true
		}
		set[ActUserList] = u.Admin.users != nil && offers(u.Admin.role, ActUserList)
	}
	var out []string
	for _, a := range Actions {
		if set[a] {
			out = append(out, a)
		}
	}
	return out
}

// TestSignInWithATemporaryPassword: the first sign-in of a new account asks for a new password before
// anything else; the status bar then names the user and role.
func TestSignInWithATemporaryPassword(t *testing.T) {
	f := newFakeClinic(api.RoleRIS)
	f.mustChange = true
	w, _ := newClinicWorkstation(t, f)
	u := w.Clinic
	d := u.PasswordForm
	if d == nil || u.Session() != nil {
		t.Fatal("no password change was asked")
	}
	test.Type(d.New, "short")
	test.Type(d.Repeat, "short")
	test.Tap(d.Change)
	if !strings.Contains(d.Message.Text, "at least 10") {
		t.Errorf("message %q", d.Message.Text)
	}
	d.New.SetText("a-new-Passw0rd")
	d.Repeat.SetText("a-new-Passw0rd")
	test.Tap(d.Change)
	waitFor(t, "the new session", func() bool { return u.Session() != nil })
	if !strings.Contains(w.status.Text, "user5 (Test User, RIS)") || !strings.Contains(u.User.Text, "RIS") {
		t.Errorf("status bar %q, bar %q", w.status.Text, u.User.Text)
	}
	f.locked(func() {
		if f.password != "a-new-Passw0rd" {
			t.Errorf("password %q", f.password)
		}
	})
}

// TestRISWorkflow: a RIS user accepts and starts an order, types a report that is kept as a draft as typed,
// fills it from the order's M1 result, and submits it; a refusal of the server is shown.
func TestRISWorkflow(t *testing.T) {
	f := newFakeClinic(api.RoleRIS)
	f.orders["ocs_0001"] = &api.Order{ID: "ocs_0001", PatientName: "Jane Doe", PatientNumber: "P1", JobRole: api.JobRIS, JobType: "MRI",
		Status: api.OrderOrdered, Priority: "urgent", DoctorID: 2, DoctorName: "Dr Who", CreatedAt: time.Now().Add(-3 * time.Hour),
		DoctorRequest: json.RawMessage(`{"clinical_info":"headache, left weakness"}`)}
	f.results["ocs_0001"] = []api.AIResult{{ID: "ai_req_0001", Model: api.ModelM1, ReviewStatus: api.ReviewPending,
		Result: json.RawMessage(`{"banner":"NOT FOR CLINICAL USE","model":{"id":"m1-demo","version":"1.0.0","sha256":"abc"},"volumes_ml":{"wt":40.944,"et":13.9,"ncr":5.8,"ed":21.3}}`)}}
	w, _ := newClinicWorkstation(t, f)
	u := w.Clinic
	waitFor(t, "the order list", func() bool { return len(u.Orders.Orders()) == 1 })
	u.Orders.OnOpen("ocs_0001")
	p := u.Panel
	waitFor(t, "the order", func() bool { return p.View() != nil })
	if !strings.Contains(p.Info.Text, "headache, left weakness") || !p.Button("Accept").Visible() || p.Button("Start").Visible() {
		t.Fatalf("info %q, accept %v", p.Info.Text, p.Button("Accept").Visible())
	}
	test.Tap(p.Button("Accept"))
	waitFor(t, "Start", func() bool { return p.Button("Start").Visible() })
	test.Tap(p.Button("Start"))
	waitFor(t, "the report form", func() bool { return p.Button("Submit report").Visible() && !p.Report.Findings.Disabled() })
	test.Type(p.Report.Impression, "Left frontal high-grade glioma.")
	waitFor(t, "the draft", func() bool {
		var d string
		f.locked(func() { d = string(f.drafts["ocs_0001"]) })
		return strings.Contains(d, "Left frontal high-grade glioma.")
	})
	test.Tap(p.Report.Prefill)
	waitFor(t, "the report filled", func() bool { return p.Report.Volume.Text != "" })
	if p.Report.Volume.Text != "40.9" || p.Report.Detected.Selected != "yes" || !strings.Contains(p.Report.Findings.Text, "whole tumour 40.9 mL") {
		t.Errorf("prefilled: volume %q, detected %q, findings %q", p.Report.Volume.Text, p.Report.Detected.Selected, p.Report.Findings.Text)
	}
	p.Report.Lobe.SetSelected("frontal")
	test.Tap(p.Button("Submit report"))
	waitFor(t, "the submit", func() bool {
		var n int
		f.locked(func() { n = len(f.reports) })
		return n == 1
	})
	f.locked(func() {
		r := f.reports[0]
		for _, want := range []string{"ocs_0001 true ", `"impression":"Left frontal high-grade glioma."`, `"volume_cc":40.9`, `"lobe":"frontal"`, `"_template":"RIS"`} {
			if !strings.Contains(r, want) {
				t.Errorf("report %s lacks %s", r, want)
			}
		}
		f.refused = "CONFLICT: order ocs_0001 is CANCELLED"
	})
	p.Reload()
	waitFor(t, "the refusal", func() bool { return strings.Contains(p.State.Text, "is CANCELLED") })
	if !strings.Contains(p.State.Text, "kept as a draft") {
		t.Errorf("state %q", p.State.Text)
	}
	f.locked(func() {
		if want := []string{"ocs_0001 accept", "ocs_0001 start"}; !slices.Equal(f.acts, want) {
			t.Errorf("actions %q, want %q", f.acts, want)
		}
	})
}

// TestDoctorReviewsAndConfirms: a doctor approves the AI result of an order with a comment and confirms it;
// a notification shows as a badge and a toast.
func TestDoctorReviewsAndConfirms(t *testing.T) {
	f := newFakeClinic(api.RoleDoctor)
	f.orders["ocs_0002"] = &api.Order{ID: "ocs_0002", PatientName: "John Roe", JobRole: api.JobRIS, JobType: "MRI", Status: api.OrderResultReady,
		DoctorID: f.user.ID, WorkerName: "ris1", CreatedAt: time.Now(), WorkerResult: json.RawMessage(`{"impression":"Glioma.","findings":"Mass."}`)}
	f.results["ocs_0002"] = []api.AIResult{{ID: "ai_req_0002", Model: api.ModelM1, ModelVersion: "1.0.0", ReviewStatus: api.ReviewPending,
		Result: json.RawMessage(`{"banner":"NOT FOR CLINICAL USE","model":{"id":"m1-demo","version":"1.0.0","sha256":"0123456789abcdef"},"volumes_ml":{"wt":12}}`)}}
	w, _ := newClinicWorkstation(t, f)
	u := w.Clinic
	f.notes <- api.Notification{ID: "3-0", Type: api.EventOrderStatusChanged, OrderID: "ocs_0002", ToStatus: api.OrderResultReady, At: time.Now()}
	waitFor(t, "the notification", func() bool { return u.Notices.Unread == 1 })
	if got := u.Notices.Toast.Text; got != "Order ocs_0002 is now RESULT_READY" || !strings.Contains(u.Notices.Badge.Text, "(1)") {
		t.Errorf("toast %q, badge %q", got, u.Notices.Badge.Text)
	}
	u.Orders.OnOpen("ocs_0002")
	p := u.Panel
	waitFor(t, "the review", func() bool { return len(p.Cards) == 1 && p.Cards[0].Approve != nil })
	if p.Report.Impression.Text != "Glioma." || !p.Report.Impression.Disabled() {
		t.Errorf("the report shown to the doctor: %q (read-only %v)", p.Report.Impression.Text, p.Report.Impression.Disabled())
	}
	card := p.Cards[0]
	if card.Banner.Text != "NOT FOR CLINICAL USE" || !strings.Contains(card.Text.Text, "sha256 0123456789ab") {
		t.Errorf("card %q %q", card.Banner.Text, card.Text.Text)
	}
	test.Type(card.Comment, "agrees with the reading")
	test.Tap(card.Approve)
	waitFor(t, "the review recorded", func() bool { return len(p.Cards) == 1 && p.Cards[0].Approve == nil })
	test.Tap(p.Button("Confirm order"))
	waitFor(t, "the confirmation", func() bool { return p.View().Order.Status == api.OrderConfirmed })
	f.locked(func() {
		if len(f.reviews) != 1 || f.reviews[0] != "ai_req_0002 approved agrees with the reading" || f.acts[0] != "ocs_0002 confirm" {
			t.Errorf("reviews %q, acts %q", f.reviews, f.acts)
		}
	})
	if p.Button("Cancel order").Visible() || p.Button("Confirm order").Visible() {
		t.Error("a confirmed order still offers cancel or confirm")
	}
}

// TestDoctorRegistersAndOrders: a doctor registers a patient and orders an MRI for them.
func TestDoctorRegistersAndOrders(t *testing.T) {
	f := newFakeClinic(api.RoleDoctor)
	w, _ := newClinicWorkstation(t, f)
	v := w.Clinic.Orders
	test.Tap(v.NewPatient)
	d := v.PatientForm
	test.Type(d.Name, "Jane Doe")
	test.Type(d.BirthDate, "1970-05-01")
	d.Gender.SetSelected("F")
	test.Tap(d.Register)
	waitFor(t, "the patient", func() bool {
		var n int
		f.locked(func() { n = len(f.patients) })
		return n == 1
	})
	test.Tap(v.NewOrder)
	o := v.OrderForm
	waitFor(t, "the patient list", func() bool { return o.SelectPatient("P202600001") })
	test.Type(o.Clinical, "seizure")
	o.Priority.SetSelected("urgent")
	test.Tap(o.Create)
	waitFor(t, "the order listed", func() bool { return len(v.Orders()) == 1 })
	got := v.Orders()[0]
	if got.JobType != "MRI" || got.Priority != "urgent" || !strings.Contains(string(got.DoctorRequest), "seizure") {
		t.Errorf("order %+v", got)
	}
}

// TestAdminView: an administrator lists, creates and deactivates accounts and searches the audit log.
func TestAdminView(t *testing.T) {
	f := newFakeClinic(api.RoleAdmin)
	f.users = []api.User{{ID: 1, LoginID: "sysadmin", Name: "System", Role: api.RoleSystemManager, IsActive: true}}
	w, _ := newClinicWorkstation(t, f)
	u := w.Clinic
	u.Tabs.Select(u.adminTab) // as a tap on the tab does
	v := u.Admin
	waitFor(t, "the accounts", func() bool { return len(v.Users) == 1 && len(v.Records) == 1 })
	test.Tap(v.Create)
	d := v.UserForm
	if slices.Contains(d.Role.Options, string(api.RoleSystemManager)) {
		t.Error("an ADMIN is offered to create a SYSTEMMANAGER")
	}
	test.Type(d.Login, "ris1")
	test.Type(d.Name, "Rita Ris")
	d.Role.SetSelected("RIS")
	test.Tap(d.Create)
	waitFor(t, "the new account", func() bool { return len(v.Users) == 2 })
	if !strings.Contains(v.Message.Text, "temp-0123456789") {
		t.Errorf("message %q", v.Message.Text)
	}
	v.Select(1)
	test.Tap(v.Active)
	waitFor(t, "the deactivation", func() bool { return len(v.Users) == 2 && !v.Users[1].IsActive })
	test.Type(v.Login, "ris1")
	test.Type(v.Since, "2026-01-02")
	test.Type(v.Action, "order.accept")
	test.Tap(v.Search)
	waitFor(t, "the audit query", func() bool {
		var q []AuditQuery
		f.locked(func() { q = slices.Clone(f.audits) })
		return len(q) > 0 && q[len(q)-1].Login == "ris1"
	})
	f.locked(func() {
		q := f.audits[len(f.audits)-1]
		if q.Action != "order.accept" || q.Since.Format("2006-01-02") != "2026-01-02" {
			t.Errorf("query %+v", q)
		}
	})
}

// TestFillFromTheM1RunHere: before the server has the order's M1 result (or while it is away), the report
// fills from the result of the run on this workstation: volume, tumour and the hemisphere of its labels.
func TestFillFromTheM1RunHere(t *testing.T) {
	f := newFakeClinic(api.RoleRIS)
	me := f.user.ID
	f.orders["ocs_0009"] = &api.Order{ID: "ocs_0009", PatientName: "Jane Doe", JobRole: api.JobRIS, JobType: "MRI", Status: api.OrderInProgress,
		WorkerID: &me, CreatedAt: time.Now()}
	w, _ := newClinicWorkstation(t, f)
	labels := viewer.NewLabelMap(viewer.Geometry{Size: [3]int{10, 10, 4}, Spacing: viewer.Vec3{2, 2, 2}, Origin: viewer.Vec3{-9, -9, -3},
		Direction: viewer.IdentityDirection})
	labels.Data[labels.Index(8, 5, 2)] = viewer.LabelET // x = +7 mm: the patient's left (LPS)
	summary, err := api.ParseM1Summary(json.RawMessage(`{"model":{"id":"m1-demo","version":"1.0.0"},"volumes_ml":{"wt":12.34,"et":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	w.AI.showResult(&AIResult{Model: "m1-demo 1.0.0", Labels: labels, Summary: summary})
	p := w.Clinic.Panel
	p.Show("ocs_0009")
	waitFor(t, "the order", func() bool { return p.View() != nil && !p.Report.Findings.Disabled() })
	test.Tap(p.Report.Prefill)
	waitFor(t, "the fill", func() bool { return p.Report.Volume.Text != "" })
	if p.Report.Volume.Text != "12.3" || p.Report.Hemisphere.Selected != "left" || p.Report.Detected.Selected != "yes" {
		t.Errorf("filled: volume %q, hemisphere %q, detected %q", p.Report.Volume.Text, p.Report.Hemisphere.Selected, p.Report.Detected.Selected)
	}
}
