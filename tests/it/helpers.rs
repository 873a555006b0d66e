//! Shared helpers: run the binary, find the repository's folders, bless golden files.

use narrator::store::ScratchDatabase;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn data_dir() -> PathBuf {
    root().join("data")
}

pub fn prompts_dir() -> PathBuf {
    root().join("prompts")
}

/// Runs `narrator` from the repository root with the given arguments.
pub fn narrator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_narrator"))
        .args(args)
        .current_dir(root())
        .env_remove("NARRATOR_DATA")
        .env_remove("NARRATOR_PROMPTS")
        .env_remove("NARRATOR_USER")
        .env_remove("NARRATOR_DATABASE_URL")
        .env_remove("NARRATOR_SEPARATION_OF_DUTIES")
        .env_remove("NARRATOR_DOWN_VOTE_THRESHOLD")
        .env_remove("NARRATOR_CLAIM_MINUTES")
        .env_remove("NARRATOR_STALE_POLICY")
        .output()
        .expect("the narrator binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// True when golden files should be rewritten instead of compared (`NARRATOR_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var("NARRATOR_BLESS").is_ok_and(|v| v == "1")
}

/// A fresh, empty database of each dialect: a SQLite file in a temporary folder, and a new
/// PostgreSQL database on the local server (`NARRATOR_TEST_POSTGRES`, default
/// postgres://postgres@127.0.0.1:5432/postgres). PostgreSQL being unreachable fails the test:
/// the store suite never skips silently.
pub struct TestDatabases {
    _dir: tempfile::TempDir,
    pub sqlite: String,
    pub postgres: String,
    scratch: ScratchDatabase,
}

impl TestDatabases {
    pub async fn new() -> TestDatabases {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = ScratchDatabase::sqlite(dir.path(), "narrator.db");
        let admin = std::env::var("NARRATOR_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let scratch = ScratchDatabase::postgres(&admin, "narrator_test")
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL must be reachable at {admin} for the store tests: {e}")
            });
        TestDatabases {
            _dir: dir,
            sqlite: sqlite.url().to_string(),
            postgres: scratch.url().to_string(),
            scratch,
        }
    }

    pub fn both(&self) -> [&str; 2] {
        [&self.sqlite, &self.postgres]
    }

    pub async fn drop_postgres(self) {
        self.scratch
            .drop_database()
            .await
            .expect("the test's PostgreSQL database is dropped");
    }
}

/// Copies a folder tree, for tests that change a copy of `data/`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
