package main

import (
	"context"
	"time"

	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/sync/synccli"
	"github.com/neuronova/neuronova/ui"
)

// syncer adapts the sync engine to the workstation's ui.Syncer.
type syncer struct {
	e      *engine.Engine
	server string
}

var (
	_ ui.Syncer          = syncer{}
	_ ui.RefusedResender = syncer{}
)

func (s syncer) Status(ctx context.Context) (ui.SyncStatus, error) {
	st, err := s.e.Status(ctx)
	return ui.SyncStatus{Configured: true, Server: s.server, Online: st.Online, LoggedIn: st.LoggedIn, Offline: st.Offline,
		User: st.User, Outbox: st.Outbox, Dead: st.Dead, Skipped: st.Skipped, LastSync: st.LastSync, LastError: st.LastError, Running: st.Running}, err
}

func (s syncer) Login(ctx context.Context, user, password string) error {
	_, err := s.e.Login(ctx, user, password)
	return err
}

func (s syncer) Round(ctx context.Context, p func(phase string, done, total int)) (string, error) {
	start := time.Now()
	sum, err := s.e.Round(ctx, func(pr engine.Progress) { p(string(pr.Phase), pr.Done, pr.Total) })
	if sum == nil {
		return "", err
	}
	return synccli.Format(sum, time.Since(start)), err
}

func (s syncer) QueueRefusedAgain(ctx context.Context) (int, error) {
	return s.e.QueueRefusedAgain(ctx)
}
