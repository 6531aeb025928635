package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// tagBrowser lists the DICOM header of the active viewport's image, with a filter (G).
type tagBrowser struct {
	pop     *widget.PopUp
	filter  *hotEntry
	list    *widget.List
	title   *widget.Label
	all     []viewer.TagLine
	visible []viewer.TagLine
}

// ShowTags opens the tag browser on the image the active viewport shows (read in a worker).
func (w *Workstation) ShowTags() {
	vp := w.Reading.Active()
	vol := vp.Volume()
	if vol == nil {
		w.message.SetText("No image shown: no header to browse.")
		return
	}
	s, _ := vp.Slice()
	pl, _ := vp.Plane()
	k, native := pl.SourceSlice(s)
	var path string
	switch {
	case len(vol.Slices) == 0:
		w.message.SetText("This series was not read from DICOM (a NIfTI folder or the in-memory demo): it has no header to browse.")
		return
	case native:
		path = vol.Slices[k].Path
	default:
		// A reformatted plane has no image of its own: show the series' middle image.
		path = vol.Slices[len(vol.Slices)/2].Path
	}
	b := w.tagBrowser()
	b.title.SetText(fmt.Sprintf("DICOM header: %s", path))
	b.set(nil)
	b.pop.Show()
	w.canvas.Focus(b.filter)
	go func() {
		lines, err := viewer.Tags(path)
		do(func() {
			if err != nil {
				b.title.SetText(err.Error())
				return
			}
			b.set(lines)
		})
	}()
}

func (w *Workstation) tagBrowser() *tagBrowser {
	if w.tags != nil {
		return w.tags
	}
	b := &tagBrowser{filter: newEntry(), title: widget.NewLabel("")}
	b.title.Truncation = fyne.TextTruncateEllipsis
	b.filter.SetPlaceHolder("Filter: tag, name or value")
	b.filter.OnChanged = func(string) { b.apply() }
	b.list = widget.NewList(func() int { return len(b.visible) },
		func() fyne.CanvasObject {
			return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			l := b.visible[i]
			o.(*widget.Label).SetText(fmt.Sprintf("%s%-11s %-2s %-36s %s", strings.Repeat("  ", l.Depth), l.Tag, l.VR, l.Name, l.Value))
		})
	closeBtn := newButton("Close (Esc)", "", func() { b.pop.Hide() })
	content := container.NewBorder(container.NewVBox(b.title, b.filter), closeBtn, nil, nil, b.list)
	b.pop = widget.NewModalPopUp(content, w.canvas)
	size := w.canvas.Size()
	b.pop.Resize(fyne.NewSize(min(size.Width-40, 960), size.Height-40))
	w.tags = b
	return b
}

func (b *tagBrowser) set(lines []viewer.TagLine) {
	b.all = lines
	b.apply()
}

// apply keeps the lines whose tag, name or value holds the filter's text.
func (b *tagBrowser) apply() {
	q := strings.ToLower(strings.TrimSpace(b.filter.Text))
	b.visible = b.visible[:0]
	for _, l := range b.all {
		if q == "" || strings.Contains(strings.ToLower(l.Tag+" "+l.Name+" "+l.Value), q) {
			b.visible = append(b.visible, l)
		}
	}
	b.list.Refresh()
}

// TagsShown returns the lines the tag browser lists, "" when it is closed.
func (w *Workstation) TagsShown() []viewer.TagLine {
	if w.tags == nil || w.tags.pop.Hidden {
		return nil
	}
	return w.tags.visible
}
