//! Storage: the one place that speaks SQL. Two backends behind one enum of
//! native sqlx pools — SQLite (a file, the default) and PostgreSQL (to scale
//! out) — because sqlx's compile-checked macros cannot serve two databases
//! from one crate and its `Any` driver loses booleans and timestamps. Every
//! query is written once with `$N` placeholders, which both backends accept,
//! and run on either pool through [`on_db!`]; every write runs through
//! [`write_tx!`] (this process's write turn, `BEGIN IMMEDIATE` on SQLite,
//! commit or roll back), and rows become domain types here, never above.

pub mod jobs;
pub mod kpi;
pub mod outbox;
pub mod stations;
pub mod technicians;
pub mod tokens;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Errors of the storage layer; each says what happened, so callers can
/// answer precisely without reading database messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key is taken (an id, a code, an idempotency key).
    #[error("{0}")]
    Duplicate(String),
    /// The row changed since it was read (optimistic concurrency).
    #[error("the row changed meanwhile; read it again and retry")]
    StaleVersion,
    /// A foreign key refused the write: a reference to a missing row, or a
    /// delete of a row others still point at.
    #[error("{0}")]
    Referenced(String),
    /// The database could not be reached in time.
    #[error("the database is unavailable")]
    Unavailable,
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable
            }
            // A server going down or restarting: connection exceptions (08),
            // too many connections (53300), admin shutdown and "cannot
            // connect now" (57P01-57P03). The client should retry later.
            sqlx::Error::Database(d)
                if d.code().is_some_and(|c| {
                    c.starts_with("08") || c == "53300" || c.starts_with("57P0")
                }) =>
            {
                StoreError::Unavailable
            }
            other => StoreError::Db(other),
        }
    }
}

impl StoreError {
    /// A stored row that no longer validates: `what` names it.
    pub(crate) fn corrupt(what: &str, errs: &[crate::basic::FieldError]) -> StoreError {
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        StoreError::Corrupt(format!("{what}: {}", msgs.join("; ")))
    }

    /// Names a refused write: a unique violation becomes `Duplicate` and a
    /// foreign-key violation `Referenced`, each with `what` as its message.
    pub(crate) fn refused(e: sqlx::Error, duplicate: &str, referenced: &str) -> StoreError {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate(duplicate.to_owned())
            }
            _ if is_foreign_key_violation(&e) => StoreError::Referenced(referenced.to_owned()),
            _ => e.into(),
        }
    }
}

/// Runs `$body` in one write transaction on whichever backend `$db` holds:
/// waits for this process's write turn (SQLite), begins (`BEGIN IMMEDIATE`
/// on SQLite), and commits when the body yields `Ok(Ok(v))`; `Ok(Err(v))`
/// (a refused conditional write) and any error roll back. `$tx` is the
/// transaction inside the body. Evaluates to
/// `Result<Result<T, R>, sqlx::Error>`.
#[macro_export]
macro_rules! write_tx {
    ($db:expr, $tx:ident => $body:expr) => {{
        let db: &$crate::store::Db = $db;
        let _turn = db.write_turn().await;
        $crate::store::on_db!(db, pool => async {
            let mut $tx = pool.begin_with(db.begin_write_sql()).await?;
            let end: ::std::result::Result<::std::result::Result<_, _>, ::sqlx::Error> =
                async { $body }.await;
            match end {
                Ok(Ok(v)) => {
                    $tx.commit().await?;
                    Ok(Ok(v))
                }
                Ok(Err(v)) => {
                    $tx.rollback().await?;
                    Ok(Err(v))
                }
                Err(e) => {
                    // The error is what matters; a failed rollback ends with
                    // the connection anyway.
                    let _ = $tx.rollback().await;
                    Err(e)
                }
            }
        }.await)
    }};
}
pub use write_tx;

/// Inside a [`write_tx!`] body: bumps the directory version, and on
/// PostgreSQL queues a NOTIFY that other processes receive on commit.
macro_rules! directory_changed {
    ($db:expr, $tx:ident) => {{
        ::sqlx::query($crate::store::BUMP_VERSION_SQL)
            .execute(&mut *$tx)
            .await?;
        if matches!($db, $crate::store::Db::Postgres(_)) {
            ::sqlx::query($crate::store::NOTIFY_SQL)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use directory_changed;

/// A connection pool on one of the supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool `db` holds; `$pool` is bound to the
/// native pool so each arm is type-checked against its own backend.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub use on_db;

impl Db {
    /// Connects to `url` (`sqlite://FILE`, `sqlite::memory:` or
    /// `postgres://...`), creating a SQLite file if missing.
    pub async fn connect(url: &str) -> Result<Db> {
        Self::connect_synced(url, SqliteSynchronous::Full).await
    }

    /// A connection for loading made-up bulk data (the demo history): on
    /// SQLite commits are not flushed one by one (`synchronous=NORMAL`; WAL
    /// keeps the file consistent, a power cut may lose the last of it),
    /// which makes thousands of small commits about ten times faster.
    pub async fn connect_for_bulk(url: &str) -> Result<Db> {
        Self::connect_synced(url, SqliteSynchronous::Normal).await
    }

    async fn connect_synced(url: &str, sync: SqliteSynchronous) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL lets readers run beside the writer; FULL sync keeps
                // every acknowledged write through a power cut.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sync)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // While the server is down a request should get its 503
                // soon; a refused connection fails at once anyway.
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Applies the backend's migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// The statement that opens a write transaction. SQLite's default
    /// deferred BEGIN fails with "database is locked" when a reading
    /// transaction later tries to write beside another writer; IMMEDIATE
    /// takes the write lock up front and waits for it instead.
    pub(crate) fn begin_write_sql(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        }
    }

    /// On SQLite, waits for this process's turn to write. SQLite allows one
    /// writer at a time and a blocked writer polls with growing sleeps
    /// (hundreds of milliseconds under load), so writers of one process
    /// queue here in order instead; other processes still meet the busy
    /// timeout. PostgreSQL needs no such turn.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        static TURNS: OnceLock<StdMutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
            OnceLock::new();
        let Db::Sqlite(pool) = self else {
            return None;
        };
        let key = pool
            .connect_options()
            .get_filename()
            .to_string_lossy()
            .into_owned();
        let turn = TURNS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        Some(turn.lock_owned().await)
    }

    /// Refreshes PostgreSQL's planner statistics after a bulk load: without
    /// them it takes a table of millions for a small one and scans it
    /// whole. SQLite plans well from its indexes alone, and sampled
    /// statistics (`analysis_limit`) made it pick worse indexes, so it is
    /// left without.
    pub async fn analyze(&self) -> Result<()> {
        if let Db::Postgres(p) = self {
            sqlx::query("ANALYZE").execute(p).await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_db!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await);
    }

    /// The directory version, bumped by every committed directory write.
    pub async fn directory_version(&self) -> Result<i64> {
        let v: String = on_db!(self, p => sqlx::query_scalar(
            "SELECT value FROM meta WHERE key = 'directory_version'"
        ).fetch_one(p).await)?;
        v.parse()
            .map_err(|_| StoreError::Corrupt(format!("directory_version {v:?}")))
    }
}

/// SQL run inside a write transaction to bump the directory version; on
/// PostgreSQL the same transaction notifies other processes on commit.
#[doc(hidden)]
pub const BUMP_VERSION_SQL: &str = "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'directory_version'";

/// The PostgreSQL channel that carries directory-change notifications.
pub const DIRECTORY_CHANNEL: &str = "repairnet_directory";

/// Queued in a PostgreSQL write transaction; delivered to listeners on commit.
/// SQLite readers in other processes notice the bumped version instead.
#[doc(hidden)]
pub const NOTIFY_SQL: &str = "NOTIFY repairnet_directory";

/// The PostgreSQL channel that carries job-change notifications (queued by
/// every job write, delivered on commit).
pub const JOBS_CHANNEL: &str = "repairnet_jobs";

#[doc(hidden)]
pub const NOTIFY_JOBS_SQL: &str = "NOTIFY repairnet_jobs";

/// Wakes a waiter when another process changes the directory or a job:
/// PostgreSQL `LISTEN` on its own connection. SQLite has no such signal;
/// readers poll.
pub struct Listener(Option<sqlx::postgres::PgListener>);

/// The directory's listener (see [`Listener`]).
pub type DirectoryListener = Listener;

impl Listener {
    /// Listens to the directory channel.
    pub async fn connect(db: &Db) -> Self {
        Self::on(db, DIRECTORY_CHANNEL).await
    }

    /// Listens on `channel` on PostgreSQL; on SQLite, or when listening
    /// fails (logged), [`Listener::changed`] never fires and callers rely
    /// on polling.
    pub async fn on(db: &Db, channel: &str) -> Self {
        let Db::Postgres(pool) = db else {
            return Self(None);
        };
        let listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(mut l) => match l.listen(channel).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed; polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "no listener connection; polling only");
                None
            }
        };
        Self(listener)
    }

    /// Resolves when a notification arrives (or the connection drops and
    /// will be re-established on the next call); pending forever without a
    /// listener.
    pub async fn changed(&mut self) {
        match self.0.as_mut() {
            Some(l) => {
                // An error means the connection dropped; sqlx reconnects on
                // the next receive, and the caller's poll covers the gap.
                if l.try_recv().await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Whether a database error is a foreign-key violation. SQLite reports an
/// `ON DELETE RESTRICT` violation with a trigger code, so the message is
/// checked too.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_foreign_key_violation() || d.message().contains("FOREIGN KEY constraint failed")
        }
        _ => false,
    }
}
