package ui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// modal is a dialog drawn over the window: a title, content and buttons.
type modal struct {
	pop *widget.PopUp
}

// showModal shows content under a bold title over canvas c, width wide.
func showModal(c fyne.Canvas, title string, content fyne.CanvasObject, width float32) *modal {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	m := &modal{pop: widget.NewModalPopUp(container.NewBorder(head, nil, nil, nil, content), c)}
	m.pop.Resize(fyne.NewSize(width, m.pop.MinSize().Height))
	m.pop.Show()
	return m
}

func (m *modal) hide() { m.pop.Hide() }

// SignInDialog asks for a login and password and signs in, online or, when the server cannot be reached,
// offline with the cached credential.
type SignInDialog struct {
	Login, Password *widget.Entry
	SignIn, Skip    *widget.Button
	Message         *widget.Label
	m               *modal
}

// showSignIn opens the sign-in dialog over c; signIn runs in a worker and done gets its session on the UI
// goroutine. Skip closes it (the workstation stays usable on the local cache).
func showSignIn(c fyne.Canvas, server string, signIn func(ctx context.Context, login, password string) (*Session, error), done func(*Session, string)) *SignInDialog {
	d := &SignInDialog{Login: widget.NewEntry(), Password: widget.NewPasswordEntry(), Message: widget.NewLabel("")}
	d.Login.SetPlaceHolder("login ID")
	d.Password.SetPlaceHolder("password")
	d.Message.Wrapping = fyne.TextWrapWord
	d.SignIn = widget.NewButton("Sign in", func() {
		login, password := d.Login.Text, d.Password.Text
		if login == "" || password == "" {
			d.Message.SetText("Enter your login ID and password.")
			return
		}
		d.SignIn.Disable()
		d.Message.SetText("Signing in…")
		go func() {
			s, err := signIn(context.Background(), login, password)
			do(func() {
				d.SignIn.Enable()
				if err != nil {
					d.Password.SetText("")
					d.Message.SetText("Sign-in failed: " + err.Error())
					return
				}
				d.m.hide()
				done(s, password)
			})
		}()
	})
	d.SignIn.Importance = widget.HighImportance
	d.Password.OnSubmitted = func(string) { d.SignIn.OnTapped() }
	d.Skip = widget.NewButton("Work on the local cache", func() { d.m.hide() })
	note := widget.NewLabel("Without a network, a user who signed in on this workstation online in the last days signs in offline.")
	if server != "" {
		note.SetText("Server " + server + ". " + note.Text)
	}
	note.Wrapping = fyne.TextWrapWord
	d.m = showModal(c, "Sign in to NeuroNova", container.NewVBox(note, d.Login, d.Password, d.Message,
		container.NewHBox(d.SignIn, d.Skip)), 420)
	c.Focus(d.Login)
	return d
}

// PasswordDialog makes a user change a temporary password before anything else.
type PasswordDialog struct {
	Old, New, Repeat *widget.Entry
	Change           *widget.Button
	Message          *widget.Label
	m                *modal
}

// showPasswordChange opens the must-change-password dialog over c (old prefilled with the password just
// used); change runs in a worker, done gets the new session.
func showPasswordChange(c fyne.Canvas, login, old string, change func(ctx context.Context, old, new string) (*Session, error), done func(*Session)) *PasswordDialog {
	d := &PasswordDialog{Old: widget.NewPasswordEntry(), New: widget.NewPasswordEntry(), Repeat: widget.NewPasswordEntry(), Message: widget.NewLabel("")}
	d.Old.SetText(old)
	d.Old.SetPlaceHolder("temporary password")
	d.New.SetPlaceHolder("new password")
	d.Repeat.SetPlaceHolder("new password again")
	d.Message.Wrapping = fyne.TextWrapWord
	d.Change = widget.NewButton("Change password", func() {
		if err := checkNewPassword(d.New.Text, d.Repeat.Text); err != nil {
			d.Message.SetText(err.Error())
			return
		}
		oldPW, newPW := d.Old.Text, d.New.Text
		d.Change.Disable()
		go func() {
			s, err := change(context.Background(), oldPW, newPW)
			do(func() {
				d.Change.Enable()
				if err != nil {
					d.Message.SetText("The password was not changed: " + err.Error())
					return
				}
				d.m.hide()
				done(s)
			})
		}()
	})
	d.Change.Importance = widget.HighImportance
	note := widget.NewLabel(login + " signs in with a temporary password: choose your own (at least 10 characters) before working.")
	note.Wrapping = fyne.TextWrapWord
	d.m = showModal(c, "Change your password", container.NewVBox(note, d.Old, d.New, d.Repeat, d.Message, d.Change), 420)
	c.Focus(d.New)
	return d
}

// checkNewPassword is what the dialog checks before asking the server (which checks its own rules).
func checkNewPassword(pw, again string) error {
	switch {
	case pw != again:
		return errors.New("The two new passwords differ.")
	case len(pw) < 10:
		return errors.New("The new password needs at least 10 characters.")
	}
	return nil
}
