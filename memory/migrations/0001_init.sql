-- 0001: the optimizer's record: runs, their traces, the steps of each trace,
-- LLM calls (for token accounting) and events (for progress and logs).
--
-- Times are UTC text with a fixed nine-digit fraction, so that text order is
-- time order. JSON documents the engine owns are stored as TEXT, NULL when
-- absent. Columns avoid SQL keywords ("index", "key") to keep queries plain.
-- The success memory (momentum, with FTS5) comes in a later migration.

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    task_dir    TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    config      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'stopped')),
    stop_reason TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    report      TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_status_created ON runs (status, created_at);

CREATE TABLE traces (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    -- steps is created below; SQLite resolves foreign keys when rows change.
    best_step_id TEXT REFERENCES steps (id) ON DELETE SET NULL,
    best_score   REAL,
    created_at   TEXT NOT NULL,
    UNIQUE (run_id, idx),
    -- lets steps name (trace, run) together, so a step cannot sit in a trace
    -- of another run.
    UNIQUE (id, run_id)
);

CREATE TABLE steps (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trace_id    TEXT NOT NULL,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    kind        TEXT NOT NULL,
    parent_id   TEXT REFERENCES steps (id) ON DELETE SET NULL,
    hypothesis  TEXT NOT NULL DEFAULT '',
    gradient    TEXT,
    code        TEXT NOT NULL DEFAULT '',
    code_hash   TEXT NOT NULL,
    exec_result TEXT,
    score       REAL,
    decision    TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    workspace   TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    FOREIGN KEY (trace_id, run_id) REFERENCES traces (id, run_id) ON DELETE CASCADE
);
-- The unique index is what makes a resumed run unable to record a step twice.
CREATE UNIQUE INDEX steps_trace_idx ON steps (trace_id, idx);
CREATE INDEX steps_run ON steps (run_id);
CREATE INDEX steps_parent ON steps (parent_id);

CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for calls made outside any run.
    run_id            TEXT REFERENCES runs (id) ON DELETE CASCADE,
    -- No foreign keys on trace and step: a call is recorded while its step
    -- is still being made, before the step itself is committed.
    trace_id          TEXT NOT NULL DEFAULT '',
    step_id           TEXT NOT NULL DEFAULT '',
    call_key          TEXT NOT NULL DEFAULT '',
    purpose           TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    duration_ns       INTEGER NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL
);
CREATE INDEX llm_calls_run ON llm_calls (run_id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    trace_id   TEXT NOT NULL DEFAULT '',
    step_id    TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    data       TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);
