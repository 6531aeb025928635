// Package render turns a viewer.Volume into images: window/level through an exact lookup table, orthogonal
// multiplanar reslicing in patient orientation (axial, coronal, sagittal), label-map overlays, and picking
// between image coordinates, voxel indices and patient positions.
//
// Image coordinates are continuous: pixel (px, py) of a plane image covers [px, px+1) × [py, py+1), so its
// centre, which is a voxel centre, is at (px+0.5, py+0.5). A widget that draws the image scaled, panned,
// flipped or rotated converts its own coordinates to these and calls the Plane methods; Plane.PixelSpacing
// gives the aspect ratio to draw with.
//
// The package is plain Go with no GUI dependency. Rendering writes into caller-provided images and buffers
// and does not allocate.
package render
