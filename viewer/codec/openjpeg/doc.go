// Package openjpeg registers viewer decoders for JPEG 2000 (Part 1 and Part 2 transfer syntaxes) and
// High-Throughput JPEG 2000, through the OpenJPEG 2.5 library (cgo, Debian libopenjp2-7-dev). Import it for
// its side effect:
//
//	import _ "github.com/neuronova/neuronova/viewer/codec/openjpeg"
//
// Built without cgo, the package is empty and registers nothing: the viewer then refuses these syntaxes
// with viewer.ErrUnsupportedTransferSyntax.
package openjpeg
