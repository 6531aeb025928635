package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/mg"
)

// mgJobInputs are the inputs of an MG job (api.JobRequest.Inputs): the gene-expression CSV itself, since a
// worker has no other way to it.
type mgJobInputs struct {
	ModelID   string `json:"model_id,omitempty"`   // a model of the MG family; "" the default
	GenesCSV  string `json:"genes_csv"`            // Hugo_Symbol,Entrez_Gene_Id,Expression
	GenesName string `json:"genes_name,omitempty"` // the file's name, for the provenance
}

// parseMGInputs reads an MG job's inputs; the gene CSV is required.
func parseMGInputs(raw json.RawMessage) (mgJobInputs, error) {
	var in mgJobInputs
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("%w: its inputs are not MG inputs (model_id, genes_csv, genes_name): %v", errJobInvalid, err)
	}
	if strings.TrimSpace(in.GenesCSV) == "" {
		return in, fmt.Errorf("%w: an MG job needs its gene CSV (inputs genes_csv)", errJobInvalid)
	}
	return in, nil
}

// runMG runs MG on the job's gene CSV and returns the result.
func (w *worker) runMG(ctx context.Context, j *api.Job) (api.AIResultUpload, error) {
	in, err := parseMGInputs(j.Inputs)
	if err != nil {
		return api.AIResultUpload{}, err
	}
	if _, err := mg.ParseCSV(strings.NewReader(in.GenesCSV)); err != nil {
		return api.AIResultUpload{}, fmt.Errorf("%w: the gene CSV: %v", errJobInvalid, err) // the same every time
	}
	start := time.Now()
	res, err := mg.RunBytes(ctx, w.rt, in.ModelID, []byte(in.GenesCSV), in.GenesName)
	if err != nil {
		return api.AIResultUpload{}, fmt.Errorf("MG: %w", err)
	}
	w.logf("job %s: %s %s ran in %.1fs on %s", j.ID, res.Model.ID, res.Model.Version, time.Since(start).Seconds(), res.Runtime.Provider.Used)
	js, err := json.Marshal(res)
	if err != nil {
		return api.AIResultUpload{}, err
	}
	prov, err := json.Marshal(map[string]any{"model": res.Model, "runtime": res.Runtime,
		"job": map[string]any{"id": j.ID, "attempt": j.Attempts, "worker": w.o.user}})
	if err != nil {
		return api.AIResultUpload{}, err
	}
	return api.AIResultUpload{Model: api.ModelMG, ModelVersion: res.Model.Version, PatientID: j.PatientID, OrderID: j.OrderID,
		StudyUID: j.StudyUID, Result: js, Provenance: prov}, nil
}
