package httpapi

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/neuronova/neuronova/api"
)

// health answers 200 while the process serves.
func (s *Server) health(c *call) error { return c.json(http.StatusOK, api.Health{Status: "ok"}) }

// ready answers 200 when every dependency answers, else 503 naming those that do not; a draining server
// answers 503 "draining" at once, so that the balancer sends it nothing new.
func (s *Server) ready(c *call) error {
	if s.draining.Load() {
		return c.json(http.StatusServiceUnavailable, api.Health{Status: "draining"})
	}
	ctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
	defer cancel()
	names := make([]string, 0, len(s.Ready))
	for name := range s.Ready {
		names = append(names, name)
	}
	sort.Strings(names)
	h := api.Health{Status: "ok", Checks: map[string]string{}}
	for _, name := range names {
		if err := s.Ready[name](ctx); err != nil {
			h.Status = "unavailable"
			h.Checks[name] = "unavailable" // the cause goes to the log, not to anonymous callers
			s.log.Warn("not ready", "dependency", name, "err", err)
		} else {
			h.Checks[name] = "ok"
		}
	}
	if h.Status != "ok" {
		return c.json(http.StatusServiceUnavailable, h)
	}
	return c.json(http.StatusOK, h)
}
