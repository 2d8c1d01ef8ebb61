//! API tokens: only a SHA-256 of each token is stored. Tokens are 256-bit
//! random strings, so a fast hash is enough (no dictionary to slow down) and
//! it lets a request find its token by an indexed equality lookup.

use chrono::Utc;

use super::{on_db, Db, Result};

/// Stores a token hash with its role; returns the token's id.
pub async fn insert(db: &Db, token_hash: &str, role: &str, label: &str) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    on_db!(db, p => sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, role, label, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id).bind(token_hash).bind(role).bind(label).bind(Utc::now())
        .execute(p).await.map(|_| ()))?;
    Ok(id)
}

/// The role and id of a live token with this hash.
pub async fn find(db: &Db, token_hash: &str) -> Result<Option<(String, String)>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, (String, String)>(
        "SELECT id, role FROM api_tokens WHERE token_hash = $1 AND revoked = FALSE")
        .bind(token_hash).fetch_optional(p).await)?)
}
