//! The states a run, a job, a review item and a version go through, as the schema's CHECK
//! constraints name them: typed in Rust, text in the database.

use super::columns::column;
use serde::{Deserialize, Serialize};

/// An enum whose variants are stored as the given texts.
macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text the database stores.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(raw: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|s| s.as_str() == raw)
            }
        }

        /// Tests and callers reading the stored text compare with it directly.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        column!($name, String, |raw| {
            $name::parse(&raw).ok_or_else(|| {
                format!(concat!("{:?} is not a ", stringify!($name)), raw).into()
            })
        });
    };
}

status!(
    /// A run's state.
    RunStatus {
        Running = "running",
        Finished = "finished",
        Interrupted = "interrupted",
    }
);

status!(
    /// A job's state: open while queued or running, then one of four ends.
    JobStatus {
        Queued = "queued",
        Running = "running",
        Skipped = "skipped",
        NeedsReview = "needs_review",
        FailedChecks = "failed_checks",
        Failed = "failed",
    }
);

impl JobStatus {
    /// Not yet ended: waiting for a worker, or leased by one.
    pub fn is_open(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

status!(
    /// A review item's state.
    ItemState {
        NeedsReview = "needs_review",
        Approved = "approved",
        Rejected = "rejected",
        Closed = "closed",
    }
);

status!(
    /// A published version's state.
    VersionState {
        Published = "published",
        Superseded = "superseded",
        Withdrawn = "withdrawn",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text_and_serialises_as_it() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in ItemState::ALL {
            assert_eq!(ItemState::parse(s.as_str()), Some(*s));
        }
        for s in VersionState::ALL {
            assert_eq!(VersionState::parse(s.as_str()), Some(*s));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }
}
