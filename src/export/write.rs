//! Writing the export: each area's file and then the index, every file atomically, and the
//! files of areas no longer published removed.

use super::documents::{documents, ExportSummary, StalePolicy};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store holds published text for synthetic areas ({0}): it is a test store, never a site's")]
    Synthetic(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Serialize)]
struct Index {
    ai_generated: bool,
    files: Vec<IndexEntry>,
}

#[derive(Serialize, serde::Deserialize)]
struct IndexEntry {
    area_code: String,
    file: String,
    sections: usize,
    sha256: String,
}

/// Writes `out/<area code>.json` for every area with published text, then `out/index.json`.
/// Each file is written to a temporary name and renamed, and the index comes last, so a
/// reader never sees a half-written file. File names are safe because the store parses each
/// version's area code as an `AreaCode` when it reads the row; every version is read before
/// the first write, so a refused row leaves no partial export.
pub async fn export(
    store: &Store,
    out: &Path,
    policy: StalePolicy,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary::default();
    let docs = documents(store, policy, None, &mut summary).await?;
    if !summary.synthetic.is_empty() {
        summary.synthetic.dedup();
        summary.synthetic.truncate(3);
        return Err(ExportError::Synthetic(summary.synthetic.join(", ")));
    }
    std::fs::create_dir_all(out).map_err(|source| ExportError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let previous = previous_files(out);
    let mut index = Index {
        ai_generated: true,
        files: Vec::new(),
    };
    for doc in &docs {
        let name = format!("{}.json", doc.file.area_code);
        write_atomically(&out.join(&name), &doc.bytes)?;
        index.files.push(IndexEntry {
            area_code: doc.file.area_code.clone(),
            file: name,
            sections: doc.file.sections.len(),
            sha256: doc.sha256.clone(),
        });
    }
    let mut bytes = serde_json::to_vec_pretty(&index).expect("the index serialises");
    bytes.push(b'\n');
    write_atomically(&out.join("index.json"), &bytes)?;
    // Only after the new index is in place: files the old index named that the new one does
    // not (an area whose text was withdrawn) are removed.
    for name in previous {
        if !index.files.iter().any(|f| f.file == name) {
            let path = out.join(&name);
            std::fs::remove_file(&path).map_err(|source| ExportError::Write { path, source })?;
            summary.removed.push(name);
        }
    }
    Ok(summary)
}

/// File names the previous index listed (only plain `*.json` names: never a path).
fn previous_files(out: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Old {
        files: Vec<IndexEntry>,
    }
    let Ok(bytes) = std::fs::read(out.join("index.json")) else {
        return Vec::new();
    };
    let Ok(old) = serde_json::from_slice::<Old>(&bytes) else {
        return Vec::new();
    };
    old.files
        .into_iter()
        .map(|f| f.file)
        .filter(|f| {
            f.ends_with(".json")
                && f != "index.json"
                && !f.contains(['/', '\\'])
                && !f.starts_with('.')
        })
        .collect()
}

/// Writes to a temporary file of this process's own, flushes it to disk, then renames it
/// over `path`: a reader sees the old file or the new one, never part of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export");
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(source) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ExportError::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}
