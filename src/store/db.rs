//! Connecting, choosing the dialect from the URL, and applying that dialect's migrations.

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is neither sqlite:// nor postgres://")]
    UnknownScheme(String),
    /// The worker no longer leases the job (paused past its lease; another took it): what it
    /// would have written is dropped.
    #[error("job {0}: the lease was lost to another worker; nothing was written")]
    LeaseLost(i64),
    // The sqlx errors below are shown in the message and not also kept as its source: sqlx
    // prints its own causes, and `{:#}` prints every source after the message, so each cause
    // (a refused area code, say) was said two or three times over.
    #[error("cannot open the database at {url}: {cause}")]
    Connect { url: String, cause: sqlx::Error },
    #[error("cannot apply the {dialect:?} migrations: {cause}")]
    Migrate {
        dialect: Dialect,
        cause: sqlx::migrate::MigrateError,
    },
    #[error("database error: {0}")]
    Query(sqlx::Error),
    #[error("stored data is not as expected: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Query(e)
    }
}

/// The database: one pool, its dialect, migrations applied.
#[derive(Clone)]
pub struct Store {
    pub(super) pool: AnyPool,
    dialect: Dialect,
}

impl Store {
    /// Opens `url` (`sqlite://path` or `postgres://...`), creating a SQLite file if missing,
    /// and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::UnknownScheme(redact(url)));
        };
        let url_with_mode = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers work beside the writer; the busy timeout makes
                        // concurrent writers wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            });
        let pool = options
            .connect(&url_with_mode)
            .await
            .map_err(|cause| StoreError::Connect {
                url: redact(url),
                cause,
            })?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|cause| StoreError::Migrate { dialect, cause })?;
        Ok(Store { pool, dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A URL fit for messages: the password of its user part and any password given as a query
/// parameter replaced with `***`; anything else is shown as written.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => redact_parsed(url, parsed),
        Err(_) => redact_unparsed(url),
    }
}

/// Query parameters that carry a password (`password` is the one PostgreSQL's URLs take; the
/// others are common spellings a hand-written URL may use).
const SECRET_PARAMS: [&str; 4] = ["password", "pass", "pwd", "sslpassword"];

/// Parsed, a URL's user part ends at the last `@` of its authority (so `u:p@ss@h` has the
/// password `p@ss`), which splitting the text by hand got wrong.
fn redact_parsed(url: &str, mut parsed: url::Url) -> String {
    let mut changed = false;
    if parsed.password().is_some() {
        // Only URLs with a host have a password, and those accept a new one.
        changed |= parsed.set_password(Some("***")).is_ok();
    }
    if let Some(query) = parsed.query().and_then(redact_query) {
        parsed.set_query(Some(&query));
        changed = true;
    }
    // Nothing secret: the URL exactly as given, not the parser's normalised form (a SQLite
    // path with a space stays readable).
    if changed {
        parsed.to_string()
    } else {
        url.to_string()
    }
}

/// A URL the parser refuses (a bad port, say) may still hold a password, and where its user
/// part ends is then unknown: everything from `://` to the last `@` is hidden, over-hiding
/// rather than leaking.
fn redact_unparsed(url: &str) -> String {
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    };
    if let Some((head, query)) = out.split_once('?') {
        if let Some(query) = redact_query(query) {
            out = format!("{head}?{query}");
        }
    }
    out
}

/// The query with the value of each password parameter replaced, keeping the other parameters
/// as written; `None` when it holds none.
fn redact_query(query: &str) -> Option<String> {
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let raw_key = pair.split_once('=').map_or(pair, |(key, _)| key);
            // Compared decoded, so `pass%77ord` is caught too.
            let key = url::form_urlencoded::parse(raw_key.as_bytes())
                .next()
                .map(|(key, _)| key.to_ascii_lowercase())
                .unwrap_or_default();
            if SECRET_PARAMS.contains(&key.as_str()) {
                found = true;
                format!("{raw_key}=***")
            } else {
                pair.to_string()
            }
        })
        .collect();
    found.then(|| pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `redact(url)` must give `expected`.
    fn check(url: &str, expected: &str) {
        assert_eq!(redact(url), expected, "redacting {url:?}");
    }

    #[test]
    fn the_password_of_the_user_part_is_hidden() {
        check("postgres://u:secret@h/db", "postgres://u:***@h/db");
        check(
            "postgresql://u:secret@h:5433/db",
            "postgresql://u:***@h:5433/db",
        );
    }

    #[test]
    fn a_password_holding_at_signs_is_hidden_whole() {
        // Splitting at the first `@` showed `ss@h` as the host.
        check("postgres://u:p@ss@h/db", "postgres://u:***@h/db");
        check("postgres://u:a@b@c@h/db", "postgres://u:***@h/db");
    }

    #[test]
    fn password_query_parameters_are_hidden() {
        check(
            "postgres://u@h/db?password=x",
            "postgres://u@h/db?password=***",
        );
        check(
            "postgres://h/db?sslmode=require&pass=x&application_name=narrator",
            "postgres://h/db?sslmode=require&pass=***&application_name=narrator",
        );
        check("postgres://h/db?PWD=x", "postgres://h/db?PWD=***");
        check(
            "postgres://h/db?pass%77ord=x",
            "postgres://h/db?pass%77ord=***",
        );
        check(
            "postgres://u:p@h/db?sslpassword=k&password=x",
            "postgres://u:***@h/db?sslpassword=***&password=***",
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        check("sqlite://x.db", "sqlite://x.db");
        check(
            "sqlite://.narrator/narrator.db?mode=rwc",
            "sqlite://.narrator/narrator.db?mode=rwc",
        );
        check("sqlite:///tmp/my dir/x.db", "sqlite:///tmp/my dir/x.db");
        check("sqlite::memory:", "sqlite::memory:");
        check("postgres://u@h/db", "postgres://u@h/db");
        check("postgres://h/db?passive=1", "postgres://h/db?passive=1");
    }

    #[test]
    fn a_url_that_does_not_parse_is_hidden_up_to_its_last_at_sign() {
        // Port out of range: the parser refuses it.
        check("postgres://u:p@ss@h:99999/db", "postgres://***@h:99999/db");
        check(
            "postgres://u:p@h:99999/db?password=x",
            "postgres://***@h:99999/db?password=***",
        );
        check("not a url", "not a url");
    }
}
