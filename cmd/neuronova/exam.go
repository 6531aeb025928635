package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
)

// cacheExam reads the exam of cached study uid under rule: the study and the patient's other cached studies
// the rule groups with it, merged; open records that the reader opened them.
func cacheExam(ctx context.Context, c *cache.Cache, uid string, rule viewer.ExamRule, open bool) (*viewer.Study, error) {
	read := c.Study
	if open {
		read = c.OpenStudy
	}
	first, err := read(ctx, uid)
	if err != nil {
		return nil, err
	}
	key := rule.KeyOf(first)
	studies := []*viewer.Study{first}
	if rule != viewer.ExamByStudy && first.PatientID != "" {
		rows, err := c.PatientStudies(ctx, first.PatientID)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.UID == uid || rule.Key(r.PatientID, r.Date, r.Accession, r.UID) != key {
				continue
			}
			st, err := read(ctx, r.UID)
			if err != nil {
				return nil, err
			}
			studies = append(studies, st)
		}
	}
	ex := studies[0]
	if len(studies) > 1 {
		ex = viewer.Merge(studies)
	}
	ex.Exam = key
	return ex, nil
}

// oneExam makes one exam of the studies read from input: a study alone, or the studies of one patient
// (PatientID) merged, as a session written one study per series is; studies of several patients are an error.
func oneExam(input string, studies []*viewer.Study) (*viewer.Study, error) {
	switch len(studies) {
	case 0:
		return nil, fmt.Errorf("no DICOM or BraTS study found in %s", input)
	case 1:
		return studies[0], nil
	}
	var uids []string
	for _, s := range studies {
		uids = append(uids, s.UID)
		if s.PatientID == "" || s.PatientID != studies[0].PatientID {
			return nil, fmt.Errorf("%s holds %d studies of more than one patient (%s): give one patient's folder", input, len(studies), strings.Join(uids, ", "))
		}
	}
	ex := viewer.Merge(studies)
	ex.Exam = viewer.ExamByStudy.Key(ex.PatientID, "", "", strings.Join(uids, "+"))
	return ex, nil
}
