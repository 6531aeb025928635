package model

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteList prints entries as the table `neuronova models` shows: one line per model ending with its banner, or
// with the reason it cannot be used.
func WriteList(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFAMILY\tVERSION\tSTATUS\tSIZE\tSOURCE\tBANNER OR ERROR")
	for _, e := range entries {
		if e.Card == nil {
			fmt.Fprintf(tw, "?\t?\t?\tunusable\t-\t%s\terror: %v\n", e.Source, e.Err)
			continue
		}
		c := e.Card
		status, note := string(c.Status), c.IntendedUse.Banner
		if e.Err != nil {
			status, note = "unusable", "error: "+e.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.ID, c.Family, c.Version, status, humanBytes(c.Artifact.SizeBytes), e.Source, note)
	}
	return tw.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
