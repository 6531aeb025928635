package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// changeCursor returns the change feed's latest sequence number as an administrator sees it.
func (e *env) changeCursor() int64 {
	e.t.Helper()
	cursor := int64(0)
	for {
		var page api.ChangesPage
		e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/changes/?cursor=%d", cursor), e.users[api.RoleSystemManager].token, nil, &page)
		cursor = page.NextCursor
		if !page.HasMore {
			return cursor
		}
	}
}

// TestOrderWorkflow runs the seed's happy path through the API: a doctor orders, the RIS worker accepts,
// starts and submits, the doctor confirms; each step answers the new state and leaves a history entry.
func TestOrderWorkflow(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor, ris := e.users[api.RoleDoctor], e.users[api.RoleRIS]
	var o server.Order
	e.mustDo(http.StatusCreated, "POST", "/api/ocs/", doctor.token, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "MRI"}, &o)
	if o.Status != api.OrderOrdered || o.DoctorID != doctor.ID || !strings.HasPrefix(o.ID, "ocs_") {
		t.Fatalf("created order: %+v", o)
	}
	steps := []struct {
		user   *testUser
		action string
		body   any
		want   api.OrderStatus
	}{
		{ris, "accept", nil, api.OrderAccepted},
		{ris, "start", nil, api.OrderInProgress},
		{ris, "save_result", map[string]any{"worker_result": map[string]string{"findings": "draft"}}, api.OrderInProgress},
		{ris, "submit_result", map[string]any{"worker_result": map[string]string{"findings": "enhancing lesion, left frontal"}}, api.OrderResultReady},
		{doctor, "confirm", nil, api.OrderConfirmed},
	}
	for _, s := range steps {
		var got server.Order
		e.mustDo(http.StatusOK, "POST", "/api/ocs/"+o.ID+"/"+s.action+"/", s.user.token, s.body, &got)
		if got.Status != s.want {
			t.Fatalf("%s: status %s, want %s", s.action, got.Status, s.want)
		}
	}
	stored, err := e.store.Order(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, h := range stored.History {
		actions = append(actions, h.Action)
	}
	if want := "CREATED ACCEPTED STARTED RESULT_SAVED SUBMITTED CONFIRMED"; strings.Join(actions, " ") != want {
		t.Fatalf("history %v, want %s", actions, want)
	}
	if stored.WorkerID == nil || *stored.WorkerID != ris.ID || stored.ConfirmedAt == nil ||
		!strings.Contains(string(stored.WorkerResult), "left frontal") {
		t.Fatalf("confirmed order: %+v", stored)
	}
}

// TestOrderIllegalTransitionsChangeNothing: every action out of turn — wrong state, wrong actor, or an order
// already finished — is refused with 409 or 403, and the order, its history and the change feed stay exactly
// as they were. Each refusal is audited.
func TestOrderIllegalTransitionsChangeNothing(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor, ris := e.users[api.RoleDoctor], e.users[api.RoleRIS]
	otherRIS, otherDoctor := e.newUser(api.RoleRIS), e.newUser(api.RoleDoctor)
	acc := []server.OrderAction{server.ActAccept}
	started := []server.OrderAction{server.ActAccept, server.ActStart}
	ready := []server.OrderAction{server.ActAccept, server.ActStart, server.ActSubmitResult}
	confirmed := append(append([]server.OrderAction{}, ready...), server.ActConfirm)
	result := map[string]any{"worker_result": map[string]string{"findings": "x"}}
	cancel := api.CancelOrderRequest{Reason: "no longer needed"}
	cases := []struct {
		name   string
		acts   []server.OrderAction // brought about by the doctor (confirm) and ris (the rest)
		cancel bool                 // then cancelled by the doctor
		user   *testUser
		method string
		action string // path suffix; "" is PATCH of the order
		body   any
		want   int
	}{
		{"start an ORDERED order", nil, false, ris, "POST", "start", nil, http.StatusForbidden},
		{"submit an ACCEPTED order", acc, false, ris, "POST", "submit_result", result, http.StatusConflict},
		{"start twice", started, false, ris, "POST", "start", nil, http.StatusConflict},
		{"confirm an ORDERED order", nil, false, doctor, "POST", "confirm", nil, http.StatusConflict},
		{"doctor confirms an IN_PROGRESS order", started, false, doctor, "POST", "confirm", nil, http.StatusConflict},
		{"accept an accepted order", acc, false, otherRIS, "POST", "accept", nil, http.StatusConflict},
		{"another worker starts it", acc, false, otherRIS, "POST", "start", nil, http.StatusForbidden},
		{"another doctor confirms", ready, false, otherDoctor, "POST", "confirm", nil, http.StatusForbidden},
		{"accept a CONFIRMED order", confirmed, false, otherRIS, "POST", "accept", nil, http.StatusConflict},
		{"save a result on a CONFIRMED order", confirmed, false, ris, "POST", "save_result", result, http.StatusConflict},
		{"cancel a CONFIRMED order", confirmed, false, doctor, "POST", "cancel", cancel, http.StatusConflict},
		{"confirm twice", confirmed, false, doctor, "POST", "confirm", nil, http.StatusConflict},
		{"start a CANCELLED order", acc, true, ris, "POST", "start", nil, http.StatusConflict},
		{"accept a CANCELLED order", nil, true, ris, "POST", "accept", nil, http.StatusConflict},
		{"cancel twice", nil, true, doctor, "POST", "cancel", cancel, http.StatusConflict},
		{"edit a CANCELLED order", nil, true, doctor, "PATCH", "", map[string]string{"priority": "urgent"}, http.StatusConflict},
		{"edit a CONFIRMED order", confirmed, false, doctor, "PATCH", "", map[string]string{"priority": "urgent"}, http.StatusConflict},
	}
	ctx := context.Background()
	for _, c := range cases {
		var o *server.Order
		switch {
		case len(c.acts) > 0 && c.acts[len(c.acts)-1] == server.ActConfirm:
			o = e.order(p, doctor, api.JobRIS, ris, c.acts[:len(c.acts)-1]...)
			e.mustDo(http.StatusOK, "POST", "/api/ocs/"+o.ID+"/confirm/", doctor.token, nil, nil)
		default:
			o = e.order(p, doctor, api.JobRIS, ris, c.acts...)
		}
		if c.cancel {
			e.mustDo(http.StatusOK, "POST", "/api/ocs/"+o.ID+"/cancel/", doctor.token, cancel, nil)
		}
		before, err := e.store.Order(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		cursor := e.changeCursor()
		path := "/api/ocs/" + o.ID + "/"
		if c.action != "" {
			path += c.action + "/"
		}
		resp, body := e.do(c.method, path, c.user.token, c.body, nil)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s, want %d", c.name, resp.Status, body, c.want)
			continue
		}
		if ae := apiError(t, body); !strings.Contains(ae.Message, o.ID) {
			t.Errorf("%s: the message does not name the order: %s", c.name, ae.Message)
		}
		after, err := e.store.Order(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("%s: the order changed:\nbefore %+v\nafter  %+v", c.name, before, after)
		}
		if now := e.changeCursor(); now != cursor {
			t.Errorf("%s: the change feed moved from %d to %d", c.name, cursor, now)
		}
	}
	refused := 0
	for _, r := range e.audit(server.AuditFilter{}) {
		if strings.HasPrefix(r.Action, "order.") && r.Outcome != api.OutcomeSuccess && r.PatientID != nil && *r.PatientID == p.ID {
			refused++
		}
	}
	if refused != len(cases) {
		t.Fatalf("audit holds %d refused order actions on patient %d, want %d", refused, p.ID, len(cases))
	}
}

// TestAIResultUploadIsIdempotent: a retried upload with the same Idempotency-Key is stored once and answered
// with the stored result, even when the retries race; the same key with other content is a conflict; a
// missing key is refused.
func TestAIResultUploadIsIdempotent(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	key := "ws-7f3a-" + auth.RandomHex(8)
	up := resultUpload(p.ID, "")
	hdr := http.Header{"Idempotency-Key": {key}}
	cursor := e.changeCursor()

	resp, body := e.do("POST", "/api/ai/results/", doctor.token, up, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: %s %s", resp.Status, body)
	}
	var first server.AIResult
	mustJSON(t, body, &first)
	for range 2 {
		resp, body := e.do("POST", "/api/ai/results/", doctor.token, up, hdr)
		var again server.AIResult
		mustJSON(t, body, &again)
		if resp.StatusCode != http.StatusOK || again.ID != first.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %s %s, want 200 replaying %s", resp.Status, body, first.ID)
		}
	}
	// Retries racing each other still store one result.
	raceKey := hdr.Clone()
	raceKey.Set("Idempotency-Key", "race-"+auth.RandomHex(8))
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses, ids := map[int]int{}, map[string]bool{}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, err := e.send("POST", "/api/ai/results/", doctor.token, up, raceKey)
			if err != nil {
				t.Error(err)
				return
			}
			var r server.AIResult
			json.Unmarshal(body, &r)
			mu.Lock()
			statuses[resp.StatusCode]++
			ids[r.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 1 || statuses[http.StatusOK] != 5 || len(ids) != 1 {
		t.Fatalf("racing retries answered %v with results %v, want one 201, five 200 and one result", statuses, ids)
	}

	other := up
	other.Result = json.RawMessage(`{"grade":"G2"}`)
	resp, body = e.do("POST", "/api/ai/results/", doctor.token, other, hdr)
	if resp.StatusCode != http.StatusConflict || apiError(t, body).Code != api.CodeConflict {
		t.Fatalf("same key, other content: %s %s, want 409", resp.Status, body)
	}
	resp, body = e.do("POST", "/api/ai/results/", doctor.token, up, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "Idempotency-Key") {
		t.Fatalf("no key: %s %s, want 400 naming Idempotency-Key", resp.Status, body)
	}

	var list []server.AIResult
	e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/ai/results/?patient_id=%d", p.ID), doctor.token, nil, &list)
	if len(list) != 2 {
		t.Fatalf("patient %d has %d results, want 2 (one per key)", p.ID, len(list))
	}
	var page api.ChangesPage
	e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/changes/?cursor=%d", cursor), doctor.token, nil, &page)
	results := 0
	for _, c := range page.Changes {
		if c.Kind == api.KindAIResult {
			results++
		}
	}
	if results != 2 {
		t.Fatalf("the change feed holds %d AI result changes, want 2", results)
	}
	replays := 0
	for _, r := range e.audit(server.AuditFilter{UserID: doctor.ID}) {
		if r.Action == "ai_result.upload" && strings.HasPrefix(r.Detail, "idempotent replay") && r.ObjectID == first.ID {
			replays++
		}
	}
	if replays != 2 {
		t.Fatalf("audit holds %d replays of %s, want 2", replays, first.ID)
	}
}

// wsListener is one user's notification socket and what arrived on it.
type wsListener struct {
	user *testUser
	conn *websocket.Conn
	got  []api.Notification
}

func (e *env) listen(t *testing.T, u *testUser) *wsListener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/notifications",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + u.token}}})
	if err != nil {
		t.Fatalf("%s dials the notifications: %v", u.LoginID, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &wsListener{user: u, conn: conn}
}

// until reads notifications until the sentinel arrives.
func (l *wsListener) until(t *testing.T, sentinel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, b, err := l.conn.Read(ctx)
		if err != nil {
			t.Fatalf("%s: reading notifications: %v (got %v)", l.user.LoginID, err, l.got)
		}
		var n api.Notification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s: notification %s: %v", l.user.LoginID, b, err)
		}
		if n.Message == sentinel {
			return
		}
		l.got = append(l.got, n)
	}
}

func (l *wsListener) types() []string {
	var out []string
	for _, n := range l.got {
		out = append(out, n.Type)
	}
	return out
}

// TestNotificationsReachOnlyEntitledUsers: order and AI events travel through the Redis events stream to the WebSocket
// of the users entitled to them and no one else (the seed broadcast AI results to every client).
func TestNotificationsReachOnlyEntitledUsers(t *testing.T) {
	e := newEnv(t, fast)
	ext, pat := e.users[api.RoleExternal], e.users[api.RolePatient]
	p := e.patient(ext, pat)
	doctor, ris := e.users[api.RoleDoctor], e.users[api.RoleRIS]
	otherDoctor, otherExt := e.newUser(api.RoleDoctor), e.newUser(api.RoleExternal)
	otherPatient := e.patient(otherExt, nil)

	listeners := map[string]*wsListener{}
	everyone := []int64{}
	for name, u := range map[string]*testUser{"sysmgr": e.users[api.RoleSystemManager], "admin": e.users[api.RoleAdmin],
		"doctor": doctor, "otherDoctor": otherDoctor, "nurse": e.users[api.RoleNurse], "ris": ris, "lis": e.users[api.RoleLIS],
		"ext": ext, "otherExt": otherExt, "patient": pat} {
		listeners[name] = e.listen(t, u)
		everyone = append(everyone, u.ID)
	}

	var o server.Order
	e.mustDo(http.StatusCreated, "POST", "/api/ocs/", doctor.token, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "MRI"}, &o)
	e.mustDo(http.StatusOK, "POST", "/api/ocs/"+o.ID+"/accept/", ris.token, nil, nil)
	var r server.AIResult
	resp, body := e.do("POST", "/api/ai/results/", doctor.token, resultUpload(p.ID, o.ID), http.Header{"Idempotency-Key": {"n-" + auth.RandomHex(6)}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %s %s", resp.Status, body)
	}
	mustJSON(t, body, &r)
	e.mustDo(http.StatusOK, "POST", "/api/ai/results/"+r.ID+"/review/", doctor.token, api.ReviewRequest{Status: api.ReviewApproved}, nil)
	// An order of another institution's patient, which only staff and that institution hear about.
	e.mustDo(http.StatusCreated, "POST", "/api/ocs/", otherDoctor.token, api.CreateOrderRequest{PatientID: otherPatient.ID, JobRole: api.JobLIS, JobType: "CBC"}, nil)

	// A sentinel published after everything else reaches every listener last: the stream keeps the order.
	sentinel := "sentinel-" + auth.RandomHex(6)
	if err := e.publishLast(server.Event{Notification: api.Notification{Type: api.EventJobFinished, Message: sentinel},
		Audience: server.Audience{UserIDs: everyone}}); err != nil {
		t.Fatal(err)
	}
	mine := []string{api.EventOrderCreated, api.EventOrderStatusChanged, api.EventAIResult, api.EventAIReviewed}
	theirs := api.EventOrderCreated
	want := map[string][]string{
		"sysmgr":      append(append([]string{}, mine...), theirs),
		"admin":       append(append([]string{}, mine...), theirs),
		"nurse":       append(append([]string{}, mine...), theirs),
		"doctor":      mine,
		"ris":         mine, // the order's job role, then its assigned worker
		"ext":         mine,
		"patient":     mine[:2], // orders of their own, never AI results
		"otherDoctor": {theirs},
		"lis":         {theirs},
		"otherExt":    {theirs},
	}
	for name, l := range listeners {
		l.until(t, sentinel)
		if got := l.types(); strings.Join(got, " ") != strings.Join(want[name], " ") {
			t.Errorf("%s received %v, want %v", name, got, want[name])
		}
		for _, n := range l.got {
			if n.OrderID == o.ID && n.PatientID != p.ID || n.ResultID != "" && n.ResultID != r.ID {
				t.Errorf("%s received a notification about something else: %+v", name, n)
			}
		}
	}
	// The token goes in the header: a token in the URL, where the seed put it, is not accepted.
	_, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/notifications?token="+doctor.token, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token in the URL: %v %v, want 401", resp, err)
	}
}
