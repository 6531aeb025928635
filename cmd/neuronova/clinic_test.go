package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// station is one workstation of the story: its own cache, engine and window, driven like a user through the
// Fyne test driver. The test holds uiLock while it acts (library_test.go's convention).
type station struct {
	ws  *ui.Workstation
	c   *cache.Cache
	e   *engine.Engine
	pdf string // where Print writes
}

func newStation(t *testing.T, url string, rt *inference.Runtime) *station {
	t.Helper()
	dir := t.TempDir()
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{Logger: discardLogger(), Actor: "os-account"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl, err := client.New(url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(c, cl, engine.Options{Logger: discardLogger(), BcryptCost: 4, NotifyRetryMax: 300 * time.Millisecond})
	svc := ui.Services{Library: library{c}, Sync: syncer{e: e, server: url}, Clinic: newClinic(e, c)}
	if rt != nil {
		svc.AI = analyzer{rt: rt, cache: c}
	}
	win := test.NewWindow(nil)
	t.Cleanup(win.Close)
	s := &station{ws: ui.NewWorkstation(win.Canvas(), svc, nil), c: c, e: e, pdf: filepath.Join(dir, "report.pdf")}
	win.SetContent(s.ws.Content())
	win.Resize(fyne.NewSize(1280, 800))
	s.ws.ChoosePDF = func(_ string, done func(string)) { done(s.pdf) }
	return s
}

// signIn signs in through the dialog; with newPassword, the dialog that follows a temporary password
// changes it.
func (s *station) signIn(t *testing.T, login, password, newPassword string) {
	t.Helper()
	u := s.ws.Clinic
	u.ShowSignIn()
	d := u.SignInForm
	test.Type(d.Login, login)
	test.Type(d.Password, password)
	test.Tap(d.SignIn)
	waitUntil(t, login+"'s sign-in", func() bool {
		return u.Session() != nil || u.PasswordForm != nil || strings.HasPrefix(d.Message.Text, "Sign-in failed")
	})
	if newPassword != "" {
		p := u.PasswordForm
		if p == nil {
			t.Fatalf("%s was not asked to change the password (%q)", login, d.Message.Text)
		}
		test.Type(p.New, newPassword)
		test.Type(p.Repeat, newPassword)
		test.Tap(p.Change)
		waitUntil(t, login+"'s password change", func() bool { return u.Session() != nil || strings.HasPrefix(p.Message.Text, "The password was not") })
	}
	if u.Session() == nil {
		t.Fatalf("%s is not signed in (%q)", login, d.Message.Text)
	}
}

// synced runs a sync round of the workstation's engine (as its Sync tab does) and waits for it, letting the
// UI work meanwhile; then the views read the cache again.
func (s *station) synced(t *testing.T) (ui.SyncStatus, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.e.Round(context.Background(), nil)
		done <- err
	}()
	var err error
	waitUntil(t, "a sync round", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	st, serr := syncer{e: s.e}.Status(context.Background())
	if serr != nil {
		t.Fatal(serr)
	}
	s.ws.Sync.Poll()
	s.ws.Clinic.Refresh()
	return st, err
}

// initServer runs neuronova-server init on the stack's database and returns the first administrator's
// generated password.
func initServer(t *testing.T, stack *testsvc.Stack) string {
	t.Helper()
	bin, err := testsvc.ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "init", "--login", "sysadmin", "--name", "Hospital IT")
	cmd.Env = append(os.Environ(), "NEURONOVA_DB="+filepath.Join(stack.Dir, "server.db"), "NEURONOVA_BCRYPT_COST=4")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`password \(shown once; to be changed at first sign-in\): (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no password:\n%s", out)
	}
	return string(m[1])
}

// accounts is the start of the story: a fresh server, init, the administrator's first sign-in (changing the
// generated password) and the accounts of a RIS reader and an ordering doctor, made in the Admin view; it
// returns the admin's workstation and the two temporary passwords.
func accounts(t *testing.T, stack *testsvc.Stack) (admin *station, risTemp, doctorTemp string) {
	t.Helper()
	first := initServer(t, stack)
	admin = newStation(t, stack.URL, nil)
	admin.signIn(t, "sysadmin", first, "admin-Passw0rd-1")
	u := admin.ws.Clinic
	if u.Admin == nil {
		t.Fatal("the SYSTEMMANAGER has no Admin view")
	}
	u.SelectTab("Admin")
	temp := map[string]string{}
	for _, a := range []struct{ login, name, role string }{{"ris1", "Rita Ris", "RIS"}, {"doctor1", "Dana Doctor", "DOCTOR"}} {
		test.Tap(u.Admin.Create)
		d := u.Admin.UserForm
		test.Type(d.Login, a.login)
		test.Type(d.Name, a.name)
		d.Role.SetSelected(a.role)
		test.Tap(d.Create)
		re := regexp.MustCompile(`Created ` + a.role + ` ` + a.login + `; temporary password \(shown once; to be changed at the first sign-in\): (\S+)`)
		waitUntil(t, "the account "+a.login, func() bool {
			return re.MatchString(u.Admin.Message.Text) || strings.HasPrefix(d.Message.Text, "Not created")
		})
		m := re.FindStringSubmatch(u.Admin.Message.Text)
		if m == nil {
			t.Fatalf("%s: %q", a.login, d.Message.Text)
		}
		temp[a.login] = m[1]
	}
	return admin, temp["ris1"], temp["doctor1"]
}

// TestAccountsOnAFreshServer: against a real server, Redis and Orthanc — a fresh server, init, the
// administrator creates a RIS user and a doctor in the workstation's Admin view, the RIS user's first sign-in
// on a workstation changes the temporary password, and sync works; the temporary password opens no offline
// session, the new one does.
func TestAccountsOnAFreshServer(t *testing.T) {
	testsvc.RequireStack(t)
	stack, err := testsvc.StartStack(testsvc.StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()

	_, risTemp, _ := accounts(t, stack)
	ris := newStation(t, stack.URL, nil)
	ris.signIn(t, "ris1", risTemp, "ris1-Passw0rd-new")
	if got := ris.ws.Clinic.User.Text; got != "ris1 (Rita Ris, RIS)" {
		t.Errorf("the bar names %q", got)
	}
	if st, err := ris.synced(t); err != nil || !st.Online || st.LastSync.IsZero() {
		t.Fatalf("sync after the first sign-in: %+v %v", st, err)
	}
	if err := ris.e.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	stack.Server.Kill()
	ctx := context.Background()
	if _, err := ris.e.Login(ctx, "ris1", risTemp); err == nil {
		t.Error("the temporary password opened an offline session")
	}
	if s, err := ris.e.Login(ctx, "ris1", "ris1-Passw0rd-new"); err != nil || !s.Offline {
		t.Errorf("offline with the new password: %+v %v", s, err)
	}
}

// scannerStudy writes a four-sequence MR study (the demo phantom on a 2.5 mm grid, 248 slices) as a scanner
// would hand it over, under another patient ID, and returns its folder.
func scannerStudy(t *testing.T) string {
	t.Helper()
	p := demo.DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{96, 96, 62}, Spacing: viewer.Vec3{2.5, 2.5, 2.5}, Origin: viewer.Vec3{-118.75, -118.75, -76.25},
		Direction: viewer.IdentityDirection}
	st, err := demo.NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	st.PatientID, st.PatientName, st.AccessionNumber = "SCANNER-0042", "DOE^J", "SCN42"
	dir := filepath.Join(t.TempDir(), "scanner")
	if _, err := dcmwrite.WriteStudy(dir, st); err != nil {
		t.Fatal(err)
	}
	return dir
}

// adminClient is a client of the server signed in as the administrator, the test's view of the server.
func adminClient(t *testing.T, url, password string) *client.Client {
	t.Helper()
	cl, err := client.New(url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Login(context.Background(), "sysadmin", password); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestClinicalStory is the whole clinical workflow through the workstations' own code (engine and UI, driven
// by Fyne's test driver) against a real server, Redis and Orthanc, and M1 on ONNX Runtime: the doctor registers
// a patient and orders an MRI; the RIS workstation is notified within 2 s, accepts and starts it, imports the
// scanner's study and attaches it (sent to Orthanc under the order's patient and accession, confirmed by the
// manifest), runs M1 for the order; the report is drafted and submitted while the server is down and goes
// when it is back; the doctor is notified, approves the AI result and confirms the order. The order ends
// CONFIRMED with its whole history, the audit log has every step, and the doctor's PDF holds the impression,
// the volumes and the model's banner.
func TestClinicalStory(t *testing.T) {
	testsvc.RequireStack(t)
	rt := cpuRuntime(t)
	if _, err := exec.LookPath("pdftotext"); err != nil {
		testenv.Missing(t, "pdftotext", "read the printed report back", "scripts/setup.sh (apt-get install poppler-utils)")
	}
	stack, err := testsvc.StartStack(testsvc.StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	ctx := context.Background()

	_, risTemp, doctorTemp := accounts(t, stack)
	admin := adminClient(t, stack.URL, "admin-Passw0rd-1")
	doctor := newStation(t, stack.URL, nil)
	doctor.signIn(t, "doctor1", doctorTemp, "doctor1-Passw0rd")
	ris := newStation(t, stack.URL, rt)
	ris.signIn(t, "ris1", risTemp, "ris1-Passw0rd-new")
	waitForAudit(t, admin, "ris1", "notifications.connect")

	// The doctor registers a patient and orders an MRI.
	orders := doctor.ws.Clinic.Orders
	test.Tap(orders.NewPatient)
	pd := orders.PatientForm
	test.Type(pd.Name, "Jane Doe")
	test.Type(pd.BirthDate, "1968-03-14")
	pd.Gender.SetSelected("F")
	test.Tap(pd.Register)
	var patient api.Patient
	waitUntil(t, "the patient", func() bool {
		ps, err := admin.Patients(ctx, "Jane Doe", 10)
		if err == nil && len(ps) == 1 {
			patient = ps[0]
		}
		return patient.ID != 0
	})
	test.Tap(orders.NewOrder)
	od := orders.OrderForm
	waitUntil(t, "the order form's patients", func() bool { return od.SelectPatient(patient.Number) })
	test.Type(od.Clinical, "Seizures for three weeks; left frontal lesion on CT?")
	test.Tap(od.Create)
	ordered := time.Now()
	var order api.Order
	waitUntil(t, "the order in the doctor's list", func() bool {
		if os := orders.Orders(); len(os) == 1 {
			order = os[0]
		}
		return order.ID != ""
	})

	// The RIS workstation is notified within 2 s, and accepts and starts the order.
	r := ris.ws.Clinic
	waitUntil(t, "the RIS notification", func() bool {
		return slices.ContainsFunc(r.Notices.Recent, func(n api.Notification) bool { return n.Type == api.EventOrderCreated && n.OrderID == order.ID })
	})
	if d := time.Since(ordered); d > 2*time.Second {
		t.Errorf("the RIS workstation was notified %v after the order", d)
	}
	t.Logf("the RIS workstation was notified of %s %v after the order was created", order.ID, time.Since(ordered).Round(time.Millisecond))
	waitUntil(t, "the order in the RIS list", func() bool { return len(r.Orders.Orders()) == 1 })
	r.Orders.OnOpen(order.ID)
	p := r.Panel
	for _, step := range []struct{ button, status string }{{"Accept", "ACCEPTED"}, {"Start", "IN_PROGRESS"}} {
		waitUntil(t, step.button, func() bool { return p.View() != nil && p.Button(step.button).Visible() })
		test.Tap(p.Button(step.button))
		waitUntil(t, "the order "+step.status, func() bool { return p.View() != nil && string(p.View().Order.Status) == step.status })
	}

	// The scanner's study is imported, opened and attached to the order.
	imported := ""
	ris.ws.OnImported = func(report string, err error) { imported = report }
	ris.ws.Import([]string{scannerStudy(t)})
	waitUntil(t, "the import", func() bool { return imported != "" })
	ris.ws.Worklist.Search("SCANNER-0042")
	waitUntil(t, "the imported study listed", func() bool { return len(ris.ws.Worklist.Rows()) == 1 })
	ris.ws.Worklist.OpenRow(0)
	waitUntil(t, "the study open", func() bool { st := ris.ws.Reading.Study(); return st != nil && st.PatientID == "SCANNER-0042" })
	test.Tap(p.Button("Attach open study"))
	waitUntil(t, "the study reopened as the order's", func() bool {
		st := ris.ws.Reading.Study()
		return st != nil && st.PatientID == patient.Number && st.AccessionNumber == order.ID
	})
	waitUntil(t, "the images in the archive", func() bool {
		studies, err := admin.PatientStudies(ctx, patient.ID)
		return err == nil && len(studies) == 1 && studies[0].AccessionNumber == order.ID
	})

	// M1 for the order; its result and SEG go up with the order ID.
	waitUntil(t, "the viewports", func() bool { return ris.ws.Reading.Visible()[0].Volume() != nil })
	test.Tap(p.Button("Run M1 for order"))
	waitUntil(t, "M1", func() bool { return ris.ws.AI.Result() != nil || ris.ws.AI.Failure() != "" })
	if ris.ws.AI.Result() == nil {
		t.Fatal(ris.ws.AI.Failure())
	}
	var result api.AIResult
	waitUntil(t, "the AI result on the server", func() bool {
		rs, err := admin.AIResults(ctx, patient.ID, 10)
		if err == nil && len(rs) == 1 {
			result = rs[0]
		}
		return result.ID != ""
	})
	if result.OrderID != order.ID || result.Model != api.ModelM1 {
		t.Fatalf("the AI result %s: order %q, model %q", result.ID, result.OrderID, result.Model)
	}
	m1, err := api.ParseM1Summary(result.Result)
	if err != nil {
		t.Fatal(err)
	}
	items, err := ris.c.OrderOutbox(ctx, order.ID)
	if err != nil || len(items) != 1 || items[0].SentAt.IsZero() {
		t.Fatalf("the attachment: %+v %v", items, err)
	}
	t.Logf("attachment: %s; %s: %s", items[0].Confirmation, result.ID, strings.Join(m1.Lines(), "; "))

	// The report is drafted while the server is down, and submitted; it goes once the server is back.
	stack.Server.Kill()
	test.Type(p.Report.Impression, "Left frontal ring-enhancing mass, most likely a high-grade glioma.")
	test.Type(p.Report.Recommendation, "Neurosurgical referral; MR spectroscopy.")
	test.Tap(p.Report.Prefill)
	waitUntil(t, "the report filled from M1", func() bool { return p.Report.Volume.Text != "" && p.Report.Hemisphere.Selected != "" })
	p.Report.Lobe.SetSelected("frontal")
	waitUntil(t, "the draft kept", func() bool {
		d, err := ris.e.Draft(ctx, order.ID)
		return err == nil && strings.Contains(string(d), "high-grade glioma")
	})
	test.Tap(p.Button("Submit report"))
	waitUntil(t, "the submit in the outbox", func() bool { return strings.HasPrefix(p.Message.Text, "Report submitted") })
	if st, err := ris.synced(t); !client.IsOffline(err) || st.Online || st.Outbox == 0 {
		t.Fatalf("with the server down: %+v %v", st, err)
	}
	if err := stack.StartServer(); err != nil {
		t.Fatal(err)
	}
	if st, err := ris.synced(t); err != nil || !st.Online || st.Outbox != 0 {
		t.Fatalf("with the server back: %+v %v", st, err)
	}

	// The doctor is notified, approves the AI result and confirms the order.
	d := doctor.ws.Clinic
	waitUntil(t, "the doctor's notification", func() bool {
		return slices.ContainsFunc(d.Notices.Recent, func(n api.Notification) bool {
			return n.OrderID == order.ID && n.Type == api.EventOrderStatusChanged && n.ToStatus == api.OrderResultReady
		})
	})
	d.Orders.OnOpen(order.ID)
	dp := d.Panel
	waitUntil(t, "the review", func() bool { return len(dp.Cards) == 1 && dp.Cards[0].Approve != nil })
	if !strings.Contains(dp.Report.Impression.Text, "high-grade glioma") {
		t.Errorf("the doctor reads the impression %q", dp.Report.Impression.Text)
	}
	test.Type(dp.Cards[0].Comment, "Segmentation agrees with the images.")
	test.Tap(dp.Cards[0].Approve)
	waitUntil(t, "the approval", func() bool { return len(dp.Cards) == 1 && dp.Cards[0].Result.ReviewStatus == api.ReviewApproved })
	test.Tap(dp.Button("Confirm order"))
	waitUntil(t, "the confirmation", func() bool { return dp.View().Order.Status == api.OrderConfirmed })

	// The doctor opens the images (pulled from the archive) and prints the report.
	test.Tap(dp.Button("Open images"))
	waitUntil(t, "the doctor's images", func() bool {
		st := doctor.ws.Reading.Study()
		return st != nil && st.AccessionNumber == order.ID && doctor.ws.Reading.Visible()[0].Volume() != nil
	})

	// Each AI tab lists the result once, with the doctor's review: the doctor's from the change feed, the RIS
	// reader's on the run it kept, refreshed by the review's notification (issue 14, item 3).
	approved := "approved by Dana Doctor — Segmentation agrees with the images."
	waitUntil(t, "the result in the doctor's AI tab", func() bool { return len(doctor.ws.AI.Versions()) > 0 })
	if vs := doctor.ws.AI.Versions(); len(vs) != 1 || !strings.HasPrefix(vs[0], "server "+result.ID+": "+m1.Model.ID+" run by Rita Ris, ") ||
		!strings.HasSuffix(vs[0], approved) {
		t.Errorf("the doctor's AI tab lists %q", vs)
	}
	waitUntil(t, "the review in the RIS reader's AI tab", func() bool {
		vs := ris.ws.AI.Versions()
		return len(vs) > 0 && strings.HasSuffix(vs[0], approved)
	})
	if vs := ris.ws.AI.Versions(); len(vs) != 1 || !strings.HasPrefix(vs[0], "v1 AI run "+m1.Model.ID+", ") || !strings.Contains(vs[0], "; server "+result.ID+", ") {
		t.Errorf("the RIS reader's AI tab lists %q", vs)
	}
	t.Logf("AI tabs: doctor %q, RIS %q", doctor.ws.AI.Versions(), ris.ws.AI.Versions())
	test.Tap(dp.Print)
	waitUntil(t, "the PDF", func() bool {
		return strings.HasPrefix(dp.Message.Text, "Report written to") || strings.HasPrefix(dp.Message.Text, "The PDF was not")
	})
	pdf, err := os.ReadFile(doctor.pdf)
	if err != nil {
		t.Fatalf("%v (%s)", err, dp.Message.Text)
	}
	text := pdfText(t, pdf)
	t.Logf("%s: %d bytes, %d characters of text", dp.Message.Text, len(pdf), len(text))
	for _, want := range []string{"Left frontal ring-enhancing mass, most likely a high-grade glioma.", m1.Banner,
		fmt.Sprintf("WT %.2f", m1.Volumes.WT), fmt.Sprintf("ET %.2f", m1.Volumes.ET), m1.Model.SHA256, "Jane Doe (" + patient.Number + ")", "approved"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if _, err := doctor.synced(t); err != nil { // the print event goes to the server
		t.Fatal(err)
	}

	// neuronova report writes the same report from the doctor's cache, with key images of the pulled study.
	out := filepath.Join(t.TempDir(), "cli.pdf")
	code, stdout, stderr := runCmd("report", "--order", order.ID, "--out", out, "--data", doctor.c.Dir())
	if code != 0 || !strings.Contains(stdout, "1 AI results, 2 key images") {
		t.Fatalf("neuronova report: exit %d: %s%s", code, stdout, stderr)
	}
	cli, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, cli); !strings.Contains(text, "most likely a high-grade glioma") || !strings.Contains(text, m1.Banner) ||
		!strings.Contains(text, "CONFIRMED") {
		t.Errorf("the CLI's PDF reads: %s", text)
	}

	// The order's history and the audit log.
	final, err := admin.Order(ctx, order.ID)
	if err != nil {
		t.Fatal(err)
	}
	var history []string
	for _, h := range final.History {
		history = append(history, h.Action)
	}
	if final.Status != api.OrderConfirmed || !isSubsequence([]string{"CREATED", "ACCEPTED", "STARTED", "SUBMITTED", "CONFIRMED"}, history) {
		t.Errorf("order %s %s, history %v", final.ID, final.Status, history)
	}
	t.Logf("history of %s: %v", order.ID, history)
	checkAudit(t, admin, order, patient)
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// checkAudit finds every step of the story in the server's audit log: the server's own records and the
// workstations' forwarded ones (study opened, attached, model run, report submitted, printed).
func checkAudit(t *testing.T, admin *client.Client, order api.Order, patient api.Patient) {
	t.Helper()
	page, err := admin.Audit(context.Background(), client.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range page.Records {
		if r.Outcome == api.OutcomeSuccess {
			seen[r.Source+" "+r.LoginID+" "+r.Action] = true
		}
	}
	for _, want := range []string{
		"server doctor1 patient.create", "server doctor1 order.create", "server ris1 order.accept", "server ris1 order.start",
		"server ris1 orthanc.upload", "server ris1 ai_result.upload", "server ris1 order.submit_result", "server doctor1 ai_result.review",
		"server doctor1 order.confirm", "server ris1 PASSWORD_CHANGED", "server doctor1 PASSWORD_CHANGED", "server sysadmin user.create",
		"workstation ris1 study.attach", "workstation ris1 model.run", "workstation ris1 report.submit", "workstation ris1 study.open",
		"workstation doctor1 report.print", "workstation doctor1 study.open"} {
		if !seen[want] {
			t.Errorf("the audit log lacks %q", want)
		}
	}
	if t.Failed() {
		var all []string
		for k := range seen {
			all = append(all, k)
		}
		slices.Sort(all)
		t.Logf("audit records: %q", all)
	}
}

// waitForAudit waits until the audit log holds a successful action of login.
func waitForAudit(t *testing.T, admin *client.Client, login, action string) {
	t.Helper()
	waitUntil(t, login+" "+action, func() bool {
		page, err := admin.Audit(context.Background(), client.AuditQuery{Action: action, Limit: 100})
		return err == nil && slices.ContainsFunc(page.Records, func(r api.AuditRecord) bool { return r.LoginID == login })
	})
}

// pdfText is the text pdftotext reads from a PDF, whitespace collapsed.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "read.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
