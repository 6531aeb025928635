package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/viewer"
)

// onServerRequested reports whether an infer command line asks for the server's queue (--on-server).
func onServerRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, val, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "on-server" && val != "false" && val != "0" {
			return true
		}
	}
	return false
}

// cmdInferOnServer is `neuronova infer --model m1|mg|mm --input STUDY --on-server`: a workstation without a
// usable accelerator sends the run to the server's job queue, for `neuronova worker`. It waits for the job to
// end (--wait), then reads the change feed, which brings the result into the cache as any server result, and
// after M1 pulls the study again for the job's SEG.
func cmdInferOnServer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("infer --on-server", stderr)
	fs.Bool("on-server", true, "send the run to the server's job queue instead of running it here")
	which := fs.String("model", "", "m1, mg or mm (the models the server's workers run)")
	input := fs.String("input", "", "a study of the local cache (UID, UID prefix, accession or patient ID): M1 runs on it, MG and MM are filed with it (MM reads its kept M1 result's embedding)")
	data := dataFlag(fs)
	server := fs.String("server", os.Getenv("NEURONOVA_SERVER"), "server URL (default $NEURONOVA_SERVER, else http://127.0.0.1:8080)")
	user := fs.String("user", os.Getenv("NEURONOVA_USER"), "login ID (default $NEURONOVA_USER; password $NEURONOVA_PASSWORD or stdin)")
	order := fs.String("order", "", "the order the run is for")
	var o jobFlags
	fs.StringVar(&o.modelID, "model-id", "", "a model of the family the worker runs (default: its default model)")
	fs.StringVar(&o.series, "series", "", "m1: choose sequences by hand, e.g. T1CE=1.2.3,FLAIR=1.2.4 (SeriesInstanceUIDs)")
	fs.StringVar(&o.reference, "reference", "", "m1: the sequence whose grid the label map, the SEG and the volumes use (default T1CE)")
	fs.StringVar(&o.genes, "genes", "", "mg, mm: the gene-expression CSV (Hugo_Symbol,Entrez_Gene_Id,Expression), sent with the job")
	fs.StringVar(&o.proteins, "proteins", "", "mm: the RPPA protein CSV, sent with the job")
	wait := fs.Duration("wait", 30*time.Minute, "how long to wait for the job to end; 0 prints the job ID and returns at once")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	o.model = strings.ToUpper(*which)
	if (o.model != api.ModelM1 && o.model != api.ModelMG && o.model != api.ModelMM) || *input == "" {
		return fmt.Errorf("%w: infer --on-server needs --model m1, mg or mm and --input STUDY (a study of the local cache)", errUsage)
	}
	if *server == "" {
		*server = "http://127.0.0.1:8080"
	}
	if *user == "" {
		return fmt.Errorf("%w: infer --on-server needs --user LOGIN (or $NEURONOVA_USER)", errUsage)
	}
	inputs, err := o.inputs()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sub, closeCache, err := onServerSession(ctx, *data, *server, *user, stdout, stderr)
	if err != nil {
		return err
	}
	defer closeCache()
	uid, err := sub.c.FindStudy(ctx, *input)
	if err != nil {
		return fmt.Errorf("--input %s: %w", *input, err)
	}
	if o.model == api.ModelMM {
		if inputs, err = o.mmInputs(ctx, sub.c, []string{uid}); err != nil {
			return err
		}
	}
	_, err = sub.run(ctx, o.model, []string{uid}, *order, inputs, *wait)
	return err
}

// onServerSession opens the cache at data and signs in to server as user, online (the password from
// $NEURONOVA_PASSWORD or stdin); the steps of its runs are printed on stdout.
func onServerSession(ctx context.Context, data, server, user string, stdout, stderr io.Writer) (*onServer, func(), error) {
	password, err := readPassword(os.Getenv, os.Stdin)
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(server, client.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	c, err := openCacheDir(data, false, stderr)
	if err != nil {
		return nil, nil, err
	}
	e := engine.New(c, cl, engine.Options{NoPrefetch: true, Logger: slog.New(slog.DiscardHandler)})
	s, err := e.Login(ctx, user, password)
	if err == nil && s.Offline {
		err = fmt.Errorf("the server %s cannot be reached: run the model here (without --on-server) or later", cl.BaseURL())
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	say := func(line string) { fmt.Fprintln(stdout, line) }
	return &onServer{c: c, cl: cl, e: e, say: say}, func() { c.Close() }, nil
}

// jobFlags are the model's flags of infer --on-server.
type jobFlags struct {
	model, modelID, series, reference, genes, proteins string
}

// maxJobCSV is the most CSV bytes sent with a job (the server takes job requests up to 1 MiB).
const maxJobCSV = 900 << 10

// inputs are the job's inputs: the M1 choices (nil when none), or MG's gene CSV; MM's are mmInputs.
func (o jobFlags) inputs() (json.RawMessage, error) {
	if o.proteins != "" && o.model != api.ModelMM {
		return nil, fmt.Errorf("%w: --proteins is for --model mm", errUsage)
	}
	if o.model != api.ModelM1 && (o.series != "" || o.reference != "") {
		return nil, fmt.Errorf("%w: --series and --reference are for --model m1", errUsage)
	}
	switch o.model {
	case api.ModelMM:
		return nil, nil
	case api.ModelMG:
		if o.genes == "" {
			return nil, fmt.Errorf("%w: infer --model mg --on-server needs --genes CSV", errUsage)
		}
		b, err := readJobCSV("--genes", o.genes, 0)
		if err != nil {
			return nil, err
		}
		return json.Marshal(mgJobInputs{ModelID: o.modelID, GenesCSV: string(b), GenesName: filepath.Base(o.genes)})
	}
	if o.genes != "" {
		return nil, fmt.Errorf("%w: --genes is for --model mg or mm", errUsage)
	}
	choice, err := parseSeriesChoice(o.series)
	if err != nil {
		return nil, err
	}
	return m1Inputs(o.modelID, o.reference, choice, nil)
}

// mmInputs are an MM job's inputs: the embedding of the latest M1 result kept in c for the studies uids (a
// study, or an exam's), and the CSVs of --genes and --proteins; at least one of them.
func (o jobFlags) mmInputs(ctx context.Context, c *cache.Cache, uids []string) (json.RawMessage, error) {
	in := mmJobInputs{ModelID: o.modelID}
	e, _, why, err := keptM1Embedding(ctx, c, uids)
	if err != nil {
		return nil, err
	}
	in.MRI, in.MRIMissing = e, why
	sent := 0
	for _, f := range []struct {
		flag, path string
		csv, name  *string
	}{{"--genes", o.genes, &in.GenesCSV, &in.GenesName}, {"--proteins", o.proteins, &in.ProteinsCSV, &in.ProteinsName}} {
		if f.path == "" {
			continue
		}
		b, err := readJobCSV(f.flag, f.path, sent)
		if err != nil {
			return nil, err
		}
		sent += len(b)
		*f.csv, *f.name = string(b), filepath.Base(f.path)
	}
	if e == nil && sent == 0 {
		return nil, fmt.Errorf("%w: MM on the server needs a gene CSV (--genes), an RPPA CSV (--proteins) or an M1 result kept for the study (%s)", errUsage, why)
	}
	return json.Marshal(in)
}

// readJobCSV reads the CSV a job carries (flag names it), which with the sent bytes before it must fit in
// maxJobCSV.
func readJobCSV(flag, path string, sent int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if sent+len(b) > maxJobCSV {
		return nil, fmt.Errorf("%s %s: %d bytes; a job carries at most %d bytes of CSV", flag, path, len(b), maxJobCSV)
	}
	return b, nil
}

// m1Inputs are an M1 job's inputs; nil when all are the defaults.
func m1Inputs(modelID, reference string, choice map[viewer.SeriesType]string, others []string) (json.RawMessage, error) {
	if modelID == "" && reference == "" && len(choice) == 0 && len(others) == 0 {
		return nil, nil
	}
	in := m1JobInputs{ModelID: modelID, Reference: reference, Studies: others}
	for t, uid := range choice {
		if in.Series == nil {
			in.Series = map[string]string{}
		}
		in.Series[string(t)] = uid
	}
	return json.Marshal(in)
}

// onServer submits a model run of a cached study to the server's queue and follows it; run answers its last
// step.
type onServer struct {
	c   *cache.Cache
	cl  *client.Client
	e   *engine.Engine
	say func(line string) // each step, as it happens
}

// run submits model on the cached studies (the job's, then an exam's others) and follows it.
func (o onServer) run(ctx context.Context, model string, studies []string, orderID string, inputs json.RawMessage, wait time.Duration) (string, error) {
	studyUID := studies[0]
	info, err := o.c.StudyInfo(ctx, studyUID)
	if err != nil {
		return "", err
	}
	patient, err := o.patient(ctx, info.PatientID)
	if err != nil {
		return "", err
	}
	req := api.JobRequest{Model: model, PatientID: patient, OrderID: orderID, StudyUID: studyUID, Inputs: inputs}
	j, err := o.cl.SubmitJob(ctx, req)
	if err != nil {
		return "", fmt.Errorf("submit the %s job: %w", model, err)
	}
	o.say(fmt.Sprintf("job %s queued on %s: %s of study %s (patient %s)", j.ID, o.cl.BaseURL(), model, studyUID, info.PatientID))
	if wait <= 0 {
		return "job " + j.ID + " queued", nil
	}
	done, err := o.follow(ctx, j.ID, wait)
	if err != nil {
		return "", err
	}
	if done.Status != api.JobDone {
		return "", fmt.Errorf("job %s %s after %d deliveries: %s", done.ID, done.Status, done.Attempts, done.Error)
	}
	n, err := o.e.RefreshFeed(ctx)
	if err != nil {
		return "", fmt.Errorf("job %s is done (result %s) but the change feed could not be read: %w; the next sync brings it", done.ID, done.ResultID, err)
	}
	line := fmt.Sprintf("job %s done: result %s, in the local cache (%d changes read from the feed; the AI tab lists it)", done.ID, done.ResultID, n)
	o.say(line)
	if model == api.ModelM1 {
		o.pullSEG(ctx, patient, studies)
	}
	return line, nil
}

// follow polls the job until it ends or wait passes, printing its changes of state.
func (o onServer) follow(ctx context.Context, id string, wait time.Duration) (*api.Job, error) {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		j, err := o.cl.Job(ctx, id)
		if err != nil && !client.IsOffline(err) {
			return nil, fmt.Errorf("job %s: %w", id, err)
		}
		if err == nil {
			if state := fmt.Sprintf("%s %d", j.Status, j.Attempts); state != last {
				last = state
				if j.Status == api.JobRunning {
					o.say(fmt.Sprintf("job %s running (delivery %d)", id, j.Attempts))
				}
			}
			if j.Status == api.JobDone || j.Status == api.JobFailed {
				return j, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("job %s has not ended after %v; it stays queued: see `neuronova sync` for its result later", id, wait)
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// patient is the server's ID of the patient whose number (DICOM PatientID) is number: from the cached
// change feed, read again when it does not know the patient yet.
func (o onServer) patient(ctx context.Context, number string) (int64, error) {
	id, err := o.c.RemotePatientByNumber(ctx, number)
	if errors.Is(err, cache.ErrNotFound) {
		if _, ferr := o.e.RefreshFeed(ctx); ferr != nil {
			return 0, ferr
		}
		id, err = o.c.RemotePatientByNumber(ctx, number)
	}
	if errors.Is(err, cache.ErrNotFound) {
		return 0, fmt.Errorf("patient %q of the study is not a registered patient you see on the server", number)
	}
	return id, err
}

// pullSEG pulls the job's studies again for the SEG the job stored (under the study of its reference series).
func (o onServer) pullSEG(ctx context.Context, patient int64, uids []string) {
	studies, err := o.cl.PatientStudies(ctx, patient)
	pulled := 0
	for _, s := range studies {
		if err == nil && slices.Contains(uids, s.StudyInstanceUID) {
			var sum *engine.Summary
			if sum, err = o.e.Prefetch(ctx, s.OrthancID, nil); err == nil {
				pulled += sum.Pulled
			}
		}
	}
	if err != nil {
		o.say(fmt.Sprintf("the job's SEG was not pulled now (%v); the next sync brings it", err))
		return
	}
	what := "the study"
	if len(uids) > 1 {
		what = fmt.Sprintf("the exam's %d studies", len(uids))
	}
	o.say(fmt.Sprintf("pulled %d new instances of %s (the job's SEG)", pulled, what))
}
