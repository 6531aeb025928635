// Package dcmwrite writes DICOM files: MR image series from volumes (WriteSeries, WriteStudy) and the
// reusable pieces other writers build on (the element Builder, Encode/WriteFile with file meta and tag
// order); UIDs come from dicomkit.
package dcmwrite

import "github.com/neuronova/neuronova/internal/dicomkit"

// ImplementationClassUID identifies files written by this package (file meta (0002,0012)).
var ImplementationClassUID = dicomkit.DeterministicUID("neuronova", "dcmwrite", "implementation class")

// ImplementationVersionName is written as (0002,0013).
const ImplementationVersionName = "NEURONOVA_1"
