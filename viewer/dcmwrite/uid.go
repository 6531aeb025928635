// Package dcmwrite writes DICOM files: MR image series from volumes (WriteSeries, WriteStudy) and the
// reusable pieces other writers build on (UIDs, the element Builder, Encode/WriteFile with file meta and
// tag order).
package dcmwrite

import (
	"crypto/rand"
	"math/big"

	"github.com/neuronova/neuronova/viewer"
)

// NewUID returns a fresh UID under the 2.25 root: the decimal value of a random (version 4) UUID.
func NewUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dcmwrite: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}

// DeterministicUID returns a UID under the 2.25 root derived from a hash of parts, for reproducible
// output: the same parts always give the same UID. It is viewer.DeterministicUID.
func DeterministicUID(parts ...string) string { return viewer.DeterministicUID(parts...) }

// ImplementationClassUID identifies files written by this package (file meta (0002,0012)).
var ImplementationClassUID = DeterministicUID("neuronova", "dcmwrite", "implementation class")

// ImplementationVersionName is written as (0002,0013).
const ImplementationVersionName = "NEURONOVA_1"
