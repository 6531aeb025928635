package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// pacsStudy stores a geometricStudy in Orthanc and returns its StudyInstanceUID, Orthanc's study ID and its
// number of instances.
func pacsStudy(t *testing.T, s *testsvc.Stack) (uid, orthancID string, n int) {
	t.Helper()
	uid, paths := geometricStudy(t)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := s.OrthancPost("/instances", raw)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ ParentStudy string }
		if err := json.Unmarshal(ans, &st); err != nil || st.ParentStudy == "" {
			t.Fatalf("Orthanc's answer %s: %v", ans, err)
		}
		orthancID = st.ParentStudy
	}
	return uid, orthancID, len(paths)
}

// geometricStudy writes a small MR series of the demo patient with real geometry (positions, orientation,
// frame of reference) and returns its StudyInstanceUID and files.
func geometricStudy(t *testing.T) (uid string, paths []string) {
	t.Helper()
	g := viewer.Geometry{Size: [3]int{24, 20, 8}, Spacing: viewer.Vec3{1.2, 1.1, 3}, Origin: viewer.Vec3{-14, -11, -10},
		Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i % 89)
	}
	info := dcmwrite.StudyInfo{UID: testsvc.NewUID(), PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyDate: "20240102",
		StudyTime: "101500"}
	paths, err := dcmwrite.WriteSeries(t.TempDir(), info, dcmwrite.SeriesInfo{Number: 3, Description: "T1CE", Type: viewer.T1CE,
		FrameOfReferenceUID: testsvc.NewUID()}, v)
	if err != nil {
		t.Fatal(err)
	}
	return info.UID, paths
}

// scanned reads the files of a cached series again, as the window does before it writes or places a SEG (the
// cache lists instances without their positions).
func scanned(t *testing.T, se *viewer.Series) *viewer.Series {
	t.Helper()
	paths := make([]string, len(se.Instances))
	for i, in := range se.Instances {
		paths[i] = in.Path
	}
	res, err := viewer.Scan(context.Background(), paths)
	if err != nil || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("scan series %s: %v", se.UID, err)
	}
	return res.Studies[0].Series[0]
}

// tumourRegions is an M1-like label map on g: a necrotic core in enhancing tumour, oedema beside them, slices
// without any.
func tumourRegions(g viewer.Geometry) *viewer.LabelMap {
	m := viewer.NewLabelMap(g)
	for k := 1; k < g.Size[2]-1; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				r := (i-10)*(i-10) + (j-9)*(j-9)
				switch {
				case r <= 4 && k > 2:
					m.Data[g.Index(i, j, k)] = viewer.LabelNCR
				case r <= 16:
					m.Data[g.Index(i, j, k)] = viewer.LabelET
				case i > 16 && j < 8 && k%3 != 0:
					m.Data[g.Index(i, j, k)] = viewer.LabelED
				}
			}
		}
	}
	return m
}

// openOnly opens study uid from c and checks that it has one image series of n instances and returns it.
func openOnly(t *testing.T, c *cache.Cache, uid string, n int) *viewer.Study {
	t.Helper()
	st, err := c.OpenStudy(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Series) != 1 || len(st.Series[0].Instances) != n {
		t.Fatalf("study %s: %d series (want 1 of %d instances)", uid, len(st.Series), n)
	}
	return st
}

// TestSEGRoundTripBetweenTwoCaches (issue 14, item 2): workstation A pulls a study from the PACS, records an
// M1-like result and its SEG as the analyzer does (dicomseg.Write on the series read again; RecordResults m1 +
// seg) and syncs: the real server stores the SEG in the real Orthanc. Workstation B, another cache, pulls
// the study: opened from B's cache it has the SEG in Study.SEGs (its series only the images), and the SEG
// placed on B's series gives A's label map voxel for voxel.
func TestSEGRoundTripBetweenTwoCaches(t *testing.T) {
	s := serverSide(t)
	ctx := context.Background()
	uid, orthancID, n := pacsStudy(t, s)

	a, ca := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := a.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	if sum, err := a.Prefetch(ctx, orthancID, nil); err != nil || sum.Pulled != n {
		t.Fatalf("A's prefetch %+v %v", sum, err)
	}
	stA := openOnly(t, ca, uid, n)
	if len(stA.SEGs) != 0 {
		t.Fatalf("A's study has SEGs before any was made: %+v", stA.SEGs)
	}
	refA := scanned(t, stA.Series[0])
	m := tumourRegions(refA.Grid)
	segPath := filepath.Join(t.TempDir(), "m1-seg.dcm")
	if err := dicomseg.Write(segPath, m, dicomseg.Options{Study: stA, Reference: refA, Algorithm: "m1-demo 0.1",
		SoftwareVersions: dcmwrite.ImplementationVersionName}); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	written, err := dicomseg.Parse(seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.RecordResults(ctx, uid, []cache.ResultInput{{Kind: "m1", Payload: m1Result(testsvc.NewUID())},
		{Kind: "seg", Payload: seg}}); err != nil {
		t.Fatal(err)
	}
	if sum, err := a.Round(ctx, nil); err != nil || sum.SEGs != 1 || sum.Failed != 0 {
		t.Fatalf("A's sync %+v %v\nserver log:\n%s", sum, err, s.Server.LogTail())
	}
	if k, err := s.CountSOP(written.SOPInstanceUID); err != nil || k != 1 {
		t.Fatalf("Orthanc holds A's SEG %d times (%v)", k, err)
	}

	b, cb := newEngine(t, s.URL, Options{NoPrefetch: true})
	if _, err := b.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		t.Fatal(err)
	}
	if sum, err := b.Prefetch(ctx, orthancID, nil); err != nil || sum.Pulled != n+1 {
		t.Fatalf("B's prefetch %+v %v", sum, err)
	}
	stB := openOnly(t, cb, uid, n)
	if stB.Series[0].UID != refA.UID {
		t.Fatalf("B's series %s, A's %s", stB.Series[0].UID, refA.UID)
	}
	if len(stB.SEGs) != 1 || stB.SEGs[0].SOPInstanceUID != written.SOPInstanceUID || stB.SEGs[0].SeriesUID != written.SeriesUID {
		t.Fatalf("B's SEGs %+v, A wrote %s", stB.SEGs, written.SOPInstanceUID)
	}
	pulled, err := os.ReadFile(stB.SEGs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dicomseg.Parse(pulled)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := got.LabelMap(scanned(t, stB.Series[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(mb.Data) != len(m.Data) || !mb.SameGrid(m.Geometry, 1e-6) {
		t.Fatalf("B's map is %v, A's %v", mb.Size, m.Size)
	}
	diff, counts := 0, map[uint8]int{}
	for i := range m.Data {
		if mb.Data[i] != m.Data[i] {
			diff++
		}
		counts[m.Data[i]]++
	}
	if diff != 0 || counts[viewer.LabelNCR] == 0 || counts[viewer.LabelED] == 0 || counts[viewer.LabelET] == 0 {
		t.Fatalf("%d of %d voxels differ; A's labels %v", diff, len(m.Data), counts)
	}
	t.Logf("SEG %s: %d voxels identical on A and B (NCR %d, ED %d, ET %d); %d bytes written, %d pulled",
		written.SOPInstanceUID, len(m.Data), counts[viewer.LabelNCR], counts[viewer.LabelED], counts[viewer.LabelET], len(seg), len(pulled))
}
