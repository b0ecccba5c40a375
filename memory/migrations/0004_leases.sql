-- 0004: leases, so that several server processes can share one home. Each
-- process keeps a heartbeat row in servers (its lease runs until expires_at);
-- run_owners names the process that executes an unfinished run. A process
-- resumes a run, or takes over a job, only when the owner's lease expired: a
-- second server leaves the first's live runs alone, and takes them over once
-- the first died. host and pid let a process on the same machine see at once
-- that an owner died, without waiting for its lease to expire.

CREATE TABLE servers (
    owner      TEXT PRIMARY KEY,
    host       TEXT NOT NULL DEFAULT '',
    pid        INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL
);

CREATE TABLE run_owners (
    run_id TEXT PRIMARY KEY,
    owner  TEXT NOT NULL
);
