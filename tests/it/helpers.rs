//! Shared helpers: run the binary, find the repository's folders, bless golden files.

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
