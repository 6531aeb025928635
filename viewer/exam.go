package viewer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ExamRule says which studies of one patient form one exam: what a reader opens from the worklist, what the
// hanging protocol lays out and what M1 chooses its sequences from. Some converters write one study per
// series of a session; the exam puts the session back together.
type ExamRule string

const (
	// ExamByDay: the studies of one patient (PatientID) on one date. The default.
	ExamByDay ExamRule = "day"
	// ExamByAccession: the studies of one patient that share an accession number.
	ExamByAccession ExamRule = "accession"
	// ExamByStudy: every study is an exam of its own.
	ExamByStudy ExamRule = "study"
)

// ExamRules lists the rules in menu order.
var ExamRules = []ExamRule{ExamByDay, ExamByAccession, ExamByStudy}

// ParseExamRule reads a rule by name; "" is ExamByDay.
func ParseExamRule(s string) (ExamRule, error) {
	switch r := ExamRule(strings.ToLower(strings.TrimSpace(s))); r {
	case "":
		return ExamByDay, nil
	case ExamByDay, ExamByAccession, ExamByStudy:
		return r, nil
	}
	return "", fmt.Errorf("exam rule %q: want day, accession or study", s)
}

// Key is the exam a study belongs to under rule r: studies with equal keys form one exam. A study without
// the attributes the rule needs is an exam of its own.
func (r ExamRule) Key(patientID, date, accession, studyUID string) string {
	switch {
	case r == ExamByDay && patientID != "" && date != "":
		return "day|" + patientID + "|" + date
	case r == ExamByAccession && patientID != "" && accession != "":
		return "accession|" + patientID + "|" + accession
	}
	return "study|" + studyUID
}

// KeyOf is Key for a study.
func (r ExamRule) KeyOf(s *Study) string {
	return r.Key(s.PatientID, s.StudyDate, s.AccessionNumber, s.UID)
}

// GroupExams groups studies into exams under rule: a study alone is returned as it is, several are merged
// (Merge). Exams come in the order of their first study; every returned study has its Exam key set.
func GroupExams(studies []*Study, rule ExamRule) []*Study {
	var keys []string
	groups := map[string][]*Study{}
	for _, st := range studies {
		k := rule.KeyOf(st)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], st)
	}
	out := make([]*Study, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		ex := g[0]
		if len(g) > 1 {
			ex = Merge(g)
		}
		ex.Exam = k
		out = append(out, ex)
	}
	return out
}

// Merge makes one exam of several studies of one patient. Its UID is the earliest study's (by date, time and
// UID), its patient and study attributes that study's; its description and accession numbers list the
// members' distinct ones; its series are all the members' (by series number, then study time); its label map
// is the first member's that has one. Members lists the studies; StudyOf finds a series' own study.
func Merge(studies []*Study) *Study {
	members := slices.Clone(studies)
	slices.SortStableFunc(members, func(a, b *Study) int {
		return cmp.Or(strings.Compare(a.StudyDate, b.StudyDate), strings.Compare(a.StudyTime, b.StudyTime), strings.Compare(a.UID, b.UID))
	})
	first := members[0]
	ex := &Study{UID: first.UID, PatientName: first.PatientName, PatientID: first.PatientID, PatientBirthDate: first.PatientBirthDate,
		PatientSex: first.PatientSex, StudyDate: first.StudyDate, StudyTime: first.StudyTime, Institution: first.Institution,
		Members: members}
	var descs, accs []string
	order := map[*Series]int{}
	for i, m := range members {
		if m.Description != "" && !slices.Contains(descs, m.Description) {
			descs = append(descs, m.Description)
		}
		if m.AccessionNumber != "" && !slices.Contains(accs, m.AccessionNumber) {
			accs = append(accs, m.AccessionNumber)
		}
		if ex.Institution == "" {
			ex.Institution = m.Institution
		}
		if ex.Labels == nil {
			ex.Labels = m.Labels
		}
		ex.SEGs = append(ex.SEGs, m.SEGs...)
		for _, se := range m.Series {
			order[se] = i
			ex.Series = append(ex.Series, se)
		}
	}
	ex.Description, ex.AccessionNumber = strings.Join(descs, " + "), strings.Join(accs, ", ")
	slices.SortStableFunc(ex.Series, func(a, b *Series) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), cmp.Compare(order[a], order[b]))
	})
	return ex
}

// StudyOf returns the study series se (by SeriesInstanceUID) belongs to: the member of an exam that holds
// it, else s itself.
func (s *Study) StudyOf(se *Series) *Study {
	for _, m := range s.Members {
		if slices.ContainsFunc(m.Series, func(x *Series) bool { return x == se || x.UID == se.UID }) {
			return m
		}
	}
	return s
}

// StudyUIDs lists the StudyInstanceUIDs an exam covers: its members', or its own.
func (s *Study) StudyUIDs() []string {
	if len(s.Members) == 0 {
		return []string{s.UID}
	}
	uids := make([]string, len(s.Members))
	for i, m := range s.Members {
		uids[i] = m.UID
	}
	return uids
}
