// Package assets embeds NeuroNova's application files: the icon here, the demo models in assets/models. It
// imports no GUI toolkit: cmd/ turns the icon into a Fyne resource.
package assets

import _ "embed"

// IconPNG is the application icon, a PNG image.
//
//go:embed icon.png
var IconPNG []byte
