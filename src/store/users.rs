//! Users and their API tokens (stored as SHA-256 hashes).

use super::rows::{TokenRow, TokenUserRow, UserRow};
use super::{constraint, on_backend, Store, StoreError, StoreResult};
use crate::domain::records::{ApiToken, NewUser, User};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(crate) const USER_COLUMNS: &str = "id, username, email, is_developer, is_admin, created_at";

const TOKEN_COLUMNS: &str = "id, user_id, name, created_at, last_used_at, expires_at, revoked_at";

impl Store {
    pub async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        self.create_user_with_id(Uuid::new_v4(), new).await
    }

    /// Creates a user with a given id (a Supabase user keeps its `sub`).
    pub async fn create_user_with_id(&self, id: Uuid, new: &NewUser) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING {USER_COLUMNS}"
        );
        let row: UserRow = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .bind(&new.username)
            .bind(&new.email)
            .bind(new.is_developer)
            .bind(new.is_admin)
            .bind(crate::domain::now())
            .fetch_one(&db.pool)
            .await?);
        Ok(row.into())
    }

    pub async fn get_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        let rows: Vec<UserRow> =
            on_backend!(self, |db| sqlx::query_as(&sql).fetch_all(&db.pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row: Option<UserRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(username)
            .fetch_optional(&db.pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// The user with this username, created when missing.
    pub async fn ensure_user(&self, new: &NewUser) -> StoreResult<User> {
        if let Some(u) = self.get_user_by_username(&new.username).await? {
            return Ok(u);
        }
        match self.create_user(new).await {
            Ok(u) => Ok(u),
            Err(StoreError::Conflict { .. }) => self
                .get_user_by_username(&new.username)
                .await?
                .ok_or_else(|| StoreError::conflict(constraint::USERS_EMAIL)),
            Err(e) => Err(e),
        }
    }

    /// Sets a user's roles; `None` leaves a role as it is.
    pub async fn set_user_roles(
        &self,
        id: Uuid,
        is_developer: Option<bool>,
        is_admin: Option<bool>,
    ) -> StoreResult<User> {
        let sql = format!(
            "UPDATE users SET is_developer = COALESCE($2, is_developer), \
             is_admin = COALESCE($3, is_admin) WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let row: Option<UserRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .bind(is_developer)
            .bind(is_admin)
            .fetch_optional(&db.pool)
            .await?);
        row.map(Into::into).ok_or(StoreError::NotFound)
    }

    pub async fn create_token(
        &self,
        user_id: Uuid,
        name: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        );
        let row: TokenRow = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(Uuid::new_v4())
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(crate::domain::now())
            .bind(expires_at)
            .fetch_one(&db.pool)
            .await?);
        Ok(row.into())
    }

    /// The token with this hash and its user, whatever the token's state.
    pub async fn find_token(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let sql = "SELECT t.id, t.user_id, t.name, t.created_at, t.last_used_at, t.expires_at, \
             t.revoked_at, u.id AS u_id, u.username AS u_username, u.email AS u_email, \
             u.is_developer AS u_is_developer, u.is_admin AS u_is_admin, \
             u.created_at AS u_created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";
        let row: Option<TokenUserRow> = on_backend!(self, |db| sqlx::query_as(sql)
            .bind(token_hash)
            .fetch_optional(&db.pool)
            .await?);
        Ok(row.map(Into::into))
    }

    pub async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
        on_backend!(self, |db| sqlx::query(sql)
            .bind(id)
            .bind(at)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Revokes a token at `at`; `Some(when)` when it had been revoked already (and stays revoked
    /// from then), `None` when this revoked it.
    pub async fn revoke_token(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let sql = "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        let affected = on_backend!(self, |db| sqlx::query(sql)
            .bind(id)
            .bind(at)
            .execute(&db.pool)
            .await?
            .rows_affected());
        if affected == 1 {
            return Ok(None);
        }
        let sql = "SELECT revoked_at FROM api_tokens WHERE id = $1";
        let before: Option<Option<DateTime<Utc>>> = on_backend!(self, |db| sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
        before.ok_or(StoreError::NotFound)
    }

    pub async fn list_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<TokenRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
