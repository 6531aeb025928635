// Package conformance holds the codec conformance tests and benchmarks: every compressed image of pydicom's
// corpus and files made in the test by dcmtk, GDCM and OpenJPH, decoded by the viewer with every codec
// registered (the Go JPEG decoders, OpenJPEG, CharLS) and compared with GDCM's decoding. It has no code of
// its own; its tests need cgo.
package conformance
