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

    /// Origins map tiles may come from (the pages' Content-Security-Policy),
    /// comma-separated, e.g. `https://tile.openstreetmap.org`; a page's
    /// `?tiles=` pointing elsewhere shows no tiles.
    #[arg(
        long,
        env = "REPAIRNET_TILE_HOSTS",
        value_delimiter = ',',
        default_value = "https://tile.openstreetmap.org"
    )]
    pub tile_hosts: Vec<String>,

    /// A holiday list (`date,kind,name` rows, as `data/holidays-cn.csv`)
    /// used instead of the shipped one, e.g. with next year's holidays once
    /// they are announced. Checked at start: a bad file stops the start.
    #[arg(long, env = "REPAIRNET_HOLIDAYS")]
    pub holidays: Option<std::path::PathBuf>,

    /// A policy (warranty, calendar hours, SLA targets; as
    /// `data/policy.json`) used instead of the shipped one. Checked at start.
    #[arg(long, env = "REPAIRNET_POLICY")]
    pub policy: Option<std::path::PathBuf>,

    /// Requests a minute one client may make to `/api/v1/track` (0: no
    /// limit).
    #[arg(long, env = "REPAIRNET_LIMIT_TRACK_PER_MIN", default_value_t = 30)]
    pub limit_track_per_min: u32,

    /// Public searches (stations, nearest, geocode, regions) a minute per
    /// client (0: no limit).
    #[arg(long, env = "REPAIRNET_LIMIT_SEARCH_PER_MIN", default_value_t = 1200)]
    pub limit_search_per_min: u32,

    /// Failed log-ins (unknown, revoked or expired tokens) a minute per
    /// client before it must wait (0: no limit).
    #[arg(
        long,
        env = "REPAIRNET_LIMIT_FAILED_AUTH_PER_MIN",
        default_value_t = 20
    )]
    pub limit_failed_auth_per_min: u32,

    /// `text` (default) or `json`: one JSON object per log line, with the
    /// request's id, method and path, for a log collector.
    #[arg(long, env = "REPAIRNET_LOG_FORMAT", default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,

    /// On SIGTERM or Ctrl-C: how long `/readyz` answers 503 (so a load
    /// balancer stops sending) before the server stops taking connections;
    /// requests in flight then have up to 30 s to finish.
    #[arg(long, env = "REPAIRNET_DRAIN_MS", default_value_t = 2_000)]
    pub drain_ms: u64,

    /// Other sites' origins whose pages may call this API from a browser
    /// (CORS), comma-separated, e.g. `https://crm.example.com`. Empty: only
    /// this server's own pages.
    #[arg(long, env = "REPAIRNET_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Longest a request may take before it is answered 503 `timeout`,
    /// milliseconds (0: no limit). Streams (the change feed) are limited
    /// only until their first byte.
    #[arg(long, env = "REPAIRNET_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// How often the scheduler looks for reminders and late notices due.
    #[arg(long, env = "REPAIRNET_SCHEDULER_MS", default_value_t = 60_000)]
    pub scheduler_ms: u64,

    /// How often the message worker looks for messages due when nothing
    /// wakes it (retries, other processes' messages).
    #[arg(long, env = "REPAIRNET_NOTIFY_POLL_MS", default_value_t = 1_000)]
    pub notify_poll_ms: u64,
}

impl Settings {
    /// Refuses settings that would make a broken or unsafe server: tile
    /// hosts must be bare origins (`https://host[:port]`), since they are
    /// written into a response header.
    pub fn check(&self) -> Result<(), String> {
        if let Some(o) = self.tile_hosts.iter().find(|o| !is_origin(o)) {
            return Err(format!(
                "tile host {o:?}: expected an origin such as https://tiles.example.com"
            ));
        }
        if let Some(o) = self.cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(format!(
                "CORS origin {o:?}: expected an origin such as https://crm.example.com"
            ));
        }
        Ok(())
    }
}

/// `http(s)://host[:port]` with nothing after it.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = rest.split_once(':').unwrap_or((rest, "1"));
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && port.parse::<u16>().is_ok()
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
            tile_hosts: vec!["https://tile.openstreetmap.org".into()],
            log_format: crate::telemetry::LogFormat::Text,
            drain_ms: 2_000,
            holidays: None,
            policy: None,
            limit_track_per_min: 30,
            limit_search_per_min: 1200,
            limit_failed_auth_per_min: 20,
            cors_origins: Vec::new(),
            request_timeout_ms: 30_000,
        }
    }
}
