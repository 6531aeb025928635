package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
)

// toastFor is how long a toast stays.
const toastFor = 5 * time.Second

// NotificationText says what a notification announces, in one line.
func NotificationText(n api.Notification) string {
	switch n.Type {
	case api.EventOrderCreated:
		return fmt.Sprintf("New order %s: %s", n.OrderID, n.Message)
	case api.EventOrderStatusChanged:
		return fmt.Sprintf("Order %s is now %s", n.OrderID, n.ToStatus)
	case api.EventOrderCancelled:
		return fmt.Sprintf("Order %s was cancelled", n.OrderID)
	case api.EventAIResult:
		return fmt.Sprintf("%s result %s for order %s", n.Model, n.ResultID, orDash(n.OrderID))
	case api.EventAIReviewed:
		return fmt.Sprintf("%s result %s reviewed (order %s)", n.Model, n.ResultID, orDash(n.OrderID))
	case api.EventJobFinished:
		return fmt.Sprintf("AI job %s finished", n.JobID)
	case api.EventResync:
		return "Notifications were missed: the orders were read again"
	}
	return strings.TrimSpace(n.Type + " " + n.Message)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Notices is the notification badge (how many arrived since the reader last looked; a tap lists them) and
// the toast, a line beside it that shows each for a moment without taking the pointer or the keyboard.
type Notices struct {
	Badge  *widget.Button
	Toast  *widget.Label
	Recent []api.Notification // newest last
	Unread int
	canvas fyne.Canvas
	shown  int // toasts shown, so that an old timer does not clear a newer toast
}

func newNotices(c fyne.Canvas) *Notices {
	n := &Notices{canvas: c, Toast: widget.NewLabel("")}
	n.Toast.Importance = widget.HighImportance
	n.Toast.TextStyle.Bold = true
	n.Badge = widget.NewButton("Notifications", n.list)
	return n
}

// Add counts, keeps and toasts a notification (on the UI goroutine).
func (n *Notices) Add(note api.Notification) {
	n.Recent = append(n.Recent, note)
	if len(n.Recent) > 50 {
		n.Recent = n.Recent[len(n.Recent)-50:]
	}
	n.Unread++
	n.Badge.SetText(fmt.Sprintf("Notifications (%d)", n.Unread))
	n.Badge.Importance = widget.HighImportance
	n.Badge.Refresh()
	n.Toast.SetText(NotificationText(note))
	n.shown++
	shown := n.shown
	time.AfterFunc(toastFor, func() {
		do(func() {
			if n.shown == shown {
				n.Toast.SetText("")
			}
		})
	})
}

// Reset forgets the notifications (another user signed in).
func (n *Notices) Reset() {
	n.Recent, n.Unread = nil, 0
	n.shown++
	n.Toast.SetText("")
	n.read()
}

func (n *Notices) read() {
	n.Unread = 0
	n.Badge.SetText("Notifications")
	n.Badge.Importance = widget.MediumImportance
	n.Badge.Refresh()
}

// list shows the recent notifications and marks them read.
func (n *Notices) list() {
	n.read()
	var lines []string
	for i := len(n.Recent) - 1; i >= 0; i-- {
		r := n.Recent[i]
		lines = append(lines, r.At.Local().Format("15:04:05")+"  "+NotificationText(r))
	}
	if len(lines) == 0 {
		lines = []string{"No notification yet."}
	}
	scroll := container.NewVScroll(widget.NewLabel(strings.Join(lines, "\n")))
	scroll.SetMinSize(fyne.NewSize(500, 300))
	var m *modal
	m = showModal(n.canvas, "Notifications", container.NewBorder(nil, widget.NewButton("Close", func() { m.hide() }), nil, nil, scroll), 520)
}
