//! The review desk and a draft's way across it: the settings and errors, the queue and its
//! claims, approval (with edits re-checked and overrides recorded), rejection, votes and the
//! audit history.

use super::snapshot::FactSnapshot;
use crate::check::{self, Report};
use crate::facts::{hex_digest, DataBasis, FactSet, SectionFacts};
use crate::store::{
    now_ms, AuditEntry, ItemState, NewVersion, Published, QueueFilter, ReviewItem, Store,
    StoreError, VersionState, Vote, VoteOutcome, Voter,
};
use sha2::{Digest, Sha256};
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
    #[error("version {0} is not published (superseded or withdrawn): it takes no votes")]
    VersionNotPublished(i64),
    #[error("draft {draft_id} came back on feedback about version {version_id}, which is no longer published")]
    FeedbackOutdated { draft_id: i64, version_id: i64 },
    #[error("a {0} needs a reason that is not empty")]
    EmptyReason(&'static str),
    #[error("the edited text is empty")]
    EmptyText,
    /// Markup, a table or a list of figures: refused whatever the override, because the site
    /// would serve it as it is.
    #[error("the text cannot be published: {0}")]
    NotProse(String),
    #[error("a comment may have at most {MAX_COMMENT_CHARS} characters; this one has {0}")]
    CommentTooLong(usize),
    #[error("a visitor token must be 8 to 200 characters")]
    BadVisitorToken,
    #[error("a reviewer's name must not be empty")]
    NoReviewer,
    #[error("{0}")]
    BadFilter(String),
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

/// The review desk: the store, the current facts, and the settings.
pub struct Desk<'a> {
    pub(super) store: &'a Store,
    pub(super) facts: &'a FactSet,
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

    /// A page named as a person would (council by code or name, section id), as the store
    /// keys it: (area code, section id).
    pub fn resolve_page(&self, area: &str, section: &str) -> Result<(String, String), ReviewError> {
        let view = self.page_facts(area, section)?;
        Ok((
            view.area().code().to_string(),
            view.section().id().to_string(),
        ))
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

    /// A queue filter from what a person typed: a council by code or name, a section id, a
    /// run; blank means any.
    pub fn filter(
        &self,
        area: Option<&str>,
        section: Option<&str>,
        run: Option<i64>,
    ) -> Result<QueueFilter, ReviewError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let area = match given(area) {
            Some(a) => Some(
                self.facts
                    .find_area(a)
                    .map_err(ReviewError::BadFilter)?
                    .code()
                    .to_string(),
            ),
            None => None,
        };
        let section = match given(section) {
            Some(s) => Some(
                self.facts
                    .find_section(s)
                    .map_err(ReviewError::BadFilter)?
                    .id()
                    .to_string(),
            ),
            None => None,
        };
        Ok(QueueFilter { area, section, run })
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
                .claim_next_review(
                    reviewer,
                    filter,
                    self.lease_ms(),
                    self.settings.separation_of_duties,
                )
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
    /// facts of the moment; failing text is published only with an override reason. For an
    /// item back on feedback the text under review is the published version's: approving it
    /// unedited keeps that version (with today's check), an edit replaces it.
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
            && item.state == ItemState::NeedsReview
            && same_person(&item.run_started_by, reviewer)
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
        let override_reason = override_reason.map(str::trim);
        let draft = self
            .store
            .draft_row(draft_id)
            .await?
            .ok_or(ReviewError::NoDraft(draft_id))?;
        let back_on_feedback = match item.version_id {
            Some(version_id) => {
                let v = self
                    .store
                    .version(version_id)
                    .await?
                    .ok_or(ReviewError::NoVersion(version_id))?;
                if v.state != VersionState::Published {
                    return Err(ReviewError::FeedbackOutdated {
                        draft_id,
                        version_id,
                    });
                }
                Some(v)
            }
            None => None,
        };
        let base = back_on_feedback
            .as_ref()
            .map_or(draft.text.as_str(), |v| v.text.as_str());
        let text = edited.unwrap_or(base);
        if text.trim().is_empty() {
            return Err(ReviewError::EmptyText);
        }
        // The same rule as for the model's answers: an edit is text the site publishes too.
        if let Some(why) = check::not_prose(text) {
            return Err(ReviewError::NotProse(why.to_string()));
        }
        let view = self.page_facts(&item.area_code, &item.section)?;
        let report = check::check(text, &view);
        if !report.pass && override_reason.is_none() {
            return Ok(Approval::CheckFailed { report });
        }
        let snapshot = FactSnapshot::of(&view);
        let basis = DataBasis::of(report.quoted_facts(), &view);
        // Text published over a failed check may rest on no proven figure: it then keeps
        // no basis, and the export gives its page's latest period, as before bases were kept.
        let unproven = basis.periods.is_empty() && report.flagged().next().is_some();
        let facts_period = if unproven {
            latest_period(&view)
        } else {
            basis.latest.clone()
        };
        let data_basis = if unproven {
            String::new()
        } else {
            serde_json::to_string(&basis).expect("data bases serialise")
        };
        let audit_note = (!self.settings.separation_of_duties)
            .then_some("separation of duties was off for this approval");
        let new = NewVersion {
            draft_id,
            area_name: view.area().name(),
            section_title: view.section().title(),
            text,
            edited: text != draft.text,
            report_json: &report.to_json(),
            pass: report.pass,
            override_reason: if report.pass { None } else { override_reason },
            facts_fp: &view.fingerprint(),
            facts_json: &serde_json::to_string(&snapshot).expect("snapshots serialise"),
            facts_period: &facts_period,
            data_basis: &data_basis,
            model: &draft.model,
            audit_note,
        };
        if let Some(v) = back_on_feedback.as_ref().filter(|v| v.text == text) {
            return if self.store.reaffirm(reviewer, v.id, &new).await? {
                Ok(Approval::Reaffirmed { version_id: v.id })
            } else {
                Err(self.why_not_open(draft_id, reviewer).await)
            };
        }
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
        if item.state != ItemState::NeedsReview {
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
            Ok(item) => match item.version_id {
                Some(version_id) => ReviewError::FeedbackOutdated {
                    draft_id,
                    version_id,
                },
                None => ReviewError::Decided {
                    draft_id,
                    state: "decided".to_string(),
                    by: "another reviewer at the same moment".to_string(),
                },
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
        self.store
            .record_vote(
                &version,
                voter,
                vote,
                comment,
                self.settings.down_vote_threshold,
            )
            .await?
            .ok_or(ReviewError::VersionNotPublished(version_id))
    }

    pub async fn history(&self, area: &str, section: &str) -> Result<Vec<AuditEntry>, ReviewError> {
        Ok(self.store.history(area, section).await?)
    }
}

/// Names compare without case or surrounding spaces: "Ed" started the run "ed" approves.
pub fn same_person(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
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
        state: item.state.as_str().to_string(),
        by: item.decided_by.clone().unwrap_or_default(),
    }
}

fn minutes_left(item: &ReviewItem, now: i64) -> i64 {
    item.claim_expires_ms
        .map_or(0, |until| (until - now + 59_999) / 60_000)
}

/// The latest period among the page's facts, spelled as the page spells it.
/// The page's latest period, in calendar order.
fn latest_period(view: &SectionFacts) -> String {
    view.rows()
        .iter()
        .max_by_key(|r| crate::facts::Chronological(r.period))
        .map(|r| r.period_spelled.clone())
        .unwrap_or_default()
}

/// A visitor: the identity the server issued them (kept only as its SHA-256) and their
/// client network, already a keyed hash (`web` makes both). The network is what counts.
pub fn visitor(identity: &str, network: &str) -> Result<Voter, ReviewError> {
    let identity = identity.trim();
    if !(8..=200).contains(&identity.chars().count()) || network.is_empty() {
        return Err(ReviewError::BadVisitorToken);
    }
    Ok(Voter::Visitor {
        id_hash: hex_digest(&Sha256::digest(identity.as_bytes())),
        network: network.to_string(),
    })
}
