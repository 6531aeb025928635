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
	var st *viewer.Study
	if *input == "" {
		st = demo.Study()
	} else {
		res, err := open([]string{*input}, stderr)
		if err != nil {
			return err
		}
		if len(res.Rejected) > 0 {
			fmt.Fprintf(stderr, "neuronova: skipped %d files in %s (see `neuronova info %s`)\n", len(res.Rejected), *input, *input)
		}
		if len(res.Studies) > 1 {
			fmt.Fprintf(stderr, "neuronova: %s holds %d studies; showing the first, %s\n", *input, len(res.Studies), res.Studies[0].UID)
		}
		st = res.Studies[0]
	}

	a := app.NewWithID("org.neuronova.workstation")
	a.SetIcon(assets.Icon)
	a.Settings().SetTheme(ui.ReadingRoom{})
	w := a.NewWindow("NeuroNova — " + st.Description)
	ws := ui.NewWorkstation(st)
	w.SetContent(ws.Content())
	w.Canvas().SetOnTypedKey(ws.TypedKey)
	w.Resize(fyne.NewSize(1200, 760))
	w.ShowAndRun()
	return nil
}
