-- 0003: jobs, the long work a client starts and then polls (an update's run in
-- the sandbox, a gradient from the server's model, a scratch execution), kept
-- so that a job outlives the server process that ran it: a finished job still
-- answers with its result after a restart, and one the process was running
-- when it died is resumed or marked interrupted. run_id is plain text: a
-- scratch execution belongs to no run.

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    trace       INTEGER NOT NULL DEFAULT 0,
    owner       TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    input       TEXT,
    result      TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);

CREATE INDEX jobs_state ON jobs (state);
