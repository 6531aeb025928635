package orthanc

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/server"
)

var (
	framesPattern    = regexp.MustCompile(`^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,63}$`)
	patientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	tagPattern       = regexp.MustCompile(`^[0-9a-f]{8}$`)
)

// ValidTag reports whether s is a DICOM tag as DICOMweb bulk data URIs write it (eight lower-case hex digits).
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// ValidUID reports whether s is a DICOM UID (digits and dots, at most 64 characters, no leading zeros).
func ValidUID(s string) bool { return dicomkit.ValidUID(s) }

// ValidFrames reports whether s is a DICOMweb frame list ("1" or "1,2,3").
func ValidFrames(s string) bool { return framesPattern.MatchString(s) }

// ValidPatientID reports whether s is a PatientID the server searches for (no DICOM wildcards).
func ValidPatientID(s string) bool { return patientIDPattern.MatchString(s) }

// validators check each path parameter of the proxy routes by its name.
var validators = map[string]struct {
	ok   func(string) bool
	what string
}{
	"id":       {api.ValidOrthancID, "an Orthanc resource ID"},
	"study":    {ValidUID, "a StudyInstanceUID"},
	"series":   {ValidUID, "a SeriesInstanceUID"},
	"instance": {ValidUID, "a SOPInstanceUID"},
	"frames":   {ValidFrames, "a frame list"},
	"tag":      {ValidTag, "a DICOM tag (eight lower-case hex digits)"},
}

// UpstreamPath fills the {name} parameters of an upstream template (for example "/studies/{id}/archive") with
// the values value returns, after checking each against the syntax of its name. What it returns can only be
// the template with well-formed identifiers in it: no "..", no slashes, no escapes, no query.
func UpstreamPath(template string, value func(name string) string) (string, error) {
	segs := strings.Split(template, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := seg[1 : len(seg)-1]
		v, ok := validators[name]
		if !ok {
			return "", server.Errorf(api.CodeInternal, "proxy template %s has an unknown parameter {%s}", template, name)
		}
		got := value(name)
		if !v.ok(got) {
			return "", server.Errorf(api.CodeInvalid, "%q is not %s", got, v.what)
		}
		segs[i] = got
	}
	return strings.Join(segs, "/"), nil
}

// QueryParams is the allow-list of one proxied route's query string: each parameter Orthanc documents for the
// route, with the check its value must pass. A parameter not named is refused, whatever its case or encoding:
// Orthanc turns a GET with "_method=DELETE" into a DELETE, so nothing may cross that the route does not need.
type QueryParams struct {
	names map[string]func(string) bool
	// dicom admits DICOM attribute keys as QIDO-RS matching keys: the keywords listed, or a tag in eight hex digits.
	dicom map[string]bool
}

// Has reports whether the allow-list admits a parameter named name.
func (q QueryParams) Has(name string) bool {
	_, ok := q.names[name]
	return ok || q.dicom[name] || (q.dicom != nil && hexTagPattern.MatchString(name))
}

var (
	hexTagPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}$`)
	fieldPattern  = regexp.MustCompile(`^([A-Za-z]{1,64}|[0-9A-Fa-f]{8})$`)
	countPattern  = regexp.MustCompile(`^[0-9]{1,6}$`)
)

func flag(v string) bool { return v == "" || v == "true" || v == "false" || v == "0" || v == "1" }

// includeField is a QIDO-RS includefield value: "all", or up to 64 keywords or tags separated by commas.
func includeField(v string) bool {
	if v == "all" {
		return true
	}
	fields := strings.Split(v, ",")
	if len(fields) > 64 {
		return false
	}
	for _, f := range fields {
		if !fieldPattern.MatchString(f) {
			return false
		}
	}
	return true
}
func count(v string) bool { return countPattern.MatchString(v) }

// dicomValue is a QIDO-RS matching value: printable text of at most 512 bytes (wildcards and ranges allowed).
func dicomValue(v string) bool {
	return len(v) <= 512 && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func params(names ...string) map[string]func(string) bool {
	m := make(map[string]func(string) bool, len(names))
	for _, n := range names {
		m[n] = flag
	}
	return m
}

func keywords(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// qido is the allow-list of a QIDO-RS search (DICOM PS3.18 §8.3.4) at one level: its matching keys, and
// includefield, limit, offset and fuzzymatching.
func qido(attributes ...string) QueryParams {
	return QueryParams{names: map[string]func(string) bool{"includefield": includeField, "limit": count,
		"offset": count, "fuzzymatching": flag}, dicom: keywords(attributes...)}
}

// The allow-lists of the proxy's routes, from Orthanc's REST reference and PS3.18 (Orthanc 1.10).
var (
	// NoQuery: the route takes no query parameter (downloads, uploads, WADO-RS retrieval, tools).
	NoQuery = QueryParams{}
	// ResourceQuery: GET /{studies,series,instances}/{id}.
	ResourceQuery = QueryParams{names: params("short", "full")}
	// ChildrenQuery: the lists of a resource's series or instances.
	ChildrenQuery = QueryParams{names: params("expand", "short", "full")}
	// TagsQuery: GET /instances/{id}/tags and simplified-tags.
	TagsQuery = QueryParams{names: params("short", "simplify", "whole")}
	// QIDO-RS searches at the study, series and instance levels.
	QIDOStudies = qido("StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy", "ReferringPhysicianName",
		"PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID", "StudyDescription")
	QIDOSeries    = qido("Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "PerformedProcedureStepStartDate")
	QIDOInstances = qido("SOPClassUID", "SOPInstanceUID", "InstanceNumber")
)

// FilterQuery re-encodes a query string for Orthanc with only the parameters allowed names, each value checked.
// Anything else is refused with an error naming the parameter.
func FilterQuery(raw string, allowed QueryParams) (string, error) {
	if raw == "" {
		return "", nil
	}
	if len(raw) > 4096 {
		return "", server.Errorf(api.CodeInvalid, "query string is longer than 4096 bytes")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", server.Errorf(api.CodeInvalid, "query string is malformed: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k, vs := range q {
		if !allowed.Has(k) {
			return "", server.Errorf(api.CodeInvalid, "query parameter %q is not allowed on this route", clip(k, 64))
		}
		ok := allowed.names[k]
		if ok == nil {
			ok = dicomValue
		}
		if len(vs) > 1 {
			return "", server.Errorf(api.CodeInvalid, "query parameter %q is given %d times", k, len(vs))
		}
		if !ok(vs[0]) {
			return "", server.Errorf(api.CodeInvalid, "query parameter %q has a value this route does not accept", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q[k][0]))
	}
	return b.String(), nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Transfer syntaxes the proxy transcodes to on request.
const (
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
)

// ParseTranscodeRequest reads the body of POST /instances/{id}/modify as the proxy allows it: exactly
// {"Transcode": "<transfer syntax>"} with an uncompressed little-endian syntax. Anything else (tag
// replacements, removals, storing the modified copy) is refused: the proxy never changes stored data.
func ParseTranscodeRequest(body []byte) (string, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return "", server.Errorf(api.CodeInvalid, `modify body must be the JSON object {"Transcode": "%s"}`, ExplicitVRLittleEndian)
	}
	for k := range req {
		if k != "Transcode" {
			return "", server.Errorf(api.CodeInvalid, "modify may only transcode; %q is not allowed", k)
		}
	}
	var ts string
	if err := json.Unmarshal(req["Transcode"], &ts); err != nil {
		return "", server.Errorf(api.CodeInvalid, "Transcode must be a transfer syntax UID string")
	}
	if ts != ExplicitVRLittleEndian && ts != ImplicitVRLittleEndian {
		return "", server.Errorf(api.CodeInvalid, "Transcode %q must be %s (explicit VR little endian) or %s (implicit)",
			ts, ExplicitVRLittleEndian, ImplicitVRLittleEndian)
	}
	return ts, nil
}
