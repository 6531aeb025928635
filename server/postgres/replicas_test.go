package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/postgres"
)

var ctx = context.Background()

// replicas opens two stores on one new database, as two server processes sharing it would: each with its
// own pool.
func replicas(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	first, dsn := open(t)
	second, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	return first, second
}

// TestMigrationsRunOnceWhenServersStartTogether: four servers opening an empty database at once all start,
// and each migration is applied once.
func TestMigrationsRunOnceWhenServersStartTogether(t *testing.T) {
	dsn := testsvc.PostgresDB(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	files, err := fs.Glob(os.DirFS("migrations"), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var applied, distinct int
	if err := db.QueryRow(ctx, "SELECT count(*), count(DISTINCT name) FROM schema_migrations").Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || distinct != len(files) {
		t.Fatalf("%d migrations applied (%d distinct), want %d", applied, distinct, len(files))
	}
}

func newUser(t *testing.T, s server.Store, login string, role api.Role) *server.User {
	t.Helper()
	u := &server.User{User: api.User{LoginID: login, Name: login, Role: role, IsActive: true, CreatedAt: time.Now().UTC()}, PasswordHash: "x"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func newPatient(s server.Store, by *server.User) (*server.Patient, error) {
	p, err := server.NewPatient(api.CreatePatientRequest{Name: "Replica Patient", BirthDate: "1970-01-01", Gender: "O"}, by.ID, time.Now().UTC())
	if err == nil {
		err = s.CreatePatient(ctx, p)
	}
	return p, err
}

func newOrder(s server.Store, p *server.Patient, by *server.User) (*server.Order, error) {
	doc := server.Actor{ID: by.ID, Name: by.Name, Role: by.Role}
	o, err := server.NewOrder(api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "MRI"}, p, doc, time.Now().UTC())
	if err == nil {
		err = s.CreateOrder(ctx, o, server.CreatedHistory(o, doc, o.CreatedAt))
	}
	return o, err
}

func newResult(s server.Store, p *server.Patient, by *server.User, key string) (*server.AIResult, error) {
	r, hash, err := server.NewAIResult(api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1", PatientID: p.ID,
		Result: json.RawMessage(`{"grade":"G3"}`)}, by.ID, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	stored, _, err := s.CreateAIResult(ctx, r, key, hash)
	return stored, err
}

// TestFriendlyIDsAreUniqueAcrossReplicas: patient numbers, order IDs and AI result IDs created at once through
// two stores on one database are all distinct and well formed.
func TestFriendlyIDsAreUniqueAcrossReplicas(t *testing.T) {
	a, b := replicas(t)
	doctor := newUser(t, a, "doctor1", api.RoleDoctor)
	const perWorker = 8
	var mu sync.Mutex
	ids := map[string]int{}
	var wg sync.WaitGroup
	for w := range 6 {
		s := []*postgres.Store{a, b}[w%2]
		wg.Go(func() {
			for i := range perWorker {
				p, err := newPatient(s, doctor)
				if err != nil {
					t.Error(err)
					return
				}
				o, err := newOrder(s, p, doctor)
				if err != nil {
					t.Error(err)
					return
				}
				r, err := newResult(s, p, doctor, fmt.Sprintf("key-%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids[p.Number]++
				ids[o.ID]++
				ids[r.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	patterns := []*regexp.Regexp{regexp.MustCompile(`^P\d{4}\d{5}$`), regexp.MustCompile(`^ocs_\d{4,}$`), regexp.MustCompile(`^ai_req_\d{4,}$`)}
	count := make([]int, len(patterns))
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s given %d times", id, n)
		}
		matched := false
		for i, re := range patterns {
			if re.MatchString(id) {
				count[i]++
				matched = true
			}
		}
		if !matched {
			t.Errorf("malformed ID %q", id)
		}
	}
	for i, n := range count {
		if n != 6*perWorker {
			t.Errorf("%d distinct IDs like %s, want %d", n, patterns[i], 6*perWorker)
		}
	}
}

// TestChangeFeedSkipsNothingUnderConcurrentWriters: while writers on two stores append changes at once, a
// reader that follows the feed by cursor sees every change, once, in order. With seqs from a plain sequence a
// transaction could commit seq n+1 before another commits seq n, and a reader whose cursor passed n+1 would
// never see n.
func TestChangeFeedSkipsNothingUnderConcurrentWriters(t *testing.T) {
	a, b := replicas(t)
	doctor := newUser(t, a, "doctor1", api.RoleDoctor)
	all := server.Scope{Role: api.RoleSystemManager}
	var seen []int64
	done := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		cursor, last := int64(0), false
		for {
			page, more, err := []*postgres.Store{a, b}[len(seen)%2].Changes(ctx, all, cursor, 7)
			if err != nil {
				readerDone <- err
				return
			}
			for _, c := range page {
				seen = append(seen, c.Seq)
				cursor = c.Seq
			}
			if last && !more {
				readerDone <- nil
				return
			}
			select {
			case <-done:
				last = true // one more pass after the writers finished reads what is left
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 6 {
		s := []*postgres.Store{a, b}[w%2]
		wg.Go(func() {
			for range 10 {
				// Each write also carries an audit record, as the server's writes do: more work between
				// taking a seq and committing.
				actx := server.WithTxAudit(ctx, &server.TxAudit{Record: func(error) server.AuditRecord {
					return server.AuditRecord{At: time.Now().UTC(), Action: "patient.create", Outcome: api.OutcomeSuccess, Source: "server"}
				}})
				p, err := server.NewPatient(api.CreatePatientRequest{Name: "Feed Patient", BirthDate: "1970-01-01", Gender: "F"}, doctor.ID, time.Now().UTC())
				if err == nil {
					err = s.CreatePatient(actx, p)
				}
				if err == nil {
					_, err = newOrder(s, p, doctor)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	var want []int64
	for cursor := int64(0); ; {
		page, more, err := a.Changes(ctx, all, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			want = append(want, c.Seq)
			cursor = c.Seq
		}
		if !more {
			break
		}
	}
	if len(want) != 6*10*2 {
		t.Fatalf("%d changes stored, want %d", len(want), 6*10*2)
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		missed := map[int64]bool{}
		for _, s := range want {
			missed[s] = true
		}
		for _, s := range seen {
			delete(missed, s)
		}
		t.Fatalf("the reader saw %d changes of %d; missed %v", len(seen), len(want), missed)
	}
}

// TestRefreshTokenSpentOnceAcrossReplicas: the same refresh token presented to two replicas at once is
// spent by one; the other is refused as a reuse, which revokes the session.
func TestRefreshTokenSpentOnceAcrossReplicas(t *testing.T) {
	a, b := replicas(t)
	u := newUser(t, a, "nurse1", api.RoleNurse)
	now := time.Now().UTC()
	tok := func(hash string) server.RefreshToken {
		return server.RefreshToken{Hash: hash, Family: "fam", UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := a.CreateRefreshToken(ctx, tok("h0")); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for i, s := range []*postgres.Store{a, b} {
		go func() {
			_, err := s.UseRefreshToken(ctx, "h0", tok(fmt.Sprintf("next-%d", i)), now)
			errs <- err
		}()
	}
	ok := 0
	for range 2 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !server.IsCode(err, api.CodeUnauthorized):
			t.Fatalf("second use: %v, want UNAUTHORIZED", err)
		}
	}
	if ok != 1 {
		t.Fatalf("the token was spent %d times", ok)
	}
	for i := range 2 {
		if _, err := a.UseRefreshToken(ctx, fmt.Sprintf("next-%d", i), tok("later"), now); err == nil {
			t.Fatal("a successor of a token used twice still works: its session was not revoked")
		}
	}
}
