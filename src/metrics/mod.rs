//! Prometheus metrics: what the workers count, the recorder that keeps the counts, and the
//! `/metrics` answer for `serve`'s router and for `--metrics-addr` on `run` and `worker`.

mod exporter;
mod listen;
mod record;

pub use exporter::Exporter;
pub use listen::listen;
pub use record::{job_finished, lease_lost, provider_request, request_ended};
