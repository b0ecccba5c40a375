-- 0002: momentum, the success memory that outlives a run. Each row is one
-- accepted change (or a recent failure) with the task fingerprint it was made
-- on, so that later gradients, in this run or another, can be shown what
-- worked. Rows are imported from other machines too, so run, trace and step
-- ids are plain text here, not foreign keys into runs.
--
-- seq is the rowid the full-text index points at. It is an INTEGER PRIMARY
-- KEY on purpose: VACUUM may renumber an implicit rowid, which would silently
-- point the index at the wrong rows.

CREATE TABLE momentum (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('success', 'failure')),
    run_id             TEXT NOT NULL DEFAULT '',
    trace_id           TEXT NOT NULL DEFAULT '',
    step_id            TEXT NOT NULL DEFAULT '',
    task_id            TEXT NOT NULL,
    fp_modality        TEXT NOT NULL DEFAULT '',
    fp_metric          TEXT NOT NULL DEFAULT '',
    fp_lower_is_better INTEGER NOT NULL DEFAULT 0 CHECK (fp_lower_is_better IN (0, 1)),
    fp_rows_class      TEXT NOT NULL DEFAULT '',
    fp_cols_class      TEXT NOT NULL DEFAULT '',
    fp_target_type     TEXT NOT NULL DEFAULT '',
    component          TEXT NOT NULL,
    hypothesis         TEXT NOT NULL,
    summary            TEXT NOT NULL DEFAULT '',
    score_before       REAL,
    score_after        REAL,
    gain               REAL NOT NULL DEFAULT 0,
    cost_seconds       REAL NOT NULL DEFAULT 0 CHECK (cost_seconds >= 0),
    cost_tokens        INTEGER NOT NULL DEFAULT 0 CHECK (cost_tokens >= 0),
    created_at         TEXT NOT NULL,
    -- Kept equal to the rows in momentum_uses plus what an import brought
    -- along from the machine the entry came from.
    uses               INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    helped             INTEGER NOT NULL DEFAULT 0 CHECK (helped >= 0 AND helped <= uses)
);
CREATE INDEX momentum_task ON momentum (task_id);
CREATE INDEX momentum_run ON momentum (run_id);
CREATE INDEX momentum_kind_created ON momentum (kind, created_at);
-- Covers a query without text: the fingerprint pre-ranking and every
-- filter read this index alone, never the wide rows with their text.
CREATE INDEX momentum_fingerprint ON momentum (kind, fp_modality, fp_metric, fp_target_type,
    fp_rows_class, fp_cols_class, created_at, component, task_id, run_id);

-- The distinct fingerprints in the memory, so a query without text can
-- visit them from the most to the least similar and read the newest entries
-- of each from momentum_fingerprint, instead of scoring every row. There are
-- few: one per kind of task seen.
CREATE TABLE momentum_fingerprints (
    fp_modality    TEXT NOT NULL,
    fp_metric      TEXT NOT NULL,
    fp_target_type TEXT NOT NULL,
    fp_rows_class  TEXT NOT NULL,
    fp_cols_class  TEXT NOT NULL,
    PRIMARY KEY (fp_modality, fp_metric, fp_target_type, fp_rows_class, fp_cols_class)
) WITHOUT ROWID;
CREATE TRIGGER momentum_fingerprints_insert AFTER INSERT ON momentum BEGIN
    INSERT OR IGNORE INTO momentum_fingerprints
    VALUES (new.fp_modality, new.fp_metric, new.fp_target_type, new.fp_rows_class, new.fp_cols_class);
END;

-- External content: the text lives once, in momentum; triggers keep the
-- index in step with every insert, update and delete.
CREATE VIRTUAL TABLE momentum_fts USING fts5 (
    hypothesis, summary, component,
    content = 'momentum', content_rowid = 'seq',
    tokenize = 'porter unicode61'
);
-- bm25 weights per column (hypothesis, summary, component), stored with the
-- index so that ORDER BY rank uses them: the hypothesis says what the change
-- was, the summary how, the component only where.
INSERT INTO momentum_fts (momentum_fts, rank) VALUES ('rank', 'bm25(1.0, 0.75, 0.5)');
CREATE TRIGGER momentum_fts_insert AFTER INSERT ON momentum BEGIN
    INSERT INTO momentum_fts (rowid, hypothesis, summary, component)
    VALUES (new.seq, new.hypothesis, new.summary, new.component);
END;
CREATE TRIGGER momentum_fts_delete AFTER DELETE ON momentum BEGIN
    INSERT INTO momentum_fts (momentum_fts, rowid, hypothesis, summary, component)
    VALUES ('delete', old.seq, old.hypothesis, old.summary, old.component);
END;
CREATE TRIGGER momentum_fts_update AFTER UPDATE OF hypothesis, summary, component ON momentum BEGIN
    INSERT INTO momentum_fts (momentum_fts, rowid, hypothesis, summary, component)
    VALUES ('delete', old.seq, old.hypothesis, old.summary, old.component);
    INSERT INTO momentum_fts (rowid, hypothesis, summary, component)
    VALUES (new.seq, new.hypothesis, new.summary, new.component);
END;

-- One row per (entry, step) whose gradient was shown the entry; helped is
-- whether that step was accepted.
CREATE TABLE momentum_uses (
    entry_id   TEXT NOT NULL REFERENCES momentum (id) ON DELETE CASCADE,
    step_id    TEXT NOT NULL,
    helped     INTEGER NOT NULL CHECK (helped IN (0, 1)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (entry_id, step_id)
) WITHOUT ROWID;
