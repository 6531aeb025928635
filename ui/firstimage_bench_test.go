package ui

import (
	"context"
	"os"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
)

// BenchmarkFirstImage opens the DICOM series folder NEURONOVA_FIRST_IMAGE_DIR (scripts/bench-first-image.sh
// writes one: 155 files, 240×240, unsigned 16-bit) as the window does — viewer.Open, the workstation's hanging
// protocol, the volume loaded in a worker, the viewport's render worker — and stops when the first image is
// on the viewport's canvas: files on disk to the first rendered image, in one process.
func BenchmarkFirstImage(b *testing.B) {
	dir := os.Getenv("NEURONOVA_FIRST_IMAGE_DIR")
	if dir == "" {
		b.Skip("NEURONOVA_FIRST_IMAGE_DIR is not set (scripts/bench-first-image.sh sets it)")
	}
	test.NewTempApp(b)
	win := test.NewWindow(nil)
	defer win.Close()
	win.Resize(fyne.NewSize(1280, 800))
	// The benchmark acts as the UI goroutine, letting the workers' callbacks in while it waits.
	uiLock.Lock()
	defer uiLock.Unlock()
	for b.Loop() {
		res, err := viewer.Open(context.Background(), []string{dir})
		if err != nil || len(res.Studies) != 1 {
			b.Fatalf("open %s: %v (%d studies)", dir, err, len(res.Studies))
		}
		w := NewWorkstation(win.Canvas(), Services{}, res.Studies)
		win.SetContent(w.Content())
		vp := w.Reading.Viewport(0)
		for vp.shown.Load() == 0 {
			uiLock.Unlock()
			time.Sleep(50 * time.Microsecond) // not a spin: the workers need the CPUs
			uiLock.Lock()
		}
	}
}
