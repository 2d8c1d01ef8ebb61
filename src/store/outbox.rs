//! The customer-message outbox. Rows are inserted by [`super::jobs`] in the
//! job write's transaction; here they are claimed for delivery, settled and
//! listed. A claim is a lease: the claiming process sets `claimed_until`,
//! and a message whose lease ran out (its process died mid-send) can be
//! claimed again, so delivery is at least once and never by two processes
//! at the same time. On PostgreSQL claimers skip each other's locked rows
//! (`FOR UPDATE SKIP LOCKED`); on SQLite the write lock serialises them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{on_db, write_tx, Db, Result, StoreError};
use crate::basic::{FieldError, Fields};
use crate::notify::{Message, MessageState, Template};

pub(super) const INSERT_SQL: &str =
    "INSERT INTO messages (job_id, channel, recipient, template, text, params, state, attempts, \
     next_attempt_at, created_at) VALUES ($1, 'sms', $2, $3, $4, $5, 'pending', 0, $6, $6)";

#[derive(Debug, sqlx::FromRow)]
struct MessageRow {
    id: i64,
    job_id: i64,
    job_code: String,
    channel: String,
    recipient: String,
    template: String,
    text: String,
    params: String,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "m.id, m.job_id, j.code AS job_code, m.channel, m.recipient, m.template, \
    m.text, m.params, m.state, m.attempts, m.next_attempt_at, m.last_error, m.created_at, m.delivered_at";

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> Result<Message> {
        let mut f = Fields::new();
        let template = f.take_as("template", r.template.parse::<Template>());
        let state = f.take_as("state", r.state.parse::<MessageState>());
        let params = f.take(
            serde_json::from_str::<Map<String, Value>>(&r.params)
                .map_err(|e| FieldError::new("params", e.to_string())),
        );
        match (template, state, params) {
            (Some(template), Some(state), Some(params)) => Ok(Message {
                id: r.id,
                job_id: r.job_id,
                job_code: r.job_code,
                channel: r.channel,
                recipient: r.recipient,
                template,
                text: r.text,
                params,
                state,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                last_error: r.last_error,
                created_at: r.created_at,
                delivered_at: r.delivered_at,
            }),
            _ => Err(StoreError::corrupt(
                &format!("message {}", r.id),
                &f.into_errors(),
            )),
        }
    }
}

fn typed(rows: Vec<MessageRow>) -> Result<Vec<Message>> {
    rows.into_iter().map(Message::try_from).collect()
}

/// Claims up to `limit` messages due at `now` (pending, or sending with a
/// lapsed lease) for this process until `lease_until`; each claim counts
/// as a try.
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Message>> {
    let lock = if matches!(db, Db::Postgres(_)) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let pick = format!(
        "UPDATE messages SET state = 'sending', claimed_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM messages WHERE next_attempt_at <= $2 AND \
         (state = 'pending' OR (state = 'sending' AND claimed_until < $2)) \
         ORDER BY next_attempt_at, id LIMIT $3{lock}) RETURNING id"
    );
    let ids: Vec<i64> = write_tx!(db, tx => {
        let ids: Vec<i64> = sqlx::query_scalar(&pick)
            .bind(lease_until).bind(now).bind(limit)
            .fetch_all(&mut *tx).await?;
        Ok(Ok::<_, ()>(ids))
    })?
    .unwrap_or_default();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = on_db!(db, p => sqlx::query_as::<_, MessageRow>(&format!(
        "SELECT {COLUMNS} FROM messages m JOIN jobs j ON j.id = m.job_id WHERE m.id IN ({list}) ORDER BY m.id"))
        .fetch_all(p).await)?;
    typed(rows)
}

/// The webhook took it.
pub async fn delivered(db: &Db, id: i64, at: DateTime<Utc>) -> Result<()> {
    write_tx!(db, tx => {
        sqlx::query("UPDATE messages SET state = 'delivered', delivered_at = $1, claimed_until = NULL, \
                     last_error = NULL WHERE id = $2")
            .bind(at).bind(id).execute(&mut *tx).await?;
        Ok(Ok::<_, ()>(()))
    })?
    .ok();
    Ok(())
}

/// A try failed: retry at `retry_at`, or give up (`failed`) when `None`.
pub async fn attempt_failed(
    db: &Db,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let state = if retry_at.is_some() {
        MessageState::Pending
    } else {
        MessageState::Failed
    };
    write_tx!(db, tx => {
        let mut q = sqlx::query("UPDATE messages SET state = $1, last_error = $2, claimed_until = NULL, \
                     next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4");
        q = q.bind(state.as_str()).bind(error).bind(retry_at).bind(id);
        q.execute(&mut *tx).await?;
        Ok(Ok::<_, ()>(()))
    })?
    .ok();
    Ok(())
}

/// A job's messages, oldest first.
pub async fn of_job(db: &Db, job_id: i64) -> Result<Vec<Message>> {
    let rows = on_db!(db, p => sqlx::query_as::<_, MessageRow>(&format!(
        "SELECT {COLUMNS} FROM messages m JOIN jobs j ON j.id = m.job_id WHERE m.job_id = $1 ORDER BY m.id"))
        .bind(job_id).fetch_all(p).await)?;
    typed(rows)
}

/// Messages per state, for `/metrics` and tests.
pub async fn count_by_state(db: &Db) -> Result<Vec<(String, i64)>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, (String, i64)>(
        "SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state")
        .fetch_all(p).await)?)
}
