package ui

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// ClinicUI is the clinical workflow in the window: a bar with the signed-in user, the notification badge
// and sign in/out; the tabs Reading (the viewer), Orders (the list and the order panel) and, for
// administrators, Admin. The views are made for the signed-in role: each offers only what api.Permissions
// allows it.
type ClinicUI struct {
	Orders  *OrdersView
	Panel   *OrderPanel
	Admin   *AdminView // nil unless the role administers
	Notices *Notices
	Tabs    *container.AppTabs
	// SignInForm and PasswordForm are the dialogs last shown.
	SignInForm   *SignInDialog
	PasswordForm *PasswordDialog
	User         *widget.Label
	SignOut      *widget.Button

	c         Clinic
	w         *Workstation
	sess      *Session
	ordersTab *container.TabItem
	adminTab  *container.TabItem
	stop      context.CancelFunc // ends the notification listener
	content   fyne.CanvasObject
}

func newClinicUI(w *Workstation, c Clinic, reading fyne.CanvasObject) *ClinicUI {
	u := &ClinicUI{c: c, w: w, Notices: newNotices(w.canvas), User: widget.NewLabel("Not signed in")}
	u.SignOut = widget.NewButton("Sign in…", u.signInOrOut)
	u.ordersTab = container.NewTabItem("Orders", widget.NewLabel(""))
	u.adminTab = container.NewTabItem("Admin", widget.NewLabel(""))
	u.Tabs = container.NewAppTabs(container.NewTabItem("Reading", reading), u.ordersTab)
	u.Tabs.OnSelected = func(t *container.TabItem) { // a tab shows what the cache and the server hold now
		w.canvas.Unfocus() // a control left focused on the tab before would keep the keys typed on this one
		switch {
		case t == u.ordersTab:
			u.Orders.Refresh()
		case t == u.adminTab && u.Admin != nil:
			u.Admin.Refresh()
		}
	}
	u.build("")
	bar := container.NewHBox(u.Notices.Toast, u.User, u.Notices.Badge, u.SignOut)
	u.content = container.NewBorder(container.NewBorder(nil, nil, nil, bar), nil, nil, nil, u.Tabs)
	return u
}

// Session returns who is signed in, nil when nobody is.
func (u *ClinicUI) Session() *Session { return u.sess }

// build makes the views for role ("" before sign-in).
func (u *ClinicUI) build(role api.Role) {
	u.Orders = newOrdersView(u.c, u.w.canvas, role)
	u.Orders.OnOpen = func(id string) { u.Panel.Show(id) }
	u.Panel = newOrderPanel(u.c, u, role)
	split := container.NewHSplit(u.Orders.Content(), u.Panel.Content())
	split.Offset = 0.55
	u.ordersTab.Content = split
	u.Admin = nil
	u.Tabs.Remove(u.adminTab)
	if offers(role, ActUserList) || offers(role, ActAuditQuery) {
		u.Admin = newAdminView(u.c, u.w.canvas, role)
		u.adminTab.Content = u.Admin.Content()
		u.Tabs.Append(u.adminTab)
	}
	u.Tabs.Refresh()
}

// ShowSignIn opens the sign-in dialog.
func (u *ClinicUI) ShowSignIn() {
	u.SignInForm = showSignIn(u.w.canvas, u.w.Sync.Status().Server, u.c.SignIn, u.signedIn)
}

func (u *ClinicUI) signInOrOut() {
	if u.sess == nil {
		u.ShowSignIn()
		return
	}
	if u.stop != nil {
		u.stop()
		u.stop = nil
	}
	u.sess = nil
	u.build("")
	u.showUser()
	c := u.c
	go func() {
		c.SignOut(context.Background())
		do(func() {
			u.w.Sync.Poll()
			u.ShowSignIn()
		})
	}()
}

// signedIn takes a new session: a temporary password is changed first; then the views are made for the
// role, notifications listened to and a sync round run.
func (u *ClinicUI) signedIn(s *Session, password string) {
	if s.User.MustChangePassword {
		u.PasswordForm = showPasswordChange(u.w.canvas, s.User.LoginID, password, u.c.ChangePassword, func(s *Session) { u.signedIn(s, "") })
		return
	}
	if u.sess == nil || u.sess.User.ID != s.User.ID {
		u.Notices.Reset()
	}
	u.sess = s
	u.build(s.User.Role)
	u.showUser()
	if u.stop != nil {
		u.stop()
	}
	ctx, stop := context.WithCancel(context.Background())
	u.stop = stop
	go u.c.Listen(ctx, func(n api.Notification) { do(func() { u.notified(n) }) })
	u.w.Sync.Poll()
	if !s.Offline {
		u.w.Sync.Sync()
	}
	u.Refresh()
}

func (u *ClinicUI) showUser() {
	if u.sess == nil {
		u.User.SetText("Not signed in")
		u.SignOut.SetText("Sign in…")
	} else {
		u.User.SetText(userLine(u.sess))
		u.SignOut.SetText("Sign out")
	}
	u.w.refreshStatus()
}

// userLine names the signed-in user and role, for the bar and the status bar.
func userLine(s *Session) string {
	if s == nil {
		return "not signed in"
	}
	line := fmt.Sprintf("%s (%s, %s)", s.User.LoginID, s.User.Name, s.User.Role)
	if s.Offline {
		line += " offline"
	}
	return line
}

// notified shows a notification and reads the views again (the cache already holds what it announces).
func (u *ClinicUI) notified(n api.Notification) {
	u.Notices.Add(n)
	u.Refresh()
	if n.Type == api.EventAIResult || n.Type == api.EventAIReviewed {
		u.w.AI.Refresh() // the open study's results from the server
	}
}

// Refresh reads the orders, the order shown and the admin view again.
func (u *ClinicUI) Refresh() {
	u.Orders.Refresh()
	u.Panel.Reload()
	if u.Admin != nil && u.Tabs.Selected() == u.adminTab {
		u.Admin.Refresh()
	}
}

// SelectTab shows the tab titled title.
func (u *ClinicUI) SelectTab(title string) {
	for _, t := range u.Tabs.Items {
		if t.Text == title {
			u.Tabs.Select(t)
		}
	}
}

// The order panel's host.

func (u *ClinicUI) canvas() fyne.Canvas { return u.w.canvas }
func (u *ClinicUI) session() *Session   { return u.sess }
func (u *ClinicUI) ordersChanged()      { u.Orders.Refresh() }
func (u *ClinicUI) syncNow()            { u.w.Sync.Sync() }

func (u *ClinicUI) openStudy(st *viewer.Study) {
	u.w.Open(st)
	u.SelectTab("Reading")
}

func (u *ClinicUI) openStudyUID() string {
	if st := u.w.Reading.Study(); st != nil {
		return st.UID
	}
	return ""
}

func (u *ClinicUI) runM1(orderID string) error {
	if u.w.Reading.Study() == nil {
		return errNoStudy
	}
	u.w.AI.RunFor(orderID)
	u.SelectTab("Reading")
	return nil
}

func (u *ClinicUI) localAI() (*viewer.LabelMap, *api.M1Summary, float64) {
	var labels *viewer.LabelMap
	var summary *api.M1Summary
	if res := u.w.AI.Result(); res != nil {
		labels, summary = res.Labels, res.Summary
	}
	longest := 0.0
	for _, vp := range u.w.Reading.Visible() {
		for _, m := range vp.Measurements() {
			if m.Kind == measure.KindLength {
				longest = max(longest, m.Length)
			}
		}
	}
	return labels, summary, longest
}

// keyImages are the key images the reader marked (K, with their annotations), else the viewports as shown.
func (u *ClinicUI) keyImages(done func([]image.Image)) {
	if imgs := u.w.KeyImages.Images(); len(imgs) > 0 {
		done(imgs)
		return
	}
	u.w.Reading.KeyImages(done)
}

func (u *ClinicUI) choosePDF(name string, done func(string)) {
	if u.w.ChoosePDF != nil {
		u.w.ChoosePDF(name, done)
		return
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		dir = os.TempDir()
	}
	done(filepath.Join(dir, name))
}

// Content is the clinical workflow's canvas object (the reading view inside).
func (u *ClinicUI) Content() fyne.CanvasObject { return u.content }
