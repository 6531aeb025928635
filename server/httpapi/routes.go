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
	// Roles may call the route; nil means public (no token).
	Roles []api.Role
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
func (r *Route) Public() bool { return r.Roles == nil }

var (
	allRoles = api.Roles
	admins   = []api.Role{api.RoleSystemManager, api.RoleAdmin}
	// clinical staff see every patient.
	clinical = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse}
	orderers = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor}
	workers  = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleRIS, api.RoleLIS}
	// aiRunners run models and upload results, or claim queued jobs.
	aiRunners  = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleRIS, api.RoleLIS}
	aiReaders  = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse, api.RoleRIS, api.RoleLIS, api.RoleExternal}
	jobClients = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse, api.RoleRIS, api.RoleLIS}
	// imageReaders may read studies through the proxy (EXTERNAL and PATIENT only their own patients' studies).
	imageReaders = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse, api.RoleRIS, api.RoleExternal, api.RolePatient}
	// imageSearchers may search the whole archive.
	imageSearchers = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse, api.RoleRIS}
	imageWriters   = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleRIS}
	orderReaders   = allRoles
	patientReaders = []api.Role{api.RoleSystemManager, api.RoleAdmin, api.RoleDoctor, api.RoleNurse, api.RoleExternal, api.RolePatient}
)

// table is the route table: every route of the API and nothing else. Roles, rate limits and auditing are
// enforced from here, not from handlers; handlers add the ownership rules (own patients, own orders).
func (s *Server) table() []*Route {
	r := []*Route{
		{Method: "GET", Pattern: "/healthz", Action: "health", handle: s.health},
		{Method: "GET", Pattern: "/readyz", Action: "ready", handle: s.ready},

		{Method: "POST", Pattern: "/api/auth/login/{$}", RateLimited: true, Action: "auth.login", handle: s.login},
		{Method: "POST", Pattern: "/api/auth/refresh/{$}", RateLimited: true, Action: "auth.refresh", handle: s.refresh},
		{Method: "POST", Pattern: "/api/auth/logout/{$}", Roles: allRoles, RateLimited: true, BeforePasswordChange: true, Action: "auth.logout", handle: s.logout},
		{Method: "GET", Pattern: "/api/auth/me/{$}", Roles: allRoles, RateLimited: true, BeforePasswordChange: true, Action: "auth.me", handle: s.me},
		{Method: "POST", Pattern: "/api/auth/change-password/{$}", Roles: allRoles, RateLimited: true, BeforePasswordChange: true, Action: "auth.change_password", handle: s.changePassword},

		{Method: "GET", Pattern: "/api/users/{$}", Roles: admins, RateLimited: true, Action: "user.list", handle: s.listUsers},
		{Method: "POST", Pattern: "/api/users/{$}", Roles: admins, RateLimited: true, Action: "user.create", handle: s.createUser},
		{Method: "PATCH", Pattern: "/api/users/{id}/{$}", Roles: admins, RateLimited: true, Action: "user.update", handle: s.updateUser},
		{Method: "POST", Pattern: "/api/users/{id}/unlock/{$}", Roles: admins, RateLimited: true, Action: "user.unlock", handle: s.unlockUser},

		{Method: "GET", Pattern: "/api/patients/{$}", Roles: patientReaders, RateLimited: true, PatientData: true, Action: "patient.list", handle: s.listPatients},
		{Method: "POST", Pattern: "/api/patients/{$}", Roles: clinical, RateLimited: true, PatientData: true, Action: "patient.create", handle: s.createPatient},
		{Method: "GET", Pattern: "/api/patients/{id}/{$}", Roles: patientReaders, RateLimited: true, PatientData: true, Action: "patient.read", handle: s.getPatient},
		{Method: "PATCH", Pattern: "/api/patients/{id}/{$}", Roles: clinical, RateLimited: true, PatientData: true, Action: "patient.update", handle: s.updatePatient},
		{Method: "GET", Pattern: "/api/patients/{id}/studies/{$}", Roles: imageReaders, RateLimited: true, PatientData: true, Action: "patient.studies", handle: s.patientStudies},

		{Method: "GET", Pattern: "/api/ocs/{$}", Roles: orderReaders, RateLimited: true, PatientData: true, Action: "order.list", handle: s.listOrders},
		{Method: "POST", Pattern: "/api/ocs/{$}", Roles: orderers, RateLimited: true, PatientData: true, Action: "order.create", handle: s.createOrder},
		{Method: "GET", Pattern: "/api/ocs/{id}/{$}", Roles: orderReaders, RateLimited: true, PatientData: true, Action: "order.read", handle: s.getOrder},
		{Method: "PATCH", Pattern: "/api/ocs/{id}/{$}", Roles: orderers, RateLimited: true, PatientData: true, Action: "order.update", handle: s.updateOrder},
		{Method: "POST", Pattern: "/api/ocs/{id}/accept/{$}", Roles: workers, RateLimited: true, PatientData: true, Action: "order.accept", handle: s.orderAction("accept")},
		{Method: "POST", Pattern: "/api/ocs/{id}/start/{$}", Roles: workers, RateLimited: true, PatientData: true, Action: "order.start", handle: s.orderAction("start")},
		{Method: "POST", Pattern: "/api/ocs/{id}/save_result/{$}", Roles: workers, RateLimited: true, PatientData: true, Action: "order.save_result", MaxBody: 1 << 20, handle: s.orderAction("save_result")},
		{Method: "POST", Pattern: "/api/ocs/{id}/submit_result/{$}", Roles: workers, RateLimited: true, PatientData: true, Action: "order.submit_result", MaxBody: 1 << 20, handle: s.orderAction("submit_result")},
		{Method: "POST", Pattern: "/api/ocs/{id}/confirm/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "order.confirm", MaxBody: 1 << 20, handle: s.orderAction("confirm")},
		{Method: "POST", Pattern: "/api/ocs/{id}/cancel/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "order.cancel", handle: s.orderAction("cancel")},

		{Method: "POST", Pattern: "/api/ai/results/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "ai_result.upload", MaxBody: 5 << 20, handle: s.uploadResult},
		{Method: "GET", Pattern: "/api/ai/results/{$}", Roles: aiReaders, RateLimited: true, PatientData: true, Action: "ai_result.list", handle: s.listResults},
		{Method: "GET", Pattern: "/api/ai/results/{id}/{$}", Roles: aiReaders, RateLimited: true, PatientData: true, Action: "ai_result.read", handle: s.getResult},
		{Method: "POST", Pattern: "/api/ai/results/{id}/review/{$}", Roles: orderers, RateLimited: true, PatientData: true, Action: "ai_result.review", handle: s.reviewResult},
		{Method: "POST", Pattern: "/api/ai/results/{id}/withdraw/{$}", Roles: admins, RateLimited: true, PatientData: true, Action: "ai_result.withdraw", handle: s.withdrawResult},

		{Method: "GET", Pattern: "/api/changes/{$}", Roles: allRoles, RateLimited: true, PatientData: true, Action: "changes.read", handle: s.changes},

		{Method: "POST", Pattern: "/api/audit/events/{$}", Roles: allRoles, RateLimited: true, Action: "audit.forward", MaxBody: 1 << 20, handle: s.forwardAudit},
		{Method: "GET", Pattern: "/api/audit/{$}", Roles: admins, RateLimited: true, PatientData: true, Action: "audit.query", handle: s.queryAudit},

		{Method: "POST", Pattern: "/api/jobs/{$}", Roles: jobClients, RateLimited: true, PatientData: true, Action: "job.submit", MaxBody: 1 << 20, handle: s.submitJob},
		{Method: "POST", Pattern: "/api/jobs/claim/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "job.claim", handle: s.claimJob},
		{Method: "GET", Pattern: "/api/jobs/dead/{$}", Roles: admins, RateLimited: true, PatientData: true, Action: "job.dead", handle: s.deadJobs},
		{Method: "GET", Pattern: "/api/jobs/{id}/{$}", Roles: jobClients, RateLimited: true, PatientData: true, Action: "job.read", handle: s.getJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/complete/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "job.complete", MaxBody: 5 << 20, handle: s.completeJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/fail/{$}", Roles: aiRunners, RateLimited: true, PatientData: true, Action: "job.fail", handle: s.failJob},

		// Not a path of Orthanc: the server's own list of a study's instances with their stored sizes and MD5s.
		{Method: "GET", Pattern: "/api/orthanc/studies/{id}/manifest", Roles: imageReaders, PatientData: true, Action: "orthanc.manifest", handle: s.studyManifest},

		{Method: "GET", Pattern: "/ws/notifications", Roles: allRoles, PatientData: true, Action: "notifications.connect", handle: s.notifications},
	}
	return append(r, s.proxyRoutes()...)
}

// proxyRoutes is the allow-list of the Orthanc proxy: each entry forwards to one Orthanc path template.
func (s *Server) proxyRoutes() []*Route {
	type p struct {
		method, path string
		roles        []api.Role
		kind         proxyKind
		query        orthanc.QueryParams // the query parameters forwarded; any other is refused
	}
	const dw = "/dicom-web/studies/{study}"
	none := orthanc.NoQuery
	list := []p{
		{"GET", "/studies/{id}", imageReaders, proxyRead, orthanc.ResourceQuery},
		{"GET", "/studies/{id}/series", imageReaders, proxyRead, orthanc.ChildrenQuery},
		{"GET", "/studies/{id}/instances", imageReaders, proxyRead, orthanc.ChildrenQuery},
		{"GET", "/studies/{id}/archive", imageReaders, proxyRead, none},
		{"GET", "/series/{id}", imageReaders, proxyRead, orthanc.ResourceQuery},
		{"GET", "/series/{id}/instances", imageReaders, proxyRead, orthanc.ChildrenQuery},
		{"GET", "/series/{id}/archive", imageReaders, proxyRead, none},
		{"GET", "/instances/{id}", imageReaders, proxyRead, orthanc.ResourceQuery},
		{"GET", "/instances/{id}/file", imageReaders, proxyRead, none},
		{"GET", "/instances/{id}/simplified-tags", imageReaders, proxyRead, orthanc.TagsQuery},
		{"GET", "/instances/{id}/tags", imageReaders, proxyRead, orthanc.TagsQuery},
		{"GET", "/instances/{id}/preview", imageReaders, proxyRead, none},
		{"GET", "/instances/{id}/attachments/dicom/md5", imageReaders, proxyRead, none},
		{"POST", "/instances/{id}/modify", imageReaders, proxyTranscode, none},
		{"POST", "/tools/find", imageSearchers, proxySearch, none},
		{"POST", "/tools/lookup", imageSearchers, proxySearch, none},
		{"POST", "/instances", imageWriters, proxyUpload, none},
		{"GET", "/dicom-web/studies", imageSearchers, proxySearch, orthanc.QIDOStudies},
		{"POST", "/dicom-web/studies", imageWriters, proxyUpload, none},
		{"GET", dw, imageReaders, proxyRead, none},
		{"GET", dw + "/metadata", imageReaders, proxyRead, none},
		{"GET", dw + "/series", imageReaders, proxyRead, orthanc.QIDOSeries},
		{"GET", dw + "/series/{series}", imageReaders, proxyRead, none},
		{"GET", dw + "/series/{series}/metadata", imageReaders, proxyRead, none},
		{"GET", dw + "/series/{series}/instances", imageReaders, proxyRead, orthanc.QIDOInstances},
		{"GET", dw + "/series/{series}/instances/{instance}", imageReaders, proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/metadata", imageReaders, proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/frames/{frames}", imageReaders, proxyRead, none},
		{"GET", dw + "/series/{series}/instances/{instance}/bulk/{tag}", imageReaders, proxyRead, none},
	}
	out := make([]*Route, 0, len(list))
	for _, e := range list {
		out = append(out, &Route{Method: e.method, Pattern: "/api/orthanc" + e.path, Roles: e.roles, PatientData: true,
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
		mux.Handle(rt.Method+" "+rt.Pattern, s.serve(rt))
	}
	for _, prefix := range []string{"/api/", "/ws/"} {
		fallback := &Route{Method: "ANY", Pattern: prefix, Roles: allRoles, BeforePasswordChange: true, Action: unknownRoute,
			handle: func(c *call) error {
				return errorf(api.CodeNotFound, "no route %s %s (Orthanc paths outside the proxy's allow-list are refused too)",
					c.r.Method, c.r.URL.EscapedPath())
			}}
		mux.Handle(prefix, s.serve(fallback))
	}
	return mux, nil
}
