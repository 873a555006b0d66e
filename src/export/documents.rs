//! The export's documents: each area's published text as the site reads it (the export
//! writes it, the API serves it), with its bytes and hash, and what was left out.

use crate::facts::{hex_digest, DataBasis};
use crate::store::{Store, StoreError, VersionRow, VoteCounts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What the export does with a published version whose facts changed under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StalePolicy {
    /// Keep it, flagged `stale`, until a replacement is approved.
    Keep,
    /// Leave it out of the export.
    Withdraw,
}

/// One area's published text, as the site reads it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AreaFile {
    pub area_code: String,
    pub area_name: String,
    pub ai_generated: bool,
    pub sections: Vec<SectionEntry>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SectionEntry {
    pub section: String,
    pub title: String,
    pub text: String,
    pub version_id: i64,
    pub approved_at: String,
    pub approved_by: String,
    /// The periods and sources of the figures the text quotes, for the line under it.
    pub data: DataBasis,
    pub model: String,
    /// `passed`, `overridden` (published over a failed check, with the reason) or `stale`.
    pub check_status: &'static str,
    pub override_reason: Option<String>,
    pub stale: bool,
    pub ai_generated: bool,
    pub feedback: VoteCounts,
}

impl SectionEntry {
    pub fn of(v: &VersionRow, feedback: VoteCounts) -> SectionEntry {
        SectionEntry {
            section: v.section.clone(),
            title: v.section_title.clone(),
            text: v.text.clone(),
            version_id: v.id,
            approved_at: rfc3339(v.approved_ms),
            approved_by: v.approved_by.clone(),
            data: v
                .data_basis
                .clone()
                .unwrap_or_else(|| DataBasis::period_only(&v.facts_period)),
            model: v.model.clone(),
            check_status: if v.stale {
                "stale"
            } else if v.pass {
                "passed"
            } else {
                "overridden"
            },
            override_reason: v.override_reason.clone(),
            stale: v.stale,
            ai_generated: true,
            feedback,
        }
    }
}

/// An area's file: its content, serialised bytes and their SHA-256.
pub struct AreaDocument {
    pub file: AreaFile,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ExportSummary {
    pub areas: usize,
    pub sections: usize,
    pub stale_kept: usize,
    pub stale_withheld: usize,
    /// Files of areas in the previous export that no longer have published text.
    pub removed: Vec<String>,
    /// Synthetic areas with published text, left out (the export refuses to run with any).
    pub synthetic: Vec<String>,
}

/// Every area's published text (or one area's), by area code, as the export writes it and
/// the API serves it.
pub async fn documents(
    store: &Store,
    policy: StalePolicy,
    only_area: Option<&str>,
    summary: &mut ExportSummary,
) -> Result<Vec<AreaDocument>, StoreError> {
    let counts = store.published_vote_counts().await?;
    let mut by_area: BTreeMap<String, Vec<VersionRow>> = BTreeMap::new();
    for v in store.published_versions().await? {
        if only_area.is_some_and(|a| a != v.area_code) {
            continue;
        }
        if is_synthetic(&v.area_code) {
            summary.synthetic.push(v.area_code);
            continue;
        }
        if v.stale {
            if policy == StalePolicy::Withdraw {
                summary.stale_withheld += 1;
                continue;
            }
            summary.stale_kept += 1;
        }
        by_area.entry(v.area_code.clone()).or_default().push(v);
    }
    let mut out = Vec::new();
    for (code, mut versions) in by_area {
        // Sorted here, by bytes, not by the database's collation: both databases give the
        // same files.
        versions.sort_by(|a, b| a.section.cmp(&b.section));
        let file = AreaFile {
            area_name: versions[0].area_name.clone(),
            area_code: code,
            ai_generated: true,
            sections: versions
                .iter()
                .map(|v| SectionEntry::of(v, counts.get(&v.id).copied().unwrap_or_default()))
                .collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("export files serialise");
        bytes.push(b'\n');
        summary.areas += 1;
        summary.sections += file.sections.len();
        out.push(AreaDocument {
            sha256: hex_digest(&Sha256::digest(&bytes)),
            file,
            bytes,
        });
    }
    Ok(out)
}

/// Areas made by `narrator synth` are never served or exported.
fn is_synthetic(code: &str) -> bool {
    code.starts_with(crate::facts::synth::SYNTHETIC_PREFIX)
}

/// Milliseconds since 1970 as an RFC 3339 UTC time to the second.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_619_216_999), "2026-11-25T15:06:56Z");
        let http = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_102_444_799),
        );
        assert_eq!(http, "Thu, 31 Dec 2099 23:59:59 GMT");
        assert_eq!(rfc3339(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }
}
