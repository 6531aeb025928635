package testsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestOrthancOnPostgres: the production Orthanc configuration with its PostgreSQL section in force keeps the
// index and the DICOM files in the database — an uploaded instance is found in Orthanc's tables and storage
// area there — and reads the instance back.
func TestOrthancOnPostgres(t *testing.T) {
	dsn := StartPostgres(t).NewDB(t)
	o := OrthancOnPostgres(t, dsn)
	b := DICOM(Instance{PatientID: "PG-1", PatientName: "ON^POSTGRES", StudyUID: NewUID(), SeriesUID: NewUID(), SOPUID: NewUID(),
		SeriesDescription: "T1"})
	id := uploadTo(t, o, b)
	req, _ := http.NewRequest("GET", o.URL+"/instances/"+id+"/file", nil)
	req.SetBasicAuth(o.User, o.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || !bytes.Equal(got, b) {
		t.Fatalf("the instance back from Orthanc: %s %v, %d bytes of %d, same %v", resp.Status, err, len(got), len(b), bytes.Equal(got, b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var resources, files int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM resources), (SELECT count(*) FROM storagearea)").Scan(&resources, &files); err != nil {
		t.Fatalf("Orthanc's tables in PostgreSQL: %v", err)
	}
	if resources != 4 || files == 0 {
		t.Fatalf("PostgreSQL holds %d resources (want patient, study, series, instance) and %d stored files", resources, files)
	}
}

// uploadTo stores one DICOM file in o and returns its Orthanc ID.
func uploadTo(t *testing.T, o OrthancInstance, b []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, o.URL+"/instances", bytes.NewReader(b))
	req.SetBasicAuth(o.User, o.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stored struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&stored); resp.StatusCode != http.StatusOK || err != nil || stored.ID == "" {
		t.Fatalf("upload: %s %v", resp.Status, err)
	}
	return stored.ID
}
