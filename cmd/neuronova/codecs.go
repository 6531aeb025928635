package main

// The workstation decodes JPEG 2000, High-Throughput JPEG 2000 and JPEG-LS itself, through OpenJPEG and
// CharLS (cgo); the viewer's core decodes the rest in Go.
import (
	_ "github.com/neuronova/neuronova/viewer/codec/charls"
	_ "github.com/neuronova/neuronova/viewer/codec/openjpeg"
)
