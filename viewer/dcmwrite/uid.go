// Package dcmwrite writes DICOM files: MR image series from volumes (WriteSeries, WriteStudy) and the
// reusable pieces other writers build on (UIDs, the element Builder, Encode/WriteFile with file meta and
// tag order).
package dcmwrite

import "github.com/neuronova/neuronova/internal/dicomkit"

// NewUID returns a fresh UID under the 2.25 root: the decimal value of a random (version 4) UUID.
//
// Deprecated: use dicomkit.NewUID (kept until sync/deid switches).
func NewUID() string { return dicomkit.NewUID() }

// DeterministicUID returns a UID under the 2.25 root derived from a hash of parts, for reproducible
// output: the same parts always give the same UID.
//
// Deprecated: use dicomkit.DeterministicUID (kept until inference/dicomseg switches).
func DeterministicUID(parts ...string) string { return dicomkit.DeterministicUID(parts...) }

// ImplementationClassUID identifies files written by this package (file meta (0002,0012)).
var ImplementationClassUID = dicomkit.DeterministicUID("neuronova", "dcmwrite", "implementation class")

// ImplementationVersionName is written as (0002,0013).
const ImplementationVersionName = "NEURONOVA_1"
