package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// ReadingRoom is a dark theme for dim reading rooms: near-black surfaces so the images carry the contrast,
// muted chrome, one teal accent, and compact sizes so the viewports get the space.
type ReadingRoom struct{}

var _ fyne.Theme = ReadingRoom{}

var readingRoomColors = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameBackground:          color.NRGBA{R: 0x0b, G: 0x0d, B: 0x10, A: 0xff},
	theme.ColorNameHeaderBackground:    color.NRGBA{R: 0x14, G: 0x17, B: 0x1c, A: 0xff},
	theme.ColorNameMenuBackground:      color.NRGBA{R: 0x14, G: 0x17, B: 0x1c, A: 0xff},
	theme.ColorNameOverlayBackground:   color.NRGBA{R: 0x14, G: 0x17, B: 0x1c, A: 0xff},
	theme.ColorNameInputBackground:     color.NRGBA{R: 0x17, G: 0x1b, B: 0x21, A: 0xff},
	theme.ColorNameInputBorder:         color.NRGBA{R: 0x2a, G: 0x30, B: 0x38, A: 0xff},
	theme.ColorNameButton:              color.NRGBA{R: 0x1b, G: 0x20, B: 0x27, A: 0xff},
	theme.ColorNameDisabledButton:      color.NRGBA{R: 0x15, G: 0x18, B: 0x1d, A: 0xff},
	theme.ColorNameForeground:          color.NRGBA{R: 0xc9, G: 0xd1, B: 0xd9, A: 0xff},
	theme.ColorNameDisabled:            color.NRGBA{R: 0x5c, G: 0x66, B: 0x70, A: 0xff},
	theme.ColorNamePlaceHolder:         color.NRGBA{R: 0x6b, G: 0x75, B: 0x80, A: 0xff},
	theme.ColorNamePrimary:             color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff},
	theme.ColorNameFocus:               color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0x66},
	theme.ColorNameHover:               color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0x0f},
	theme.ColorNamePressed:             color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0x1a},
	theme.ColorNameSelection:           color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0x40},
	theme.ColorNameSeparator:           color.NRGBA{R: 0x22, G: 0x27, B: 0x2e, A: 0xff},
	theme.ColorNameScrollBar:           color.NRGBA{R: 0x44, G: 0x4c, B: 0x56, A: 0xff},
	theme.ColorNameScrollBarBackground: color.NRGBA{R: 0x11, G: 0x13, B: 0x17, A: 0xff},
	theme.ColorNameShadow:              color.NRGBA{A: 0x99},
	theme.ColorNameError:               color.NRGBA{R: 0xf8, G: 0x71, B: 0x71, A: 0xff},
	theme.ColorNameWarning:             color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff},
	theme.ColorNameSuccess:             color.NRGBA{R: 0x4a, G: 0xde, B: 0x80, A: 0xff},
}

// Color returns the reading-room colour whatever the system variant: a reading room is always dark.
func (ReadingRoom) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	if c, ok := readingRoomColors[n]; ok {
		return c
	}
	return theme.DefaultTheme().Color(n, theme.VariantDark)
}

func (ReadingRoom) Font(s fyne.TextStyle) fyne.Resource     { return theme.DefaultTheme().Font(s) }
func (ReadingRoom) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

// Size trims padding and text a little: more pixels for images, less for chrome.
func (ReadingRoom) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNamePadding:
		return 3
	case theme.SizeNameInnerPadding:
		return 6
	case theme.SizeNameText:
		return 13
	case theme.SizeNameSeparatorThickness:
		return 1
	}
	return theme.DefaultTheme().Size(n)
}
