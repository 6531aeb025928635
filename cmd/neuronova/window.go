package main

import (
	"fmt"
	"io"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"

	"github.com/neuronova/neuronova/assets"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// cmdView opens the workstation window on --input, or on the demo study, with the local cache's worklist.
func cmdView(args []string, stderr io.Writer) error {
	fs := newFlags("neuronova", stderr)
	input := fs.String("input", "", "DICOM file or folder, or BraTS NIfTI folder (default: the demo study)")
	data := dataFlag(fs)
	server := fs.String("server", os.Getenv("NEURONOVA_SERVER"), "central server URL for sync (default $NEURONOVA_SERVER; none: offline only)")
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

	// The local cache feeds the worklist and receives imports; without it the session studies still open.
	svc := ui.Services{User: os.Getenv("USER")}
	c, err := openCacheDir(*data, false, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "neuronova: the local cache is not available (%v); showing this session's studies only\n", err)
	} else {
		defer c.Close()
		svc.Library = library{c}
		// Sync needs the cache (outbox, cached credential) and a server address.
		if *server != "" {
			cl, err := client.New(*server, client.Options{})
			if err != nil {
				return fmt.Errorf("%w: --server: %v", errUsage, err)
			}
			e := engine.New(c, cl, engine.Options{Logger: discardLogger()})
			svc.Sync = syncer{e: e, server: cl.BaseURL()}
			svc.Clinic = newClinic(e, c)
		}
	}

	a := app.NewWithID("org.neuronova.workstation")
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	a.Settings().SetTheme(ui.ReadingRoom{})
	// The AI models, on the GPU when ONNX Runtime's CUDA build is installed, else on the CPU.
	var an analyzer
	if rt, closeRT, err := inferRuntime("", "auto", 1); err != nil {
		fmt.Fprintf(stderr, "neuronova: the AI models are not available: %v\n", err)
	} else {
		defer closeRT()
		an = windowAnalyzer(rt, c, stderr) // model runs through the job queue (analyzerjobs.go)
		defer an.closeJobs()
		svc.AI = an.forWindow()
	}

	w := a.NewWindow("NeuroNova")
	ws := ui.NewWorkstation(w.Canvas(), svc, studies)
	an.showJobs(ws)
	if c != nil {
		importDemoOnce(ws, c) // the first run on a cache: the demo study goes into it
		ws.Edit.OnSave = editSaver(c)
	}
	w.SetContent(ws.Content())
	w.Canvas().SetOnTypedKey(ws.TypedKey)
	w.Canvas().SetOnTypedRune(ws.TypedRune)
	// Files and folders dropped on the window, or chosen from the menu, go into the cache.
	w.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { ws.Import(localPaths(uris)) })
	importFolder := fyne.NewMenuItem("Import folder…", func() {
		dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				ws.Import(localPaths([]fyne.URI{u}))
			}
		}, w)
	})
	importFile := fyne.NewMenuItem("Import file (DICOM, ZIP, DICOMDIR)…", func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				r.Close()
				ws.Import(localPaths([]fyne.URI{r.URI()}))
			}
		}, w)
	})
	w.SetMainMenu(fyne.NewMainMenu(fyne.NewMenu("File", importFolder, importFile)))
	w.Resize(fyne.NewSize(1280, 800))
	ws.ChoosePDF = func(name string, done func(string)) { choosePDF(w, name, done) }
	ws.AI.ChooseCSV = func(title string, done func(string)) { chooseCSV(w, title, done) }
	if ws.Clinic != nil {
		ws.Clinic.ShowSignIn()
	}
	w.ShowAndRun()
	// The reader's preferences, panel sizes included, before the cache closes.
	if err := ws.SavePreferences(true); err != nil {
		fmt.Fprintf(stderr, "neuronova: preferences not kept: %v\n", err)
	}
	return nil
}

// localPaths keeps the file-system paths of uris.
func localPaths(uris []fyne.URI) []string {
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	return paths
}

// choosePDF asks where to write a PDF named name.
func choosePDF(w fyne.Window, name string, done func(string)) {
	d := dialog.NewFileSave(func(f fyne.URIWriteCloser, err error) {
		if err != nil || f == nil {
			done("")
			return
		}
		f.Close()
		done(f.URI().Path())
	}, w)
	d.SetFileName(name)
	d.Show()
}
