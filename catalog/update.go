package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// updater runs the Updates of one catalog handle: one at a time, queued in
// Go (fair and cancellable), each retried while it fails in a way a later
// attempt may not.
type updater struct {
	token       chan struct{} // holds a token while an Update of this handle runs
	busyTimeout time.Duration
	log         *slog.Logger
}

// newUpdater returns the updater of a handle whose options give a busy
// timeout (0: DefaultBusyTimeout) and a logger (nil: silent).
func newUpdater(busyTimeout time.Duration, log *slog.Logger) updater {
	if busyTimeout <= 0 {
		busyTimeout = DefaultBusyTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return updater{token: make(chan struct{}, 1), busyTimeout: busyTimeout, log: log}
}

// retryable classifies a failed attempt: the sentinel to report it as
// once retrying is over, and for how long since the first attempt it is
// retried; a nil kind means it is final.
type retryable func(err error) (kind error, within time.Duration)

// run waits up to the busy timeout for the handle's other Updates, then
// calls once until it succeeds, fails for good, or fails retryably for
// longer than its kind allows (then the error wraps that kind).
func (u *updater) run(ctx context.Context, once func() error, retry retryable) error {
	wait := time.NewTimer(u.busyTimeout)
	select {
	case u.token <- struct{}{}:
		wait.Stop()
	case <-ctx.Done():
		wait.Stop()
		return ctx.Err()
	case <-wait.C:
		return fmt.Errorf("%w: waited %v for another transaction of this process", ErrBusy, u.busyTimeout)
	}
	defer func() { <-u.token }()

	start := time.Now()
	backoff := time.Millisecond
	for {
		err := once()
		if err == nil {
			return nil
		}
		kind, within := retry(err)
		if kind == nil {
			return err
		}
		if time.Since(start) > within {
			if errors.Is(err, kind) {
				return err
			}
			return fmt.Errorf("%w: %v", kind, err)
		}
		u.log.Debug("catalog transaction failed, retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

// inTx runs one attempt of an Update in a new transaction of db with the
// readers' settings of r: first (when not nil, e.g. taking a lock), fn,
// the stamping of the changes fn logged with origin, then the commit,
// whose failure commitErr reports.
func inTx(ctx context.Context, db *sql.DB, r reader, origin string, first func(*sqlTx) error, fn func(Tx) error,
	commitErr func(error) error) error {
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("begin transaction", err)
	}
	done := false
	defer func() {
		if !done {
			stx.Rollback()
		}
	}()
	r.q, r.tx = stx, stx
	tx := &sqlTx{reader: r}
	if first != nil {
		if err := first(tx); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := stampChanges(ctx, tx, origin); err != nil {
		return err
	}
	done = true
	if err := stx.Commit(); err != nil { // the driver rolls back a failed COMMIT
		return commitErr(err)
	}
	return nil
}
