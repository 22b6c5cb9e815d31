package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditd/auditd/internal/eventstore"
)

// ErrUnknownJob is returned for a drift job id that does not exist.
var ErrUnknownJob = errors.New("projections: unknown drift job")

// ErrTooManyJobs is returned when MaxRunningJobs jobs are already running.
var ErrTooManyJobs = errors.New("projections: too many drift jobs running")

// ErrDriftStopped is returned when a job is asked of a checker that is not
// started (or already stopped).
var ErrDriftStopped = errors.New("projections: drift checker is not running")

// Job is a background "check all streams" run.
type Job struct {
	ID         string        `json:"id"`
	Projection string        `json:"projection"`
	Total      int64         `json:"total"`
	Done       int64         `json:"done"`
	Drifted    []StreamDrift `json:"drifted"`
	Truncated  bool          `json:"truncated"` // more drifted streams than kept
	Finished   bool          `json:"finished"`
	Error      string        `json:"error,omitempty"`
	StartedAt  time.Time     `json:"started_at"`
	FinishedAt *time.Time    `json:"finished_at"`
}

// Bounds of the job runner. A job walks every stream of a type, so the
// number running at once is capped server-wide; a projection has at most one
// running job (asking again returns it); finished jobs are kept, oldest
// dropped first, for their result pages; a running job is never dropped.
const (
	maxJobDrifted  = 1000 // drifted streams a job keeps in memory
	maxJobs        = 20   // finished jobs kept
	MaxRunningJobs = 4    // jobs running at once, all projections together
	jobPageSize    = 200  // streams checked per snapshot
)

// jobList holds the jobs by id, in start order. Guarded by Drift.mu.
type jobList struct {
	byID  map[string]*Job
	order []string
}

// running returns a projection's running job, or nil, and how many jobs run.
func (l *jobList) running(projection string) (*Job, int) {
	var found *Job
	n := 0
	for _, id := range l.order {
		j := l.byID[id]
		if j.Finished {
			continue
		}
		n++
		if j.Projection == projection {
			found = j
		}
	}
	return found, n
}

// add keeps job and drops the oldest finished jobs beyond maxJobs.
func (l *jobList) add(job *Job) {
	l.byID[job.ID] = job
	l.order = append(l.order, job.ID)
	finished := 0
	for _, id := range l.order {
		if l.byID[id].Finished {
			finished++
		}
	}
	kept := l.order[:0]
	for _, id := range l.order {
		if finished > maxJobs && l.byID[id].Finished {
			delete(l.byID, id)
			finished--
			continue
		}
		kept = append(kept, id)
	}
	l.order = kept
}

// StartJob checks every stream of the mapping's type in the background and
// returns the job id at once. While a job of the projection runs, it returns
// that job's id instead of starting another; beyond MaxRunningJobs running
// jobs it returns ErrTooManyJobs.
func (d *Drift) StartJob(name string) (string, error) {
	m, err := d.Mapping(name)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return "", ErrDriftStopped
	}
	running, n := d.jobs.running(name)
	if running != nil {
		return running.ID, nil
	}
	if n >= MaxRunningJobs {
		return "", fmt.Errorf("%w (%d, the limit): try again when one has finished", ErrTooManyJobs, n)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	job := &Job{ID: hex.EncodeToString(b[:]), Projection: name, Drifted: []StreamDrift{}, StartedAt: time.Now()}
	d.jobs.add(job)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := d.runJob(d.ctx, m, job)
		d.mu.Lock()
		defer d.mu.Unlock()
		now := time.Now()
		job.Finished, job.FinishedAt = true, &now
		if err != nil {
			job.Error = err.Error()
			d.logger.Warn("projections: drift job failed", "job", job.ID, "projection", name, "error", err)
		}
	}()
	return job.ID, nil
}

// Job returns a copy of a job's progress.
func (d *Drift) Job(id string) (Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs.byID[id]
	if !ok {
		return Job{}, fmt.Errorf("%w: %q", ErrUnknownJob, id)
	}
	c := *j
	c.Drifted = append([]StreamDrift(nil), j.Drifted...)
	return c, nil
}

// runJob pages through every stream of the type, jobPageSize at a time,
// each page in its own snapshot (a long job must not hold one transaction
// open).
func (d *Drift) runJob(ctx context.Context, m *DriftMapping, job *Job) error {
	total, err := d.store.CountStreams(ctx, m.StreamType)
	if err != nil {
		return err
	}
	d.mu.Lock()
	job.Total = total
	d.mu.Unlock()
	after := ""
	for {
		var ids []string
		err := d.inSnapshot(ctx, func(tx pgx.Tx, es *eventstore.Store) error {
			var err error
			if ids, err = es.StreamIDs(ctx, m.StreamType, after, jobPageSize); err != nil || len(ids) == 0 {
				return err
			}
			cp, err := es.CheckpointPosition(ctx, m.Projection)
			if err != nil {
				return err
			}
			for _, id := range ids {
				sd, err := d.checkStream(ctx, tx, es, m, id, cp)
				if err != nil {
					return err
				}
				d.record(job, sd)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(ids) < jobPageSize {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// record counts one checked stream of a job.
func (d *Drift) record(job *Job, sd StreamDrift) {
	d.mu.Lock()
	defer d.mu.Unlock()
	job.Done++
	if sd.Drifted() {
		if len(job.Drifted) < maxJobDrifted {
			job.Drifted = append(job.Drifted, sd)
		} else {
			job.Truncated = true
		}
	}
}
