// Command neuronova is the NeuroNova reading workstation. With no subcommand it opens the window on the
// embedded demo study, or on the studies at --input; its headless subcommands work without a display.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	// Before Fyne's init: no "Error parsing user locale C" under LANG=C.UTF-8.
	_ "github.com/neuronova/neuronova/cmd/neuronova/internal/fynelocale"
)

const usage = `NeuroNova — brain-tumour MRI reading workstation.

Usage:
  neuronova [--input PATH]      open the workstation on PATH (DICOM files or folders, or a BraTS NIfTI
                                folder); without --input, on the embedded synthetic demo study; with
                                --server URL (or $NEURONOVA_SERVER), sign in for orders, reports, review
                                and administration
  neuronova demo --out DIR [--study-per-series]
                                write the demo study as DICOM MR series (and its labels as labels.nii.gz);
                                --study-per-series gives each series its own StudyInstanceUID
  neuronova info PATH...        list the studies and series at PATH: geometry, sequence type, problems
  neuronova render --input PATH [--series TYPE|N|UID] [--plane axial|coronal|sagittal] [--slice N]
                   [--wl CENTER,WIDTH] [--overlay] --out FILE.png
                                write one slice as the viewer shows it; without --series, of the study's
                                only series (with several, the choices are listed)
  neuronova import [--data DIR] PATH...
                                add DICOM files, folders, ZIPs, DICOMDIRs and BraTS NIfTI folders to the
                                local cache (re-importing is a no-op); prints what was skipped or rejected
  neuronova ls [--data DIR] [QUERY]
                                list cached studies; QUERY: name/ID words, date:2024-01-01..2024-03-31,
                                mod:MR, desc:TEXT, type:T1CE,FLAIR, sync:local, sort:-date, limit:N offset:N
  neuronova export [--data DIR] [--anonymize] --out DIR|FILE.zip STUDY
                                write a cached study (UID, UID prefix, accession or patient ID); anonymised
                                by the DICOM PS3.15 Basic Application Level Confidentiality Profile
  neuronova cache gc [--data DIR] [--budget 20GB]
                                evict least recently opened studies down to the budget (never pinned ones
                                or ones with unsynced results)
  neuronova cache check [--data DIR]
                                verify the index and the stored files; sweep orphans of interrupted work
                                (--data defaults to $NEURONOVA_DATA, else the user data directory)
  neuronova models [--models DIR]
                                list the AI models (embedded demo models and the user model directory)
  neuronova models add [--models DIR] MODEL.onnx CARD.json
                                check a model against its card (sha256, inputs and outputs, a run in ONNX
                                Runtime, what its pipeline implements) and install it in the user directory
  neuronova models verify ID --input PATH|demo --expect LABELS.nii.gz [--min-dice D] [--out FILE]
                                run an M1 model and print the Dice of WT, TC, ET, NCR and ED against the
                                label map its provider ships (exit 1 below --min-dice)
  neuronova infer --model m1|mg|mm --input PATH|demo [--genes CSV] [--proteins CSV] --out DIR
                   [--series T1CE=UID,…] [--reference T1CE] [--provider auto|cuda|cpu] [--threads N]
                                run a model headless; for m1 DIR receives m1-result.json (provenance),
                                m1-seg.dcm (DICOM SEG) and m1-labels.nii.gz (label map on the reference grid)
  neuronova infer --model m1|mg|mm --input STUDY --on-server [--genes CSV] [--proteins CSV] [--data DIR]
                   [--server URL] [--user LOGIN] [--wait 30m]
                                send the run for a cached study to the server's job queue (neuronova worker
                                runs it); waits for it, then the result (and M1's SEG) come into the cache
  neuronova sync [--data DIR] [--server URL] [--user LOGIN] [--no-prefetch] [--grace 72h] [--send-refused]
                                one sync round with the server: worklist and studies pulled, AI results,
                                SEGs, reports and audit events pushed; prints a summary (password from
                                $NEURONOVA_PASSWORD or stdin; server $NEURONOVA_SERVER, user $NEURONOVA_USER);
                                --send-refused first queues again what the server refused
  neuronova report --order ID --out FILE.pdf [--data DIR]
                                an order's report as a PDF (patient, order and reader, findings and
                                impression, the AI results with each model's banner and provenance, key
                                images), from the local cache as the last sync left it
  neuronova worker [--server URL] [--user LOGIN] [--data DIR] [--provider auto|cuda|cpu] [--jobs m1,mg,mm]
                   [--once]
                                run the server's queued M1, MG and MM jobs headless: claim, pull the study
                                through the proxy, run, store the SEG, complete (neuronova worker --help)
  neuronova help                this text

Exit status: 0 on success, 1 when the work failed, 2 on a usage error.
`

// errUsage marks errors in the command line itself (exit status 2).
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "":
		err = cmdView(rest, stderr)
	case "demo":
		err = cmdDemo(rest, stdout, stderr)
	case "info":
		err = cmdInfo(rest, stdout, stderr)
	case "render":
		err = cmdRender(rest, stdout, stderr)
	case "import":
		err = cmdImport(rest, stdout, stderr)
	case "ls":
		err = cmdLs(rest, stdout, stderr)
	case "export":
		err = cmdExport(rest, stdout, stderr)
	case "cache":
		err = cmdCache(rest, stdout, stderr)
	case "models":
		err = cmdModels(rest, stdout, stderr)
	case "infer":
		err = cmdInfer(rest, stdout, stderr)
	case "sync":
		err = cmdSync(rest, stdout, stderr)
	case "report":
		err = cmdReport(rest, stdout, stderr)
	case "worker":
		err = cmdWorker(rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) > 0 {
			err = fmt.Errorf("%w: help takes no arguments, got %q", errUsage, rest)
			break
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "neuronova: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "neuronova: %v\n", err)
		return 1
	}
}

// newFlags makes a flag set that reports errors as usage errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	return nil
}

// parseNoArgs is parse for commands that take flags only: arguments left after them are a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), fs.Args())
	}
	return nil
}
