package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
)

// ResultCard shows one stored AI result of an order — the model with its banner and provenance, the volumes
// and heads, its review — and, for the roles that review, approves or rejects it with a comment.
type ResultCard struct {
	Result          api.AIResult
	Banner, Text    *widget.Label
	Comment         *widget.Entry
	Approve, Reject *widget.Button // nil for the roles that do not review
	content         *fyne.Container
}

// newResultCard makes the card of r; review sends a review in a worker and done reports on the UI goroutine.
func newResultCard(r api.AIResult, role api.Role, c Clinic, done func(error)) *ResultCard {
	card := &ResultCard{Result: r, Banner: widget.NewLabel(""), Text: widget.NewLabel("")}
	card.Banner.Wrapping, card.Text.Wrapping = fyne.TextWrapWord, fyne.TextWrapWord
	card.Banner.Importance = widget.WarningImportance
	card.Banner.TextStyle.Bold = true
	card.content = container.NewVBox(card.Banner, card.Text)
	card.show()
	if !offers(role, ActResultReview) || r.ReviewStatus != api.ReviewPending {
		return card
	}
	card.Comment = widget.NewEntry()
	card.Comment.SetPlaceHolder("review comment")
	review := func(status string) {
		req := api.ReviewRequest{Status: status, Comment: card.Comment.Text}
		card.Approve.Disable()
		card.Reject.Disable()
		go func() {
			err := c.Review(context.Background(), r.ID, req)
			do(func() {
				if err != nil {
					card.Approve.Enable()
					card.Reject.Enable()
				}
				done(err)
			})
		}()
	}
	card.Approve = widget.NewButton("Approve the AI result", func() { review(api.ReviewApproved) })
	card.Reject = widget.NewButton("Reject", func() { review(api.ReviewRejected) })
	card.Approve.Importance = widget.SuccessImportance
	card.content.Add(card.Comment)
	card.content.Add(container.NewHBox(card.Approve, card.Reject))
	return card
}

func (card *ResultCard) show() {
	r := card.Result
	head := fmt.Sprintf("%s %s %s · %s", r.ID, r.Model, r.ModelVersion, r.CreatedAt.Local().Format("2006-01-02 15:04"))
	lines := []string{head}
	if s, err := api.ParseM1Summary(r.Result); err == nil {
		card.Banner.SetText(s.Banner)
		lines = append(lines, s.Lines()...)
		lines = append(lines, fmt.Sprintf("model %s %s, sha256 %s…, provider %s", s.Model.ID, s.Model.Version, short(s.Model.SHA256, 12),
			s.Runtime.Provider.Used))
	} else {
		lines = append(lines, "result: "+short(string(r.Result), 200))
	}
	review := "review: " + r.ReviewStatus
	if r.ReviewComment != "" {
		review += " — " + r.ReviewComment
	}
	card.Text.SetText(strings.Join(append(lines, review), "\n"))
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Content is the card's canvas object.
func (card *ResultCard) Content() fyne.CanvasObject { return card.content }
