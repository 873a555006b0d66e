-- Review, publishing, feedback and the audit trail (PostgreSQL). Drafts stay as generated; their
-- review state lives in review_items, and the text the public reads lives in versions.

-- One row per draft that reached review; reopened when its published version draws
-- enough down votes, and closed when that version is replaced before anyone decides.
CREATE TABLE review_items (
    draft_id          BIGINT  PRIMARY KEY REFERENCES drafts (id),
    run_id            BIGINT  NOT NULL REFERENCES runs (id),
    area_code         TEXT    NOT NULL,
    section           TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('needs_review', 'approved', 'rejected', 'closed')),
    reason            TEXT    NOT NULL CHECK (reason IN ('new_draft', 'feedback')),
    version_id        BIGINT,
    claim_holder      TEXT,
    claim_expires_ms  BIGINT,
    queued_ms         BIGINT  NOT NULL,
    decided_ms        BIGINT,
    decided_by        TEXT,
    note              TEXT
);
CREATE INDEX review_queue ON review_items (state, queued_ms, draft_id);

-- Items a reviewer skipped: their next claims pass over them.
CREATE TABLE review_skips (
    draft_id          BIGINT  NOT NULL REFERENCES drafts (id),
    reviewer          TEXT    NOT NULL,
    skipped_ms        BIGINT  NOT NULL,
    PRIMARY KEY (draft_id, reviewer)
);

-- Approved text. Exactly one published version per (area, section), enforced by the
-- partial unique index below; failing text needs a recorded override reason.
CREATE TABLE versions (
    id                BIGSERIAL PRIMARY KEY,
    area_code         TEXT    NOT NULL,
    area_name         TEXT    NOT NULL,
    section           TEXT    NOT NULL,
    section_title     TEXT    NOT NULL,
    draft_id          BIGINT  NOT NULL REFERENCES drafts (id),
    text              TEXT    NOT NULL,
    edited            BIGINT  NOT NULL CHECK (edited IN (0, 1)),
    report            TEXT    NOT NULL CHECK (length(report) > 0),
    pass              BIGINT  NOT NULL CHECK (pass IN (0, 1)),
    override_reason   TEXT,
    state             TEXT    NOT NULL CHECK (state IN ('published', 'superseded', 'withdrawn')),
    stale             BIGINT  NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    stale_report      TEXT,
    stale_ms          BIGINT,
    facts_fp          TEXT    NOT NULL,
    checked_fp        TEXT    NOT NULL,
    facts             TEXT    NOT NULL,
    facts_period      TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    approved_by       TEXT    NOT NULL,
    approved_ms       BIGINT  NOT NULL,
    reviewed_ms       BIGINT  NOT NULL,
    ended_ms          BIGINT,
    CHECK (pass = 1 OR (override_reason IS NOT NULL AND length(override_reason) > 0))
);
CREATE UNIQUE INDEX one_published ON versions (area_code, section) WHERE state = 'published';

-- Thumbs up or down on one version: one vote per staff name or visitor token, changeable.
CREATE TABLE feedback (
    id                BIGSERIAL PRIMARY KEY,
    version_id        BIGINT  NOT NULL REFERENCES versions (id),
    voter_kind        TEXT    NOT NULL CHECK (voter_kind IN ('staff', 'visitor')),
    voter             TEXT    NOT NULL,
    vote              TEXT    NOT NULL CHECK (vote IN ('up', 'down')),
    comment           TEXT    CHECK (comment IS NULL OR length(comment) <= 1000),
    created_ms        BIGINT  NOT NULL,
    updated_ms        BIGINT  NOT NULL,
    UNIQUE (version_id, voter_kind, voter)
);

-- Every state change: who, when, what and why.
CREATE TABLE audit (
    id                BIGSERIAL PRIMARY KEY,
    at_ms             BIGINT  NOT NULL,
    actor             TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    area_code         TEXT    NOT NULL,
    section           TEXT    NOT NULL,
    draft_id          BIGINT,
    version_id        BIGINT,
    detail            TEXT    NOT NULL
);
CREATE INDEX audit_by_page ON audit (area_code, section, id);

-- Drafts already waiting for review when this migration runs enter the queue.
INSERT INTO review_items (draft_id, run_id, area_code, section, state, reason, queued_ms)
SELECT d.id, d.run_id, d.area_code, d.section, 'needs_review', 'new_draft', d.created_ms
FROM jobs j JOIN drafts d ON d.id = j.draft_id
WHERE j.status = 'needs_review';
INSERT INTO audit (at_ms, actor, action, area_code, section, draft_id, detail)
SELECT queued_ms, 'narrator', 'queued', area_code, section, draft_id,
       'the draft passed the check and waits for review (queued when review began)'
FROM review_items;
