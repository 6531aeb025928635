package engine

import (
	"context"
	"time"

	"github.com/neuronova/neuronova/api"
)

// The fake server's calls of the clinical workflow.

func (f *fakeServer) ChangePassword(_ context.Context, oldPassword, newPassword string) (*api.Tokens, error) {
	if err := f.call("ChangePassword"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens == nil {
		return nil, refusal(401, api.CodeUnauthorized)
	}
	if oldPassword != f.password || newPassword == oldPassword {
		return nil, refusal(400, api.CodeInvalid)
	}
	f.password, f.user.MustChangePassword = newPassword, false
	f.tokens = &api.Tokens{Access: "a2", Refresh: "r2", AccessExpiresAt: time.Now().Add(time.Hour), User: f.user}
	return f.tokens, nil
}

// SubmitOrderResult hands a report in (the fake keeps the last report of each order, saved or submitted).
func (f *fakeServer) SubmitOrderResult(_ context.Context, orderID, _ string, req api.OrderResultRequest) (*api.Order, error) {
	if err := f.call("SubmitOrderResult"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[orderID] = req.WorkerResult
	return &api.Order{ID: orderID, Status: api.OrderResultReady, Version: int64(len(f.reports))}, nil
}
