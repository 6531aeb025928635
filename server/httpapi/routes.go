package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server/orthanc"
)

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string // Go routing pattern; "{$}" pins a trailing slash to an exact match
	// Roles may call the route: api.Permissions[Action], filled in when the mux is built; nil means public.
	Roles []api.Role
	// public routes take no token (health, readiness, login, refresh).
	public bool
	// RateLimited routes take one request from the caller's token bucket in Redis (per user, per client
	// address when public). DICOM transfer (/api/orthanc/*) and the WebSocket are not limited.
	RateLimited bool
	// PatientData routes touch patient data: each call leaves an audit record, committed before the answer.
	PatientData bool
	// BeforePasswordChange routes stay open to a user who must change the password first.
	BeforePasswordChange bool
	// Action names the route in the audit log.
	Action string
	// MaxBody bounds the request body of JSON routes; default 64 KiB.
	MaxBody int64
	handle  func(*call) error
}

// Name is the method and path of the route, as users and tests read it.
func (r *Route) Name() string { return r.Method + " " + r.Path() }

// Path is the pattern without its "{$}" anchor.
func (r *Route) Path() string { return strings.TrimSuffix(r.Pattern, "{$}") }

// Public reports whether the route needs no token.
func (r *Route) Public() bool { return r.public }

// table is the route table: every route of the API and nothing else. Roles, rate limits and auditing are
// enforced from here, not from handlers; handlers add the ownership rules (own patients, own orders).
func (s *Server) table() []*Route {
	r := []*Route{
		{Method: "GET", Pattern: "/healthz", public: true, Action: "health", handle: s.health},
		{Method: "GET", Pattern: "/readyz", public: true, Action: "ready", handle: s.ready},

		{Method: "POST", Pattern: "/api/auth/login/{$}", public: true, RateLimited: true, Action: "auth.login", handle: s.login},
		{Method: "POST", Pattern: "/api/auth/refresh/{$}", public: true, RateLimited: true, Action: "auth.refresh", handle: s.refresh},
		{Method: "POST", Pattern: "/api/auth/logout/{$}", RateLimited: true, BeforePasswordChange: true, Action: "auth.logout", handle: s.logout},
		{Method: "GET", Pattern: "/api/auth/me/{$}", RateLimited: true, BeforePasswordChange: true, Action: "auth.me", handle: s.me},
		{Method: "POST", Pattern: "/api/auth/change-password/{$}", RateLimited: true, BeforePasswordChange: true, Action: "auth.change_password", handle: s.changePassword},

		{Method: "GET", Pattern: "/api/users/{$}", RateLimited: true, Action: "user.list", handle: s.listUsers},
		{Method: "POST", Pattern: "/api/users/{$}", RateLimited: true, Action: "user.create", handle: s.createUser},
		{Method: "PATCH", Pattern: "/api/users/{id}/{$}", RateLimited: true, Action: "user.update", handle: s.updateUser},
		{Method: "POST", Pattern: "/api/users/{id}/unlock/{$}", RateLimited: true, Action: "user.unlock", handle: s.unlockUser},
		{Method: "POST", Pattern: "/api/users/{id}/reset-password/{$}", RateLimited: true, Action: "user.reset_password", handle: s.resetPassword},

		{Method: "GET", Pattern: "/api/patients/{$}", RateLimited: true, PatientData: true, Action: "patient.list", handle: s.listPatients},
		{Method: "POST", Pattern: "/api/patients/{$}", RateLimited: true, PatientData: true, Action: "patient.create", handle: s.createPatient},
		{Method: "GET", Pattern: "/api/patients/{id}/{$}", RateLimited: true, PatientData: true, Action: "patient.read", handle: s.getPatient},
		{Method: "PATCH", Pattern: "/api/patients/{id}/{$}", RateLimited: true, PatientData: true, Action: "patient.update", handle: s.updatePatient},
		{Method: "GET", Pattern: "/api/patients/{id}/studies/{$}", RateLimited: true, PatientData: true, Action: "patient.studies", handle: s.patientStudies},

		{Method: "GET", Pattern: "/api/ocs/{$}", RateLimited: true, PatientData: true, Action: "order.list", handle: s.listOrders},
		{Method: "POST", Pattern: "/api/ocs/{$}", RateLimited: true, PatientData: true, Action: "order.create", handle: s.createOrder},
		{Method: "GET", Pattern: "/api/ocs/{id}/{$}", RateLimited: true, PatientData: true, Action: "order.read", handle: s.getOrder},
		{Method: "PATCH", Pattern: "/api/ocs/{id}/{$}", RateLimited: true, PatientData: true, Action: "order.update", handle: s.updateOrder},
		{Method: "POST", Pattern: "/api/ocs/{id}/accept/{$}", RateLimited: true, PatientData: true, Action: "order.accept", handle: s.orderAction("accept")},
		{Method: "POST", Pattern: "/api/ocs/{id}/start/{$}", RateLimited: true, PatientData: true, Action: "order.start", handle: s.orderAction("start")},
		{Method: "POST", Pattern: "/api/ocs/{id}/save_result/{$}", RateLimited: true, PatientData: true, Action: "order.save_result", MaxBody: 1 << 20, handle: s.orderAction("save_result")},
		{Method: "POST", Pattern: "/api/ocs/{id}/submit_result/{$}", RateLimited: true, PatientData: true, Action: "order.submit_result", MaxBody: 1 << 20, handle: s.orderAction("submit_result")},
		{Method: "POST", Pattern: "/api/ocs/{id}/confirm/{$}", RateLimited: true, PatientData: true, Action: "order.confirm", MaxBody: 1 << 20, handle: s.orderAction("confirm")},
		{Method: "POST", Pattern: "/api/ocs/{id}/cancel/{$}", RateLimited: true, PatientData: true, Action: "order.cancel", handle: s.orderAction("cancel")},

		{Method: "POST", Pattern: "/api/ai/results/{$}", RateLimited: true, PatientData: true, Action: "ai_result.upload", MaxBody: 5 << 20, handle: s.uploadResult},
		{Method: "GET", Pattern: "/api/ai/results/{$}", RateLimited: true, PatientData: true, Action: "ai_result.list", handle: s.listResults},
		{Method: "GET", Pattern: "/api/ai/results/{id}/{$}", RateLimited: true, PatientData: true, Action: "ai_result.read", handle: s.getResult},
		{Method: "POST", Pattern: "/api/ai/results/{id}/review/{$}", RateLimited: true, PatientData: true, Action: "ai_result.review", handle: s.reviewResult},
		{Method: "POST", Pattern: "/api/ai/results/{id}/withdraw/{$}", RateLimited: true, PatientData: true, Action: "ai_result.withdraw", handle: s.withdrawResult},

		{Method: "GET", Pattern: "/api/changes/{$}", RateLimited: true, PatientData: true, Action: "changes.read", handle: s.changes},

		{Method: "POST", Pattern: "/api/audit/events/{$}", RateLimited: true, Action: "audit.forward", MaxBody: 1 << 20, handle: s.forwardAudit},
		{Method: "GET", Pattern: "/api/audit/{$}", RateLimited: true, PatientData: true, Action: "audit.query", handle: s.queryAudit},

		{Method: "POST", Pattern: "/api/jobs/{$}", RateLimited: true, PatientData: true, Action: "job.submit", MaxBody: 1 << 20, handle: s.submitJob},
		{Method: "POST", Pattern: "/api/jobs/claim/{$}", RateLimited: true, PatientData: true, Action: "job.claim", handle: s.claimJob},
		{Method: "GET", Pattern: "/api/jobs/dead/{$}", RateLimited: true, PatientData: true, Action: "job.dead", handle: s.deadJobs},
		{Method: "GET", Pattern: "/api/jobs/{id}/{$}", RateLimited: true, PatientData: true, Action: "job.read", handle: s.getJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/renew/{$}", RateLimited: true, PatientData: true, Action: "job.renew", handle: s.renewJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/complete/{$}", RateLimited: true, PatientData: true, Action: "job.complete", MaxBody: 5 << 20, handle: s.completeJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/fail/{$}", RateLimited: true, PatientData: true, Action: "job.fail", handle: s.failJob},

		// Not a path of Orthanc: the server's own list of a study's instances with their stored sizes and MD5s.
		{Method: "GET", Pattern: "/api/orthanc/studies/{id}/manifest", PatientData: true, Action: "orthanc.manifest", handle: s.studyManifest},

		{Method: "GET", Pattern: "/ws/notifications", PatientData: true, Action: "notifications.connect", handle: s.notifications},
	}
	return append(r, s.proxyRoutes()...)
}

// proxyRoutes is the allow-list of the Orthanc proxy: each entry forwards to one Orthanc path template.
func (s *Server) proxyRoutes() []*Route {
	type p struct {
		method, path string
		kind         proxyKind
		query        orthanc.QueryParams // the query parameters forwarded; any other is refused
	}
	const dw = "/dicom-web/studies/{study}"
	none := orthanc.NoQuery
	list := []p{
		{"GET", "/studies/{id}", proxyRead, orthanc.ResourceQuery},
		{"GET", "/studies/{id}/series", proxyRead, orthanc.ChildrenQuery},
		{"GET", "/studies/{id}/instances", proxyRead, orthanc.ChildrenQuery},
		{"GET", "/studies/{id}/archive", proxyRead, none},
		{"GET", "/series/{id}", proxyRead, orthanc.ResourceQuery},
		{"GET", "/series/{id}/instances", proxyRead, orthanc.ChildrenQuery},
		{"GET", "/series/{id}/archive", proxyRead, none},
		{"GET", "/instances/{id}", proxyRead, orthanc.ResourceQuery},
		{"GET", "/instances/{id}/file", proxyRead, none},
		{"GET", "/instances/{id}/simplified-tags", proxyRead, orthanc.TagsQuery},
		{"GET", "/instances/{id}/tags", proxyRead, orthanc.TagsQuery},
		{"GET", "/instances/{id}/preview", proxyRead, none},
		{"GET", "/instances/{id}/attachments/dicom/md5", proxyRead, none},
		{"POST", "/instances/{id}/modify", proxyTranscode, none},
		{"POST", "/tools/find", proxySearch, none},
		{"POST", "/tools/lookup", proxySearch, none},
		{"POST", "/instances", proxyUpload, none},
		{"GET", "/dicom-web/studies", proxySearch, orthanc.QIDOStudies},
		{"POST", "/dicom-web/studies", proxyUpload, none},
		{"GET", dw, proxyRead, none},
		{"GET", dw + "/metadata", proxyRead, none},
		{"GET", dw + "/series", proxyRead, orthanc.QIDOSeries},
		{"GET", dw + "/series/{series}", proxyRead, none},
		{"GET", dw + "/series/{series}/metadata", proxyRead, none},
		{"GET", dw + "/series/{series}/instances", proxyRead, orthanc.QIDOInstances},
		{"GET", dw + "/series/{series}/instances/{instance}", proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/metadata", proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/frames/{frames}", proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/bulk/{tag}", proxyRead, none},
	}
	out := make([]*Route, 0, len(list))
	for _, e := range list {
		out = append(out, &Route{Method: e.method, Pattern: "/api/orthanc" + e.path, PatientData: true,
			Action: "orthanc." + string(e.kind), handle: s.proxy(e.path, e.kind, e.query)})
	}
	return out
}

// unknownRoute is the audit action of calls to paths outside the route table.
const unknownRoute = "unknown_route"

// buildMux registers every route, and the fallbacks that answer 401 without a token and 404 with one for
// anything else under /api/ and /ws/.
func (s *Server) buildMux() (*http.ServeMux, error) {
	mux := http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range s.routes {
		if seen[rt.Method+" "+rt.Pattern] {
			return nil, fmt.Errorf("route %s is in the table twice", rt.Name())
		}
		seen[rt.Method+" "+rt.Pattern] = true
		if rt.Action == "" || rt.handle == nil {
			return nil, fmt.Errorf("route %s lacks an action or a handler", rt.Name())
		}
		if !rt.public {
			if rt.Roles = api.Permissions[rt.Action]; len(rt.Roles) == 0 {
				return nil, fmt.Errorf("route %s: action %s has no entry in api.Permissions", rt.Name(), rt.Action)
			}
		}
		mux.Handle(rt.Method+" "+rt.Pattern, s.serve(rt))
	}
	for _, prefix := range []string{"/api/", "/ws/"} {
		fallback := &Route{Method: "ANY", Pattern: prefix, Roles: api.Roles, BeforePasswordChange: true, Action: unknownRoute,
			handle: func(c *call) error {
				return errorf(api.CodeNotFound, "no route %s %s (Orthanc paths outside the proxy's allow-list are refused too)",
					c.r.Method, c.r.URL.EscapedPath())
			}}
		mux.Handle(prefix, s.serve(fallback))
	}
	return mux, nil
}
