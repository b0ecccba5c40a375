package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gome-agent/gome/memory"
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
	// JobInterrupted: the server process running the job stopped before it ended; Error says
	// what to call to redo it.
	JobInterrupted JobState = "interrupted"
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
// deadline are not inherited. The job is recorded in the store, with its result (JSON) once
// done; after a restart of the server it reads as interrupted if it was running.
func (e *Engine) StartJob(ctx context.Context, kind, runID string, trace int, work func(ctx context.Context) (any, error)) (JobView, error) {
	return e.startJob(ctx, jobSpec{kind: kind, runID: runID, trace: trace}, work)
}

// jobSpec is what a job is recorded with.
type jobSpec struct {
	id    string // "": a new job; otherwise a recorded job this process takes over
	kind  string
	runID string
	trace int
	input json.RawMessage
	// result is what the store keeps of a done job's result (nil: its JSON).
	result func(res any) (json.RawMessage, error)
	// started is when a recorded job first started.
	started time.Time
}

func (e *Engine) startJob(ctx context.Context, spec jobSpec, work func(ctx context.Context) (any, error)) (JobView, error) {
	id, now := spec.id, time.Now().UTC()
	if id == "" {
		var err error
		if id, err = newJobID(); err != nil {
			return JobView{}, err
		}
		if err := e.store.CreateJob(ctx, memory.Job{ID: id, Kind: spec.kind, RunID: spec.runID, Trace: spec.trace, Owner: e.owner,
			State: string(JobRunning), Input: spec.input, StartedAt: now}); err != nil {
			return JobView{}, fmt.Errorf("record job: %w", err)
		}
	} else {
		now = spec.started
	}
	jctx, cancel := context.WithCancelCause(e.base)
	jctx = valuesOnly{Context: jctx, values: ctx}
	j := &job{view: JobView{ID: id, Kind: spec.kind, RunID: spec.runID, Trace: spec.trace, State: JobRunning, StartedAt: now},
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
		if errors.Is(context.Cause(jctx), errShutdown) {
			// The server is stopping: the job stays running in the store, for the next server
			// to resume or mark interrupted.
			e.endJob(j, id, JobInterrupted, "the server stopped while the job ran", nil, nil)
			return
		}
		state, msg := JobDone, ""
		switch {
		case err == nil:
		case errors.Is(context.Cause(jctx), errJobCancelled):
			state, msg = JobCancelled, "cancelled by the client"
		default:
			state, msg = JobFailed, err.Error()
		}
		var stored json.RawMessage
		if state == JobDone {
			encode := spec.result
			if encode == nil {
				encode = func(res any) (json.RawMessage, error) { return json.Marshal(res) }
			}
			var eerr error
			if stored, eerr = encode(res); eerr != nil {
				e.logger.Warn("encode job result", "job", id, "err", eerr)
			}
		}
		if _, serr := e.store.EndJob(context.WithoutCancel(jctx), id, string(state), msg, stored, time.Now().UTC()); serr != nil {
			e.logger.Warn("record job end", "job", id, "err", serr)
		}
		e.endJob(j, id, state, msg, res, err)
	})
	return started, nil
}

// endJob records a job's end in this process's table.
func (e *Engine) endJob(j *job, id string, state JobState, msg string, res any, err error) {
	e.jobs.mu.Lock()
	defer e.jobs.mu.Unlock()
	now := time.Now().UTC()
	j.view.FinishedAt = &now
	j.view.State, j.view.Error, j.view.Result, j.view.Err = state, msg, res, err
	close(j.done)
	e.jobs.ended = append(e.jobs.ended, id)
	for len(e.jobs.ended) > maxFinishedJobs {
		delete(e.jobs.byID, e.jobs.ended[0])
		e.jobs.ended = e.jobs.ended[1:]
	}
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
		return nil, nil
	}
	return j, nil
}

// storedJob is the view of a job this process does not run: one an earlier server process ran,
// or another server process runs now.
func (e *Engine) storedJob(ctx context.Context, id string) (JobView, error) {
	rec, err := e.store.GetJob(ctx, id)
	if errors.Is(err, memory.ErrNotFound) {
		return JobView{}, fmt.Errorf("job %q %w: pass a job_id that apply_update, compute_gradient or execute_on_gpu returned from a server on this home; get_run shows every step a run took", id, ErrNotFound)
	}
	if err != nil {
		return JobView{}, fmt.Errorf("read job: %w", err)
	}
	v := JobView{ID: rec.ID, Kind: rec.Kind, RunID: rec.RunID, Trace: rec.Trace, State: JobState(rec.State), Error: rec.Error,
		StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt}
	if v.State != JobDone {
		return v, nil
	}
	if rec.Kind == updateJobKind {
		var r updateJobResult
		if err := json.Unmarshal(rec.Result, &r); err != nil || r.StepID == "" {
			return JobView{}, fmt.Errorf("job %q: its stored result names no step: %s", id, rec.Result)
		}
		step, err := e.ViewStep(ctx, rec.RunID, r.StepID)
		if err != nil {
			return JobView{}, err
		}
		v.Result = step
		return v, nil
	}
	v.Result = rec.Result
	return v, nil
}

// WaitJob waits up to wait for a job to end (or for ctx to be cancelled: that ends the wait,
// not the job) and returns its view. A job another server process runs is shown as the store
// has it, without waiting.
func (e *Engine) WaitJob(ctx context.Context, id string, wait time.Duration) (JobView, error) {
	j, err := e.job(id)
	if err != nil {
		return JobView{}, err
	}
	if j == nil {
		return e.storedJob(ctx, id)
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
	if j == nil {
		return nil, fmt.Errorf("job %q %w in this server process", id, ErrNotFound)
	}
	return j.done, nil
}

// CancelJob cancels a running job and waits for it to end; an ended job is left as it is.
func (e *Engine) CancelJob(ctx context.Context, id string) (JobView, error) {
	j, err := e.job(id)
	if err != nil {
		return JobView{}, err
	}
	if j == nil {
		v, err := e.storedJob(ctx, id)
		if err != nil || v.State != JobRunning {
			return v, err
		}
		return JobView{}, callerErrorf("job %q runs in another server process on this home: cancel it through that server", id)
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
