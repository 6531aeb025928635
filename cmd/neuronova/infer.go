package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/neuronova/neuronova/assets/models"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/mg"
	"github.com/neuronova/neuronova/inference/mm"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/m1keep"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// Files `neuronova infer` writes into --out.
const (
	m1ResultFile = "m1-result.json"
	m1SEGFile    = "m1-seg.dcm"
	m1LabelsFile = "m1-labels.nii.gz"
	mgResultFile = "mg-result.json"
	mmResultFile = "mm-result.json"
	sourceDir    = "source" // DICOM copy of an input that was not DICOM, for the SEG to reference
)

// inferRuntime makes the runtime the CLI uses: the embedded models, plus the user model directory (--models, or
// the conventional one when it exists).
func inferRuntime(modelsDir, provider string, threads int) (*inference.Runtime, func(), error) {
	opts := []model.Option{model.WithEmbedded(models.FS)}
	if modelsDir == "" {
		if d, err := model.UserDir(); err == nil {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				modelsDir = d
			}
		}
	}
	if modelsDir != "" {
		opts = append(opts, model.WithDir(modelsDir))
	}
	reg, err := model.NewRegistry(opts...)
	if err != nil {
		return nil, nil, err
	}
	p, err := ort.ParseProvider(provider)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	eng, err := ort.New(ort.WithProvider(p), ort.WithIntraOpThreads(threads))
	if err != nil {
		return nil, nil, err
	}
	return inference.NewRuntime(reg, eng), func() { eng.Close() }, nil
}

// cmdInfer runs one model headless and writes its results into --out.
func cmdInfer(args []string, stdout, stderr io.Writer) error {
	if onServerRequested(args) {
		return cmdInferOnServer(args, stdout, stderr) // onserver.go: the server's queue runs it
	}
	fs := newFlags("infer", stderr)
	which := fs.String("model", "", "m1, mg, mm, or a model id")
	input := fs.String("input", "", "m1: a DICOM folder or file, a BraTS NIfTI folder, \"demo\", or a study of the local cache (UID, accession, patient ID); mm: the same, or an M1 result JSON")
	data := dataFlag(fs)
	genes := fs.String("genes", "", "gene-expression CSV (Hugo_Symbol,Entrez_Gene_Id,Expression) for mg, or for mm (MG runs first)")
	proteins := fs.String("proteins", "", "RPPA CSV (Protein_Name,Expression) for mm")
	out := fs.String("out", "", "directory for the results")
	series := fs.String("series", "", "m1: choose sequences by hand, e.g. T1CE=1.2.3,FLAIR=1.2.4 (SeriesInstanceUIDs)")
	reference := fs.String("reference", "T1CE", "m1: the sequence whose grid the label map, the SEG and the volumes use")
	provider := fs.String("provider", "auto", "execution provider: auto, cuda or cpu")
	threads := fs.Int("threads", 1, "ONNX Runtime intra-op threads")
	modelsDir := fs.String("models", "", "user model directory (default: the conventional one, when it exists)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *which == "" {
		return fmt.Errorf("%w: infer needs --model and --out", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rt, closeRT, err := inferRuntime(*modelsDir, *provider, *threads)
	if err != nil {
		return err
	}
	defer closeRT()
	family, modelID := model.Family(strings.ToUpper(*which)), ""
	switch family {
	case model.FamilyM1, model.FamilyMG, model.FamilyMM:
	default:
		e, err := rt.Registry().Get(*which)
		if err != nil {
			return fmt.Errorf("%w: --model %q is not m1, mg, mm or a known model id (%v)", errUsage, *which, err)
		}
		family, modelID = e.Card.Family, *which
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	switch {
	case family == model.FamilyM1 && *input == "":
		return fmt.Errorf("%w: m1 needs --input", errUsage)
	case family == model.FamilyMG && *genes == "":
		return fmt.Errorf("%w: mg needs --genes", errUsage)
	}
	// The run is a job of the workstation's queue (inferjobs.go).
	job := inferJob{model: strings.ToLower(*which), input: *input, genes: *genes, proteins: *proteins, out: *out,
		series: *series, reference: *reference, ep: *provider}
	return inferQueued(ctx, *data, job, stderr, func(ctx context.Context) error {
		switch family {
		case model.FamilyM1:
			o := m1Options{model: modelID, input: *input, series: *series, reference: *reference, out: *out}
			if _, statErr := os.Stat(*input); statErr != nil && *input != "demo" {
				// Not a path: a study of the local cache (UID, UID prefix, accession or patient ID).
				c, err := openCacheDir(*data, false, stderr)
				if err != nil {
					return fmt.Errorf("--input %s is neither a file nor a folder, and the local cache is not available: %w", *input, err)
				}
				defer c.Close()
				uid, err := c.FindStudy(ctx, *input)
				if err != nil {
					return fmt.Errorf("--input %s: %w", *input, err)
				}
				if o.study, err = cacheExam(ctx, c, uid, viewer.ExamByDay, true); err != nil {
					return err
				}
				o.cache = c
			}
			_, err := inferM1(ctx, rt, o, stdout, stderr)
			return err
		case model.FamilyMG:
			_, err := inferMG(ctx, rt, modelID, *genes, *out, stdout)
			return err
		default:
			return inferMM(ctx, rt, modelID, *input, *genes, *proteins, *series, *reference, *out, stdout, stderr)
		}
	})
}

type m1Options struct {
	model, input, series, reference, out string
	// study and cache are set when the input is a study of the local cache: the result is then also kept
	// there, in the outbox for the next sync.
	study *viewer.Study
	cache *cache.Cache
}

// loadStudy opens the input as one study, or as one exam when it holds several studies of one patient:
// "demo" is the embedded demo study.
func loadStudy(ctx context.Context, input string) (*viewer.Study, error) {
	if input == "demo" {
		return demo.Study(), nil
	}
	if _, err := os.Stat(input); err != nil {
		return nil, err
	}
	res, err := viewer.Open(ctx, []string{input})
	if err != nil {
		return nil, err
	}
	return oneExam(input, res.Studies) // the studies of one patient: --series may choose across them
}

func parseSeriesChoice(s string) (map[viewer.SeriesType]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[viewer.SeriesType]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		t, okType := viewer.ParseSeriesType(k)
		if !ok || !okType || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%w: --series %q: want TYPE=SeriesInstanceUID,…", errUsage, part)
		}
		m[t] = strings.TrimSpace(v)
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// inferM1 runs M1 and writes the JSON result, the label map as NIfTI on the reference grid, and the DICOM SEG.
func inferM1(ctx context.Context, rt *inference.Runtime, o m1Options, stdout, stderr io.Writer) (*m1.Result, error) {
	st := o.study
	if st == nil {
		var err error
		if st, err = loadStudy(ctx, o.input); err != nil {
			return nil, err
		}
	}
	choice, err := parseSeriesChoice(o.series)
	if err != nil {
		return nil, err
	}
	ref, ok := viewer.ParseSeriesType(o.reference)
	if !ok {
		return nil, fmt.Errorf("%w: --reference %q", errUsage, o.reference)
	}
	last := ""
	res, err := m1.Run(ctx, rt, m1.Request{ModelID: o.model, Study: st, Series: choice, Reference: ref,
		Progress: func(stage string, done, total int) {
			if stage != last {
				last = stage
				fmt.Fprintf(stderr, "m1: %s\n", stage)
			}
		}})
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.out, m1ResultFile), res); err != nil {
		return nil, err
	}
	if err := viewer.SaveNIfTILabels(filepath.Join(o.out, m1LabelsFile), res.Labels); err != nil {
		return nil, err
	}
	refSeries := st.SeriesByUID(res.Reference.SeriesUID)
	if refSeries == nil {
		return nil, fmt.Errorf("the reference series %s is not in the study", res.Reference.SeriesUID)
	}
	if o.cache != nil {
		if refSeries, err = viewer.ScanSeries(ctx, refSeries); err != nil {
			return nil, err
		}
	} else if len(refSeries.Instances) == 0 {
		// Not DICOM (the demo study, a NIfTI folder): write the study as DICOM beside the results, so that the SEG
		// references images that exist.
		src := filepath.Join(o.out, sourceDir)
		if _, err := dcmwrite.WriteStudy(src, st, dcmwrite.KeepUIDs(), dcmwrite.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("writing the source series as DICOM for the SEG: %w", err)
		}
		reopened, err := loadStudy(ctx, src)
		if err != nil {
			return nil, err
		}
		st, refSeries = reopened, reopened.SeriesByUID(res.Reference.SeriesUID)
		if refSeries == nil {
			return nil, fmt.Errorf("the DICOM copy of the reference series %s is missing", res.Reference.SeriesUID)
		}
		fmt.Fprintf(stderr, "m1: the input is not DICOM; wrote it as DICOM under %s for the SEG to reference\n", src)
	}
	seg, err := m1keep.SEG(st.StudyOf(refSeries), refSeries, res, m1keep.SEGOptions{})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.out, m1SEGFile), seg, 0o644); err != nil {
		return nil, err
	}
	if o.cache != nil {
		if _, err := m1keep.Record(ctx, o.cache, st.StudyOf(refSeries).UID, res, seg, m1keep.Options{RunKey: runKey(ctx)}); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "kept in the local cache: the result and its SEG wait in the outbox for the next `neuronova sync`\n")
	}
	fmt.Fprintf(stdout, "%s\n%s %s on study %s (reference %s %s), provider %s\n", res.Banner, res.Model.ID, res.Model.Version, st.UID,
		res.Reference.Type, res.Reference.SeriesUID, res.Runtime.Provider.Used)
	for _, line := range m1Findings(res) {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "wrote %s, %s, %s in %s\n", m1ResultFile, m1SEGFile, m1LabelsFile, o.out)
	return res, nil
}

// m1Findings are an M1 result's volumes and heads, a line each, as the CLI and the AI panel show them.
func m1Findings(res *m1.Result) []string {
	v := res.Volumes
	lines := []string{fmt.Sprintf("volumes (mL): NCR %.2f  ED %.2f  ET %.2f  WT %.2f  TC %.2f", v.NCR, v.ED, v.ET, v.WT, v.TC)}
	if res.Grade == nil {
		return append(lines, "no grade, IDH, MGMT or risk: the model only segments")
	}
	return append(lines,
		fmt.Sprintf("grade %s (%.2f)  IDH %s (%.2f)  MGMT %s (%.2f)", res.Grade.PredictedClass, res.Grade.Probability,
			res.IDH.PredictedClass, res.IDH.Probability, res.MGMT.PredictedClass, res.MGMT.Probability),
		fmt.Sprintf("survival risk %.2f: %s", res.Risk.Score, res.Risk.Group))
}

func inferMG(ctx context.Context, rt *inference.Runtime, modelID, genes, out string, stdout io.Writer) (*mg.Result, error) {
	data, err := os.ReadFile(genes)
	if err != nil {
		return nil, err
	}
	res, err := mg.RunBytes(ctx, rt, modelID, data, filepath.Base(genes))
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(out, mgResultFile), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "%s\n%s %s: risk %s, grade %s, wrote %s in %s\n", res.Banner, res.Model.ID, res.Model.Version,
		res.Risk.Group, res.Grade.Predicted, mgResultFile, out)
	return res, nil
}

// inferMM runs MM on whatever modalities are given: the MRI embedding from an M1 result JSON or from M1 run on a
// study, gene features from MG run on --genes, and --proteins.
func inferMM(ctx context.Context, rt *inference.Runtime, modelID, input, genes, proteins, series, reference, out string, stdout, stderr io.Writer) error {
	var mri, gene *mm.Embedding
	if input != "" {
		if strings.HasSuffix(strings.ToLower(input), ".json") {
			data, err := os.ReadFile(input)
			if err != nil {
				return err
			}
			if mri, err = mm.ParseUpstreamResult(data); err != nil {
				return err
			}
		} else {
			res, err := inferM1(ctx, rt, m1Options{input: input, series: series, reference: reference, out: out}, stdout, stderr)
			if err != nil {
				return err
			}
			mri = &mm.Embedding{Values: res.Embedding, Source: &mm.Source{ModelID: res.Model.ID, Family: res.Model.Family,
				Version: res.Model.Version, SHA256: res.Model.SHA256}}
		}
	}
	if genes != "" {
		res, err := inferMG(ctx, rt, "", genes, out, stdout)
		if err != nil {
			return err
		}
		gene = mm.FromMG(res)
	}
	var rppa []byte
	if proteins != "" {
		var err error
		if rppa, err = os.ReadFile(proteins); err != nil {
			return err
		}
	}
	if mri == nil && gene == nil && rppa == nil {
		return fmt.Errorf("%w: mm needs at least one of --input, --genes, --proteins", errUsage)
	}
	res, err := mm.RunBytes(ctx, rt, modelID, mri, gene, rppa, filepath.Base(proteins))
	if err != nil {
		if errors.Is(err, mm.ErrNoModality) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	if err := writeJSON(filepath.Join(out, mmResultFile), res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s %s: risk group %s, wrote %s in %s\n", res.Banner, res.Model.ID, res.Model.Version,
		res.RiskGroup.Predicted, mmResultFile, out)
	return nil
}
