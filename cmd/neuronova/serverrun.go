package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

var (
	_ ui.ServerRunner      = (*clinic)(nil)
	_ ui.OmicsServerRunner = (*clinic)(nil)
)

// serverRunWait bounds how long the window follows a job on the server's queue.
const serverRunWait = 30 * time.Minute

// RunM1OnServer sends M1 of st's study, or of its exam's studies, to the server's job queue (onserver.go) and
// follows it: each step is a stage of p; it returns once the result is in the cache, with its SEG pulled.
func (k *clinic) RunM1OnServer(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (string, error) {
	var others []string // an exam's other studies
	for _, uid := range st.StudyUIDs() {
		if uid != st.UID {
			others = append(others, uid)
		}
	}
	inputs, err := m1Inputs("", "", st.Sequences, others) // the reader's choice of sequences, if any
	if err != nil {
		return "", err
	}
	return k.send(ctx, api.ModelM1, append([]string{st.UID}, others...), orderID, inputs, p)
}

// RunMGOnServer sends MG with the gene CSV at genes, filed with st's study, to the server's job queue and
// follows it as RunM1OnServer does.
func (k *clinic) RunMGOnServer(ctx context.Context, st *viewer.Study, genes string, p func(stage string, done, total int)) (string, error) {
	inputs, err := jobFlags{model: api.ModelMG, genes: genes}.inputs()
	if err != nil {
		return "", err
	}
	return k.send(ctx, api.ModelMG, []string{st.UID}, "", inputs, p)
}

// RunMMOnServer sends MM with the embedding of the exam's latest kept M1 result and the CSVs of in, filed with
// st's study, to the server's job queue and follows it as RunM1OnServer does.
func (k *clinic) RunMMOnServer(ctx context.Context, st *viewer.Study, in ui.MMInput, p func(stage string, done, total int)) (string, error) {
	inputs, err := jobFlags{model: api.ModelMM, genes: in.Genes, proteins: in.Proteins}.mmInputs(ctx, k.c, st.StudyUIDs())
	if err != nil {
		return "", err
	}
	return k.send(ctx, api.ModelMM, []string{st.UID}, "", inputs, p)
}

// send submits a job of model with inputs for the studies (the job's, then an exam's others) and follows it,
// each step a stage of p.
func (k *clinic) send(ctx context.Context, model string, studies []string, orderID string, inputs json.RawMessage, p func(stage string, done, total int)) (string, error) {
	if s := k.e.Session(); s == nil || s.Offline {
		return "", errors.New("sign in to the server (online) to run " + model + " there")
	}
	o := onServer{c: k.c, cl: k.cl, e: k.e, say: func(line string) { p(line, 0, 0) }}
	return o.run(ctx, model, studies, orderID, inputs, serverRunWait)
}
