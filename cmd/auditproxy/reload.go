package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/rules"
)

// reloadDebounce lets an editor finish writing (truncate, write, rename)
// before the file is read.
const reloadDebounce = 250 * time.Millisecond

// watchRules reloads the rules file on SIGHUP and whenever it changes on
// disk, until ctx is done. A file that loads is handed to apply, which swaps
// it in atomically; requests in flight finish under the rules they started
// with. A file with errors is reported, every error as FILE:LINE:COL, and
// the rules in force keep running.
//
// The watch is in place when watchRules returns (a change right after
// startup is not missed); the watching runs in its own goroutine.
func watchRules(ctx context.Context, path string, load func(string) (*rules.Set, error), apply func(*rules.Set), log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)

	// Watch the directory, not the file: editors and config managers
	// replace files by renaming a new one over them, which ends a watch on
	// the old inode.
	var fsEvents <-chan fsnotify.Event
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn().Err(err).Msg("cannot watch the rules file; reload with SIGHUP")
	} else if err := w.Add(filepath.Dir(path)); err != nil {
		log.Warn().Err(err).Msg("cannot watch the rules file; reload with SIGHUP")
	} else {
		fsEvents = w.Events
	}
	go func() {
		defer signal.Stop(hup)
		if w != nil {
			defer w.Close()
		}
		watchLoop(ctx, path, hup, fsEvents, load, apply, log)
	}()
}

func watchLoop(ctx context.Context, path string, hup <-chan os.Signal, fsEvents <-chan fsnotify.Event, load func(string) (*rules.Set, error), apply func(*rules.Set), log zerolog.Logger) {
	abs, _ := filepath.Abs(path)

	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload(path, "SIGHUP", load, apply, log)
		case ev := <-fsEvents:
			if evAbs, _ := filepath.Abs(ev.Name); evAbs == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce = time.After(reloadDebounce)
			}
		case <-debounce:
			debounce = nil
			reload(path, "file changed", load, apply, log)
		}
	}
}

func reload(path, why string, load func(string) (*rules.Set, error), apply func(*rules.Set), log zerolog.Logger) {
	set, err := load(path)
	if err != nil {
		var errs rules.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				log.Error().Str("rules", path).Msg(e.Error())
			}
		} else {
			log.Error().Err(err).Str("rules", path).Msg("reloading rules")
		}
		log.Error().Str("rules", path).Str("trigger", why).Msg("rules file has errors; the previous rules keep running")
		return
	}
	for _, w := range set.Warnings {
		log.Warn().Str("rules", path).Msg(w.Error())
	}
	apply(set)
	log.Info().Str("rules", path).Str("trigger", why).Int("rule_count", len(set.Rules())).Msg("rules reloaded")
}
