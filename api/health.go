package api

// Health is the answer of /healthz and /readyz: "ok" or the failing dependencies.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}
