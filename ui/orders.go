package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
)

// orderColumns are the Orders view's columns: title, width and the order's value.
var orderColumns = []struct {
	title string
	width float32
	value func(o api.Order, now time.Time) string
}{
	{"Order", 75, func(o api.Order, _ time.Time) string { return o.ID }},
	{"Patient", 150, func(o api.Order, _ time.Time) string { return o.PatientName + " (" + o.PatientNumber + ")" }},
	{"Job", 70, func(o api.Order, _ time.Time) string { return string(o.JobRole) + " " + o.JobType }},
	{"Priority", 60, func(o api.Order, _ time.Time) string { return o.Priority }},
	{"Status", 115, func(o api.Order, _ time.Time) string { return string(o.Status) }},
	{"Ordered by", 110, func(o api.Order, _ time.Time) string { return o.DoctorName }},
	{"Worker", 100, func(o api.Order, _ time.Time) string { return o.WorkerName }},
	{"Age", 55, func(o api.Order, now time.Time) string { return Age(now.Sub(o.CreatedAt)) }},
}

// Age writes how long ago something happened, in the largest whole unit: 40 s, 12 min, 5 h, 3 d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}

// OrdersView lists the orders of the local cache (fed by the server's change feed, so it works offline)
// with filters — mine, unassigned, open, status — and, for the roles that may, registers patients and
// creates orders. Choosing a row opens the order.
type OrdersView struct {
	// OnOpen is called with the order chosen.
	OnOpen func(id string)
	// Mine, Unassigned and Open filter; Status chooses one status.
	Mine, Unassigned, Open *hotCheck
	Status                 *hotSelect
	// NewPatient and NewOrder are nil for the roles that may not register patients or create orders;
	// PatientForm and OrderForm are their dialogs last opened.
	NewPatient, NewOrder *hotButton
	PatientForm          *PatientDialog
	OrderForm            *OrderDialog
	Note                 *widget.Label

	c       Clinic
	canvas  fyne.Canvas
	orders  []api.Order
	gen     int
	now     func() time.Time
	table   *hotTable
	content fyne.CanvasObject
}

// allStatuses is the Status filter's choice for every status.
const allStatuses = "any status"

func newOrdersView(c Clinic, canvas fyne.Canvas, role api.Role) *OrdersView {
	v := &OrdersView{c: c, canvas: canvas, now: time.Now, Note: widget.NewLabel("")}
	refresh := func(bool) { v.Refresh() }
	v.Mine, v.Unassigned, v.Open = newCheck("Mine", refresh), newCheck("Unassigned", refresh), newCheck("Open only", refresh)
	v.Mine.Checked = role == api.RoleDoctor
	v.Open.Checked = true
	statuses := []string{allStatuses}
	for _, s := range []api.OrderStatus{api.OrderOrdered, api.OrderAccepted, api.OrderInProgress, api.OrderResultReady, api.OrderConfirmed, api.OrderCancelled} {
		statuses = append(statuses, string(s))
	}
	v.Status = newSelect(statuses, func(string) { v.Refresh() })
	v.Status.Selected = allStatuses
	v.table = newTable(
		func() (int, int) { return len(v.orders), len(orderColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(orderColumns[id.Col].value(v.orders[id.Row], v.now()))
		})
	v.table.ShowHeaderRow = true
	v.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	v.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		o.(*widget.Label).SetText(orderColumns[id.Col].title)
	}
	for i, col := range orderColumns {
		v.table.SetColumnWidth(i, col.width)
	}
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.orders) && v.OnOpen != nil {
			v.OnOpen(v.orders[id.Row].ID)
		}
	}
	bar := container.NewHBox(v.Mine, v.Unassigned, v.Open, v.Status, newButton("Refresh", "Reread the orders from the server", v.Refresh))
	if offers(role, ActPatientCreate) {
		v.NewPatient = newButton("New patient…", "Register a patient", func() { v.PatientForm = showNewPatient(v.canvas, v.c, func(*api.Patient) { v.Refresh() }) })
		bar.Add(v.NewPatient)
	}
	if offers(role, ActOrderCreate) {
		v.NewOrder = newButton("New order…", "Order an examination for a patient", func() { v.OrderForm = showNewOrder(v.canvas, v.c, func(*api.Order) { v.Refresh() }) })
		bar.Add(v.NewOrder)
	}
	v.content = container.NewBorder(bar, v.Note, nil, nil, v.table)
	return v
}

// Content is the view's canvas object.
func (v *OrdersView) Content() fyne.CanvasObject { return v.content }

// Orders returns the orders listed, in order.
func (v *OrdersView) Orders() []api.Order { return v.orders }

// Refresh lists the orders again (the cache is read in a worker).
func (v *OrdersView) Refresh() {
	v.gen++
	gen := v.gen
	f := OrderFilter{Mine: v.Mine.Checked, Unassigned: v.Unassigned.Checked, Open: v.Open.Checked}
	if v.Status.Selected != allStatuses {
		f.Status = api.OrderStatus(v.Status.Selected)
	}
	c := v.c
	go func() {
		orders, err := c.Orders(context.Background(), f)
		do(func() {
			if gen != v.gen {
				return
			}
			if err != nil {
				v.Note.SetText("Orders: " + err.Error())
				return
			}
			v.orders = orders
			v.table.UnselectAll()
			v.table.Refresh()
			switch len(orders) {
			case 0:
				v.Note.SetText("No order matches (orders come from the server at each sync).")
			case 1:
				v.Note.SetText("1 order")
			default:
				v.Note.SetText(fmt.Sprintf("%d orders", len(orders)))
			}
		})
	}()
}
