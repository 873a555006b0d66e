//! The review lifecycle: the queue and its claims, approval (with edits re-checked and
//! overrides recorded), rejection, feedback and its threshold, and staleness when facts change.

mod show;

pub use show::{DraftView, FactChange, FactSnapshot, FigureNote, WordChange};

use crate::check::{self, Report};
use crate::facts::{hex_digest, FactSet, SectionFacts};
use crate::store::{
    now_ms, AuditEntry, NewRun, NewVersion, Published, QueueFilter, ReviewItem, StaleMark, Store,
    StoreError, VersionRow, Vote, VoteOutcome, Voter,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest comment a vote may carry, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// Review settings; the defaults are what a charity's review desk would expect.
#[derive(Clone, Debug)]
pub struct ReviewSettings {
    /// The person who started a run may not approve its drafts.
    pub separation_of_duties: bool,
    /// How long a claim keeps an item away from other reviewers.
    pub claim_lease: Duration,
    /// Down votes since the last review that send a published version back to the queue.
    pub down_vote_threshold: i64,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings {
            separation_of_duties: true,
            claim_lease: Duration::from_secs(15 * 60),
            down_vote_threshold: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no draft {0}")]
    NoDraft(i64),
    #[error("draft {0} is not in the review queue: only drafts whose job ended with a passing check are")]
    NotInReview(i64),
    #[error("draft {draft_id} was already {state} by {by}")]
    Decided {
        draft_id: i64,
        state: String,
        by: String,
    },
    #[error("draft {draft_id} is claimed by {holder} for {minutes} more minute(s)")]
    ClaimedByOther {
        draft_id: i64,
        holder: String,
        minutes: i64,
    },
    #[error("{reviewer} started run {run_id}, which wrote draft {draft_id}; separation of duties needs another reviewer to approve it")]
    OwnRun {
        draft_id: i64,
        run_id: i64,
        reviewer: String,
    },
    #[error("the data has no facts for {area} {section} any more")]
    UnknownPage { area: String, section: String },
    #[error("there is no version {0}")]
    NoVersion(i64),
    #[error("a {0} needs a reason that is not empty")]
    EmptyReason(&'static str),
    #[error("the edited text is empty")]
    EmptyText,
    #[error("a comment may have at most {MAX_COMMENT_CHARS} characters; this one has {0}")]
    CommentTooLong(usize),
    #[error("a visitor token must be 8 to 200 characters")]
    BadVisitorToken,
    #[error("a reviewer's name must not be empty")]
    NoReviewer,
}

/// What an approval did. A failing check is an answer, not an error.
#[derive(Debug)]
pub enum Approval {
    Published(Published),
    /// A published version that came back on feedback was kept as it is.
    Reaffirmed {
        version_id: i64,
    },
    /// The text fails the check and no override reason was given: nothing changed.
    CheckFailed {
        report: Report,
    },
}

/// Published versions re-checked against the current facts.
#[derive(Debug, Default, serde::Serialize)]
pub struct StaleSummary {
    pub checked: usize,
    /// Versions whose facts changed since approval but whose text still passes.
    pub changed_but_passing: usize,
    pub newly_stale: Vec<i64>,
    pub fresh_again: Vec<i64>,
    /// Runs queued to regenerate the newly stale pages.
    pub runs: Vec<i64>,
}

/// The review desk: the store, the current facts, and the settings.
pub struct Desk<'a> {
    store: &'a Store,
    facts: &'a FactSet,
    settings: ReviewSettings,
}

impl<'a> Desk<'a> {
    pub fn new(store: &'a Store, facts: &'a FactSet, settings: ReviewSettings) -> Self {
        Desk {
            store,
            facts,
            settings,
        }
    }

    pub fn settings(&self) -> &ReviewSettings {
        &self.settings
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings.claim_lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// The current facts of a page.
    pub fn page_facts(&self, area: &str, section: &str) -> Result<SectionFacts, ReviewError> {
        let unknown = || ReviewError::UnknownPage {
            area: area.to_string(),
            section: section.to_string(),
        };
        let a = self.facts.find_area(area).map_err(|_| unknown())?;
        let s = self.facts.find_section(section).map_err(|_| unknown())?;
        Ok(self.facts.section_facts(a, s))
    }

    pub async fn queue(&self, filter: &QueueFilter) -> Result<Vec<ReviewItem>, ReviewError> {
        Ok(self.store.review_queue(filter).await?)
    }

    /// Claims a given item, or the oldest one the filter allows.
    pub async fn claim(
        &self,
        reviewer: &str,
        draft_id: Option<i64>,
        filter: &QueueFilter,
    ) -> Result<Option<ReviewItem>, ReviewError> {
        named(reviewer)?;
        match draft_id {
            None => Ok(self
                .store
                .claim_next_review(reviewer, filter, self.lease_ms())
                .await?),
            Some(id) => {
                if self
                    .store
                    .claim_review(id, reviewer, self.lease_ms())
                    .await?
                {
                    Ok(self.store.review_item(id).await?)
                } else {
                    Err(self.why_not_open(id, reviewer).await)
                }
            }
        }
    }

    pub async fn skip(&self, reviewer: &str, draft_id: i64) -> Result<(), ReviewError> {
        named(reviewer)?;
        if self.store.skip_review(draft_id, reviewer).await? {
            Ok(())
        } else {
            Err(self.why_not_open(draft_id, reviewer).await)
        }
    }

    /// Approves a draft, with the reviewer's edits if any. The text is checked against the
    /// facts of the moment; failing text is published only with an override reason.
    pub async fn approve(
        &self,
        reviewer: &str,
        draft_id: i64,
        edited: Option<&str>,
        override_reason: Option<&str>,
    ) -> Result<Approval, ReviewError> {
        named(reviewer)?;
        // Checked before the claim: it is the lasting reason, the claim a passing one.
        let item = self.item(draft_id).await?;
        if self.settings.separation_of_duties
            && item.state == "needs_review"
            && item.run_started_by == reviewer
        {
            return Err(ReviewError::OwnRun {
                draft_id,
                run_id: item.run_id,
                reviewer: reviewer.to_string(),
            });
        }
        let item = self.decidable(reviewer, draft_id).await?;
        if override_reason.is_some_and(|r| r.trim().is_empty()) {
            return Err(ReviewError::EmptyReason("check override"));
        }
        let draft = self
            .store
            .draft_row(draft_id)
            .await?
            .ok_or(ReviewError::NoDraft(draft_id))?;
        let text = edited.unwrap_or(&draft.text);
        if text.trim().is_empty() {
            return Err(ReviewError::EmptyText);
        }
        let view = self.page_facts(&item.area_code, &item.section)?;
        let report = check::check(text, &view);
        if let (Some(version_id), None) = (item.version_id, edited) {
            // A published version back on feedback, kept unchanged.
            let published = self.store.version(version_id).await?;
            if published.is_some_and(|v| v.state == "published" && v.text == text)
                && (report.pass || override_reason.is_some())
            {
                return if self
                    .store
                    .reaffirm(draft_id, version_id, reviewer, override_reason)
                    .await?
                {
                    Ok(Approval::Reaffirmed { version_id })
                } else {
                    Err(self.why_not_open(draft_id, reviewer).await)
                };
            }
        }
        if !report.pass && override_reason.is_none() {
            return Ok(Approval::CheckFailed { report });
        }
        let snapshot = FactSnapshot::of(&view);
        let new = NewVersion {
            draft_id,
            area_name: view.area().name(),
            section_title: view.section().title(),
            text,
            edited: edited.is_some_and(|e| e != draft.text),
            report_json: &report.to_json(),
            pass: report.pass,
            override_reason: if report.pass { None } else { override_reason },
            facts_fp: &view.fingerprint(),
            facts_json: &serde_json::to_string(&snapshot).expect("snapshots serialise"),
            facts_period: &latest_period(&view),
            model: &draft.model,
        };
        match self.store.publish(reviewer, &new).await? {
            Some(published) => Ok(Approval::Published(published)),
            None => Err(self.why_not_open(draft_id, reviewer).await),
        }
    }

    /// Rejects a draft with a reason; a published version back on feedback is withdrawn.
    /// Returns the withdrawn version, if any.
    pub async fn reject(
        &self,
        reviewer: &str,
        draft_id: i64,
        reason: &str,
    ) -> Result<Option<i64>, ReviewError> {
        named(reviewer)?;
        if reason.trim().is_empty() {
            return Err(ReviewError::EmptyReason("rejection"));
        }
        self.decidable(reviewer, draft_id).await?;
        match self.store.reject(draft_id, reviewer, reason.trim()).await? {
            Some(withdrawn) => Ok(withdrawn),
            None => Err(self.why_not_open(draft_id, reviewer).await),
        }
    }

    /// The item, if this reviewer may decide it now.
    async fn decidable(&self, reviewer: &str, draft_id: i64) -> Result<ReviewItem, ReviewError> {
        let item = self.item(draft_id).await?;
        if item.state != "needs_review" {
            return Err(decided(&item));
        }
        let now = now_ms();
        match item.claimed_by(now) {
            Some(holder) if holder != reviewer => Err(ReviewError::ClaimedByOther {
                draft_id,
                holder: holder.to_string(),
                minutes: minutes_left(&item, now),
            }),
            _ => Ok(item),
        }
    }

    async fn item(&self, draft_id: i64) -> Result<ReviewItem, ReviewError> {
        match self.store.review_item(draft_id).await? {
            Some(item) => Ok(item),
            None if self.store.draft_row(draft_id).await?.is_some() => {
                Err(ReviewError::NotInReview(draft_id))
            }
            None => Err(ReviewError::NoDraft(draft_id)),
        }
    }

    /// Explains why a guarded change did not happen (it lost a race, or was never allowed).
    async fn why_not_open(&self, draft_id: i64, reviewer: &str) -> ReviewError {
        match self.decidable(reviewer, draft_id).await {
            Err(e) => e,
            Ok(item) => ReviewError::Decided {
                draft_id,
                state: item.state,
                by: "another reviewer at the same moment".to_string(),
            },
        }
    }

    /// Records a vote on a version; returns the counts and whether it went back for review.
    pub async fn vote(
        &self,
        version_id: i64,
        voter: &Voter,
        vote: Vote,
        comment: Option<&str>,
    ) -> Result<VoteOutcome, ReviewError> {
        if let Voter::Staff(name) = voter {
            named(name)?;
        }
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if let Some(c) = comment {
            let n = c.chars().count();
            if n > MAX_COMMENT_CHARS {
                return Err(ReviewError::CommentTooLong(n));
            }
        }
        let version = self
            .store
            .version(version_id)
            .await?
            .ok_or(ReviewError::NoVersion(version_id))?;
        Ok(self
            .store
            .record_vote(
                &version,
                voter,
                vote,
                comment,
                self.settings.down_vote_threshold,
            )
            .await?)
    }

    /// Re-checks every published version whose facts changed since approval. One that no
    /// longer passes is marked stale with its report and its page queued for regeneration
    /// (with the model and parameters that wrote it); one that passes again loses the mark.
    pub async fn recheck_published(&self, actor: &str) -> Result<StaleSummary, ReviewError> {
        let mut summary = StaleSummary::default();
        let in_progress = self.store.pages_in_progress().await?;
        // Pages to mark, grouped by the model and parameters that wrote them: each group is
        // regenerated by one run a worker with those settings picks up.
        let mut groups: BTreeMap<(String, String), Vec<StalePage>> = BTreeMap::new();
        for v in self.store.published_versions().await? {
            summary.checked += 1;
            let (report, detail) = match self.page_facts(&v.area_code, &v.section) {
                Ok(view) if view.fingerprint() == v.facts_fp && !v.stale => continue,
                Ok(view) => {
                    let report = check::check(&v.text, &view);
                    let detail = stale_detail(&report);
                    (report, detail)
                }
                Err(e) => (
                    Report {
                        pass: false,
                        mentions: Vec::new(),
                    },
                    e.to_string(),
                ),
            };
            if report.pass && v.stale {
                let note = "the facts changed again and the text passes against them";
                if self.store.clear_stale(v.id, actor, note).await? {
                    summary.fresh_again.push(v.id);
                }
                continue;
            }
            if report.pass || v.stale {
                summary.changed_but_passing += usize::from(report.pass);
                continue;
            }
            let draft = self
                .store
                .draft_row(v.draft_id)
                .await?
                .ok_or(ReviewError::NoDraft(v.draft_id))?;
            groups
                .entry((draft.model, draft.params))
                .or_default()
                .push(StalePage {
                    version_id: v.id,
                    report_json: report.to_json(),
                    detail,
                    page: (v.area_code, v.section),
                });
        }
        for ((model, params), pages) in groups {
            let jobs: Vec<(String, String)> = pages
                .iter()
                .map(|p| p.page.clone())
                .filter(|page| !in_progress.contains(page))
                .filter(|(a, s)| self.page_facts(a, s).is_ok())
                .collect();
            let scope = format!("stale:{}", jobs.len());
            let run = NewRun {
                started_by: actor,
                scope: &scope,
                model: &model,
                params: &params,
                jobs: &jobs,
            };
            let marks: Vec<StaleMark<'_>> = pages
                .iter()
                .map(|p| StaleMark {
                    version_id: p.version_id,
                    report_json: &p.report_json,
                    detail: &p.detail,
                })
                .collect();
            if let Some(run_id) = self.store.mark_stale(actor, &marks, Some(&run)).await? {
                summary.runs.push(run_id);
            }
            summary
                .newly_stale
                .extend(pages.iter().map(|p| p.version_id));
        }
        Ok(summary)
    }

    pub async fn stale_versions(&self) -> Result<Vec<VersionRow>, ReviewError> {
        Ok(self
            .store
            .published_versions()
            .await?
            .into_iter()
            .filter(|v| v.stale)
            .collect())
    }

    pub async fn history(&self, area: &str, section: &str) -> Result<Vec<AuditEntry>, ReviewError> {
        Ok(self.store.history(area, section).await?)
    }
}

/// A published page whose text no longer passes against the current facts.
struct StalePage {
    version_id: i64,
    report_json: String,
    detail: String,
    page: (String, String),
}

fn named(reviewer: &str) -> Result<(), ReviewError> {
    if reviewer.trim().is_empty() {
        Err(ReviewError::NoReviewer)
    } else {
        Ok(())
    }
}

fn decided(item: &ReviewItem) -> ReviewError {
    ReviewError::Decided {
        draft_id: item.draft_id,
        state: item.state.clone(),
        by: item.decided_by.clone().unwrap_or_default(),
    }
}

fn minutes_left(item: &ReviewItem, now: i64) -> i64 {
    item.claim_expires_ms
        .map_or(0, |until| (until - now + 59_999) / 60_000)
}

/// The latest period among the page's facts, spelled as the page spells it.
fn latest_period(view: &SectionFacts) -> String {
    view.rows()
        .iter()
        .max_by_key(|r| r.period)
        .map(|r| r.period_spelled.clone())
        .unwrap_or_default()
}

fn stale_detail(report: &Report) -> String {
    let flagged: Vec<String> = report
        .flagged()
        .map(|m| format!("{} ({})", m.text, m.verdict.name()))
        .collect();
    format!(
        "the facts changed since approval; {} figure(s) no longer pass: {}",
        flagged.len(),
        flagged.join(", ")
    )
}

/// A visitor's token is kept only as its SHA-256, enough to count one vote per token.
pub fn visitor(token: &str) -> Result<Voter, ReviewError> {
    let token = token.trim();
    if !(8..=200).contains(&token.chars().count()) {
        return Err(ReviewError::BadVisitorToken);
    }
    Ok(Voter::Visitor {
        token_hash: hex_digest(&Sha256::digest(token.as_bytes())),
    })
}
