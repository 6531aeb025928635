package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
)

// The cache subcommands: import, ls, export, cache gc|check. Each takes --data DIR (default: the
// NEURONOVA_DATA variable, else the user's data directory).

// dataFlag adds --data to fs.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "", "cache directory (default $"+cache.EnvDataDir+", else the user data directory)")
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openCacheDir opens the cache at --data and prints its location warnings.
func openCacheDir(data string, readOnly bool, stderr io.Writer) (*cache.Cache, error) {
	dir, err := cache.ResolveDir(data, os.Getenv)
	if err != nil {
		return nil, err
	}
	c, err := cache.Open(dir, cache.Options{ReadOnly: readOnly, Logger: discardLogger(), Actor: os.Getenv("USER")})
	if err != nil {
		if readOnly && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no cache in %s yet: import something first (neuronova import PATH)", dir)
		}
		return nil, err
	}
	for _, w := range c.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return c, nil
}

// cmdImport imports files, folders, ZIPs, DICOMDIRs and BraTS folders into the cache.
func cmdImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr)
	data := dataFlag(fs)
	verbose := fs.Bool("v", false, "list every skipped file too")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: import needs at least one PATH", errUsage)
	}
	c, err := openCacheDir(*data, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	sum, err := c.Import(ctx, fs.Args(), progressLine(stderr, "importing"))
	fmt.Fprintln(stderr)
	if sum != nil {
		fmt.Fprintf(stdout, "%d files in %.1fs: %d instances imported (%s), %d already in the cache, %d other skipped, %d rejected; %d studies\n",
			sum.Files, time.Since(start).Seconds(), sum.Imported, cache.FormatSize(sum.Bytes), sum.AlreadyPresent(),
			len(sum.Skipped)-sum.AlreadyPresent(), len(sum.Rejected), len(sum.Studies))
		for _, p := range sum.Converted {
			fmt.Fprintf(stdout, "converted NIfTI to DICOM: %s\n", p)
		}
		for _, uid := range sum.Labels {
			fmt.Fprintf(stdout, "label map (%s beside the images) given to study %s\n", viewer.LabelsFile, uid)
		}
		for _, s := range sum.Skipped {
			if *verbose || !s.Present {
				fmt.Fprintf(stdout, "skipped  %s: %s\n", s.Path, s.Reason)
			}
		}
		for _, r := range sum.Rejected {
			fmt.Fprintf(stdout, "rejected %s: %v\n", r.Path, r.Err)
		}
	}
	if err != nil {
		return err
	}
	if sum.Imported == 0 && sum.AlreadyPresent() == 0 && len(sum.Rejected) > 0 {
		return fmt.Errorf("nothing imported: every input was rejected")
	}
	return nil
}

// cmdLs lists the worklist.
func cmdLs(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ls", stderr)
	data := dataFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: neuronova ls [--data DIR] [query]\n\nquery:\n%s\n\nflags:\n", cache.QuerySyntax)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	q, err := cache.ParseQuery(strings.Join(fs.Args(), " "))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	c, err := openCacheDir(*data, true, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	page, err := c.Worklist(context.Background(), q)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tPATIENT\tID\tDESCRIPTION\tMOD\tSERIES\tIMAGES\tSIZE\tSYNC\tSTUDY UID")
	for _, r := range page.Rows {
		var types []string
		for _, t := range r.Types {
			types = append(types, string(t))
		}
		date := r.Date
		if len(date) == 8 {
			date = date[:4] + "-" + date[4:6] + "-" + date[6:]
		}
		sync := string(r.Sync)
		if r.Pinned {
			sync += ",pinned"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d %s\t%d\t%s\t%s\t%s\n", date, r.PatientName, r.PatientID, r.Description,
			strings.Join(r.Modalities, ","), r.NumSeries, strings.Join(types, ","), r.NumInstances, cache.FormatSize(r.Bytes), sync, r.UID)
	}
	tw.Flush()
	if page.HasMore {
		limit := q.Limit
		if limit == 0 {
			limit = 50
		}
		fmt.Fprintf(stdout, "… more: add offset:%d\n", q.Offset+limit)
	}
	if len(page.Rows) == 0 {
		fmt.Fprintln(stdout, "no studies match")
	}
	return nil
}

// cmdExport writes a cached study to a folder or ZIP, anonymised with --anonymize.
func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	data := dataFlag(fs)
	anon := fs.Bool("anonymize", false, "de-identify (DICOM PS3.15 Basic Application Level Confidentiality Profile)")
	fs.BoolVar(anon, "anonymise", false, "same as --anonymize")
	out := fs.String("out", "", "folder to create, or a file ending in .zip")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: export needs --out DIR|FILE.zip and one STUDY (StudyInstanceUID, a unique prefix of it, an accession number or a patient ID)", errUsage)
	}
	c, err := openCacheDir(*data, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	uid, err := c.FindStudy(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	rep, err := c.Export(ctx, uid, *out, cache.ExportOptions{Anonymize: *anon, Progress: progressLine(stderr, "exporting")})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	how := "copied"
	if *anon {
		how = "anonymised (PS3.15 Basic Profile; new study UID " + rep.StudyUID + ")"
	}
	fmt.Fprintf(stdout, "%d files of %d series %s to %s\n", rep.Files, rep.Series, how, rep.Out)
	if len(rep.BurnedIn) > 0 {
		fmt.Fprintf(stdout, "warning: %d images declare burned-in annotation: check their pixels before sharing\n", len(rep.BurnedIn))
	}
	return nil
}

// cmdCache runs cache maintenance: gc and check.
func cmdCache(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: cache needs gc or check", errUsage)
	}
	switch args[0] {
	case "gc":
		return cmdCacheGC(args[1:], stdout, stderr)
	case "check":
		return cmdCacheCheck(args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown cache command %q (want gc or check)", errUsage, args[0])
}

// openForMaintenance parses the flags of a cache command that takes no arguments and opens the cache at
// --data for writing.
func openForMaintenance(fs *flag.FlagSet, data *string, args []string, stderr io.Writer) (*cache.Cache, error) {
	if err := parseNoArgs(fs, args); err != nil {
		return nil, err
	}
	return openCacheDir(*data, false, stderr)
}

// cmdCacheGC evicts studies down to the budget, saving a new budget first when --budget gives one.
func cmdCacheGC(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cache gc", stderr)
	data := dataFlag(fs)
	budget := fs.String("budget", "", "size budget to keep (e.g. 20GB, 500GiB); saved as the cache's budget")
	c, err := openForMaintenance(fs, data, args, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	if *budget != "" {
		n, err := cache.ParseSize(*budget)
		if err != nil {
			return fmt.Errorf("%w: --budget: %v", errUsage, err)
		}
		if err := c.SetBudget(ctx, n); err != nil {
			return err
		}
	}
	rep, err := c.GC(ctx, 0)
	if err != nil {
		return err
	}
	for _, e := range rep.Evicted {
		fmt.Fprintf(stdout, "evicted %s %s (%s, %s): %s\n", e.StudyUID, e.PatientName, e.Description, cache.FormatSize(e.Bytes), e.Reason)
	}
	for _, k := range rep.Kept {
		fmt.Fprintf(stdout, "kept    %s %s (%s): %s\n", k.StudyUID, k.PatientName, cache.FormatSize(k.Bytes), k.Reason)
	}
	fmt.Fprintf(stdout, "cache %s → %s, budget %s; %d studies evicted\n", cache.FormatSize(rep.Before), cache.FormatSize(rep.After),
		cache.FormatSize(rep.Budget), len(rep.Evicted))
	if rep.After > rep.Budget {
		fmt.Fprintf(stdout, "still over budget: the rest is pinned or has results not yet synced\n")
	}
	return nil
}

// cmdCacheCheck verifies the index and the stored files and sweeps what interrupted work left.
func cmdCacheCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cache check", stderr)
	data := dataFlag(fs)
	c, err := openForMaintenance(fs, data, args, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := c.Check(context.Background())
	if rep != nil {
		fmt.Fprintf(stdout, "index: integrity %s, %d foreign-key violations; %d files verified\n", rep.Integrity, rep.ForeignKeys, rep.FilesVerified)
		fmt.Fprintf(stdout, "swept: %d orphan files (%s), %d unused file rows, %d temporary leftovers, %d empty series/studies\n",
			rep.Orphans, cache.FormatSize(rep.OrphanBytes), rep.UnusedFiles, rep.TempRemoved, rep.EmptyRemoved)
		for _, m := range rep.MissingFiles {
			fmt.Fprintf(stdout, "missing: %s (row removed; import the study again)\n", m)
		}
	}
	return err
}
