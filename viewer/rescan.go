package viewer

import (
	"context"
	"fmt"
)

// ScanSeries reads the files of series se again and returns the series they form, with its grid and its
// images' positions: a series listed from the cache's index has neither, and placing a SEG needs both.
func ScanSeries(ctx context.Context, se *Series) (*Series, error) {
	if len(se.Instances) == 0 {
		return nil, fmt.Errorf("series %s: %w", se.UID, ErrNoPixels)
	}
	paths := make([]string, len(se.Instances))
	for i, in := range se.Instances {
		paths[i] = in.Path
	}
	res, err := Scan(ctx, paths)
	if err != nil {
		return nil, fmt.Errorf("series %s: read again: %w", se.UID, err)
	}
	for _, st := range res.Studies {
		if s := st.SeriesByUID(se.UID); s != nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("series %s: its %d files could not be read again (%d rejected)", se.UID, len(paths), len(res.Rejected))
}
