//! Feedback on published versions: votes (one per voter, counted once per voice), comments,
//! and the counts kept on each version's row; enough voices voting down since the last review
//! send the version back to the review queue, in the vote's transaction.

use super::db::{Store, StoreError};
use super::tx::{audit, now_ms};
use super::versions::VersionRow;
use sqlx::AnyConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    Up,
    Down,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Up => "up",
            Vote::Down => "down",
        }
    }
}

/// Who votes: a named member of staff, or a site visitor known by the hash of the identity
/// the server issued them and a keyed hash of their client network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voter {
    Staff(String),
    Visitor { id_hash: String, network: String },
}

impl Voter {
    /// Whose vote counts once: each member of staff, and each visitors' network, however
    /// many identities its machines hold.
    fn voice(&self) -> String {
        match self {
            Voter::Staff(name) => format!("staff:{name}"),
            Voter::Visitor { network, .. } => format!("net:{network}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FeedbackRow {
    pub id: i64,
    pub version_id: i64,
    pub voter_kind: String,
    /// The staff name; visitors are shown as `visitor`.
    pub voter: String,
    pub vote: String,
    pub comment: Option<String>,
    pub updated_ms: i64,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema,
)]
pub struct VoteCounts {
    pub up: i64,
    pub down: i64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VoteOutcome {
    pub counts: VoteCounts,
    /// Voices voting down since a reviewer last looked at this version, counted up to the
    /// threshold (enough to decide; counting past it would read every vote).
    pub down_since_review: i64,
    /// The version went back into the review queue on this vote.
    pub requeued: bool,
}

/// A version's vote counts, kept on its row (zero when there is no such version), read
/// inside the caller's transaction or on a connection of its own.
async fn counts_in(conn: &mut AnyConnection, version_id: i64) -> Result<VoteCounts, StoreError> {
    let counts =
        sqlx::query_as("SELECT votes_up AS up, votes_down AS down FROM versions WHERE id = $1")
            .bind(version_id)
            .fetch_optional(conn)
            .await?;
    Ok(counts.unwrap_or_default())
}

impl Store {
    /// Records or changes a vote (one per voter per version), and sends a published version
    /// back to the queue when the voices voting it down since the last review reach
    /// `threshold`. Counts are of voices (`Voter::voice`), kept on the version's row.
    pub async fn record_vote(
        &self,
        version: &VersionRow,
        voter: &Voter,
        vote: Vote,
        comment: Option<&str>,
        threshold: i64,
    ) -> Result<Option<VoteOutcome>, StoreError> {
        let now = now_ms();
        let (kind, who) = match voter {
            Voter::Staff(name) => ("staff", name.as_str()),
            Voter::Visitor { id_hash, .. } => ("visitor", id_hash.as_str()),
        };
        let voice = voter.voice();
        let mut tx = self.pool.begin().await?;
        // Locks the version (PostgreSQL) or the database (SQLite) first, so concurrent votes
        // count one after another and the threshold is never stepped over; only published
        // versions take votes.
        let live = sqlx::query(
            "UPDATE versions SET reviewed_ms = reviewed_ms WHERE id = $1 AND state = 'published'",
        )
        .bind(version.id)
        .execute(&mut *tx)
        .await?;
        if live.rows_affected() != 1 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO feedback (version_id, voter_kind, voter, vote, comment, created_ms, updated_ms, voice) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
             ON CONFLICT (version_id, voter_kind, voter) DO UPDATE SET vote = excluded.vote, \
             comment = excluded.comment, updated_ms = excluded.updated_ms, voice = excluded.voice",
        )
        .bind(version.id)
        .bind(kind)
        .bind(who)
        .bind(vote.as_str())
        .bind(comment)
        .bind(now)
        .bind(&voice)
        .execute(&mut *tx)
        .await?;
        let before: Option<String> = sqlx::query_scalar(
            "SELECT vote FROM feedback_voices WHERE version_id = $1 AND voice = $2",
        )
        .bind(version.id)
        .bind(&voice)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO feedback_voices (version_id, voice, vote, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (version_id, voice) DO UPDATE SET vote = excluded.vote, updated_ms = excluded.updated_ms",
        )
        .bind(version.id)
        .bind(&voice)
        .bind(vote.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let was = |v: &str| i64::from(before.as_deref() == Some(v));
        let is = |v: Vote| i64::from(vote == v);
        let (up, down) = (is(Vote::Up) - was("up"), is(Vote::Down) - was("down"));
        if up != 0 || down != 0 {
            sqlx::query(
                "UPDATE versions SET votes_up = votes_up + $2, votes_down = votes_down + $3 WHERE id = $1",
            )
            .bind(version.id)
            .bind(up)
            .bind(down)
            .execute(&mut *tx)
            .await?;
        }
        let counts = counts_in(&mut tx, version.id).await?;
        let down_since_review: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM feedback_voices f JOIN versions v ON v.id = f.version_id \
             WHERE f.version_id = $1 AND f.vote = 'down' AND f.updated_ms >= v.reviewed_ms LIMIT $2) AS recent",
        )
        .bind(version.id)
        .bind(threshold.max(1))
        .fetch_one(&mut *tx)
        .await?;
        let mut requeued = false;
        if vote == Vote::Down && down_since_review >= threshold {
            let done = sqlx::query(
                "UPDATE review_items SET state = 'needs_review', reason = 'feedback', version_id = $1, queued_ms = $2, \
                 claim_holder = NULL, claim_expires_ms = NULL, decided_ms = NULL, decided_by = NULL, note = NULL \
                 WHERE draft_id = $3 AND state <> 'needs_review' \
                 AND EXISTS (SELECT 1 FROM versions WHERE id = $1 AND state = 'published')",
            )
            .bind(version.id)
            .bind(now)
            .bind(version.draft_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                requeued = true;
                sqlx::query("DELETE FROM review_skips WHERE draft_id = $1")
                    .bind(version.draft_id)
                    .execute(&mut *tx)
                    .await?;
                audit(
                    &mut tx,
                    now,
                    "narrator",
                    "requeued",
                    (&version.area_code, &version.section),
                    Some(version.draft_id),
                    Some(version.id),
                    &format!("{down_since_review} voices voting down since the last review (threshold {threshold})"),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(VoteOutcome {
            counts,
            down_since_review,
            requeued,
        }))
    }

    /// Vote counts of every published version, by version id.
    pub async fn published_vote_counts(
        &self,
    ) -> Result<std::collections::HashMap<i64, VoteCounts>, StoreError> {
        // Kept on the rows by each vote: a public read never counts votes.
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id AS version_id, votes_up AS up, votes_down AS down FROM versions \
             WHERE state = 'published' AND (votes_up > 0 OR votes_down > 0)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(version_id, up, down)| (version_id, VoteCounts { up, down }))
            .collect())
    }

    pub async fn vote_counts(&self, version_id: i64) -> Result<VoteCounts, StoreError> {
        let mut conn = self.pool.acquire().await?;
        counts_in(&mut conn, version_id).await
    }

    /// A page of the comments on a version, newest first: at most `limit`, older than
    /// `before` (a row's `(updated_ms, id)`) when given. Visitors' identities are never
    /// returned. Votes without a comment are in the counts alone.
    pub async fn feedback(
        &self,
        version_id: i64,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        let (ms, id) = before.unwrap_or((i64::MAX, i64::MAX));
        Ok(sqlx::query_as(
            "SELECT id, version_id, voter_kind, CASE WHEN voter_kind = 'staff' THEN voter ELSE 'visitor' END AS voter, \
             vote, comment, updated_ms FROM feedback WHERE version_id = $1 AND comment IS NOT NULL \
             AND (updated_ms < $2 OR (updated_ms = $2 AND id < $3)) \
             ORDER BY updated_ms DESC, id DESC LIMIT $4",
        )
        .bind(version_id)
        .bind(ms)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
