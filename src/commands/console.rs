//! What several commands share at the terminal: JSON on standard output, text from standard input.

use anyhow::{Context, Result};

pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading standard input")?;
    Ok(text)
}
