package engine

import (
	"context"
	"io"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/client"
)

// Server is what the engine asks of the NeuroNova server: the session (and the password change of a new
// account), the change feed, AI results, reports, audit forwarding and a patient's studies. *client.Client is the real one; the unit tests use an in-memory
// fake. Errors mean what client's do: IsOffline (try later), an *api.Error with its status (refused).
type Server interface {
	BaseURL() string
	Tokens() *api.Tokens
	Login(ctx context.Context, loginID, password string) (*api.Tokens, error)
	Logout(ctx context.Context) error
	ChangePassword(ctx context.Context, oldPassword, newPassword string) (*api.Tokens, error)
	Changes(ctx context.Context, cursor int64, limit int) (*client.FeedPage, error)
	UploadResult(ctx context.Context, key string, up api.AIResultUpload) (r *api.AIResult, replayed bool, err error)
	SaveOrderResult(ctx context.Context, orderID, key string, req api.OrderResultRequest) (*api.Order, error)
	SubmitOrderResult(ctx context.Context, orderID, key string, req api.OrderResultRequest) (*api.Order, error)
	ForwardAudit(ctx context.Context, events []api.ForwardedAuditEvent) (*api.AuditBatchResult, error)
	PatientStudies(ctx context.Context, patientID int64) ([]api.PatientStudy, error)
}

// PACS is what the engine asks of Orthanc, through the server's proxy: a study's manifest and series, its
// instances as stored (one by one or one DICOMweb stream per series) or transcoded, and uploads (one file, or
// several in one STOW-RS request) checked by SOP Instance UID and MD5. *client.Client is the real one.
type PACS interface {
	StudyManifest(ctx context.Context, studyID string) (*api.StudyManifest, error)
	StudySeries(ctx context.Context, studyID string) (studyUID string, seriesUIDs []string, err error)
	RetrieveSeries(ctx context.Context, studyUID, seriesUID string, part func(io.Reader) error) error
	DownloadInstance(ctx context.Context, id string, w io.Writer) (client.Download, error)
	TranscodeInstance(ctx context.Context, id, ts string, w io.Writer) (client.Download, error)
	UploadInstance(ctx context.Context, dicom []byte) (*client.Stored, error)
	StoreInstances(ctx context.Context, files [][]byte) (*client.StowResult, error)
	InstanceSOPUID(ctx context.Context, id string) (string, error)
	InstanceMD5(ctx context.Context, id string) (string, error)
}

var (
	_ Server = (*client.Client)(nil)
	_ PACS   = (*client.Client)(nil)
)
