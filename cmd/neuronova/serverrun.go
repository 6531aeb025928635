package main

import (
	"context"
	"errors"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

var _ ui.ServerRunner = (*clinic)(nil)

// serverRunWait bounds how long the window follows a job on the server's queue.
const serverRunWait = 30 * time.Minute

// RunM1OnServer sends M1 of st's study, or of its exam's studies, to the server's job queue (onserver.go) and
// follows it: each step is a stage of p; it returns once the result is in the cache, with its SEG pulled.
func (k *clinic) RunM1OnServer(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (string, error) {
	if s := k.e.Session(); s == nil || s.Offline {
		return "", errors.New("sign in to the server (online) to run M1 there")
	}
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
	o := onServer{c: k.c, cl: k.cl, e: k.e, say: func(line string) { p(line, 0, 0) }}
	return o.run(ctx, api.ModelM1, append([]string{st.UID}, others...), orderID, inputs, serverRunWait)
}
