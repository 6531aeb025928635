// Package models embeds NeuroNova's demonstration models: each .onnx file with its model card
// (<id>.card.json) and example inputs under examples/. They are produced by the recipe in
// recipes/demomodels; regenerate or verify them with
//
//	go run ./recipes/demomodels -out assets/models [-check]
package models

import "embed"

// FS holds the cards, the models and the examples, at the root of the file system.
//
//go:embed *.card.json *.onnx examples
var FS embed.FS
