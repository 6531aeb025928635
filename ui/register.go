package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
)

// PatientDialog registers a patient.
type PatientDialog struct {
	Name, BirthDate, Phone *widget.Entry
	Gender                 *widget.Select
	Register, Cancel       *widget.Button
	Message                *widget.Label
	m                      *modal
}

func showNewPatient(c fyne.Canvas, cl Clinic, done func(*api.Patient)) *PatientDialog {
	d := &PatientDialog{Name: widget.NewEntry(), BirthDate: widget.NewEntry(), Phone: widget.NewEntry(),
		Gender: widget.NewSelect([]string{"F", "M", "O"}, nil), Message: widget.NewLabel("")}
	d.Name.SetPlaceHolder("name, as the patient writes it")
	d.BirthDate.SetPlaceHolder("birth date, YYYY-MM-DD")
	d.Phone.SetPlaceHolder("phone (optional)")
	d.Gender.PlaceHolder = "sex"
	d.Message.Wrapping = fyne.TextWrapWord
	d.Register = widget.NewButton("Register", func() {
		req := api.CreatePatientRequest{Name: strings.TrimSpace(d.Name.Text), BirthDate: strings.TrimSpace(d.BirthDate.Text),
			Gender: d.Gender.Selected, Phone: strings.TrimSpace(d.Phone.Text)}
		if req.Name == "" || req.BirthDate == "" || req.Gender == "" {
			d.Message.SetText("Name, birth date and sex are needed.")
			return
		}
		d.Register.Disable()
		go func() {
			p, err := cl.RegisterPatient(context.Background(), req)
			do(func() {
				d.Register.Enable()
				if err != nil {
					d.Message.SetText("Not registered: " + err.Error())
					return
				}
				d.m.hide()
				done(p)
			})
		}()
	})
	d.Register.Importance = widget.HighImportance
	d.Cancel = widget.NewButton("Cancel", func() { d.m.hide() })
	d.m = showModal(c, "New patient", container.NewVBox(d.Name, d.BirthDate, d.Gender, d.Phone, d.Message,
		container.NewHBox(d.Register, d.Cancel)), 420)
	return d
}

// OrderDialog orders a job for a patient.
type OrderDialog struct {
	Patient            *widget.Select
	JobType, Priority  *widget.Select
	Clinical           *widget.Entry
	Create, CancelForm *widget.Button
	Message            *widget.Label
	patients           map[string]int64 // choice → patient ID
	m                  *modal
}

// jobChoices are the jobs a doctor orders from the workstation: the imaging (RIS) job types.
var jobChoices = []string{"MRI", "CT", "PET"}

func showNewOrder(c fyne.Canvas, cl Clinic, done func(*api.Order)) *OrderDialog {
	d := &OrderDialog{Patient: widget.NewSelect(nil, nil), JobType: widget.NewSelect(jobChoices, nil),
		Priority: widget.NewSelect([]string{"normal", "urgent"}, nil), Clinical: widget.NewMultiLineEntry(),
		Message: widget.NewLabel("Loading the patients…"), patients: map[string]int64{}}
	d.Patient.PlaceHolder = "patient"
	d.JobType.SetSelected("MRI")
	d.Priority.SetSelected("normal")
	d.Clinical.SetPlaceHolder("clinical information: history, question for the reader")
	d.Clinical.SetMinRowsVisible(4)
	d.Message.Wrapping = fyne.TextWrapWord
	go func() {
		ps, err := cl.Patients(context.Background(), "")
		do(func() {
			if err != nil {
				d.Message.SetText("The patients could not be listed: " + err.Error())
				return
			}
			var names []string
			for _, p := range ps {
				name := fmt.Sprintf("%s (%s)", p.Name, p.Number)
				d.patients[name] = p.ID
				names = append(names, name)
			}
			d.Patient.SetOptions(names)
			d.Message.SetText("")
		})
	}()
	d.Create = widget.NewButton("Order", func() {
		id, ok := d.patients[d.Patient.Selected]
		if !ok {
			d.Message.SetText("Choose the patient.")
			return
		}
		info, _ := json.Marshal(map[string]string{"_template": "RIS", "clinical_info": strings.TrimSpace(d.Clinical.Text)})
		req := api.CreateOrderRequest{PatientID: id, JobRole: api.JobRIS, JobType: d.JobType.Selected, Priority: d.Priority.Selected,
			DoctorRequest: info}
		d.Create.Disable()
		go func() {
			o, err := cl.CreateOrder(context.Background(), req)
			do(func() {
				d.Create.Enable()
				if err != nil {
					d.Message.SetText("Not ordered: " + err.Error())
					return
				}
				d.m.hide()
				done(o)
			})
		}()
	})
	d.Create.Importance = widget.HighImportance
	d.CancelForm = widget.NewButton("Cancel", func() { d.m.hide() })
	d.m = showModal(c, "New imaging order", container.NewVBox(d.Patient, d.JobType, d.Priority, d.Clinical, d.Message,
		container.NewHBox(d.Create, d.CancelForm)), 460)
	return d
}

// SelectPatient chooses the patient with number in the dialog's list (false when it is not listed).
func (d *OrderDialog) SelectPatient(number string) bool {
	for _, name := range d.Patient.Options {
		if strings.HasSuffix(name, "("+number+")") {
			d.Patient.SetSelected(name)
			return true
		}
	}
	return false
}
