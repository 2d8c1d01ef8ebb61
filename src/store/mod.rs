//! Storage: the one place that speaks SQL. Two backends behind one enum of
//! native sqlx pools — SQLite (a file, the default) and PostgreSQL (to scale
//! out) — because sqlx's compile-checked macros cannot serve two databases
//! from one crate and its `Any` driver loses booleans and timestamps. Every
//! query is written once with `$N` placeholders, which both backends accept,
//! and run on either pool through [`on_db!`].

pub mod jobs;
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

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL lets readers run beside the writer; FULL sync keeps
                // every acknowledged write through a power cut.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
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
                .acquire_timeout(Duration::from_secs(10))
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
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        Some(turn.lock_owned().await)
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
        on_db!(self, p => p.close().await)
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
pub(crate) const BUMP_VERSION_SQL: &str = "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'directory_version'";

/// The PostgreSQL channel that carries directory-change notifications.
pub const DIRECTORY_CHANNEL: &str = "repairnet_directory";

/// Queued in a PostgreSQL write transaction; delivered to listeners on commit.
/// SQLite readers in other processes notice the bumped version instead.
pub(crate) const NOTIFY_SQL: &str = "NOTIFY repairnet_directory";

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
