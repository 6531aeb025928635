package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/orthanc"
)

// proxyKind is what a proxy route does.
type proxyKind string

const (
	proxyRead      proxyKind = "read"      // GET of one resource, streamed
	proxySearch    proxyKind = "search"    // a search across the archive (QIDO, /tools/find, /tools/lookup)
	proxyUpload    proxyKind = "upload"    // POST /instances, STOW-RS
	proxyTranscode proxyKind = "transcode" // POST /instances/{id}/modify with {"Transcode": …} only
)

// ownerTTL is how long the patient of an Orthanc resource stays cached; the link never changes.
const ownerTTL = time.Hour

// Request and response headers the proxy passes on; nothing else crosses, Authorization least of all.
var (
	forwardedRequestHeaders  = []string{"Accept", "Content-Type"}
	forwardedResponseHeaders = []string{"Content-Type", "Content-Length", "Content-Disposition", "ETag", "Last-Modified"}
)

// admitsAlongside reports whether the route's handler may start its upstream call while the revocation check
// runs: the GETs of the proxy's allow-list (actions orthanc.read and orthanc.search, named by proxyRoutes),
// which change nothing in Orthanc and use nothing of its answer before admitted passes.
func (rt *Route) admitsAlongside() bool {
	return rt.Method == http.MethodGet && (rt.Action == "orthanc."+string(proxyRead) || rt.Action == "orthanc."+string(proxySearch))
}

// proxy forwards one allow-listed call to the Orthanc path template. The upstream URL is built from the
// template and validated identifiers only; patient-scoped roles are checked against the resource's patient
// first; the answer is streamed. On GETs, the token's revocation check runs alongside Orthanc's request and
// the audit record's transaction alongside the streaming, and the answer's end (its last byte, or its last
// chunk) leaves only once the record is committed; other calls commit the record before any byte leaves.
func (s *Server) proxy(template string, kind proxyKind) func(*call) error {
	return func(c *call) error {
		path, err := orthanc.UpstreamPath(template, c.r.PathValue)
		c.objectType, c.objectID = "orthanc", path
		if err != nil {
			return err
		}
		query, err := orthanc.FilterQuery(c.r.URL.RawQuery)
		if err != nil {
			return err
		}
		if err := s.checkImageOwner(c, template); err != nil {
			return err
		}
		header := http.Header{}
		for _, h := range forwardedRequestHeaders {
			if v := c.r.Header.Values(h); len(v) > 0 {
				header[h] = v
			}
		}
		var body io.Reader
		var length int64
		switch kind {
		case proxyTranscode:
			raw, err := readSmall(c, 4<<10)
			if err != nil {
				return err
			}
			ts, err := orthanc.ParseTranscodeRequest(raw)
			if err != nil {
				return err
			}
			// Orthanc gives a modified instance a new SOPInstanceUID unless told to keep it; a transcoded copy
			// must stay the same instance for the workstation (Force allows keeping a UID).
			b, _ := json.Marshal(map[string]any{"Transcode": ts, "Keep": []string{"SOPInstanceUID"}, "Force": true})
			body, length = bytes.NewReader(b), int64(len(b))
			header.Set("Content-Type", "application/json")
			c.detail = "transcode to " + ts
		case proxySearch:
			if c.r.Method == http.MethodPost {
				raw, err := readSmall(c, 64<<10)
				if err != nil {
					return err
				}
				body, length = bytes.NewReader(raw), int64(len(raw))
			}
		case proxyUpload:
			if c.r.ContentLength > s.cfg.MaxUploadBytes {
				return errorf(api.CodeTooLarge, "upload of %d bytes exceeds the limit of %d", c.r.ContentLength, s.cfg.MaxUploadBytes)
			}
			body, length = http.MaxBytesReader(c.w, c.r.Body, s.cfg.MaxUploadBytes), c.r.ContentLength
		}
		resp, err := s.Orthanc.Do(c.ctx, c.r.Method, path, query, header, body, length)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := c.admitted(); err != nil {
			return err // a revoked token: Orthanc's answer is dropped unread
		}
		if resp.StatusCode/100 != 2 {
			return orthancError(resp, c.r.Method, path)
		}
		var answer io.Reader = resp.Body
		if kind == proxyUpload && path == "/instances" {
			// Orthanc's answer to an upload is small: read it to drop the cached study list of its patient.
			b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc's upload answer was cut off"), err)
			}
			stored, err := orthanc.ParseStored(b)
			if err != nil {
				return fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc's upload answer is unreadable"), err)
			}
			if err := s.Cache.Delete(c.ctx, "studies:"+stored.ParentPatient); err != nil {
				return err
			}
			c.detail = "stored " + stored.ID + " (" + stored.Status + ")"
			answer = bytes.NewReader(b)
		}
		if kind == proxyUpload && path == "/dicom-web/studies" {
			// A STOW-RS answer is small JSON (a few hundred bytes per instance): read it to drop the cached
			// study lists of the patients it touched, and to point its retrieve URLs at the proxy rather than
			// at Orthanc, which clients never reach.
			b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			if err != nil {
				return fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc's STOW answer was cut off"), err)
			}
			s.forgetStudyLists(c, b)
			b = bytes.ReplaceAll(b, []byte(s.Orthanc.URL()+"/dicom-web/"), []byte(publicRoot(c.r)+"/api/orthanc/dicom-web/"))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			answer = bytes.NewReader(b)
		}
		// The audit record's transaction runs while a GET's answer streams; the answer is not complete until
		// it has committed (see below). Other calls wait for it before their answer starts, so that a failed
		// record still answers a clean 500.
		c.auditDone = true
		audit := s.audit.start(c.auditRecord(resp.StatusCode))
		overlap := c.r.Method == http.MethodGet
		if !overlap {
			if err := audit.wait(); err != nil {
				return fmt.Errorf("audit record for %s not stored: %w", c.route.Name(), err)
			}
		}
		out := c.w.Header()
		for _, h := range forwardedResponseHeaders {
			if v := resp.Header.Values(h); len(v) > 0 {
				out[h] = v
			}
		}
		out.Set("Cache-Control", "no-store")
		var dst io.Writer = c.w
		var rewrite *replacingWriter
		var buffered *bufio.Writer
		if strings.HasPrefix(template, "/dicom-web/") && kind != proxyUpload && strings.Contains(resp.Header.Get("Content-Type"), "json") {
			// DICOMweb JSON names Orthanc's own address in its retrieve and bulk data URIs: point them at the
			// proxy while streaming (the length changes, so the answer goes chunked).
			out.Del("Content-Length")
			buffered = bufio.NewWriterSize(c.w, 64<<10)
			rewrite = newReplacingWriter(buffered, s.Orthanc.URL()+"/dicom-web/", publicRoot(c.r)+"/api/orthanc/dicom-web/")
			dst = rewrite
		}
		c.streamed = true
		c.w.WriteHeader(resp.StatusCode)
		var last []byte
		if overlap && rewrite == nil && resp.ContentLength > 0 {
			// With a Content-Length the client holds the whole answer once it has the last byte: keep that
			// byte until the audit record is stored.
			if _, err = copyLarge(dst, io.LimitReader(answer, resp.ContentLength-1)); err == nil {
				last = make([]byte, 1)
				_, err = io.ReadFull(answer, last)
			}
		} else {
			// Without one (chunked), the answer ends with the last chunk, which net/http sends after the
			// handler returns, that is after the wait below.
			_, err = copyLarge(dst, answer)
			if err == nil && rewrite != nil {
				if err = rewrite.Flush(); err == nil {
					err = buffered.Flush()
				}
			}
		}
		if err != nil {
			s.log.Warn("proxy stream ended early", "path", path, "user", c.p.LoginID, "err", err)
			last = nil
		}
		if overlap {
			if err := audit.wait(); err != nil {
				// The answer has begun and cannot turn into an error: cut the connection, so that the
				// client never holds a complete answer whose audit record is missing.
				s.log.Error("audit write failed; answer cut off before its end", "route", c.route.Name(), "path", path,
					"user", c.p.LoginID, "err", err)
				panic(http.ErrAbortHandler)
			}
		}
		if last != nil {
			c.w.Write(last)
		}
		return nil
	}
}

// copyBuffers are the buffers of copyLarge.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyLarge copies src to dst in pieces of up to 256 KiB (io.Copy's are 32 KiB): a study streams through
// in a few large writes rather than many small ones. A short final piece arrives as src has it.
func copyLarge(dst io.Writer, src io.Reader) (int64, error) {
	b := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(b)
	// Hide dst's ReadFrom and src's WriteTo, which would pick their own 32 KiB buffer.
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *b)
}

// stowStudy finds the study UIDs in a STOW-RS answer's retrieve URLs.
var stowStudy = regexp.MustCompile(`/dicom-web/studies/([0-9.]{1,64})`)

// forgetStudyLists drops the cached study lists of the patients whose studies a STOW-RS answer names. A
// failure only leaves a list stale until it expires: it is logged, and the upload, which succeeded, answers.
func (s *Server) forgetStudyLists(c *call, stow []byte) {
	seen := map[string]bool{}
	for _, m := range stowStudy.FindAllSubmatch(stow, -1) {
		uid := string(m[1])
		if seen[uid] {
			continue
		}
		seen[uid] = true
		id, err := s.Orthanc.ResourceByUID(c.ctx, uid, "Study")
		if err == nil {
			var patientID string
			if patientID, err = s.Orthanc.PatientIDOf(c.ctx, "studies", id); err == nil {
				err = s.Cache.Delete(c.ctx, studiesCacheKey(patientID))
			}
		}
		if err != nil {
			s.log.Warn("study list of a STOW upload not refreshed; it expires on its own", "study", uid, "err", err)
		}
	}
}

// publicRoot is the scheme and host the client called the server on.
func publicRoot(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func readSmall(c *call, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// checkImageOwner lets EXTERNAL and PATIENT users reach only the studies of their own patients: it resolves the
// resource of the path (the deepest UID of a DICOMweb path, or the Orthanc ID) to its PatientID and that to a
// registered patient they own. Other roles allowed on the route are not restricted.
func (s *Server) checkImageOwner(c *call, template string) error {
	if !c.p.Role.PatientScoped() {
		return nil
	}
	var typ, key string
	for _, t := range []struct{ param, typ string }{{"instance", "Instance"}, {"series", "Series"}, {"study", "Study"}} {
		if v := c.r.PathValue(t.param); v != "" {
			typ, key = t.typ, v
			break
		}
	}
	level := ""
	if typ == "" {
		level, key = strings.Split(template, "/")[1], c.r.PathValue("id")
		if key == "" {
			return errorf(api.CodeForbidden, "role %s may only open studies of its own patients", c.p.Role)
		}
	} else {
		level = orthanc.ResourceTypes[typ]
	}
	cacheKey := "owner:" + level + ":" + key
	patientID := ""
	if b, ok, err := s.Cache.Get(c.ctx, cacheKey); err != nil {
		return err
	} else if ok {
		patientID = string(b)
	} else {
		id := key
		if typ != "" {
			if id, err = s.Orthanc.ResourceByUID(c.ctx, key, typ); err != nil {
				return err
			}
		}
		if patientID, err = s.Orthanc.PatientIDOf(c.ctx, level, id); err != nil {
			return err
		}
		if err := s.Cache.Set(c.ctx, cacheKey, []byte(patientID), ownerTTL); err != nil {
			return err
		}
	}
	pid, owner, err := s.Store.OwnershipByNumber(c.ctx, patientID)
	if server.IsCode(err, api.CodeNotFound) {
		return errorf(api.CodeForbidden, "this study belongs to no patient of yours")
	}
	if err != nil {
		return err
	}
	c.patientID = &pid
	if !server.ScopeOf(c.p).SeesImagesOf(owner) {
		return errorf(api.CodeForbidden, "this study belongs to no patient of yours")
	}
	return nil
}

// orthancError turns a refusal of Orthanc into the API's error.
func orthancError(resp *http.Response, method, path string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var oe struct{ Message, OrthancError, Details string }
	_ = json.Unmarshal(raw, &oe) // Orthanc answers JSON; when it does not, the status alone speaks
	why := strings.TrimSpace(strings.Join([]string{oe.OrthancError, oe.Details}, " "))
	cause := fmt.Errorf("orthanc answered %s %s with %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", errorf(api.CodeNotFound, "orthanc has no %s", path), cause)
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusNotAcceptable:
		return fmt.Errorf("%w: %w", errorf(api.CodeInvalid, "orthanc refused %s %s: %s", method, path, why), cause)
	}
	return fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc failed %s %s (%d)", method, path, resp.StatusCode), cause)
}

// replacingWriter writes to w with every occurrence of old replaced by new, also where an occurrence spans
// two writes: the last len(old)-1 bytes of each write wait for the next one. Flush writes them at the end.
// It writes many small pieces: give it a buffered w.
type replacingWriter struct {
	w                io.Writer
	old, new         []byte
	pending, scratch []byte
}

func newReplacingWriter(w io.Writer, old, new string) *replacingWriter {
	return &replacingWriter{w: w, old: []byte(old), new: []byte(new)}
}

func (r *replacingWriter) Write(p []byte) (int, error) {
	data := p
	if len(r.pending) > 0 {
		r.scratch = append(append(r.scratch[:0], r.pending...), p...)
		data = r.scratch
	}
	for {
		i := bytes.Index(data, r.old)
		if i < 0 {
			break
		}
		if _, err := r.w.Write(data[:i]); err != nil {
			return 0, err
		}
		if _, err := r.w.Write(r.new); err != nil {
			return 0, err
		}
		data = data[i+len(r.old):]
	}
	keep := min(len(r.old)-1, len(data))
	if _, err := r.w.Write(data[:len(data)-keep]); err != nil {
		return 0, err
	}
	r.pending = append(r.pending[:0], data[len(data)-keep:]...)
	return len(p), nil
}

// Flush writes the bytes held back.
func (r *replacingWriter) Flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	_, err := r.w.Write(r.pending)
	r.pending = r.pending[:0]
	return err
}
