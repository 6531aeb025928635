package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/mm"
)

// mmJobInputs are the inputs of an MM job (api.JobRequest.Inputs): what the submitting workstation holds —
// the MRI embedding of its latest kept M1 result of the study, the gene and protein CSVs themselves — since a
// worker has no other way to them. At least one modality is given.
type mmJobInputs struct {
	ModelID      string       `json:"model_id,omitempty"` // a model of the MM family; "" the default
	MRI          *mmEmbedding `json:"mri,omitempty"`
	MRIMissing   string       `json:"mri_missing,omitempty"` // why no MRI embedding came, as the card states it
	GenesCSV     string       `json:"genes_csv,omitempty"`   // run through MG for its gene features
	GenesName    string       `json:"genes_name,omitempty"`
	ProteinsCSV  string       `json:"proteins_csv,omitempty"` // RPPA levels
	ProteinsName string       `json:"proteins_name,omitempty"`
}

// mmEmbedding is an M1 run's MRI embedding as an MM job carries it.
type mmEmbedding struct {
	Values []float32  `json:"values"`
	Source *mm.Source `json:"source,omitempty"`
	From   string     `json:"from"` // the run it came from, as the card states it
}

// parseMMInputs reads an MM job's inputs; a job with no modality is invalid.
func parseMMInputs(raw json.RawMessage) (mmJobInputs, error) {
	var in mmJobInputs
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("%w: its inputs are not MM inputs (model_id, mri, mri_missing, genes_csv, genes_name, proteins_csv, proteins_name): %v", errJobInvalid, err)
	}
	if (in.MRI == nil || len(in.MRI.Values) == 0) && strings.TrimSpace(in.GenesCSV) == "" && strings.TrimSpace(in.ProteinsCSV) == "" {
		return in, fmt.Errorf("%w: an MM job needs at least one of its inputs mri, genes_csv, proteins_csv", errJobInvalid)
	}
	return in, nil
}

// runMM runs MM on the job's inputs (MG first on its gene CSV) and returns the result.
func (w *worker) runMM(ctx context.Context, j *api.Job) (api.AIResultUpload, error) {
	in, err := parseMMInputs(j.Inputs)
	if err != nil {
		return api.AIResultUpload{}, err
	}
	src := map[string]string{mm.ModalityMRI: notGiven, mm.ModalityGene: notGiven, mm.ModalityProtein: notGiven}
	req := mm.Request{ModelID: in.ModelID}
	if in.MRI != nil && len(in.MRI.Values) > 0 {
		req.MRI = &mm.Embedding{Values: in.MRI.Values, Source: in.MRI.Source}
		src[mm.ModalityMRI] = in.MRI.From
	} else if in.MRIMissing != "" {
		src[mm.ModalityMRI] = notGiven + " (" + in.MRIMissing + ")"
	}
	start := time.Now()
	if in.GenesCSV != "" {
		if _, err := mg.ParseCSV(strings.NewReader(in.GenesCSV)); err != nil {
			return api.AIResultUpload{}, fmt.Errorf("%w: the gene CSV: %v", errJobInvalid, err)
		}
		g, err := mg.RunBytes(ctx, w.rt, "", []byte(in.GenesCSV), in.GenesName)
		if err != nil {
			return api.AIResultUpload{}, fmt.Errorf("MG for MM: %w", err)
		}
		req.Gene = mm.FromMG(g)
		src[mm.ModalityGene] = mgSource(in.GenesName, g)
	}
	if in.ProteinsCSV != "" {
		req.ProteinCSV, req.ProteinSourceName = strings.NewReader(in.ProteinsCSV), in.ProteinsName
		src[mm.ModalityProtein] = in.ProteinsName
	}
	res, err := mm.Run(ctx, w.rt, req)
	if err != nil {
		if mmInputError(err) {
			err = fmt.Errorf("%w: %v", errJobInvalid, err) // the same every time
		}
		return api.AIResultUpload{}, fmt.Errorf("MM: %w", err)
	}
	w.logf("job %s: %s %s ran in %.1fs on %s", j.ID, res.Model.ID, res.Model.Version, time.Since(start).Seconds(), res.Runtime.Provider.Used)
	js, err := json.Marshal(res)
	if err != nil {
		return api.AIResultUpload{}, err
	}
	prov, err := json.Marshal(map[string]any{"model": res.Model, "runtime": res.Runtime, "sources": src,
		"job": map[string]any{"id": j.ID, "attempt": j.Attempts, "worker": w.o.user}})
	if err != nil {
		return api.AIResultUpload{}, err
	}
	return api.AIResultUpload{Model: api.ModelMM, ModelVersion: res.Model.Version, PatientID: j.PatientID, OrderID: j.OrderID,
		StudyUID: j.StudyUID, Result: js, Provenance: prov}, nil
}

// mmInputError reports whether MM refused its inputs (which no retry changes).
func mmInputError(err error) bool {
	for _, e := range []error{mm.ErrBadCSV, mm.ErrTooLarge, mm.ErrNoModality, mm.ErrBadEmbedding, mm.ErrUpstreamMismatch, mm.ErrTooManyMissing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
