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

	"github.com/neuronova/neuronova/api"
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

// Request and response headers the proxy passes on; nothing else crosses, Authorization least of all.
var (
	forwardedRequestHeaders  = []string{"Accept", "Content-Type"}
	forwardedResponseHeaders = []string{"Content-Type", "Content-Length", "Content-Disposition", "ETag", "Last-Modified"}
)

// proxy forwards one allow-listed call to the Orthanc path template. It runs only once the call is
// authenticated, its token found unrevoked and its role allowed (guard), and, for patient-scoped roles, the
// resource found to belong to one of the caller's patients. The upstream URL is built from the template, the
// validated identifiers and the route's allowed query parameters only; the answer is streamed, and its end
// leaves only once the call's audit record, with the outcome the client saw, is committed.
func (s *Server) proxy(template string, kind proxyKind, params orthanc.QueryParams) func(*call) error {
	return func(c *call) error {
		up, err := s.upstreamRequest(c, template, kind, params)
		if err != nil {
			return err
		}
		if up.close != nil {
			defer up.close()
		}
		if err := s.checkImageOwner(c, template); err != nil {
			return err
		}
		resp, err := s.Orthanc.Do(c.ctx, c.r.Method, up.path, up.query, up.header, up.body, up.length)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return orthanc.Refusal(resp, c.r.Method, up.path, true)
		}
		answer, err := s.upstreamAnswer(c, kind, up.path, resp)
		if err != nil {
			return err
		}
		return s.relay(c, template, kind, resp, answer)
	}
}

// upstream is the request the proxy sends to Orthanc.
type upstream struct {
	path, query string
	header      http.Header
	body        io.Reader
	length      int64
	close       func() // releases the spooled upload, if any
}

// upstreamRequest builds the request for Orthanc from the client's, keeping only what the route allows.
func (s *Server) upstreamRequest(c *call, template string, kind proxyKind, params orthanc.QueryParams) (*upstream, error) {
	path, err := orthanc.UpstreamPath(template, c.r.PathValue)
	c.objectType, c.objectID = "orthanc", path
	if err != nil {
		return nil, err
	}
	up := &upstream{path: path, header: http.Header{}}
	if up.query, err = orthanc.FilterQuery(c.r.URL.RawQuery, params); err != nil {
		return nil, err
	}
	for _, h := range forwardedRequestHeaders {
		if v := c.r.Header.Values(h); len(v) > 0 {
			up.header[h] = v
		}
	}
	switch kind {
	case proxyTranscode:
		raw, err := readSmall(c, 4<<10)
		if err != nil {
			return nil, err
		}
		ts, err := orthanc.ParseTranscodeRequest(raw)
		if err != nil {
			return nil, err
		}
		// Orthanc gives a modified instance a new SOPInstanceUID unless told to keep it; a transcoded copy
		// must stay the same instance for the workstation (Force allows keeping a UID).
		b, _ := json.Marshal(map[string]any{"Transcode": ts, "Keep": []string{"SOPInstanceUID"}, "Force": true})
		up.body, up.length = bytes.NewReader(b), int64(len(b))
		up.header.Set("Content-Type", "application/json")
		c.detail = "transcode to " + ts
	case proxySearch:
		if c.r.Method == http.MethodPost {
			raw, err := readSmall(c, 64<<10)
			if err != nil {
				return nil, err
			}
			up.body, up.length = bytes.NewReader(raw), int64(len(raw))
		}
	case proxyUpload:
		if c.r.ContentLength > s.cfg.MaxUploadBytes {
			return nil, errorf(api.CodeTooLarge, "upload of %d bytes exceeds the limit of %d", c.r.ContentLength, s.cfg.MaxUploadBytes)
		}
		// The whole upload is read and checked before Orthanc sees a byte of it.
		sp, err := spool(c, s.cfg.MaxUploadBytes)
		if err != nil {
			return nil, err
		}
		up.close = sp.close
		ids, err := uploadIdentities(path, c.r.Header.Get("Content-Type"), sp.reader())
		if err == nil {
			err = s.checkUpload(c, ids)
		}
		if err == nil {
			s.describeUpload(c, ids) // a refused edit's record names it too
			err = s.checkSEGEdits(c, ids)
		}
		if err != nil {
			sp.close()
			return nil, err
		}
		up.body, up.length = sp.reader(), sp.size
	}
	return up, nil
}

// upstreamAnswer reads the small answers of uploads, to drop the study lists they change and, for STOW-RS, to
// point retrieve URLs at the proxy; other answers stream as they come.
func (s *Server) upstreamAnswer(c *call, kind proxyKind, path string, resp *http.Response) (io.Reader, error) {
	if kind != proxyUpload {
		return resp.Body, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc's upload answer was cut off"), err)
	}
	if path == "/instances" {
		stored, err := orthanc.ParseStored(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errorf(api.CodeBadGateway, "orthanc's upload answer is unreadable"), err)
		}
		if err := s.Cache.Delete(c.ctx, "studies:"+stored.ParentPatient); err != nil {
			return nil, err
		}
		c.detail = strings.TrimSpace(c.detail + "; stored " + stored.ID + " (" + stored.Status + ")")
	} else {
		s.forgetStudyLists(c, b)
		b = bytes.ReplaceAll(b, []byte(s.Orthanc.URL()+"/dicom-web/"), []byte(s.publicRoot()+"/api/orthanc/dicom-web/"))
	}
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.ContentLength = int64(len(b))
	return bytes.NewReader(b), nil
}

// relay sends Orthanc's answer to the client. The client holds a complete answer once it has the last byte
// (with a Content-Length) or the last chunk (without, sent when the handler returns): both wait until the
// call's audit record is committed. An answer Orthanc did not finish, or whose record could not be stored, is
// cut off — the client sees a broken connection, never a clean end — and audited as failed.
func (s *Server) relay(c *call, template string, kind proxyKind, resp *http.Response, answer io.Reader) error {
	out := c.w.Header()
	for _, h := range forwardedResponseHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			out[h] = v
		}
	}
	out.Set("Cache-Control", "no-store")
	c.auditDone, c.streamed = true, true
	if resp.ContentLength == 0 {
		if err := s.audit.record(c.ctx, c.auditRecord(resp.StatusCode)); err != nil {
			c.streamed = false // nothing is written yet: the client gets a clean 500
			return fmt.Errorf("audit record for %s not stored: %w", c.route.Name(), err)
		}
		c.w.WriteHeader(resp.StatusCode)
		return nil
	}
	var dst io.Writer = c.w
	var rewrite *replacingWriter
	var buffered *bufio.Writer
	if strings.HasPrefix(template, "/dicom-web/") && kind != proxyUpload && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		// DICOMweb JSON names Orthanc's own address in its retrieve and bulk data URIs: point them at the
		// proxy while streaming (the length changes, so the answer goes chunked).
		out.Del("Content-Length")
		buffered = bufio.NewWriterSize(c.w, 64<<10)
		rewrite = newReplacingWriter(buffered, s.Orthanc.URL()+"/dicom-web/", s.publicRoot()+"/api/orthanc/dicom-web/")
		dst = rewrite
	}
	var zip *zipTail
	if strings.HasSuffix(template, "/archive") {
		zip = &zipTail{}
		dst = io.MultiWriter(dst, zip)
	}
	c.w.WriteHeader(resp.StatusCode)
	var last []byte
	var n int64
	var err error
	if rewrite == nil && resp.ContentLength > 0 {
		if n, err = copyLarge(dst, io.LimitReader(answer, resp.ContentLength-1)); err == nil {
			last = make([]byte, 1)
			_, err = io.ReadFull(answer, last)
		}
	} else {
		n, err = copyLarge(dst, answer)
		if err == nil && rewrite != nil {
			if err = rewrite.Flush(); err == nil {
				err = buffered.Flush()
			}
		}
	}
	if err == nil && zip != nil {
		err = zip.complete()
	}
	status := resp.StatusCode
	if err != nil {
		status = http.StatusBadGateway
		c.detail = strings.TrimSpace(c.detail + fmt.Sprintf(" answer cut off after %d bytes: %v", n, err))
		s.log.Warn("proxy answer cut off; the client's connection is broken", "path", c.objectID, "user", c.p.LoginID, "err", err)
	}
	if aerr := s.audit.record(c.ctx, c.auditRecord(status)); aerr != nil {
		s.log.Error("audit write failed; answer cut off before its end", "route", c.route.Name(), "path", c.objectID,
			"user", c.p.LoginID, "err", aerr)
		err = aerr
	}
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if last != nil {
		c.w.Write(last)
	}
	return nil
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
		patients, err := s.patientsOfUID(c, uid, "Study")
		for _, p := range patients {
			if err == nil {
				err = s.Cache.Delete(c.ctx, studiesCacheKey(p))
			}
		}
		if err != nil {
			s.log.Warn("study list of a STOW upload not refreshed; it expires on its own", "study", uid, "err", err)
		}
	}
}

// publicRoot is the server's public URL as configured (never the request's Host header, which the client
// chooses), or "" to write root-relative URLs.
func (s *Server) publicRoot() string { return strings.TrimSuffix(s.cfg.PublicURL, "/") }

func readSmall(c *call, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		return nil, err
	}
	return b, nil
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
