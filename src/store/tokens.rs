//! API tokens: only a SHA-256 of each token is stored. Tokens are 256-bit
//! random strings, so a fast hash is enough (no dictionary to slow down) and
//! it lets a request find its token by an indexed equality lookup. Rows
//! become [`TokenRecord`]s here; an unknown role or scope is `Corrupt`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{on_db, write_tx, Db, Result, StoreError};
use crate::auth::{Role, Scope};

/// A token as lists show it: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    pub scope: Scope,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A token to store, by the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub hash: &'a str,
    pub role: Role,
    pub scope: Scope,
    pub label: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    role: String,
    scope: Option<String>,
    label: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<TokenRecord> {
        let corrupt = |e| StoreError::corrupt(&format!("token {}", r.id), &[e]);
        let role = r.role.parse::<Role>().map_err(corrupt)?;
        let scope = match r.scope.as_deref() {
            None => Scope::All,
            Some(s) => s.parse::<Scope>().map_err(corrupt)?,
        };
        Ok(TokenRecord {
            id: r.id,
            role,
            scope,
            label: r.label,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked: r.revoked,
        })
    }
}

const COLUMNS: &str = "id, role, scope, label, created_at, expires_at, revoked";

/// Stores a token hash with its role and scope; returns the token's id.
/// A new token: its secret (shown once, never stored) and its id.
pub async fn issue(
    db: &Db,
    role: Role,
    scope: Scope,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, String)> {
    let secret = crate::auth::new_token();
    let hash = crate::auth::hash_token(&secret);
    let id = insert(
        db,
        &NewToken {
            hash: &hash,
            role,
            scope,
            label,
            expires_at,
        },
    )
    .await?;
    Ok((secret, id))
}

pub async fn insert(db: &Db, t: &NewToken<'_>) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let scope = match &t.scope {
        Scope::All => None,
        s => Some(s.to_string()),
    };
    write_tx!(db, tx => {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, role, scope, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id).bind(t.hash).bind(t.role.as_str()).bind(&scope).bind(t.label)
            .bind(Utc::now()).bind(t.expires_at)
            .execute(&mut *tx).await?;
        Ok(Ok::<_, StoreError>(()))
    })
    .map_err(|e| StoreError::refused(e, "a token with this secret exists", ""))??;
    Ok(id)
}

/// The token with this hash, revoked and expired ones included (the caller
/// decides with [`TokenRecord::is_live`]).
pub async fn find(db: &Db, token_hash: &str) -> Result<Option<TokenRecord>> {
    on_db!(db, p => sqlx::query_as::<_, TokenRow>(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"))
        .bind(token_hash).fetch_optional(p).await)?
    .map(TokenRecord::try_from)
    .transpose()
}

/// Every token, oldest first.
pub async fn list(db: &Db) -> Result<Vec<TokenRecord>> {
    let rows = on_db!(db, p => sqlx::query_as::<_, TokenRow>(&format!(
        "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"))
        .fetch_all(p).await)?;
    rows.into_iter().map(TokenRecord::try_from).collect()
}

/// Revokes a token by id; `NotFound` if there is none. Revoking twice is
/// not an error.
pub async fn revoke(db: &Db, id: &str) -> Result<()> {
    write_tx!(db, tx => {
        let n = sqlx::query("UPDATE api_tokens SET revoked = TRUE WHERE id = $1")
            .bind(id).execute(&mut *tx).await?.rows_affected();
        Ok(if n == 0 { Err(StoreError::NotFound) } else { Ok(()) })
    })?
}
