package main

import (
	"context"
	"os"

	"fyne.io/fyne/v2"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer/demo"
)

// demoImportedKey is the cache setting that records that the demo study was imported on a first run.
const demoImportedKey = "demo-imported"

// importDemoOnce adds the demo study to the local cache the first time the workstation runs on it: written
// as DICOM (with labels.nii.gz) under the cache's tmp folder in a worker, then imported through the
// workstation with its progress bar. The worklist then lists it from the cache, and the session's copy, if
// shown, is replaced by the cached one, where AI results and measurements are kept.
func importDemoOnce(ws *ui.Workstation, c *cache.Cache) {
	if v, err := c.Setting(context.Background(), demoImportedKey, ""); err != nil || v != "" {
		return
	}
	go func() {
		dir, err := os.MkdirTemp(c.TmpDir(), "demo-")
		if err == nil {
			err = demo.Write(dir)
		}
		fyne.Do(func() {
			if err != nil {
				os.RemoveAll(dir)
				ws.Message("The demo study could not be added to the local cache: " + err.Error())
				return
			}
			ws.ImportThen([]string{dir}, "Adding the demo study to the local cache", func(_ string, err error) {
				os.RemoveAll(dir)
				if err != nil {
					return
				}
				uid := demo.Study().UID
				go c.SetSetting(context.Background(), demoImportedKey, uid)
				ws.ReopenFromLibrary(uid)
			})
		})
	}()
}
