-- Runs, their jobs, and every draft with its check report (SQLite).
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_by        TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    params            TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
    created_ms        BIGINT  NOT NULL,
    finished_ms       BIGINT,
    prompt_tokens     BIGINT  NOT NULL DEFAULT 0,
    completion_tokens BIGINT  NOT NULL DEFAULT 0,
    cost              DOUBLE PRECISION NOT NULL DEFAULT 0
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            BIGINT  NOT NULL REFERENCES runs (id),
    area_code         TEXT    NOT NULL,
    section           TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'skipped', 'needs_review', 'failed_checks', 'failed')),
    attempts          BIGINT  NOT NULL DEFAULT 0,
    lease_holder      TEXT,
    lease_expires_ms  BIGINT,
    not_before_ms     BIGINT  NOT NULL DEFAULT 0,
    last_error        TEXT,
    draft_id          BIGINT,
    prompt_tokens     BIGINT  NOT NULL DEFAULT 0,
    completion_tokens BIGINT  NOT NULL DEFAULT 0,
    updated_ms        BIGINT  NOT NULL,
    UNIQUE (run_id, area_code, section)
);
CREATE INDEX jobs_claimable ON jobs (run_id, status, not_before_ms);

CREATE TABLE drafts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id            BIGINT  NOT NULL REFERENCES jobs (id),
    run_id            BIGINT  NOT NULL REFERENCES runs (id),
    area_code         TEXT    NOT NULL,
    section           TEXT    NOT NULL,
    attempt           BIGINT  NOT NULL,
    text              TEXT    NOT NULL,
    facts_fp          TEXT    NOT NULL,
    prompt_fp         TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    params            TEXT    NOT NULL,
    prompt_tokens     BIGINT  NOT NULL,
    completion_tokens BIGINT  NOT NULL,
    report            TEXT    NOT NULL CHECK (length(report) > 0),
    pass              BIGINT  NOT NULL CHECK (pass IN (0, 1)),
    status            TEXT    NOT NULL CHECK (status IN ('needs_review', 'failed_checks')),
    created_ms        BIGINT  NOT NULL,
    UNIQUE (job_id, attempt)
);
CREATE INDEX drafts_reuse ON drafts (area_code, section, facts_fp, prompt_fp, model, pass);
