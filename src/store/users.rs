//! Staff users (only hashes of their tokens) and review-page sessions.

use super::columns::Flag;
use super::db::{Store, StoreError};
use super::tx::now_ms;

#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub token_id: String,
    #[serde(skip)]
    pub token_hash: String,
    #[sqlx(try_from = "Flag")]
    pub disabled: bool,
    pub created_ms: i64,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub csrf: String,
    pub expires_ms: i64,
}

const USER_COLUMNS: &str =
    "u.id, u.name, u.role, u.token_id, u.token_hash, u.disabled, u.created_ms";

/// Ends every session of a user, inside the caller's transaction.
async fn end_sessions(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Adds a user; `None` when the name is taken.
    pub async fn add_user(
        &self,
        name: &str,
        role: &str,
        token_id: &str,
        token_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO users (name, role, token_id, token_hash, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(role)
        .bind(token_id)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces a user's token (the old one stops working at once). A disabled user stays
    /// disabled: enabling is its own act. `None` if no such user, else whether disabled.
    pub async fn replace_token(
        &self,
        name: &str,
        token_id: &str,
        token_hash: &str,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE users SET token_id = $1, token_hash = $2 WHERE name = $3 RETURNING id, disabled",
        )
        .bind(token_id)
        .bind(token_hash)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, disabled)) = row else {
            return Ok(None);
        };
        end_sessions(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(disabled == 1))
    }

    /// Lets a disabled user's token work again; false if no such user.
    pub async fn enable_user(&self, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("UPDATE users SET disabled = 0 WHERE name = $1 RETURNING id")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Disables a user and ends their sessions; false if no such user.
    pub async fn disable_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query_scalar("UPDATE users SET disabled = 1 WHERE name = $1 RETURNING id")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        end_sessions(&mut tx, id).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The server's key called `name`, made (from `fresh`) the first time any worker asks:
    /// every worker sharing the database gets the same one.
    pub async fn server_key(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO server_keys (name, key_hex) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT key_hex FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn user_by_token_id(&self, token_id: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.token_id = $1"
        ))
        .bind(token_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // Expired sessions are cleared as new ones are made.
        sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A live session of an enabled user.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.expires_ms FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_ms > $2 AND u.disabled = 0"
        ))
        .bind(id_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
