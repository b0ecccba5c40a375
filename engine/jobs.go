package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Jobs: long work a front end starts and then polls (an update's debug and full run, a gradient
// from the server's model, a scratch execution), so that no request has to stay open for
// minutes. A job runs in the engine's lifetime, not the request's: the caller giving up on a
// wait never cancels the work; CancelJob (or stopping the job's run) does. Jobs live in this
// process only; what an update job produces is recorded in the store as a step all the same.

// JobState is where a job stands.
type JobState string

// The job states.
const (
	JobRunning   JobState = "running"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// JobView is a job as a front end shows it.
type JobView struct {
	ID         string     `json:"job_id"`
	Kind       string     `json:"kind"`
	RunID      string     `json:"run_id,omitempty"`
	Trace      int        `json:"trace"`
	State      JobState   `json:"state"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Result is what the job returned once done; its type depends on Kind.
	Result any `json:"-"`
	// Err is the job's error once failed, for the front end to classify (ErrCaller and so on).
	Err error `json:"-"`
}

// Seconds is how long the job has run, or ran.
func (j JobView) Seconds() float64 {
	end := time.Now()
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	return end.Sub(j.StartedAt).Seconds()
}

type job struct {
	view   JobView
	done   chan struct{}
	cancel context.CancelCauseFunc
}

// maxFinishedJobs bounds how many ended jobs are remembered; the oldest are forgotten first.
const maxFinishedJobs = 1000

// jobs is the engine's table of jobs.
type jobs struct {
	mu    sync.Mutex
	byID  map[string]*job
	ended []string
}

// errJobCancelled is the cancellation cause of a cancelled job.
var errJobCancelled = errors.New("job cancelled by the client")

// StartJob runs work in the background as a job of kind on a run's trace and returns its view
// at once. ctx gives the work its values (such as the model to use); its cancellation and
// deadline are not inherited.
func (e *Engine) StartJob(ctx context.Context, kind, runID string, trace int, work func(ctx context.Context) (any, error)) (JobView, error) {
	id, err := newJobID()
	if err != nil {
		return JobView{}, err
	}
	jctx, cancel := context.WithCancelCause(e.base)
	jctx = valuesOnly{Context: jctx, values: ctx}
	j := &job{view: JobView{ID: id, Kind: kind, RunID: runID, Trace: trace, State: JobRunning, StartedAt: time.Now().UTC()},
		done: make(chan struct{}), cancel: cancel}
	e.jobs.mu.Lock()
	if e.jobs.byID == nil {
		e.jobs.byID = map[string]*job{}
	}
	e.jobs.byID[id] = j
	started := j.view // the work may finish, and change j.view, before StartJob returns
	e.jobs.mu.Unlock()
	e.wg.Go(func() {
		defer cancel(nil)
		res, err := work(jctx)
		e.jobs.mu.Lock()
		defer e.jobs.mu.Unlock()
		now := time.Now().UTC()
		j.view.FinishedAt = &now
		switch {
		case err == nil:
			j.view.State, j.view.Result = JobDone, res
		case errors.Is(context.Cause(jctx), errJobCancelled):
			j.view.State, j.view.Err, j.view.Error = JobCancelled, err, "cancelled by the client"
		default:
			j.view.State, j.view.Err, j.view.Error = JobFailed, err, err.Error()
		}
		close(j.done)
		e.jobs.ended = append(e.jobs.ended, id)
		for len(e.jobs.ended) > maxFinishedJobs {
			delete(e.jobs.byID, e.jobs.ended[0])
			e.jobs.ended = e.jobs.ended[1:]
		}
	})
	return started, nil
}

// valuesOnly is a context with one context's cancellation and another's values.
type valuesOnly struct {
	context.Context
	values context.Context
}

func (v valuesOnly) Value(key any) any {
	if x := v.Context.Value(key); x != nil {
		return x
	}
	return v.values.Value(key)
}

func (e *Engine) job(id string) (*job, error) {
	if strings.TrimSpace(id) == "" {
		return nil, callerErrorf("job_id is required: pass the job_id that apply_update, compute_gradient or execute_on_gpu returned")
	}
	e.jobs.mu.Lock()
	defer e.jobs.mu.Unlock()
	j, ok := e.jobs.byID[id]
	if !ok {
		return nil, fmt.Errorf("job %q %w: jobs live in the server process that started them and are forgotten when it restarts; a step an update job took is in get_run all the same", id, ErrNotFound)
	}
	return j, nil
}

// WaitJob waits up to wait for a job to end (or for ctx to be cancelled: that ends the wait,
// not the job) and returns its view.
func (e *Engine) WaitJob(ctx context.Context, id string, wait time.Duration) (JobView, error) {
	j, err := e.job(id)
	if err != nil {
		return JobView{}, err
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-j.done:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	e.jobs.mu.Lock()
	defer e.jobs.mu.Unlock()
	return j.view, nil
}

// JobDone returns a channel closed when the job ends.
func (e *Engine) JobDone(id string) (<-chan struct{}, error) {
	j, err := e.job(id)
	if err != nil {
		return nil, err
	}
	return j.done, nil
}

// CancelJob cancels a running job and waits for it to end; an ended job is left as it is.
func (e *Engine) CancelJob(ctx context.Context, id string) (JobView, error) {
	j, err := e.job(id)
	if err != nil {
		return JobView{}, err
	}
	j.cancel(errJobCancelled)
	select {
	case <-j.done:
	case <-ctx.Done():
		return JobView{}, ctx.Err()
	}
	e.jobs.mu.Lock()
	defer e.jobs.mu.Unlock()
	return j.view, nil
}

func newJobID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("job id: %w", err)
	}
	return "job-" + hex.EncodeToString(b), nil
}
