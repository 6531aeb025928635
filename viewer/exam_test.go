package viewer

import "testing"

// thirdParty is a session as some converters write it: one StudyInstanceUID per series, same patient and
// date; and the same patient's earlier study, and another patient on the same day.
func thirdParty() []*Study {
	var out []*Study
	for i, typ := range []SeriesType{T2, T1, FLAIR, T1CE} {
		uid := "1.2.9." + string(rune('1'+i))
		out = append(out, &Study{UID: uid, PatientID: "P7", PatientName: "DOE^JANE", StudyDate: "20240301", StudyTime: "0930" + string(rune('0'+i)),
			Description: "MR BRAIN", AccessionNumber: "A1",
			Series: []*Series{{UID: uid + ".1", StudyUID: uid, Number: 100 + int(typ[0]), Type: typ}}})
	}
	out = append(out, &Study{UID: "1.2.8", PatientID: "P7", StudyDate: "20231201", AccessionNumber: "A0", Series: []*Series{{UID: "1.2.8.1", Type: T1CE}}})
	out = append(out, &Study{UID: "1.2.7", PatientID: "P8", StudyDate: "20240301", AccessionNumber: "A1", Series: []*Series{{UID: "1.2.7.1", Type: T1}}})
	return out
}

func TestGroupExams(t *testing.T) {
	studies := thirdParty()
	exams := GroupExams(studies, ExamByDay)
	if len(exams) != 3 {
		t.Fatalf("%d exams, want the session, the earlier study and the other patient", len(exams))
	}
	ex := exams[0]
	if len(ex.Members) != 4 || len(ex.Series) != 4 || ex.UID != "1.2.9.1" || ex.Description != "MR BRAIN" || ex.AccessionNumber != "A1" {
		t.Fatalf("exam: %d members, %d series, UID %s, %q, %q", len(ex.Members), len(ex.Series), ex.UID, ex.Description, ex.AccessionNumber)
	}
	for _, typ := range BrainTumourTypes {
		se := ex.SeriesByType(typ)
		if se == nil || ex.StudyOf(se).UID != se.StudyUID {
			t.Errorf("%s: %v, in study %v", typ, se, se)
		}
	}
	if exams[1].Members != nil || exams[1] != studies[4] || exams[1].Exam != ExamByDay.KeyOf(studies[4]) {
		t.Errorf("a study alone is returned as it is, with its key")
	}
	if got := len(ex.StudyUIDs()); got != 4 {
		t.Errorf("StudyUIDs: %d", got)
	}
	if n := len(GroupExams(thirdParty(), ExamByStudy)); n != 6 {
		t.Errorf("by study: %d exams, want 6", n)
	}
	if n := len(GroupExams(thirdParty(), ExamByAccession)); n != 3 {
		t.Errorf("by accession: %d exams, want 3 (A1 of P7, A0, A1 of P8)", n)
	}
	noID := &Study{UID: "x", StudyDate: "20240301"}
	if ExamByDay.KeyOf(noID) != "study|x" {
		t.Errorf("a study without PatientID is grouped: %s", ExamByDay.KeyOf(noID))
	}
	if _, err := ParseExamRule("week"); err == nil {
		t.Error("unknown rule accepted")
	}
	if r, err := ParseExamRule(""); err != nil || r != ExamByDay {
		t.Errorf("default rule %q %v", r, err)
	}
}
