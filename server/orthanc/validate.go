package orthanc

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

var (
	idPattern        = regexp.MustCompile(`^[0-9a-f]{8}(-[0-9a-f]{8}){4}$`)
	uidPattern       = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$`)
	framesPattern    = regexp.MustCompile(`^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,63}$`)
	patientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	queryKeyPattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	tagPattern       = regexp.MustCompile(`^[0-9a-f]{8}$`)
)

// ValidTag reports whether s is a DICOM tag as DICOMweb bulk data URIs write it (eight lower-case hex digits).
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// ValidID reports whether s is an Orthanc resource ID (five groups of eight lower-case hex digits).
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidUID reports whether s is a DICOM UID (digits and dots, at most 64 characters, no leading zeros).
func ValidUID(s string) bool { return len(s) <= 64 && uidPattern.MatchString(s) }

// ValidFrames reports whether s is a DICOMweb frame list ("1" or "1,2,3").
func ValidFrames(s string) bool { return framesPattern.MatchString(s) }

// ValidPatientID reports whether s is a PatientID the server searches for (no DICOM wildcards).
func ValidPatientID(s string) bool { return patientIDPattern.MatchString(s) }

// validators check each path parameter of the proxy routes by its name.
var validators = map[string]struct {
	ok   func(string) bool
	what string
}{
	"id":       {ValidID, "an Orthanc resource ID"},
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

// FilterQuery re-encodes a query string for Orthanc, refusing what a DICOMweb or REST query never needs:
// odd parameter names, control characters, overlong values.
func FilterQuery(raw string) (string, error) {
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
		if !queryKeyPattern.MatchString(k) {
			return "", server.Errorf(api.CodeInvalid, "query parameter %q is not allowed", k)
		}
		for _, v := range vs {
			if len(v) > 512 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return "", server.Errorf(api.CodeInvalid, "query parameter %q has an overlong value or control characters", k)
			}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String(), nil
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
