//! One `Settings` struct for the whole server. Precedence: built-in defaults
//! < environment variables < command-line flags (clap resolves both), so the
//! demo runs with no configuration at all.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "REPAIRNET_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long = "database", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Do not load the demo network into an empty database.
    #[arg(long, env = "REPAIRNET_NO_DEMO")]
    pub no_demo: bool,

    /// With the demo network, do not make the 90-day demo job history.
    #[arg(long, env = "REPAIRNET_NO_DEMO_HISTORY")]
    pub no_demo_history: bool,

    /// Largest accepted JSON body, bytes.
    #[arg(long, env = "REPAIRNET_JSON_LIMIT", default_value_t = 256 * 1024)]
    pub json_limit: usize,

    /// Largest accepted import body (CSV or GeoJSON), bytes.
    #[arg(long, env = "REPAIRNET_IMPORT_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub import_limit: usize,

    /// How often to check the database for directory changes made by other
    /// processes, seconds (PostgreSQL also pushes changes with NOTIFY).
    #[arg(long, env = "REPAIRNET_REFRESH_SECS", default_value_t = 2)]
    pub refresh_secs: u64,

    /// OSRM base URL for road travel times; great-circle estimates when unset.
    #[arg(long, env = "REPAIRNET_OSRM_URL")]
    pub osrm_url: Option<String>,

    /// Timeout for one OSRM request, milliseconds.
    #[arg(long, env = "REPAIRNET_OSRM_TIMEOUT_MS", default_value_t = 2000)]
    pub osrm_timeout_ms: u64,

    /// Assign a technician when an on-site job is created (a request may
    /// override it with `auto_assign`).
    #[arg(long, env = "REPAIRNET_AUTO_ASSIGN", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_assign: bool,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "REPAIRNET_WORKERS")]
    pub workers: Option<usize>,

    /// The SMS gateway's webhook: customer messages are POSTed there.
    /// Without one they stay `pending` and are listed per job.
    #[arg(long, env = "REPAIRNET_NOTIFY_WEBHOOK")]
    pub notify_webhook: Option<String>,

    /// Where links in customer messages point (tracking, survey).
    #[arg(
        long,
        env = "REPAIRNET_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// How often the scheduler looks for reminders and late notices due.
    #[arg(long, env = "REPAIRNET_SCHEDULER_MS", default_value_t = 60_000)]
    pub scheduler_ms: u64,

    /// How often the message worker looks for messages due when nothing
    /// wakes it (retries, other processes' messages).
    #[arg(long, env = "REPAIRNET_NOTIFY_POLL_MS", default_value_t = 1_000)]
    pub notify_poll_ms: u64,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://repairnet.db";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: DEFAULT_DATABASE_URL.into(),
            no_demo: false,
            no_demo_history: false,
            json_limit: 256 * 1024,
            import_limit: 64 * 1024 * 1024,
            refresh_secs: 2,
            osrm_url: None,
            osrm_timeout_ms: 2000,
            auto_assign: true,
            workers: None,
            notify_webhook: None,
            public_url: "http://127.0.0.1:8080".into(),
            scheduler_ms: 60_000,
            notify_poll_ms: 1_000,
        }
    }
}
