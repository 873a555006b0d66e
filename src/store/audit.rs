//! The audit trail, read: a page's history, and the pages whose published text changed (the
//! public feed). Entries are written by `tx::audit`, in the transaction of the change each
//! records.

use super::db::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub area_code: String,
    pub section: String,
    pub draft_id: Option<i64>,
    pub version_id: Option<i64>,
    pub detail: String,
}

/// Audit actions that change what the public reads (text, stale flag or check status).
const FEED_ACTIONS: &str = "'approved', 'superseded', 'withdrawn', 'reaffirmed', 'stale', 'fresh'";

impl Store {
    /// Pages whose published text changed in audit entries after `since_id` or at or after
    /// `since_ms` (the window catches PostgreSQL ids that commit out of order), read in one
    /// statement with the newest such entry's id.
    pub async fn changed_pages(
        &self,
        since_id: i64,
        since_ms: i64,
    ) -> Result<(Vec<(String, String)>, i64), StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT area_code, section, CAST(MAX(id) AS BIGINT) AS last FROM audit \
             WHERE action IN ({FEED_ACTIONS}) AND (id > $1 OR at_ms >= $2) \
             GROUP BY area_code, section ORDER BY area_code, section"
        ))
        .bind(since_id)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut last = since_id;
        let mut pages = Vec::new();
        for (area, section, id) in rows {
            last = last.max(id);
            pages.push((area, section));
        }
        Ok((pages, last))
    }

    /// The newest audit entry that changed published text, by id (0 when none).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM audit WHERE action IN ({FEED_ACTIONS})"
        ))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every audit entry of a page, oldest first.
    pub async fn history(
        &self,
        area_code: &str,
        section: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, at_ms, actor, action, area_code, section, draft_id, version_id, detail FROM audit \
             WHERE area_code = $1 AND section = $2 ORDER BY id",
        )
        .bind(area_code)
        .bind(section)
        .fetch_all(&self.pool)
        .await?)
    }
}
