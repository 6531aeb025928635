package engine

import (
	"context"
	"errors"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/client"
)

// pingEvery is how often an idle notification stream asks for a pong, so that proxies keep it open.
const pingEvery = 30 * time.Second

// errNoSession: nobody is signed in online yet (or the password must be changed first); Listen waits.
var errNoSession = errors.New("no online session for notifications")

// Listen holds the server's notification WebSocket while ctx lasts and hands each notification to on (from
// its own goroutine) once the change feed is read, so that the cache already holds what it announces. After
// any loss it reconnects with backoff and jitter (from 200 ms up to Options.NotifyRetryMax), sending the ID of
// the last notification received as Last-Event-ID: the server replays what was missed, or sends RESYNC when
// it no longer keeps that far back, and the feed is read again. Without a session it waits and tries again.
func (e *Engine) Listen(ctx context.Context, on func(api.Notification)) {
	fails := 0
	for ctx.Err() == nil {
		connected, err := e.listenOnce(ctx, on)
		if ctx.Err() != nil {
			return
		}
		if connected {
			fails = 0
		}
		fails++
		if !errors.Is(err, errNoSession) {
			e.log.Info("notifications: reconnecting", "attempt", fails, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(fails, roundRetryBase, e.opts.NotifyRetryMax)):
		}
	}
}

// listenOnce holds one connection until it ends; connected says whether it opened.
func (e *Engine) listenOnce(ctx context.Context, on func(api.Notification)) (connected bool, err error) {
	if s := e.Session(); s == nil || s.User.MustChangePassword || e.client == nil {
		return false, errNoSession
	}
	if err := e.ensureOnline(ctx); err != nil {
		return false, err
	}
	e.clinic.mu.Lock()
	last := e.clinic.lastID
	e.clinic.mu.Unlock()
	stream, err := e.client.Notifications(ctx, last)
	if err != nil {
		if client.IsOffline(err) {
			e.setOnline(false, err)
		}
		return false, err
	}
	defer stream.Close()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				stream.Ping(sctx)
			}
		}
	}()
	for {
		n, err := stream.Next(ctx)
		if err != nil {
			return true, err
		}
		if n.ID != "" {
			e.clinic.mu.Lock()
			e.clinic.lastID = n.ID
			e.clinic.mu.Unlock()
		}
		if n.Type != api.EventJobFinished {
			// What it announces is in the feed (orders, results, reviews; RESYNC: whatever was missed).
			if _, err := e.RefreshFeed(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("notifications: the change feed could not be read", "type", n.Type, "err", err)
			}
		}
		on(n)
	}
}
