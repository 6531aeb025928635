package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// orderHost is what the order panel asks of the workstation around it.
type orderHost interface {
	canvas() fyne.Canvas
	openStudy(st *viewer.Study)
	openStudyUID() string                                 // the study shown ("" none)
	runM1(orderID string) error                           // runs M1 on the study shown, for the order
	localAI() (*viewer.LabelMap, *api.M1Summary, float64) // M1 run here (labels, summary); the longest length (mm)
	keyImages(done func([]image.Image))                   // the viewports as shown, overlay included
	choosePDF(name string, done func(path string))        // where to write a PDF
	session() *Session                                    // who is signed in
	ordersChanged()                                       // the order list should be read again
	syncNow()                                             // the outbox has something for the server
}

// OrderPanel shows one order: who and what, its clinical information, its status and history, the actions
// the signed-in user may take on it now, the report (a form for its worker, read-only for others), its AI
// results with their review, and printing. Online actions say clearly when the server cannot be reached;
// reports go through the outbox and wait for it.
type OrderPanel struct {
	Title, Info, Message, State *widget.Label
	Report                      *ReportForm
	// Cards are the AI results' cards of the order shown.
	Cards []*ResultCard
	// Print writes the report as a PDF.
	Print *widget.Button
	// Tabs hold the report, the AI results and the history.
	Tabs *container.AppTabs

	c        Clinic
	host     orderHost
	role     api.Role
	controls map[string][]*widget.Button // the action controls, by api.Permissions action
	buttons  map[string]*widget.Button   // the same, by label
	job      *task
	view     *OrderView
	summary  *widget.Label // the report, read-only, above the AI results (what a reviewer reads)
	results  *fyne.Container
	history  *widget.Label
	content  fyne.CanvasObject
}

func newOrderPanel(c Clinic, host orderHost, role api.Role) *OrderPanel {
	p := &OrderPanel{c: c, host: host, role: role, Title: bold(""), Info: widget.NewLabel("Choose an order in the list."),
		Message: widget.NewLabel(""), State: widget.NewLabel(""), Report: newReportForm(), job: newTask(),
		controls: map[string][]*widget.Button{}, buttons: map[string]*widget.Button{}, results: container.NewVBox(), history: widget.NewLabel(""),
		summary: widget.NewLabel("")}
	for _, l := range []*widget.Label{p.Info, p.Message, p.State, p.history, p.summary} {
		l.Wrapping = fyne.TextWrapWord
	}
	p.Message.Importance = widget.WarningImportance
	p.Message.Hide()
	p.State.Hide()
	p.Report.OnChange = p.keepDraft
	p.Report.Prefill.OnTapped = p.prefill
	p.Print = widget.NewButton("Print / PDF", p.print)
	open := widget.NewButton("Open images", p.openImages)
	p.buttons[open.Text] = open
	actions := container.NewGridWrap(fyne.NewSize(150, 36), open)
	for _, b := range []struct {
		action, label string
		do            func()
	}{
		{ActOrderAccept, "Accept", func() { p.act(api.OrderAccepted, "accept", nil) }},
		{ActOrderStart, "Start", func() { p.act(api.OrderInProgress, "start", nil) }},
		{ActOrderCancel, "Give back", func() { p.askReason("Give the order back", "give_back") }},
		{ActImagesUpload, "Attach open study", p.attach},
		{ActResultUpload, "Run M1 for order", p.runM1},
		{ActOrderConfirm, "Confirm order", func() { p.act(api.OrderConfirmed, "confirm", api.ConfirmOrderRequest{}) }},
		{ActOrderCancel, "Cancel order", func() { p.askReason("Cancel the order", "cancel") }},
	} {
		if btn := p.control(b.action, b.label, b.do); btn != nil {
			actions.Add(btn)
		}
	}
	actions.Add(p.Print)
	reportButtons := container.NewHBox(p.Report.Prefill)
	for _, b := range []struct {
		action, label string
		submit        bool
	}{{ActOrderSave, "Save draft", false}, {ActOrderSubmit, "Submit report", true}} {
		submit := b.submit
		if btn := p.control(b.action, b.label, func() { p.saveReport(submit) }); btn != nil {
			reportButtons.Add(btn)
		}
	}
	if btn := p.buttons["Submit report"]; btn != nil {
		btn.Importance = widget.HighImportance
	}
	p.Tabs = container.NewAppTabs(
		container.NewTabItem("Report", container.NewBorder(reportButtons, nil, nil, nil, container.NewVScroll(p.Report.Content()))),
		container.NewTabItem("AI results", container.NewVScroll(container.NewVBox(p.summary, p.results))),
		container.NewTabItem("History", container.NewVScroll(p.history)))
	p.content = container.NewBorder(container.NewVBox(p.Title, p.Info, actions, p.job.content(), p.Message, p.State), nil, nil, nil, p.Tabs)
	p.update()
	return p
}

// control makes the button of an action for the roles api.Permissions allows it, nil for the others.
func (p *OrderPanel) control(action, label string, do func()) *widget.Button {
	if !offers(p.role, action) {
		return nil
	}
	b := widget.NewButton(label, do)
	p.controls[action] = append(p.controls[action], b)
	p.buttons[label] = b
	return b
}

// say shows a message under the actions (none: the line is hidden).
func (p *OrderPanel) say(text string) { showText(p.Message, text) }

// setState shows where the order's reports stand with the server.
func (p *OrderPanel) setState(text string) { showText(p.State, text) }

// showText sets a label's text and hides it while empty, so that it takes no room.
func showText(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// Controls returns the action controls the panel has, by action: only actions api.Permissions allows the
// signed-in role.
func (p *OrderPanel) Controls() map[string][]*widget.Button { return p.controls }

// Button returns the control labelled label, nil when the role has none.
func (p *OrderPanel) Button(label string) *widget.Button { return p.buttons[label] }

// Content is the panel's canvas object.
func (p *OrderPanel) Content() fyne.CanvasObject { return p.content }

// View returns the order shown, nil when none.
func (p *OrderPanel) View() *OrderView { return p.view }

// Show reads order id (in a worker) and shows it.
func (p *OrderPanel) Show(id string) {
	c := p.c
	go func() {
		v, err := c.Order(context.Background(), id)
		do(func() {
			if err != nil {
				p.say("Order " + id + ": " + err.Error())
				return
			}
			same := p.view != nil && p.view.Order.ID == v.Order.ID
			p.view = v
			if !same {
				p.say("")
				report := v.Order.WorkerResult
				if len(v.Draft) > 0 && (v.Order.Status == api.OrderInProgress || v.Order.Status == api.OrderAccepted) {
					report = v.Draft // what the reader last typed here
				}
				p.Report.Load(v.Order.ID, report, v.StudyUID)
				p.Tabs.SelectIndex(0)
				if offers(p.role, ActResultReview) && slices.ContainsFunc(v.Results, func(r api.AIResult) bool { return r.ReviewStatus == api.ReviewPending }) {
					p.Tabs.SelectIndex(1) // what waits for this reader: the AI results to review
				}
			}
			p.update()
		})
	}()
}

// Reload shows the order again, as the cache now holds it.
func (p *OrderPanel) Reload() {
	if p.view != nil {
		p.Show(p.view.Order.ID)
	}
}

// update shows the order and the controls its state allows the signed-in user.
func (p *OrderPanel) update() {
	v := p.view
	for _, bs := range p.controls {
		for _, b := range bs {
			b.Hide()
		}
	}
	if v == nil {
		p.Report.SetEditable(false)
		p.Print.Disable()
		return
	}
	o := v.Order
	p.Print.Enable()
	p.Title.SetText(fmt.Sprintf("Order %s — %s %s, %s", o.ID, o.JobRole, o.JobType, o.Priority))
	p.Info.SetText(orderInfo(o, time.Now()))
	p.setState(reportState(v))
	me := int64(-1)
	if s := p.host.session(); s != nil {
		me = s.User.ID
	}
	worker, doctor := o.WorkerID != nil && *o.WorkerID == me, o.DoctorID == me
	admin := p.role.IsAdmin()
	inWork := o.Status == api.OrderAccepted || o.Status == api.OrderInProgress
	p.showIf("Accept", o.Status == api.OrderOrdered && o.WorkerID == nil && (string(p.role) == string(o.JobRole) || admin))
	p.showIf("Start", o.Status == api.OrderAccepted && worker)
	p.showIf("Give back", inWork && worker)
	p.showIf("Attach open study", inWork && o.JobRole == api.JobRIS && (worker || doctor || admin))
	p.showIf("Run M1 for order", o.JobRole == api.JobRIS && (inWork || o.Status == api.OrderResultReady) && (worker || doctor || admin))
	p.showIf("Confirm order", (doctor && o.Status == api.OrderResultReady) ||
		(worker && (o.JobRole == api.JobRIS || o.JobRole == api.JobLIS) && (o.Status == api.OrderInProgress || o.Status == api.OrderResultReady)))
	p.showIf("Cancel order", doctor && o.Status != api.OrderConfirmed && o.Status != api.OrderCancelled)
	editable := worker && (o.Status == api.OrderInProgress || o.Status == api.OrderResultReady)
	p.showIf("Save draft", editable)
	p.showIf("Submit report", editable && o.Status == api.OrderInProgress)
	p.Report.SetEditable(editable)
	summary := ""
	if !editable {
		summary = reportSummary(o.WorkerResult)
	}
	showText(p.summary, summary)
	p.showResults(v)
	p.history.SetText(historyText(o.History))
}

func (p *OrderPanel) showIf(label string, on bool) {
	if b := p.buttons[label]; b != nil {
		if on {
			b.Show()
		} else {
			b.Hide()
		}
	}
}

func (p *OrderPanel) showResults(v *OrderView) {
	p.Cards = nil
	p.results.RemoveAll()
	if len(v.Results) == 0 {
		p.results.Add(widget.NewLabel("No AI result for this order yet."))
	}
	for _, r := range v.Results {
		card := newResultCard(r, p.role, p.c, func(err error) {
			if err != nil {
				p.say("The review was not recorded: " + err.Error())
				return
			}
			p.say("Review recorded.")
			p.Reload()
		})
		p.Cards = append(p.Cards, card)
		p.results.Add(card.Content())
	}
}

// orderInfo is the order's patient, people, status, age and clinical information.
func orderInfo(o api.Order, now time.Time) string {
	lines := []string{fmt.Sprintf("%s (%s) · %s", o.PatientName, o.PatientNumber, o.Status),
		fmt.Sprintf("ordered by %s %s ago", o.DoctorName, Age(now.Sub(o.CreatedAt)))}
	if o.WorkerName != "" {
		lines = append(lines, "worker: "+o.WorkerName)
	}
	var req map[string]any
	if json.Unmarshal(o.DoctorRequest, &req) == nil {
		// The seed's request template: what the doctor wrote, in its order.
		for _, f := range []struct{ key, label string }{{"chief_complaint", "chief complaint"}, {"clinical_info", "clinical information"},
			{"request_detail", "request"}, {"special_instruction", "special instruction"}} {
			if s, ok := req[f.key].(string); ok && strings.TrimSpace(s) != "" {
				lines = append(lines, f.label+": "+s)
			}
		}
	}
	if o.CancelReason != "" {
		lines = append(lines, "cancelled: "+o.CancelReason)
	}
	return strings.Join(lines, "\n")
}

// reportSummary is the report's impression and findings, for a reader who reviews it beside the AI results.
func reportSummary(raw json.RawMessage) string {
	r, err := api.ParseRISReport(raw)
	if err != nil || (r.Impression == "" && r.Findings == "") {
		return ""
	}
	lines := []string{"Impression: " + r.Impression, "Findings: " + r.Findings}
	if r.Recommendation != "" {
		lines = append(lines, "Recommendation: "+r.Recommendation)
	}
	return strings.Join(lines, "\n")
}

// reportState says where the order's reports and attachments stand with the server.
func reportState(v *OrderView) string {
	switch {
	case v.Refused != "":
		return "The server refused the last report or attachment: " + v.Refused + ". Your text is kept as a draft on this workstation."
	case v.Pending == 1:
		return "1 report or attachment waits to be sent to the server."
	case v.Pending > 1:
		return fmt.Sprintf("%d reports or attachments wait to be sent to the server.", v.Pending)
	}
	return ""
}

func historyText(h []api.OrderHistory) string {
	if len(h) == 0 {
		return "(read from the server when online)"
	}
	var lines []string
	for _, e := range h {
		line := fmt.Sprintf("%s %s by %s", e.At.Local().Format("2006-01-02 15:04"), e.Action, e.ActorName)
		if e.Reason != "" {
			line += ": " + e.Reason
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// act takes an online action; want is the status it leads to (for the message).
func (p *OrderPanel) act(want api.OrderStatus, action string, body any) {
	if p.view == nil {
		return
	}
	id, c := p.view.Order.ID, p.c
	p.say(fmt.Sprintf("%s: %s…", id, action))
	go func() {
		err := c.Act(context.Background(), id, action, body)
		do(func() {
			if err != nil {
				p.say(fmt.Sprintf("%s was not done: %v", action, err))
				return
			}
			p.say(fmt.Sprintf("Order %s is %s.", id, want))
			p.Reload()
			p.host.ordersChanged()
		})
	}()
}

// askReason asks why before cancelling the order or giving it back (action cancel or give_back).
func (p *OrderPanel) askReason(title, action string) {
	reason := widget.NewMultiLineEntry()
	reason.SetPlaceHolder("reason (required)")
	var m *modal
	ok := widget.NewButton(title, func() {
		if strings.TrimSpace(reason.Text) == "" {
			return
		}
		m.hide()
		want := api.OrderCancelled
		if action == "give_back" {
			want = api.OrderOrdered
		}
		p.act(want, "cancel", api.CancelOrderRequest{Reason: strings.TrimSpace(reason.Text)})
	})
	m = showModal(p.host.canvas(), title, container.NewVBox(reason, container.NewHBox(ok, widget.NewButton("Back", func() { m.hide() }))), 420)
}

// keepDraft keeps what the reader typed on the workstation.
func (p *OrderPanel) keepDraft(report json.RawMessage) {
	if p.view == nil {
		return
	}
	id, c := p.view.Order.ID, p.c
	go func() {
		if err := c.SaveDraft(context.Background(), id, report); err != nil {
			do(func() { p.say("The draft could not be kept: " + err.Error()) })
		}
	}()
}

// saveReport puts the report in the outbox, saved or submitted; it goes when the server answers.
func (p *OrderPanel) saveReport(submit bool) {
	if p.view == nil {
		return
	}
	report, err := p.Report.Report()
	if err != nil {
		p.say(err.Error())
		return
	}
	id, c := p.view.Order.ID, p.c
	go func() {
		err := c.SaveReport(context.Background(), id, report, submit)
		do(func() {
			switch {
			case err != nil:
				p.say("The report was not kept: " + err.Error())
			case submit:
				p.say("Report submitted: it goes to the server at the next sync (now when online).")
			default:
				p.say("Draft saved: it goes to the server at the next sync.")
			}
			if err == nil {
				p.host.syncNow()
			}
			p.Reload()
		})
	}()
}

// openImages opens the order's study (fetched from the server first when the cache lacks it).
func (p *OrderPanel) openImages() {
	if p.view == nil {
		return
	}
	id, c := p.view.Order.ID, p.c
	var st *viewer.Study
	p.job.start("Opening the images of "+id, func(ctx context.Context, prog progressFunc) (err error) {
		st, err = c.OpenStudy(ctx, id, prog)
		return err
	}, func(err error) {
		if err != nil {
			p.say("The images could not be opened: " + err.Error())
			return
		}
		p.host.openStudy(st)
	})
}

// attach attaches the study shown to the order and queues its images for Orthanc.
func (p *OrderPanel) attach() {
	uid := p.host.openStudyUID()
	if p.view == nil || uid == "" {
		p.say("Open the study to attach first (import it: File menu or drop its folder).")
		return
	}
	id, c := p.view.Order.ID, p.c
	p.job.start("Attaching the study to "+id, func(ctx context.Context, prog progressFunc) error {
		return c.Attach(ctx, id, uid, prog)
	}, func(err error) {
		if err != nil {
			p.say("Not attached: " + err.Error())
			return
		}
		p.say("Attached: the images go to the archive at the next sync, checked against its manifest.")
		p.host.syncNow()
		p.Reload()
		p.openImages() // the study as the order's now: its files carry the order's patient and accession
		p.host.ordersChanged()
	})
}

func (p *OrderPanel) runM1() {
	if p.view == nil {
		return
	}
	if err := p.host.runM1(p.view.Order.ID); err != nil {
		p.say(err.Error())
	}
}

// prefill fills the report from the latest M1 result of the order on the server, else the one run here, and
// the measurements.
func (p *OrderPanel) prefill() {
	if p.view == nil {
		return
	}
	var m1 *api.M1Summary
	for _, r := range p.view.Results {
		if s, err := api.ParseM1Summary(r.Result); err == nil && r.Model == api.ModelM1 {
			m1 = s
			break
		}
	}
	labels, local, longest := p.host.localAI()
	if m1 == nil {
		m1 = local // run here, not yet on the server (or the server is away)
	}
	if m1 == nil && labels == nil && longest == 0 {
		p.say("No M1 result and no measurement to fill from: run M1 for the order, or measure.")
		return
	}
	id := p.view.Order.ID
	go func() {
		side := hemisphereOf(labels) // a pass over the label map: not on the UI goroutine
		do(func() {
			if p.view != nil && p.view.Order.ID == id {
				p.Report.Fill(m1, side, longest)
			}
		})
	}()
}

// print writes the report as a PDF with the viewports as shown.
func (p *OrderPanel) print() {
	if p.view == nil {
		return
	}
	id := p.view.Order.ID
	p.host.choosePDF(id+"-report.pdf", func(path string) {
		if path == "" {
			return
		}
		p.host.keyImages(func(images []image.Image) { p.PrintTo(id, images, path) })
	})
}

// PrintTo writes order id's report with images to path (in a worker), and says where.
func (p *OrderPanel) PrintTo(id string, images []image.Image, path string) {
	c := p.c
	p.job.start("Writing "+path, func(ctx context.Context, _ progressFunc) error {
		return c.Print(ctx, id, images, path)
	}, func(err error) {
		if err != nil {
			p.say("The PDF was not written: " + err.Error())
			return
		}
		p.say("Report written to " + path)
	})
}

// errNoStudy is why M1 cannot run for an order.
var errNoStudy = errors.New("open the order's images first (Open images), then run M1 for the order")
