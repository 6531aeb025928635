package ui

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// KeyImage is an image the reader marked: the viewport as shown, annotations and measurements included.
type KeyImage struct {
	Image   image.Image
	Caption string // series, plane and image number, patient and date
}

// KeyImagePanel holds the key images of the session (K marks the active viewport's image), shows them, and
// writes them as PNG; the report's PDF takes them (Images).
type KeyImagePanel struct {
	w       *Workstation
	images  []KeyImage
	list    *fyne.Container
	message *widget.Label
	box     fyne.CanvasObject
	// Dir is where Export writes (default: NeuroNova/key-images in the home folder).
	Dir string
}

func newKeyImagePanel(w *Workstation) *KeyImagePanel {
	p := &KeyImagePanel{w: w, list: container.NewVBox(), message: widget.NewLabel("")}
	p.message.Wrapping = fyne.TextWrapWord
	export := newButton("Export PNG", "Write the key images as PNG files", func() { p.Export() })
	mark := newButton("Mark (K)", "Mark the active viewport's image as a key image", func() { p.Mark() })
	p.box = container.NewBorder(container.NewHBox(mark, export), p.message, nil, nil, container.NewVScroll(p.list))
	p.refresh()
	return p
}

// Content is the panel's canvas object.
func (p *KeyImagePanel) Content() fyne.CanvasObject { return p.box }

// Images returns the key images, for a report.
func (p *KeyImagePanel) Images() []image.Image {
	out := make([]image.Image, len(p.images))
	for i, k := range p.images {
		out[i] = k.Image
	}
	return out
}

// Keys returns the key images with their captions.
func (p *KeyImagePanel) Keys() []KeyImage { return p.images }

// capture is the active viewport as shown on the canvas, with its caption; nil when it shows nothing.
func (w *Workstation) capture() *KeyImage {
	vp := w.Reading.Active()
	if vp.Volume() == nil {
		return nil
	}
	full := w.canvas.Capture()
	scale := w.canvas.Scale()
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(vp)
	size := vp.Size()
	r := image.Rect(int(at.X*scale), int(at.Y*scale), int((at.X+size.Width)*scale), int((at.Y+size.Height)*scale)).Intersect(full.Bounds())
	img := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(img, img.Bounds(), full, r.Min, draw.Src)
	s, n := vp.Slice()
	pl, _ := vp.Plane()
	caption := fmt.Sprintf("%s %s %d/%d", strings.TrimSpace(string(vp.Series().Type)+" "+vp.Series().Description), pl.Orientation(), s+1, n)
	if st := vp.Study(); st != nil {
		caption += fmt.Sprintf(" — %s %s", viewer.PersonName(st.PatientName), viewer.FormatDate(st.StudyDate))
	}
	return &KeyImage{Image: img, Caption: caption}
}

// Mark keeps the active viewport's image as a key image.
func (p *KeyImagePanel) Mark() {
	k := p.w.capture()
	if k == nil {
		p.message.SetText("No image shown: nothing to mark.")
		return
	}
	p.images = append(p.images, *k)
	p.message.SetText(fmt.Sprintf("Key image %d: %s", len(p.images), k.Caption))
	p.refresh()
}

func (p *KeyImagePanel) refresh() {
	var rows []fyne.CanvasObject
	for i, k := range p.images {
		thumb := canvas.NewImageFromImage(k.Image)
		thumb.FillMode = canvas.ImageFillContain
		thumb.SetMinSize(fyne.NewSize(thumbSize, thumbSize))
		caption := widget.NewLabel(k.Caption)
		caption.Wrapping = fyne.TextWrapWord
		del := newButton("✕", "Remove this key image", func() {
			p.images = append(p.images[:i:i], p.images[i+1:]...)
			p.refresh()
		})
		rows = append(rows, container.NewBorder(nil, nil, thumb, del, caption))
	}
	if len(rows) == 0 {
		l := widget.NewLabel("No key images: K marks the active viewport's image, as shown.")
		l.Wrapping = fyne.TextWrapWord
		rows = append(rows, l)
	}
	p.list.Objects = rows
	p.list.Refresh()
}

// Export writes the key images as PNG files into Dir, in a worker.
func (p *KeyImagePanel) Export() {
	if len(p.images) == 0 {
		p.message.SetText("No key images to export: K marks one.")
		return
	}
	dir := p.dir()
	images := append([]KeyImage(nil), p.images...)
	go func() {
		paths, err := writePNGs(dir, images)
		do(func() {
			if err != nil {
				p.message.SetText("Export: " + err.Error())
				return
			}
			p.message.SetText(fmt.Sprintf("Wrote %d PNG files in %s", len(paths), dir))
		})
	}()
}

func (p *KeyImagePanel) dir() string {
	if p.Dir != "" {
		return p.Dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, "NeuroNova", "key-images")
}

// SaveActive writes the active viewport as shown into a PNG file of the key image folder (F7).
func (p *KeyImagePanel) SaveActive() {
	k := p.w.capture()
	if k == nil {
		p.message.SetText("No image shown: nothing to save.")
		return
	}
	dir := p.dir()
	go func() {
		paths, err := writePNGs(dir, []KeyImage{*k})
		do(func() {
			if err != nil {
				p.w.message.SetText("Screenshot: " + err.Error())
				return
			}
			p.w.message.SetText("Screenshot written: " + paths[0])
		})
	}()
}

// writePNGs writes images into dir as PNG files named by their captions, and returns the paths.
func writePNGs(dir string, images []KeyImage) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, k := range images {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ':' || r == ' ' || r == ',' {
				return '_'
			}
			return r
		}, k.Caption)
		path := filepath.Join(dir, name+".png")
		for n := 2; ; n++ {
			if _, err := os.Stat(path); err != nil {
				break
			}
			path = filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, n))
		}
		f, err := os.Create(path)
		if err != nil {
			return paths, err
		}
		if err := png.Encode(f, k.Image); err != nil {
			f.Close()
			return paths, err
		}
		if err := f.Close(); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
