//! Scratch databases for tests and drills: a uniquely named PostgreSQL database made on the
//! server an admin URL names and dropped when asked, or a SQLite file in a given folder.

use super::db::{redact, StoreError};
use sqlx::{AnyConnection, Connection, Executor};
use std::path::Path;

/// An empty database for one test or drill, to hand `Store::connect` (or a worker) its URL.
pub struct ScratchDatabase {
    url: String,
    /// The admin URL and the database's name, for a PostgreSQL one.
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// The SQLite file `file` in `dir`, which `Store::connect` creates; the files of an
    /// earlier database of that name (with its `-wal` and `-shm`) are removed first.
    pub fn sqlite(dir: &Path, file: &str) -> ScratchDatabase {
        let path = dir.join(file);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        ScratchDatabase {
            url: format!("sqlite://{}", path.display()),
            postgres: None,
        }
    }

    /// A new database on the PostgreSQL server `admin` names (as a user who may create
    /// databases), called `{prefix}_{process id}_{random}` so that concurrent tests and
    /// drills never meet. `prefix` is lowercase letters, digits and underscores: it is
    /// written into the statement as it is.
    pub async fn postgres(admin: &str, prefix: &str) -> Result<ScratchDatabase, StoreError> {
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a scratch database prefix is lowercase letters, digits and underscores: {prefix:?}"
        );
        let name = format!("{prefix}_{}_{}", std::process::id(), fastrand::u32(..));
        let mut conn = admin_connection(admin).await?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        conn.close().await?;
        // The admin URL with the new database's name as its path (its query kept).
        let mut url =
            url::Url::parse(admin).map_err(|_| StoreError::UnknownScheme(redact(admin)))?;
        url.set_path(&name);
        Ok(ScratchDatabase {
            url: url.to_string(),
            postgres: Some((admin.to_string(), name)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops a PostgreSQL database, ending the connections still open to it (`WITH
    /// (FORCE)`). A SQLite file is left to the owner of its folder.
    pub async fn drop_database(self) -> Result<(), StoreError> {
        let Some((admin, name)) = self.postgres else {
            return Ok(());
        };
        let mut conn = admin_connection(&admin).await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
        conn.close().await?;
        Ok(())
    }
}

async fn admin_connection(admin: &str) -> Result<AnyConnection, StoreError> {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(admin)
        .await
        .map_err(|cause| StoreError::Connect {
            url: redact(admin),
            cause,
        })
}
