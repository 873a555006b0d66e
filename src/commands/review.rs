//! The review desk's commands: queue, claim, show, approve, reject, skip, history, stale,
//! feedback and export.

use super::{load, open_store, print_json};
use crate::cli::{
    ActorArgs, CheckFormat, Cli, DeskArgs, ExportArgs, FeedbackArgs, OnOff, QueueFilterArgs,
    ReviewCommand, VoteArg,
};
use crate::export;
use crate::facts::FactSet;
use crate::review::{self, Approval, Desk, ReviewSettings, StaleSummary};
use crate::store::{now_ms, QueueFilter, ReviewItem, Store, Vote, Voter};
use anyhow::{bail, Context, Result};
use sha2::Digest;
use std::process::ExitCode;
use std::time::Duration;

pub async fn review(cli: &Cli, command: &ReviewCommand) -> Result<ExitCode> {
    let desk_args = match command {
        ReviewCommand::Queue { desk, .. }
        | ReviewCommand::Claim { desk, .. }
        | ReviewCommand::Show { desk, .. }
        | ReviewCommand::Approve { desk, .. }
        | ReviewCommand::Reject { desk, .. }
        | ReviewCommand::Skip { desk, .. }
        | ReviewCommand::History { desk, .. }
        | ReviewCommand::Stale { desk, .. } => desk,
    };
    let set = load(cli)?;
    let store = open_store(&desk_args.database.database_url).await?;
    let desk = Desk::new(&store, &set, settings(desk_args)?);
    // Whatever the command, published text is first re-checked against the facts just loaded.
    if !matches!(command, ReviewCommand::Stale { .. }) {
        refresh(&desk).await?;
    }
    let code = match command {
        ReviewCommand::Queue { filter, format, .. } => {
            let items = desk.queue(&desk_filter(&desk, filter)?).await?;
            match format {
                CheckFormat::Json => print_json(&items)?,
                CheckFormat::Text => print!("{}", render_queue(&items)),
            }
            ExitCode::SUCCESS
        }
        ReviewCommand::Claim {
            draft,
            filter,
            actor,
            format,
            ..
        } => {
            let who = user(actor)?;
            match desk
                .claim(&who, *draft, &desk_filter(&desk, filter)?)
                .await?
            {
                None => {
                    println!("nothing to claim: the queue is empty for you");
                    ExitCode::from(1)
                }
                Some(item) => {
                    let view = desk.show(item.draft_id).await?;
                    match format {
                        CheckFormat::Json => print_json(&view)?,
                        CheckFormat::Text => {
                            println!(
                                "claimed draft {} for {} minutes\n",
                                item.draft_id,
                                desk.settings().claim_lease.as_secs() / 60
                            );
                            print!("{}", view.render_text());
                        }
                    }
                    ExitCode::SUCCESS
                }
            }
        }
        ReviewCommand::Show { draft, format, .. } => {
            let view = desk.show(*draft).await?;
            match format {
                CheckFormat::Json => print_json(&view)?,
                CheckFormat::Text => print!("{}", view.render_text()),
            }
            ExitCode::SUCCESS
        }
        ReviewCommand::Approve {
            draft,
            edit,
            override_reason,
            actor,
            ..
        } => {
            let who = user(actor)?;
            let edited = match edit {
                None => None,
                Some(p) if p.as_os_str() == "-" => Some(super::read_stdin()?),
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
            };
            match desk
                .approve(&who, *draft, edited.as_deref(), override_reason.as_deref())
                .await?
            {
                Approval::Published(p) => {
                    print!(
                        "draft {draft} approved: published as version {}",
                        p.version_id
                    );
                    match p.superseded {
                        Some(old) => println!(" (version {old} superseded)"),
                        None => println!(),
                    }
                    ExitCode::SUCCESS
                }
                Approval::Reaffirmed { version_id } => {
                    println!("version {version_id} kept after feedback; down votes count afresh");
                    ExitCode::SUCCESS
                }
                Approval::CheckFailed { report } => {
                    let text = edited.unwrap_or_default();
                    let text = if text.is_empty() {
                        store
                            .draft_row(*draft)
                            .await?
                            .map(|d| d.text)
                            .unwrap_or_default()
                    } else {
                        text
                    };
                    print!("{}", report.render_text(&text));
                    println!(
                        "\nnot approved: the text fails the check against today's facts; \
                         fix it with --edit, or publish it anyway with --override \"reason\""
                    );
                    ExitCode::from(1)
                }
            }
        }
        ReviewCommand::Reject {
            draft,
            reason,
            actor,
            ..
        } => {
            let who = user(actor)?;
            let withdrawn = desk.reject(&who, *draft, reason).await?;
            print!("draft {draft} rejected");
            match withdrawn {
                Some(v) => println!("; version {v} withdrawn from the site"),
                None => println!(),
            }
            ExitCode::SUCCESS
        }
        ReviewCommand::Skip { draft, actor, .. } => {
            let who = user(actor)?;
            desk.skip(&who, *draft).await?;
            println!("draft {draft} skipped: your next claims pass over it");
            ExitCode::SUCCESS
        }
        ReviewCommand::History {
            area,
            section,
            format,
            ..
        } => {
            let (code, section) = desk.resolve_page(area, section)?;
            let entries = desk.history(&code, &section).await?;
            match format {
                CheckFormat::Json => print_json(&entries)?,
                CheckFormat::Text => {
                    if entries.is_empty() {
                        println!("no review history for {code} {section}");
                    }
                    for e in entries {
                        let ids = match (e.draft_id, e.version_id) {
                            (Some(d), Some(v)) => format!("draft {d}, version {v}"),
                            (Some(d), None) => format!("draft {d}"),
                            (None, Some(v)) => format!("version {v}"),
                            (None, None) => String::new(),
                        };
                        println!(
                            "{}  {:<10} {:<20} {:<22} {}",
                            export::rfc3339(e.at_ms),
                            e.action,
                            e.actor,
                            ids,
                            e.detail
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
        ReviewCommand::Stale { actor, format, .. } => {
            user(actor)?;
            let summary = refresh(&desk).await?;
            let stale = desk.stale_versions().await?;
            match format {
                CheckFormat::Json => print_json(&serde_json::json!({
                    "recheck": summary,
                    "stale": stale,
                }))?,
                CheckFormat::Text => {
                    println!(
                        "{} published version(s) checked against the current facts",
                        summary.checked
                    );
                    if stale.is_empty() {
                        println!("none is stale");
                    }
                    for v in &stale {
                        println!(
                            "version {} {} {}: stale since {}",
                            v.id,
                            v.area_code,
                            v.section,
                            v.stale_ms.map(export::rfc3339).unwrap_or_default()
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

/// Re-checks published text against the facts just loaded; says what changed.
pub async fn refresh(desk: &Desk<'_>) -> Result<StaleSummary> {
    let summary = desk
        .recheck_published()
        .await
        .context("re-checking published text against the current facts")?;
    if !summary.newly_stale.is_empty() {
        eprintln!(
            "the facts changed: {} published version(s) no longer pass and are now stale ({}); \
             regeneration queued in run(s) {}",
            summary.newly_stale.len(),
            join(&summary.newly_stale),
            join(&summary.runs)
        );
    }
    if !summary.fresh_again.is_empty() {
        eprintln!(
            "{} stale version(s) pass against the current facts again ({})",
            summary.fresh_again.len(),
            join(&summary.fresh_again)
        );
    }
    Ok(summary)
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn feedback(cli: &Cli, args: &FeedbackArgs) -> Result<ExitCode> {
    let voter = match (&args.visitor, &args.actor.user) {
        // No network to go by: each token given here counts as a voice of its own, which is
        // for staff to vouch for (the command needs the database).
        (Some(token), _) => {
            let network = crate::facts::hex_digest(&sha2::Sha256::digest(token.as_bytes()));
            review::visitor(token, &format!("cli-{}", &network[..32]))?
        }
        (None, _) => Voter::Staff(user(&args.actor)?),
    };
    let vote = match args.vote {
        VoteArg::Up => Vote::Up,
        VoteArg::Down => Vote::Down,
    };
    let set = load(cli)?;
    let store = open_store(&args.desk.database.database_url).await?;
    let desk = Desk::new(&store, &set, settings(&args.desk)?);
    refresh(&desk).await?;
    let outcome = desk
        .vote(args.version, &voter, vote, args.comment.as_deref())
        .await?;
    store.close().await;
    match args.format {
        CheckFormat::Json => print_json(&outcome)?,
        CheckFormat::Text => {
            println!(
                "version {}: {} up, {} down",
                args.version, outcome.counts.up, outcome.counts.down
            );
            if outcome.requeued {
                println!(
                    "{} down votes since its last review: it is back in the review queue",
                    outcome.down_since_review
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export_files(cli: &Cli, args: &ExportArgs) -> Result<ExitCode> {
    let store = open_store(&args.database.database_url).await?;
    // Text whose facts changed since it was checked must not leave as "passed": re-check
    // against the data first (the files still depend on the store alone).
    let set = load(cli)?;
    refresh(&Desk::new(&store, &set, ReviewSettings::default())).await?;
    let summary = export::export(&store, &args.out, args.stale_policy)
        .await
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    store.close().await;
    println!(
        "exported {} section(s) of approved text for {} area(s) to {}",
        summary.sections,
        summary.areas,
        args.out.display()
    );
    if summary.stale_kept + summary.stale_withheld > 0 {
        println!(
            "stale: {} kept and flagged, {} withheld",
            summary.stale_kept, summary.stale_withheld
        );
    }
    for name in &summary.removed {
        println!("removed {name}: its area has no published text any more");
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(args: &DeskArgs) -> Result<ReviewSettings> {
    review_settings(&args.review)
}

pub fn review_settings(args: &crate::cli::ReviewArgs) -> Result<ReviewSettings> {
    if !(1..=24 * 60).contains(&args.claim_minutes) || args.down_vote_threshold < 1 {
        bail!("--claim-minutes must be 1 to 1440 and --down-vote-threshold at least 1");
    }
    Ok(ReviewSettings {
        separation_of_duties: args.separation_of_duties == OnOff::On,
        claim_lease: Duration::from_secs(args.claim_minutes * 60),
        down_vote_threshold: args.down_vote_threshold,
    })
}

fn user(actor: &ActorArgs) -> Result<String> {
    match actor.user.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => bail!("say who you are with --as NAME or NARRATOR_USER"),
    }
}

fn render_queue(items: &[ReviewItem]) -> String {
    use std::fmt::Write as _;
    let now = now_ms();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6} {:<10} {:<16} {:>5} {:<10} {:<20} {:<20}",
        "draft", "area", "section", "run", "reason", "queued", "claimed by"
    );
    for i in items {
        let claim = match i.claimed_by(now) {
            Some(holder) => format!(
                "{holder} ({} min)",
                (i.claim_expires_ms.unwrap_or(now) - now + 59_999) / 60_000
            ),
            None => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:>6} {:<10} {:<16} {:>5} {:<10} {:<20} {}",
            i.draft_id,
            i.area_code,
            i.section,
            i.run_id,
            i.reason,
            export::rfc3339(i.queued_ms),
            claim
        );
    }
    let _ = writeln!(out, "{} draft(s) waiting for review", items.len());
    out
}

/// The store and desk a `run`, `worker` or `demo` command re-checks published text with.
pub async fn refresh_before_run(store: &Store, set: &FactSet) -> Result<()> {
    let desk = Desk::new(store, set, ReviewSettings::default());
    refresh(&desk).await.map(|_| ())
}

fn desk_filter(desk: &Desk<'_>, args: &QueueFilterArgs) -> Result<QueueFilter> {
    Ok(desk.filter(args.area.as_deref(), args.section.as_deref(), args.run)?)
}
