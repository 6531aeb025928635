// Package charls registers viewer decoders for JPEG-LS lossless and near-lossless, through the CharLS 2.4
// library (cgo, Debian libcharls-dev). Import it for its side effect:
//
//	import _ "github.com/neuronova/neuronova/viewer/codec/charls"
//
// Built without cgo, the package is empty and registers nothing: the viewer then refuses these syntaxes
// with viewer.ErrUnsupportedTransferSyntax.
package charls
