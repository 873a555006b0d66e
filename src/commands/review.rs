//! The review desk's commands: queue, claim, show, approve, reject, skip, history, stale,
//! feedback and export.

use super::console::{print_json, read_stdin};
use super::startup;
use crate::cli::{
    ActorArgs, CheckFormat, Cli, ExportArgs, FeedbackArgs, QueueFilterArgs, ReviewCommand, VoteArg,
};
use crate::config;
use crate::export;
use crate::review::{self, Approval, Desk, ReviewSettings};
use crate::store::{now_ms, QueueFilter, ReviewItem, Vote, Voter};
use anyhow::{Context, Result};
use sha2::Digest;
use std::process::ExitCode;

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
    let settings = config::review_settings(&desk_args.review)?;
    let acting = actor(command).map(config::actor).transpose()?;
    let who = || {
        acting
            .clone()
            .expect("checked above for every command that records who acts")
    };
    let set = startup::load(&cli.data)?;
    let store = startup::open_store(&desk_args.database.database_url).await?;
    // Whatever the command, published text is first re-checked against the facts just loaded.
    let (desk, recheck) = startup::open_desk(&store, &set, settings).await?;
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
            format,
            ..
        } => {
            let who = who();
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
            ..
        } => {
            let who = who();
            let edited = match edit {
                None => None,
                Some(p) if p.as_os_str() == "-" => Some(read_stdin()?),
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
        ReviewCommand::Reject { draft, reason, .. } => {
            let who = who();
            let withdrawn = desk.reject(&who, *draft, reason).await?;
            print!("draft {draft} rejected");
            match withdrawn {
                Some(v) => println!("; version {v} withdrawn from the site"),
                None => println!(),
            }
            ExitCode::SUCCESS
        }
        ReviewCommand::Skip { draft, .. } => {
            let who = who();
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
        ReviewCommand::Stale { format, .. } => {
            let summary = recheck;
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

pub async fn feedback(cli: &Cli, args: &FeedbackArgs) -> Result<ExitCode> {
    let voter = match (&args.visitor, &args.actor.user) {
        // No network to go by: each token given here counts as a voice of its own, which is
        // for staff to vouch for (the command needs the database).
        (Some(token), _) => {
            let network = crate::facts::hex_digest(&sha2::Sha256::digest(token.as_bytes()));
            review::visitor(token, &format!("cli-{}", &network[..32]))?
        }
        (None, _) => Voter::Staff(config::actor(&args.actor)?),
    };
    let vote = match args.vote {
        VoteArg::Up => Vote::Up,
        VoteArg::Down => Vote::Down,
    };
    let settings = config::review_settings(&args.desk.review)?;
    let set = startup::load(&cli.data)?;
    let store = startup::open_store(&args.desk.database.database_url).await?;
    let (desk, _) = startup::open_desk(&store, &set, settings).await?;
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
    let store = startup::open_store(&args.database.database_url).await?;
    // Text whose facts changed since it was checked must not leave as "passed": re-check
    // against the data first (the files still depend on the store alone).
    let set = startup::load(&cli.data)?;
    startup::open_desk(&store, &set, ReviewSettings::default()).await?;
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

/// Who acts, for the commands that record it.
fn actor(command: &ReviewCommand) -> Option<&ActorArgs> {
    match command {
        ReviewCommand::Claim { actor, .. }
        | ReviewCommand::Approve { actor, .. }
        | ReviewCommand::Reject { actor, .. }
        | ReviewCommand::Skip { actor, .. }
        | ReviewCommand::Stale { actor, .. } => Some(actor),
        ReviewCommand::Queue { .. }
        | ReviewCommand::Show { .. }
        | ReviewCommand::History { .. } => None,
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

fn desk_filter(desk: &Desk<'_>, args: &QueueFilterArgs) -> Result<QueueFilter> {
    Ok(desk.filter(args.area.as_deref(), args.section.as_deref(), args.run)?)
}
