//! Validating an import's files together with the rest of `data/`, then writing each whole.

use super::{ImportError, ImportReport};
use crate::facts::{self, Diagnostic, LoadError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A file the import will write: its path under the data folder and its whole contents.
pub(crate) struct Output {
    pub relative: PathBuf,
    pub contents: String,
}

/// Copies `data_dir` to a scratch folder, lays the new files over it and loads the result as
/// `facts check` would; only if that passes is each file written beside its target and
/// renamed over it. Problems name the real files, not the scratch copies.
/// Returns what was written and the data as it now loads.
pub(super) fn validate_and_write(
    data_dir: &Path,
    outputs: Vec<Output>,
) -> Result<(ImportReport, facts::FactSet), ImportError> {
    let scratch = Scratch::new()?;
    copy_tree(data_dir, scratch.path())?;
    for output in &outputs {
        write_whole(&scratch.path().join(&output.relative), &output.contents)?;
    }
    let after = match facts::load(scratch.path()) {
        Ok(set) => set,
        Err(LoadError::Io { path, source }) => {
            return Err(ImportError::Read {
                path: rebase(&path, scratch.path(), data_dir),
                source,
            })
        }
        Err(LoadError::Invalid(problems)) => {
            let problems = problems
                .into_iter()
                .map(|d| {
                    let file = rebase(d.file(), scratch.path(), data_dir);
                    Diagnostic::new(&file, d.line(), d.column(), d.message())
                })
                .collect();
            return Err(ImportError::Invalid(problems));
        }
    };
    let mut report = ImportReport::default();
    for output in outputs {
        let target = data_dir.join(&output.relative);
        if std::fs::read(&target).is_ok_and(|old| old == output.contents.as_bytes()) {
            report.unchanged.push(target);
        } else {
            write_whole(&target, &output.contents)?;
            report.changed.push(target);
        }
    }
    Ok((report, after))
}

/// Writes `contents` to a temporary file beside `path`, flushes it to disk and renames it
/// over `path`: a reader sees the old file or the new one, never half of one.
pub(crate) fn write_whole(path: &Path, contents: &str) -> Result<(), ImportError> {
    let err = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

fn rebase(path: &Path, from: &Path, to: &Path) -> PathBuf {
    path.strip_prefix(from)
        .map_or(path.to_path_buf(), |rest| to.join(rest))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), ImportError> {
    let read_err = |source| ImportError::Read {
        path: from.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(from).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(read_err)?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|source| ImportError::Write {
                path: target.clone(),
                source,
            })?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|source| ImportError::Write {
                path: target.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// A scratch folder under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, ImportError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("narrator-import-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| ImportError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Self(path))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
