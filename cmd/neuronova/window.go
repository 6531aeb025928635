package main

import (
	"fmt"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/neuronova/neuronova/assets"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// cmdView opens the workstation window on --input, or on the demo study.
func cmdView(args []string, stderr io.Writer) error {
	fs := newFlags("neuronova", stderr)
	input := fs.String("input", "", "DICOM file or folder, or BraTS NIfTI folder (default: the demo study)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q (did you mean --input %s?)", errUsage, fs.Arg(0), fs.Arg(0))
	}
	// The worklist holds the studies at --input, then the demo study.
	var studies []*viewer.Study
	if *input != "" {
		res, err := open([]string{*input}, stderr)
		if err != nil {
			return err
		}
		if len(res.Rejected) > 0 {
			fmt.Fprintf(stderr, "neuronova: skipped %d files in %s (see `neuronova info %s`)\n", len(res.Rejected), *input, *input)
		}
		studies = res.Studies
	}
	studies = append(studies, demo.Study())

	a := app.NewWithID("org.neuronova.workstation")
	a.SetIcon(assets.Icon)
	a.Settings().SetTheme(ui.ReadingRoom{})
	w := a.NewWindow("NeuroNova")
	ws := ui.NewWorkstation(w.Canvas(), studies)
	w.SetContent(ws.Content())
	w.Canvas().SetOnTypedKey(ws.TypedKey)
	w.Canvas().SetOnTypedRune(ws.TypedRune)
	w.Resize(fyne.NewSize(1280, 800))
	w.ShowAndRun()
	return nil
}
