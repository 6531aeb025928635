package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
)

// AdminView is the administrators' view: the accounts (create, deactivate, unlock, reset the password) and
// the audit log with filters by user, patient, action and time. Each control exists only for the roles
// api.Permissions allows its action.
type AdminView struct {
	Users                         []api.User
	Selected                      int // index in Users, -1 none
	Message                       *widget.Label
	Create, Active, Unlock, Reset *widget.Button
	// The audit log's filters and records.
	Login, Patient, Action, Since, Until *widget.Entry
	Records                              []api.AuditRecord
	Search, More                         *widget.Button
	// UserForm is the account dialog last opened.
	UserForm *UserDialog

	c        Clinic
	canvas   fyne.Canvas
	role     api.Role
	controls map[string][]*widget.Button
	users    *widget.Table
	audit    *widget.Table
	next     int64
	content  fyne.CanvasObject
}

var userColumns = []struct {
	title string
	width float32
	value func(api.User) string
}{
	{"ID", 40, func(u api.User) string { return strconv.FormatInt(u.ID, 10) }},
	{"Login", 100, func(u api.User) string { return u.LoginID }},
	{"Name", 140, func(u api.User) string { return u.Name }},
	{"Role", 110, func(u api.User) string { return string(u.Role) }},
	{"State", 190, userState},
	{"Last sign-in", 120, func(u api.User) string {
		if u.LastLogin == nil {
			return "never"
		}
		return u.LastLogin.Local().Format("2006-01-02 15:04")
	}},
}

func userState(u api.User) string {
	var s []string
	if !u.IsActive {
		s = append(s, "deactivated")
	}
	if u.IsLocked {
		s = append(s, "locked")
	}
	if u.MustChangePassword {
		s = append(s, "must change password")
	}
	if len(s) == 0 {
		return "active"
	}
	return strings.Join(s, ", ")
}

var auditColumns = []struct {
	title string
	width float32
	value func(api.AuditRecord) string
}{
	{"Time", 130, func(r api.AuditRecord) string { return r.At.Local().Format("2006-01-02 15:04:05") }},
	{"User", 90, func(r api.AuditRecord) string { return r.LoginID }},
	{"Action", 150, func(r api.AuditRecord) string { return r.Action }},
	{"Object", 130, func(r api.AuditRecord) string { return strings.Trim(r.ObjectType+" "+r.ObjectID, " ") }},
	{"Patient", 60, func(r api.AuditRecord) string {
		if r.PatientID == nil {
			return ""
		}
		return strconv.FormatInt(*r.PatientID, 10)
	}},
	{"Outcome", 75, func(r api.AuditRecord) string { return r.Outcome }},
	{"Source", 90, func(r api.AuditRecord) string { return r.Source }},
	{"Detail", 300, func(r api.AuditRecord) string { return r.Detail }},
}

func newAdminView(c Clinic, canvas fyne.Canvas, role api.Role) *AdminView {
	v := &AdminView{c: c, canvas: canvas, role: role, Selected: -1, Message: widget.NewLabel(""), controls: map[string][]*widget.Button{}}
	v.Message.Wrapping = fyne.TextWrapWord
	v.users = newHeaderTable(len(userColumns), func() int { return len(v.Users) }, func(row, col int) string { return userColumns[col].value(v.Users[row]) },
		func(col int) string { return userColumns[col].title }, func(col int) float32 { return userColumns[col].width })
	v.users.OnSelected = func(id widget.TableCellID) { v.Select(id.Row) }
	v.Create = v.control(ActUserCreate, "New account…", func() { v.UserForm = v.showNewUser() })
	v.Active = v.control(ActUserUpdate, "Deactivate", v.toggleActive)
	v.Unlock = v.control(ActUserUnlock, "Unlock", v.unlock)
	v.Reset = v.control(ActUserReset, "Reset password", v.reset)
	userBar := container.NewHBox(widget.NewButton("Refresh", v.Refresh))
	for _, b := range []*widget.Button{v.Create, v.Active, v.Unlock, v.Reset} {
		if b != nil {
			userBar.Add(b)
		}
	}
	var parts []fyne.CanvasObject
	if offers(role, ActUserList) {
		parts = append(parts, container.NewBorder(container.NewVBox(bold("Accounts"), userBar), nil, nil, nil, v.users))
	}
	if offers(role, ActAuditQuery) {
		parts = append(parts, v.auditPart())
	}
	var centre fyne.CanvasObject = container.NewStack(parts...)
	if len(parts) == 2 {
		split := container.NewVSplit(parts[0], parts[1])
		split.Offset = 0.4
		centre = split
	}
	v.content = container.NewBorder(nil, v.Message, nil, nil, centre)
	return v
}

// auditPart is the audit log with its filters.
func (v *AdminView) auditPart() fyne.CanvasObject {
	v.Login, v.Patient, v.Action, v.Since, v.Until = widget.NewEntry(), widget.NewEntry(), widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	for e, ph := range map[*widget.Entry]string{v.Login: "user login", v.Patient: "patient ID", v.Action: "action (order.confirm…)",
		v.Since: "since YYYY-MM-DD", v.Until: "until YYYY-MM-DD"} {
		e.SetPlaceHolder(ph)
	}
	v.audit = newHeaderTable(len(auditColumns), func() int { return len(v.Records) }, func(row, col int) string { return auditColumns[col].value(v.Records[row]) },
		func(col int) string { return auditColumns[col].title }, func(col int) float32 { return auditColumns[col].width })
	v.Search = v.control(ActAuditQuery, "Search", func() { v.SearchAudit(false) })
	v.More = v.control(ActAuditQuery, "Older…", func() { v.SearchAudit(true) })
	filters := container.NewGridWithColumns(7, v.Login, v.Patient, v.Action, v.Since, v.Until, v.Search, v.More)
	return container.NewBorder(container.NewVBox(bold("Audit log"), filters), nil, nil, nil, v.audit)
}

// newHeaderTable makes a table with a header row.
func newHeaderTable(cols int, rows func() int, cell func(row, col int) string, title func(col int) string, width func(col int) float32) *widget.Table {
	t := widget.NewTable(func() (int, int) { return rows(), cols },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) { o.(*widget.Label).SetText(cell(id.Row, id.Col)) })
	t.ShowHeaderRow = true
	t.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) { o.(*widget.Label).SetText(title(id.Col)) }
	for c := 0; c < cols; c++ {
		t.SetColumnWidth(c, width(c))
	}
	return t
}

func (v *AdminView) control(action, label string, do func()) *widget.Button {
	if !offers(v.role, action) {
		return nil
	}
	b := widget.NewButton(label, do)
	v.controls[action] = append(v.controls[action], b)
	return b
}

// Controls returns the view's action controls, by action.
func (v *AdminView) Controls() map[string][]*widget.Button { return v.controls }

// Content is the view's canvas object.
func (v *AdminView) Content() fyne.CanvasObject { return v.content }

// Refresh lists the accounts and the latest audit records again.
func (v *AdminView) Refresh() {
	if offers(v.role, ActUserList) {
		c := v.c
		go func() {
			users, err := c.Users(context.Background())
			do(func() {
				if err != nil {
					v.Message.SetText("Accounts: " + err.Error())
					return
				}
				v.Users = users
				v.Select(-1)
				v.users.Refresh()
			})
		}()
	}
	if offers(v.role, ActAuditQuery) {
		v.SearchAudit(false)
	}
}

// Select chooses account i (-1 none) for the account controls.
func (v *AdminView) Select(i int) {
	if i >= len(v.Users) {
		i = -1
	}
	v.Selected = i
	for _, b := range []*widget.Button{v.Active, v.Unlock, v.Reset} {
		if b != nil {
			if i < 0 {
				b.Disable()
			} else {
				b.Enable()
			}
		}
	}
	if v.Active != nil && i >= 0 {
		v.Active.SetText(map[bool]string{true: "Deactivate", false: "Activate"}[v.Users[i].IsActive])
	}
}

// userAction runs an action on the selected account in a worker and lists the accounts again.
func (v *AdminView) userAction(what string, do1 func(ctx context.Context, u api.User) (string, error)) {
	if v.Selected < 0 {
		return
	}
	u := v.Users[v.Selected]
	go func() {
		msg, err := do1(context.Background(), u)
		do(func() {
			if err != nil {
				v.Message.SetText(fmt.Sprintf("%s %s: %v", what, u.LoginID, err))
				return
			}
			v.Message.SetText(msg)
			v.Refresh()
		})
	}()
}

func (v *AdminView) toggleActive() {
	v.userAction("Change", func(ctx context.Context, u api.User) (string, error) {
		if err := v.c.SetActive(ctx, u.ID, !u.IsActive); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s is %s.", u.LoginID, map[bool]string{true: "active again", false: "deactivated; its sessions are ended"}[!u.IsActive]), nil
	})
}

func (v *AdminView) unlock() {
	v.userAction("Unlock", func(ctx context.Context, u api.User) (string, error) {
		return u.LoginID + " is unlocked.", v.c.Unlock(ctx, u.ID)
	})
}

func (v *AdminView) reset() {
	v.userAction("Reset the password of", func(ctx context.Context, u api.User) (string, error) {
		pw, err := v.c.ResetPassword(ctx, u.ID)
		return fmt.Sprintf("Temporary password of %s (shown once; to be changed at the next sign-in): %s", u.LoginID, pw), err
	})
}

// UserDialog creates an account.
type UserDialog struct {
	Login, Name, Email *widget.Entry
	Role               *widget.Select
	Create             *widget.Button
	Message            *widget.Label
	m                  *modal
}

func (v *AdminView) showNewUser() *UserDialog {
	var roles []string
	for _, r := range api.Roles {
		if r != api.RoleSystemManager || v.role == api.RoleSystemManager {
			roles = append(roles, string(r))
		}
	}
	d := &UserDialog{Login: widget.NewEntry(), Name: widget.NewEntry(), Email: widget.NewEntry(), Role: widget.NewSelect(roles, nil), Message: widget.NewLabel("")}
	d.Login.SetPlaceHolder("login ID")
	d.Name.SetPlaceHolder("full name")
	d.Email.SetPlaceHolder("e-mail (optional)")
	d.Role.PlaceHolder = "role"
	d.Message.Wrapping = fyne.TextWrapWord
	d.Create = widget.NewButton("Create", func() {
		req := api.CreateUserRequest{LoginID: strings.TrimSpace(d.Login.Text), Name: strings.TrimSpace(d.Name.Text),
			Email: strings.TrimSpace(d.Email.Text), Role: api.Role(d.Role.Selected)}
		go func() {
			u, pw, err := v.c.CreateUser(context.Background(), req)
			do(func() {
				if err != nil {
					d.Message.SetText("Not created: " + err.Error())
					return
				}
				d.m.hide()
				v.Message.SetText(fmt.Sprintf("Created %s %s; temporary password (shown once; to be changed at the first sign-in): %s", u.Role, u.LoginID, pw))
				v.Refresh()
			})
		}()
	})
	d.Create.Importance = widget.HighImportance
	d.m = showModal(v.canvas, "New account", container.NewVBox(d.Login, d.Name, d.Email, d.Role, d.Message,
		container.NewHBox(d.Create, widget.NewButton("Cancel", func() { d.m.hide() }))), 420)
	return d
}

// SearchAudit reads the audit log with the filters (older: the page after the last one read).
func (v *AdminView) SearchAudit(older bool) {
	q, err := v.auditQuery()
	if err != nil {
		v.Message.SetText(err.Error())
		return
	}
	if older {
		if v.next == 0 {
			v.Message.SetText("No older records.")
			return
		}
		q.Before = v.next
	}
	c := v.c
	go func() {
		recs, next, err := c.Audit(context.Background(), q)
		do(func() {
			if err != nil {
				v.Message.SetText("Audit log: " + err.Error())
				return
			}
			if older {
				v.Records = append(v.Records, recs...)
			} else {
				v.Records = recs
			}
			v.next = next
			v.audit.Refresh()
		})
	}()
}

func (v *AdminView) auditQuery() (AuditQuery, error) {
	q := AuditQuery{Login: strings.TrimSpace(v.Login.Text), Action: strings.TrimSpace(v.Action.Text)}
	if s := strings.TrimSpace(v.Patient.Text); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, fmt.Errorf("patient ID %q is not a number", s)
		}
		q.PatientID = id
	}
	for _, f := range []struct {
		text string
		dst  *time.Time
		end  bool
	}{{v.Since.Text, &q.Since, false}, {v.Until.Text, &q.Until, true}} {
		if s := strings.TrimSpace(f.text); s != "" {
			t, err := time.ParseInLocation("2006-01-02", s, time.Local)
			if err != nil {
				return q, fmt.Errorf("date %q: want YYYY-MM-DD", s)
			}
			if f.end {
				t = t.Add(24*time.Hour - time.Nanosecond)
			}
			*f.dst = t
		}
	}
	return q, nil
}
