package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/deid"
)

// Attachment is the payload of a study.attach outbox item: a cached study's images to send to Orthanc for an
// order, the study already given to the order's patient and accession (AttachStudy).
type Attachment struct {
	OrderID   string `json:"order_id"`
	StudyUID  string `json:"study_uid"`
	PatientID int64  `json:"patient_id"` // the server's patient of the order
}

// ParseAttachment reads an attachment payload: an order, a DICOM study UID and a patient.
func ParseAttachment(b []byte) (*Attachment, error) {
	var a Attachment
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("attachment: %w", err)
	}
	if a.OrderID == "" || !dicomkit.ValidUID(a.StudyUID) || a.PatientID <= 0 {
		return nil, fmt.Errorf("attachment: order %q, study %q, patient %d: one is missing or malformed", a.OrderID, a.StudyUID, a.PatientID)
	}
	return &a, nil
}

// AttachStudy attaches a study of the cache (an import: scanner output, a CD from elsewhere) to an imaging
// order: its files are rewritten with the order's patient number as PatientID, the patient's name and the
// order ID as AccessionNumber, and the study goes into the outbox for Orthanc. It works offline; the relay
// sends the images through the server and confirms them against the server's manifest of the study, and the
// SEGs of the study's results wait until then.
func (e *Engine) AttachStudy(ctx context.Context, orderID, studyUID string, p ProgressFunc) error {
	o, err := e.Order(ctx, orderID)
	if err != nil {
		return err
	}
	if o.JobRole != api.JobRIS {
		return fmt.Errorf("order %s is a %s order: images are attached to imaging (RIS) orders", o.ID, o.JobRole)
	}
	if o.Status != api.OrderAccepted && o.Status != api.OrderInProgress {
		return fmt.Errorf("order %s is %s: images are attached once it is accepted, before its result is handed in", o.ID, o.Status)
	}
	if p == nil {
		p = func(Progress) {}
	}
	owner := deid.Owner{PatientID: o.PatientNumber, PatientName: dicomName(o.PatientName), AccessionNumber: o.ID}
	rewrite := func(src string) ([]byte, string, error) {
		b, err := deid.Reassign(src, owner)
		if err != nil {
			return nil, "", err
		}
		m, err := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
		return b, m.TransferSyntax, err
	}
	payload, err := json.Marshal(Attachment{OrderID: o.ID, StudyUID: studyUID, PatientID: o.PatientID})
	if err != nil {
		return err
	}
	err = e.cache.Reassign(ctx, studyUID, cache.Owner{PatientID: owner.PatientID, PatientName: owner.PatientName, Accession: owner.AccessionNumber},
		rewrite, cache.KindAttach, payload, func(done, total int) { p(Progress{Phase: PhasePush, Study: studyUID, Done: done, Total: total}) })
	if err != nil {
		return err
	}
	e.audit(ctx, e.actor(), "study.attach", studyUID, "order "+o.ID)
	return nil
}

// dicomName writes a name as DICOM person names are written: family^given.
func dicomName(name string) string {
	f := strings.Fields(name)
	if len(f) < 2 || strings.Contains(name, "^") {
		return name
	}
	return strings.Join(f[len(f)-1:], "") + "^" + strings.Join(f[:len(f)-1], " ")
}

// sendAttach sends an attached study's images to Orthanc through the server, Workers at a time, and confirms
// them by the server's manifest of the study: every instance there, with the MD5 of the file sent. Orthanc
// stores an instance once, so sending again after a crash is harmless; a study UID Orthanc holds under another
// patient is refused by the server for good.
func (e *Engine) sendAttach(ctx context.Context, it cache.OutboxItem) (string, error) {
	a, err := ParseAttachment(it.Payload)
	if err != nil {
		return "", permanent(err)
	}
	st, err := e.cache.Study(ctx, a.StudyUID)
	if errors.Is(err, cache.ErrNotFound) {
		return "", permanent(fmt.Errorf("study %s of order %s is no longer in the cache", a.StudyUID, a.OrderID))
	}
	if err != nil {
		return "", err
	}
	type file struct{ path, sop, md5 string }
	var files []file
	for _, se := range st.Series {
		for _, in := range se.Instances {
			files = append(files, file{path: in.Path, sop: in.SOPInstanceUID})
		}
	}
	for _, f := range st.SEGs { // SEGs imported with the study go with its images
		files = append(files, file{path: f.Path, sop: f.SOPInstanceUID})
	}
	err = workpool.ForEach(ctx, len(files), e.opts.Workers, func(ctx context.Context, _, i int) error {
		b, err := os.ReadFile(files[i].path)
		if err != nil {
			return err
		}
		sum := md5.Sum(b)
		files[i].md5 = hex.EncodeToString(sum[:])
		_, err = e.pacs.UploadInstance(ctx, b)
		return err
	})
	if err != nil {
		return "", err
	}
	studies, err := e.server.PatientStudies(ctx, a.PatientID)
	if err != nil {
		return "", err
	}
	id := ""
	for _, s := range studies {
		if s.StudyInstanceUID == a.StudyUID {
			id = s.OrthancID
		}
	}
	if id == "" {
		return "", fmt.Errorf("the server does not list study %s among the studies of patient %d after its upload", a.StudyUID, a.PatientID)
	}
	m, err := e.pacs.StudyManifest(ctx, id)
	if err != nil {
		return "", err
	}
	stored := make(map[string]api.ManifestInstance, len(m.Instances))
	for _, in := range m.Instances {
		stored[in.SOPInstanceUID] = in
	}
	for _, f := range files {
		in, ok := stored[f.sop]
		switch {
		case !ok:
			return "", fmt.Errorf("study %s: instance %s is not in Orthanc's manifest after its upload", a.StudyUID, f.sop)
		case in.MD5 != f.md5:
			return "", permanent(fmt.Errorf("study %s: Orthanc holds another file as instance %s (MD5 %s, ours %s)", a.StudyUID, f.sop, in.MD5, f.md5))
		}
	}
	return fmt.Sprintf("orthanc study %s: %d instances confirmed by the manifest", id, len(files)), nil
}

// heldSEGs splits items into those to send now and the SEGs that wait for their study's images: a study
// attached here whose attachment the server has not confirmed yet.
func (e *Engine) heldSEGs(ctx context.Context, items []cache.OutboxItem) (ready, held []cache.OutboxItem, err error) {
	waiting, err := e.cache.UnsentAttachments(ctx)
	if err != nil || len(waiting) == 0 {
		return items, nil, err
	}
	for _, it := range items {
		if (it.Kind == "result.seg" || it.Kind == "result.sr") && waiting[it.StudyUID] {
			held = append(held, it)
		} else {
			ready = append(ready, it)
		}
	}
	return ready, held, nil
}
