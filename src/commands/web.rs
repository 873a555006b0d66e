//! `narrator serve` and `narrator users`.

use super::startup;
use crate::cli::{Cli, ServeArgs, UsersCommand};
use crate::config;
use crate::web::{self, AppState};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;

pub async fn serve(cli: &Cli, args: &ServeArgs) -> Result<ExitCode> {
    let settings = config::serve_settings(args)?;
    // Before the runner exists, so the web's runs count from their first job (`/metrics`).
    crate::metrics::Exporter::install();
    let set = startup::load(&cli.data)?;
    let (runner, store) = startup::build_runner(&cli.prompts, set, &settings.runner).await?;
    let mut state = AppState::new(
        store.clone(),
        runner.shared_facts(),
        settings.review,
        Some(runner),
        settings.votes_per_minute,
    );
    state.stale_policy = args.stale_policy;
    state.secure_cookies = !args.insecure_cookies;
    state.trusted_proxies = std::sync::Arc::new(args.trusted_proxy.clone());
    if store.users().await?.is_empty() {
        eprintln!(
            "no users yet: add one with `narrator users add NAME --role reviewer` (or admin, editor)"
        );
    }
    web::serve(state, args.addr, settings.limits)
        .await
        .with_context(|| format!("serving on {}", args.addr))?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn users(command: &UsersCommand) -> Result<ExitCode> {
    match command {
        UsersCommand::Add {
            name,
            role,
            database,
        } => {
            let name = web::valid_name(name).map_err(anyhow::Error::msg)?;
            let store = startup::open_store(&database.database_url).await?;
            let issued = web::issue_token();
            let added = store
                .add_user(name, role.as_str(), &issued.token_id, &issued.hash)
                .await?;
            store.close().await;
            if added.is_none() {
                bail!("there is already a user {name:?}; `narrator users token {name}` gives them a new token");
            }
            eprintln!(
                "added {name} as {}; their token, shown only now:",
                role.as_str()
            );
            println!("{}", issued.token);
        }
        UsersCommand::List { database } => {
            let store = startup::open_store(&database.database_url).await?;
            for u in store.users().await? {
                println!(
                    "{:<24} {:<9} {}",
                    u.name,
                    u.role,
                    if u.disabled { "disabled" } else { "" }
                );
            }
            store.close().await;
        }
        UsersCommand::Disable { name, database } | UsersCommand::Enable { name, database } => {
            let enable = matches!(command, UsersCommand::Enable { .. });
            let store = startup::open_store(&database.database_url).await?;
            let done = if enable {
                store.enable_user(name).await?
            } else {
                store.disable_user(name).await?
            };
            store.close().await;
            if !done {
                bail!("there is no user {name:?}");
            }
            if enable {
                println!("{name} is enabled; their current token works again");
            } else {
                println!("{name} is disabled; their token no longer works (within a minute on a running server)");
            }
        }
        UsersCommand::Token { name, database } => {
            let store = startup::open_store(&database.database_url).await?;
            let issued = web::issue_token();
            let disabled = store
                .replace_token(name, &issued.token_id, &issued.hash)
                .await?;
            store.close().await;
            let Some(disabled) = disabled else {
                bail!("there is no user {name:?}");
            };
            eprintln!("a new token for {name}, shown only now (the old one no longer works):");
            println!("{}", issued.token);
            if disabled {
                eprintln!(
                    "{name} is still disabled: the token works only after `narrator users enable {name}`"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
