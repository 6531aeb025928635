package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// scriptedSyncer plays a server for the panel's behaviour; the engine itself is tested against a real
// server, Redis and Orthanc in sync/engine.
type scriptedSyncer struct {
	mu     sync.Mutex
	status SyncStatus
	rounds int
	block  chan struct{} // when set, Round waits for it or for cancellation
}

func (s *scriptedSyncer) Status(context.Context) (SyncStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, nil
}

func (s *scriptedSyncer) Login(_ context.Context, user, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if password != "right" {
		return errors.New("LOGIN_FAIL: wrong login ID or password")
	}
	s.status.LoggedIn, s.status.User = true, user
	return nil
}

func (s *scriptedSyncer) Round(ctx context.Context, p func(string, int, int)) (string, error) {
	p("push", 1, 2)
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return "pushed 1", ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rounds++
	s.status.Outbox, s.status.LastSync = 0, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return "pushed 2; outbox left 0", nil
}

func TestSyncPanel(t *testing.T) {
	newTestApp(t)
	s := &scriptedSyncer{status: SyncStatus{Configured: true, Server: "http://127.0.0.1:8080", Online: true, Outbox: 2}}
	p := NewSyncPanel(s)
	w := test.NewWindow(p.Content())
	defer w.Close()
	waitFor(t, "the first status", func() bool { return p.Status().Configured })
	if got := p.state.Text; !strings.Contains(got, "Not logged in") || !strings.Contains(got, "outbox 2") {
		t.Errorf("status %q", got)
	}
	if p.login.Hidden || !p.syncNow.Disabled() {
		t.Error("before login: the login form must show and Sync now must be disabled")
	}

	test.Type(p.user, "doctor1")
	test.Type(p.password, "wrong")
	test.Tap(p.login)
	waitFor(t, "the refusal", func() bool { return strings.Contains(p.result.Text, "LOGIN_FAIL") })
	test.Type(p.password, "right")
	test.Tap(p.login)
	waitFor(t, "the login", func() bool { return p.Status().LoggedIn && !p.syncNow.Disabled() })
	if !p.login.Hidden || !strings.Contains(p.state.Text, "Online as doctor1") {
		t.Errorf("after login: form hidden %v, status %q", p.login.Hidden, p.state.Text)
	}

	// A round that is cancelled reports so, and the next one completes.
	s.block = make(chan struct{})
	test.Tap(p.syncNow)
	waitFor(t, "the round to start", func() bool { return !p.round.cancel.Hidden && strings.Contains(p.round.line.Text, "push 1/2") })
	test.Tap(p.round.cancel)
	// Sync now comes back with the status read after the round (Poll, in a worker).
	waitFor(t, "the cancellation", func() bool {
		return strings.Contains(p.result.Text, "Sync incomplete: context canceled") && !p.syncNow.Disabled()
	})
	s.block = nil
	var summary string
	p.OnSynced = func(s string, err error) { summary = s }
	test.Tap(p.syncNow)
	waitFor(t, "the round to end", func() bool { return summary != "" })
	if summary != "pushed 2; outbox left 0" {
		t.Errorf("summary %q", summary)
	}
	waitFor(t, "the new status", func() bool { return strings.Contains(p.state.Text, "outbox 0 · last sync 2026-12-01") })

	if line := SyncLine(SyncStatus{}); !strings.Contains(line, "No server configured") {
		t.Errorf("unconfigured: %q", line)
	}
	if line := SyncLine(SyncStatus{Configured: true, LoggedIn: true, Online: true, User: "ris1", Skipped: 2}); !strings.Contains(line, "2 unreadable server changes skipped") {
		t.Errorf("skipped changes: %q", line)
	}
	if line := SyncLine(SyncStatus{Configured: true, LoggedIn: true, Offline: true, User: "nurse1", Outbox: 3, Dead: 1}); !strings.Contains(line, "Offline as nurse1 (cached login) · outbox 3 (1 refused)") {
		t.Errorf("offline: %q", line)
	}
}

// resendingSyncer is a scriptedSyncer that can queue refused items again.
type resendingSyncer struct {
	scriptedSyncer
	queued int
}

func (s *resendingSyncer) QueueRefusedAgain(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.status.Dead
	s.queued += n
	s.status.Dead = 0
	return n, nil
}

// "Send refused again" shows only while the server refused items (online, logged in, with a syncer that can
// resend): it queues them again and runs a round, saying how many went back.
func TestSyncPanelSendsRefusedAgain(t *testing.T) {
	newTestApp(t)
	s := &resendingSyncer{scriptedSyncer: scriptedSyncer{status: SyncStatus{Configured: true, Server: "http://127.0.0.1:8080", Online: true,
		LoggedIn: true, User: "ris1", Outbox: 3, Dead: 2}}}
	p := NewSyncPanel(s)
	w := test.NewWindow(p.Content())
	defer w.Close()
	waitFor(t, "the status", func() bool { return p.Status().Dead == 2 })
	if p.resend.Hidden {
		t.Fatal("Send refused again is hidden while 2 items are refused")
	}
	var summary string
	p.OnSynced = func(s string, err error) { summary = s }
	test.Tap(p.resend)
	waitFor(t, "the round", func() bool { return summary != "" })
	if s.queued != 2 || s.rounds != 1 || !strings.Contains(p.result.Text, "2 refused items queued again\npushed 2") {
		t.Errorf("queued %d, %d rounds, result %q", s.queued, s.rounds, p.result.Text)
	}
	waitFor(t, "the button to go", func() bool { return p.resend.Hidden })

	plain := NewSyncPanel(&scriptedSyncer{status: SyncStatus{Configured: true, Online: true, LoggedIn: true, Dead: 1}})
	waitFor(t, "the plain syncer's status", func() bool { return plain.Status().Dead == 1 })
	if !plain.resend.Hidden {
		t.Error("Send refused again offered by a syncer that cannot resend")
	}
}
