// Package assets embeds NeuroNova's application files: the icon here, the demo models in assets/models.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:embed icon.png
var icon []byte

// Icon is the application icon.
var Icon = fyne.NewStaticResource("icon.png", icon)
