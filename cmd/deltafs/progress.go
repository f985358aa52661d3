package main

import (
	"time"

	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"deltafs/store"
)

// progress returns a store.Progress drawing a bar on stdout when it is a
// terminal (and neither --json nor --no-progress was given), and a function
// that clears the bar; both are safe to call when no bar is drawn.
func (e *cliEnv) progress(c *cli.Context, what string) (store.Progress, func()) {
	if !e.stdoutTTY || c.Bool("json") || c.Bool("no-progress") {
		return nil, func() {}
	}
	var (
		mu  sync.Mutex
		bar *progressbar.ProgressBar
	)
	report := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(e.stdout),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true),
				progressbar.OptionUseIECUnits(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetRenderBlankState(true),
			)
		}
		if total != bar.GetMax64() {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(done)
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			_ = bar.Clear()
			bar = nil
		}
	}
	return report, finish
}
