package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// orderFilters: ListOrders in a RIS worker's own scope, filtered by patient, job role and worker together (how
// the server finds the orders whose worker may edit a study's segmentation), returns exactly that worker's
// orders of that patient, with their worker result.
func orderFilters(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	ris1, ris2 := user(t, s, "ris1", api.RoleRIS), user(t, s, "ris2", api.RoleRIS)
	lis := user(t, s, "lis1", api.RoleLIS)
	p, q := patient(t, s, doctor, nil, nil), patient(t, s, doctor, nil, nil)
	doc := server.Actor{ID: doctor.ID, Name: doctor.Name, Role: doctor.Role}
	result := json.RawMessage(`{"dicom":{"study_uid":"1.2.3.4"}}`)
	order := func(p *server.Patient, role api.JobRole, worker *server.User, acts ...server.OrderAction) *server.Order {
		t.Helper()
		o, err := server.NewOrder(api.CreateOrderRequest{PatientID: p.ID, JobRole: role, JobType: server.JobTypes[role][0]}, p, doc, time.Now().UTC())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateOrder(ctx, o, server.CreatedHistory(o, doc, o.CreatedAt)); err != nil {
			t.Fatal(err)
		}
		w := server.Actor{ID: worker.ID, Name: worker.Name, Role: worker.Role}
		for _, act := range acts {
			if o, err = s.UpdateOrder(ctx, o.ID, "", func(x *server.Order) (server.OrderHistory, error) {
				return server.ApplyOrderAction(x, act, w, server.OrderInput{WorkerResult: result}, time.Now().UTC())
			}); err != nil {
				t.Fatalf("%s: %v", act, err)
			}
		}
		return o
	}
	want := order(p, api.JobRIS, ris1, server.ActAccept, server.ActStart, server.ActSaveResult)
	order(p, api.JobRIS, ris2, server.ActAccept) // another worker's
	order(q, api.JobRIS, ris1, server.ActAccept) // another patient's
	order(p, api.JobLIS, lis, server.ActAccept)  // another job role's
	order(p, api.JobRIS, ris1)                   // not accepted: no worker
	got, err := s.ListOrders(ctx, server.ScopeOf(server.Principal{UserID: ris1.ID, Role: ris1.Role}),
		server.OrderFilter{PatientID: p.ID, JobRole: api.JobRIS, WorkerID: ris1.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != want.ID || got[0].WorkerID == nil || *got[0].WorkerID != ris1.ID {
		t.Fatalf("ris1's RIS orders of patient %d: %+v, want only %s", p.ID, got, want.ID)
	}
	var r struct {
		DICOM struct {
			StudyUID string `json:"study_uid"`
		} `json:"dicom"`
	}
	if err := json.Unmarshal(got[0].WorkerResult, &r); err != nil || r.DICOM.StudyUID != "1.2.3.4" {
		t.Fatalf("listed order's worker result %s: %v", got[0].WorkerResult, err)
	}
}
