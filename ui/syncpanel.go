package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// SyncStatus is where the workstation stands with the central server.
type SyncStatus struct {
	Configured bool   // a server is configured at all
	Server     string // its address
	Online     bool   // the last call to the server got an answer
	LoggedIn   bool
	Offline    bool // the session rests on the cached credential
	User       string
	Outbox     int // items waiting to be sent
	Dead       int // items the server refused for good
	Skipped    int // changes of the server's feed skipped as unreadable (listed by `neuronova sync`)
	LastSync   time.Time
	LastError  string
	Running    bool
}

// Syncer is the workstation's link to the central server; sync/engine implements it through an adapter
// in cmd/neuronova, so that this package builds without cgo.
type Syncer interface {
	Status(ctx context.Context) (SyncStatus, error)
	// Login logs in online, or offline with the cached credential when the server cannot be reached.
	Login(ctx context.Context, user, password string) error
	// Round pulls the worklist and studies and pushes the outbox once; p may be called from any goroutine.
	Round(ctx context.Context, p func(phase string, done, total int)) (summary string, err error)
}

// RefusedResender is a Syncer that can queue the items the server refused for good again, for the next
// round (once a person fixed the cause): the panel then offers "Send refused again".
type RefusedResender interface {
	QueueRefusedAgain(ctx context.Context) (int, error)
}

// SyncPanel shows the link to the server (online or offline, the outbox, the last sync), logs in, and runs
// a sync round on demand with progress and cancel. Status is polled every few seconds in a worker.
type SyncPanel struct {
	// OnStatus receives every status read, for the status bar; OnSynced is called after a round.
	OnStatus func(SyncStatus)
	OnSynced func(summary string, err error)

	s        Syncer
	state    *widget.Label
	user     *hotEntry
	password *hotEntry
	login    *hotButton
	syncNow  *hotButton
	resend   *hotButton // Send refused again: shown while the server refused items and s is a RefusedResender
	round    *task
	result   *widget.Label
	box      *fyne.Container
	last     SyncStatus
}

// syncPoll is how often the panel reads the status.
const syncPoll = 5 * time.Second

// NewSyncPanel makes the panel for s (nil: no server configured) and starts polling its status.
func NewSyncPanel(s Syncer) *SyncPanel {
	p := &SyncPanel{s: s, state: widget.NewLabel(""), user: newEntry(), password: newPasswordEntry(),
		round: newTask(), result: widget.NewLabel("")}
	p.state.Wrapping, p.result.Wrapping = fyne.TextWrapWord, fyne.TextWrapWord
	p.user.SetPlaceHolder("login ID")
	p.password.SetPlaceHolder("password")
	p.password.OnSubmitted = func(string) { p.Login() }
	p.login = newButton("Log in", "", p.Login)
	p.syncNow = newButton("Sync now", "Pull the worklist and studies, push the outbox", p.Sync)
	p.resend = newButton("Send refused again", "Queue the items the server refused again and sync: once the cause is fixed (say the order is now assigned to you)", p.SendRefused)
	p.resend.Hide()
	p.box = container.NewVBox(p.state, p.user, p.password, p.login, p.syncNow, p.resend, p.round.content(), p.result)
	if s == nil {
		p.show(SyncStatus{})
		return p
	}
	p.Poll()
	go func() {
		for range time.Tick(syncPoll) {
			do(p.Poll)
		}
	}()
	return p
}

// Content is the panel's canvas object.
func (p *SyncPanel) Content() fyne.CanvasObject { return p.box }

// Status returns the status last read.
func (p *SyncPanel) Status() SyncStatus { return p.last }

// Poll reads the status in a worker and shows it.
func (p *SyncPanel) Poll() {
	if p.s == nil {
		return
	}
	s := p.s
	go func() {
		st, err := s.Status(context.Background())
		do(func() {
			if err != nil {
				st.LastError = err.Error()
			}
			p.show(st)
		})
	}()
}

func (p *SyncPanel) show(st SyncStatus) {
	p.last = st
	p.state.SetText(SyncLine(st))
	loggedIn := st.LoggedIn
	for _, o := range []fyne.CanvasObject{p.user, p.password, p.login} {
		if st.Configured && !loggedIn {
			o.Show()
		} else {
			o.Hide()
		}
	}
	if st.Configured && loggedIn && !p.round.running() {
		p.syncNow.Enable()
	} else {
		p.syncNow.Disable()
	}
	if _, ok := p.s.(RefusedResender); ok && st.Dead > 0 && loggedIn && !st.Offline {
		p.resend.Show()
	} else {
		p.resend.Hide()
	}
	if p.OnStatus != nil {
		p.OnStatus(st)
	}
}

// Login logs in with the entered credentials (in a worker).
func (p *SyncPanel) Login() {
	if p.s == nil {
		return
	}
	s, user, password := p.s, p.user.Text, p.password.Text
	p.login.Disable()
	go func() {
		err := s.Login(context.Background(), user, password)
		do(func() {
			p.login.Enable()
			p.password.SetText("")
			if err != nil {
				p.result.SetText("Login failed: " + err.Error())
			} else {
				p.result.SetText("")
			}
			p.Poll()
		})
	}()
}

// Sync runs one round in a worker, with progress and a cancel button.
func (p *SyncPanel) Sync() { p.sync("") }

// sync is Sync with a line said before the round's summary.
func (p *SyncPanel) sync(before string) {
	if p.s == nil {
		return
	}
	var summary string
	s := p.s
	started := p.round.start("Syncing", func(ctx context.Context, prog progressFunc) (err error) {
		summary, err = s.Round(ctx, prog)
		return err
	}, func(err error) {
		if err != nil {
			summary = fmt.Sprintf("%s\nSync incomplete: %v", summary, err)
		}
		if before != "" {
			summary = before + "\n" + summary
		}
		p.result.SetText(summary)
		p.Poll()
		if p.OnSynced != nil {
			p.OnSynced(summary, err)
		}
	})
	if started {
		p.syncNow.Disable()
		p.result.SetText(before)
	}
}

// SendRefused queues the items the server refused again (in a worker), then runs a round.
func (p *SyncPanel) SendRefused() {
	r, ok := p.s.(RefusedResender)
	if !ok || p.round.running() {
		return
	}
	p.resend.Disable()
	go func() {
		n, err := r.QueueRefusedAgain(context.Background())
		do(func() {
			p.resend.Enable()
			if err != nil {
				p.result.SetText("The refused items could not be queued again: " + err.Error())
				return
			}
			p.sync(fmt.Sprintf("%d refused items queued again", n))
		})
	}()
}

// SyncLine says where the workstation stands, in one line, for the panel and the status bar.
func SyncLine(st SyncStatus) string {
	if !st.Configured {
		return "No server configured (--server URL or NEURONOVA_SERVER): working from the local cache."
	}
	var line string
	switch {
	case !st.LoggedIn:
		line = "Not logged in to " + st.Server
	case st.Online && !st.Offline:
		line = fmt.Sprintf("Online as %s", st.User)
	case st.Offline:
		line = fmt.Sprintf("Offline as %s (cached login)", st.User)
	default:
		line = fmt.Sprintf("Offline as %s", st.User)
	}
	line += fmt.Sprintf(" · outbox %d", st.Outbox)
	if st.Dead > 0 {
		line += fmt.Sprintf(" (%d refused)", st.Dead)
	}
	if st.Skipped > 0 {
		line += fmt.Sprintf(" · %d unreadable server changes skipped", st.Skipped)
	}
	if st.LastSync.IsZero() {
		line += " · never synced"
	} else {
		line += " · last sync " + st.LastSync.Format("2006-01-02 15:04")
	}
	if st.LastError != "" {
		line += " · " + st.LastError
	}
	return line
}
