// Package demo fills a server with demonstration data: one account per role, demo patients and orders, and the
// synthetic demo study uploaded to Orthanc. Passwords are random on every run and printed, never built in.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/orthanc"
)

// Options are what seeding needs.
type Options struct {
	Store     server.Store
	Passwords *auth.Passwords
	Orthanc   *orthanc.Client
	// WriteStudy writes the demo study's DICOM files under a folder (viewer/demo.Write); nil skips the upload.
	WriteStudy func(dir string) error
	// StudyPatientID is the DICOM PatientID of the files WriteStudy writes; the demo patient gets it as number.
	StudyPatientID string
	Out            io.Writer // receives one line per account: "demo account: ROLE login_id password"
	Logger         *slog.Logger
}

// Accounts are the demo login IDs by role, after the seed's names.
var Accounts = []struct {
	Role    api.Role
	LoginID string
	Name    string
}{
	{api.RoleSystemManager, "system", "System Manager"},
	{api.RoleAdmin, "admin1", "Demo Administrator"},
	{api.RoleDoctor, "doctor1", "Dr. Demo Neuro"},
	{api.RoleNurse, "nurse1", "Demo Nurse"},
	{api.RoleRIS, "ris1", "Demo Radiographer"},
	{api.RoleLIS, "lis1", "Demo Lab Technician"},
	{api.RoleExternal, "ext_demo", "Demo External Hospital"},
	{api.RolePatient, "patient1", "Demo Phantom Patient"},
}

// Seed creates or refreshes the demo accounts (new random passwords each run; they need no password change,
// for a quick start), creates the demo patients and orders once, and uploads the demo study.
func Seed(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	users := map[api.Role]*server.User{}
	for _, a := range Accounts {
		password := auth.RandomHex(8)
		hash, err := o.Passwords.Hash(password)
		if err != nil {
			return err
		}
		u, err := o.Store.UserByLoginID(ctx, a.LoginID)
		switch {
		case server.IsCode(err, api.CodeNotFound):
			u = &server.User{User: api.User{LoginID: a.LoginID, Name: a.Name, Role: a.Role, IsActive: true, CreatedAt: time.Now().UTC()},
				PasswordHash: hash}
			if err := o.Store.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("create demo account %s: %w", a.LoginID, err)
			}
		case err != nil:
			return err
		case u.Role != a.Role:
			return fmt.Errorf("account %s exists with role %s, not the demo's %s; not touching it", a.LoginID, u.Role, a.Role)
		default:
			if u, err = o.Store.UpdateUser(ctx, u.ID, func(u *server.User) error {
				u.PasswordHash, u.IsActive, u.IsLocked, u.LockedAt, u.MustChangePassword = hash, true, false, nil, false
				return nil
			}); err != nil {
				return fmt.Errorf("reset demo account %s: %w", a.LoginID, err)
			}
		}
		users[a.Role] = u
		fmt.Fprintf(o.Out, "demo account: %s %s %s\n", a.Role, a.LoginID, password)
	}
	if err := seedPatients(ctx, o, users); err != nil {
		return err
	}
	if o.WriteStudy == nil {
		return nil
	}
	return uploadStudy(ctx, o)
}

func seedPatients(ctx context.Context, o Options, users map[api.Role]*server.User) error {
	number := o.StudyPatientID
	if number == "" {
		number = "SYNTHETIC-PHANTOM-0001"
	}
	if _, err := o.Store.PatientByNumber(ctx, number); err == nil {
		o.Logger.Info("demo patients already present", "patient", number)
		return nil
	} else if !server.IsCode(err, api.CodeNotFound) {
		return err
	}
	doctor, ris := users[api.RoleDoctor], users[api.RoleRIS]
	now := time.Now().UTC()
	ext, portal := users[api.RoleExternal].ID, users[api.RolePatient].ID
	phantom, err := server.NewPatient(api.CreatePatientRequest{Name: "Demo Phantom", BirthDate: "1970-01-01", Gender: "O",
		Severity: "moderate", ExternalInstitutionID: &ext, PortalUserID: &portal}, doctor.ID, now)
	if err != nil {
		return err
	}
	phantom.Number = number
	second, err := server.NewPatient(api.CreatePatientRequest{Name: "Demo Second Patient", BirthDate: "1985-06-15", Gender: "F"}, doctor.ID, now)
	if err != nil {
		return err
	}
	for _, p := range []*server.Patient{phantom, second} {
		if err := o.Store.CreatePatient(ctx, p); err != nil {
			return fmt.Errorf("create demo patient %s: %w", p.Name, err)
		}
	}
	doc := server.Actor{ID: doctor.ID, Name: doctor.Name, Role: doctor.Role, ClientAddr: "demo"}
	order := func(p *server.Patient, role api.JobRole, typ, complaint string) (*server.Order, error) {
		req := api.CreateOrderRequest{PatientID: p.ID, JobRole: role, JobType: typ,
			DoctorRequest: json.RawMessage(fmt.Sprintf(`{"chief_complaint":%q}`, complaint))}
		ord, err := server.NewOrder(req, p, doc, time.Now().UTC())
		if err != nil {
			return nil, err
		}
		return ord, o.Store.CreateOrder(ctx, ord, server.CreatedHistory(ord, doc, ord.CreatedAt))
	}
	mri, err := order(phantom, api.JobRIS, "MRI", "headache and seizures; rule out glioma")
	if err != nil {
		return err
	}
	worker := server.Actor{ID: ris.ID, Name: ris.Name, Role: ris.Role, ClientAddr: "demo"}
	for _, act := range []server.OrderAction{server.ActAccept, server.ActStart} {
		if _, err := o.Store.UpdateOrder(ctx, mri.ID, "", func(ord *server.Order) (server.OrderHistory, error) {
			return server.ApplyOrderAction(ord, act, worker, server.OrderInput{}, time.Now().UTC())
		}); err != nil {
			return fmt.Errorf("demo order %s %s: %w", mri.ID, act, err)
		}
	}
	if _, err := order(phantom, api.JobLIS, "RNA_SEQ", "gene expression for the MG model"); err != nil {
		return err
	}
	if _, err := order(second, api.JobRIS, "MRI", "follow-up after resection"); err != nil {
		return err
	}
	o.Logger.Info("demo patients and orders created", "patients", 2, "orders", 3)
	return nil
}

// uploadStudy writes the demo study to a temporary folder and uploads every file to Orthanc.
func uploadStudy(ctx context.Context, o Options) error {
	dir, err := os.MkdirTemp("", "neuronova-demo-study-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if err := o.WriteStudy(dir); err != nil {
		return fmt.Errorf("write the demo study: %w", err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) != ".gz" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("the demo study writer wrote no DICOM files under %s", dir)
	}
	var stored, already atomic.Int64
	err = workpool.ForEach(ctx, len(files), 4, func(ctx context.Context, _, i int) error {
		b, err := os.ReadFile(files[i])
		if err != nil {
			return err
		}
		st, err := o.Orthanc.Upload(ctx, b)
		if err != nil {
			return fmt.Errorf("upload %s: %w", filepath.Base(files[i]), err)
		}
		if st.Status == "AlreadyStored" {
			already.Add(1)
		} else {
			stored.Add(1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload the demo study to Orthanc at %s: %w", o.Orthanc.URL(), err)
	}
	o.Logger.Info("demo study in Orthanc", "files", len(files), "new", stored.Load(), "already_stored", already.Load(),
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}
