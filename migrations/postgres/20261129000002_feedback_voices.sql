-- Feedback counted by voice, not by voter: each member of staff is one voice, and so is each
-- client network of visitors (a keyed hash of its /24 or /48, never the address), so one
-- machine inventing identities cannot outvote a page. A voice's vote is the latest any of its
-- voters gave. Counts per version are kept up to date on each vote rather than recounted on
-- every public read.
ALTER TABLE feedback ADD COLUMN voice TEXT;
-- Votes from before: staff by name; visitors by their token's hash, one voice each, as they
-- were counted then (their networks were never recorded).
UPDATE feedback SET voice = CASE WHEN voter_kind = 'staff' THEN 'staff:' || voter ELSE 'token:' || voter END;
CREATE INDEX feedback_comments ON feedback (version_id, updated_ms, id);

CREATE TABLE feedback_voices (
    version_id        BIGINT  NOT NULL REFERENCES versions (id),
    voice             TEXT    NOT NULL,
    vote              TEXT    NOT NULL CHECK (vote IN ('up', 'down')),
    updated_ms        BIGINT  NOT NULL,
    PRIMARY KEY (version_id, voice)
);
CREATE INDEX feedback_voices_since ON feedback_voices (version_id, vote, updated_ms);
INSERT INTO feedback_voices (version_id, voice, vote, updated_ms)
    SELECT version_id, voice, vote, updated_ms FROM feedback;

ALTER TABLE versions ADD COLUMN votes_up BIGINT NOT NULL DEFAULT 0;
ALTER TABLE versions ADD COLUMN votes_down BIGINT NOT NULL DEFAULT 0;
UPDATE versions SET
    votes_up = (SELECT COUNT(*) FROM feedback_voices f WHERE f.version_id = versions.id AND f.vote = 'up'),
    votes_down = (SELECT COUNT(*) FROM feedback_voices f WHERE f.version_id = versions.id AND f.vote = 'down');

-- The key visitors' identity cookies are signed with and networks hashed under: one per
-- database, so every worker sharing it agrees.
CREATE TABLE server_keys (
    name              TEXT    PRIMARY KEY,
    key_hex           TEXT    NOT NULL
);
