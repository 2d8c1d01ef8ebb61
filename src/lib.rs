//! repairnet: the station directory, nearest search and repair dispatch of an
//! after-sales repair network. `lib` builds the whole application so the
//! binary and the integration tests start exactly the same thing.

pub mod auth;
pub mod basic;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod http;
pub mod network;
pub mod notify;
pub mod places;
pub mod reports;
pub mod store;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;

use config::Settings;
use http::AppState;
use network::index::{SharedIndex, StationIndex};
use store::Db;

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    /// Directory version the index was loaded at.
    version: Option<i64>,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connects and migrates the database, loads the demo network into an
    /// empty one (unless disabled), builds the index and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, Arc::new(basic::SystemClock)).await
    }

    /// [`Application::build`] with the clock everything time-dependent reads
    /// (tests move a `ManualClock` instead of waiting).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn basic::Clock>,
    ) -> anyhow::Result<Application> {
        settings.check().map_err(anyhow::Error::msg)?;
        // The gazetteer takes ~0.4 s to build (41,000 towns into one
        // automaton): built beside the start, not in the first caller's
        // request.
        std::thread::spawn(places::Gazetteer::embedded);
        let db = Db::connect(&settings.database_url)
            .await
            .with_context(|| format!("connecting to {}", redact(&settings.database_url)))?;
        db.migrate().await.context("applying migrations")?;
        let loaded_demo = !settings.no_demo && demo::load_demo_if_empty(&db).await?;
        // Read before loading: a write landing in between then still looks
        // new to the refresher, instead of being missed for good.
        let version = db.directory_version().await.ok();
        let index = Arc::new(SharedIndex::new(load_index(&db).await?));
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let ctx = dispatch::DispatchContext::configured(
            settings.osrm_url.as_deref(),
            Duration::from_millis(settings.osrm_timeout_ms),
            settings.policy.as_deref(),
            settings.holidays.as_deref(),
        )?;
        if let Some(w) = http::ops::calendar_warning(&ctx.calendar, clock.now()) {
            tracing::warn!("{w}");
        }
        // Daily KPI tallies made under other rules (or by an older
        // version) are rebuilt before anything reads or writes them.
        if store::kpi::ensure(&db, &ctx.kpi_rules())
            .await
            .context("rebuilding the daily KPI tallies")?
        {
            tracing::info!("rebuilt the daily KPI tallies from the job histories");
        }
        if loaded_demo && !settings.no_demo_history {
            let started = std::time::Instant::now();
            tracing::info!("making the demo job history (once, on first start; about 20 s)");
            let bulk = Db::connect_for_bulk(&settings.database_url).await?;
            let stats = demo::history::load_history(
                &bulk,
                index.clone(),
                ctx.clone(),
                demo::history::DAYS,
                demo::history::PER_DAY,
                demo::DEFAULT_SEED,
                clock.now(),
                false,
            )
            .await
            .context("making the demo history")?;
            bulk.close().await;
            tracing::info!(
                jobs = stats.jobs,
                events = stats.events,
                open = stats.open,
                secs = started.elapsed().as_secs_f64(),
                "made the demo job history"
            );
        }
        let dispatch = dispatch::DispatchService::new(
            db.clone(),
            index.clone(),
            ctx,
            settings.auto_assign,
            clock.clone(),
        )
        .with_public_url(&settings.public_url);
        let limits = http::limits::Limits::new(
            settings.limit_track_per_min,
            settings.limit_search_per_min,
            settings.limit_failed_auth_per_min,
        );
        let state = web::Data::new(AppState {
            db,
            index,
            dispatch,
            settings,
            directory_writes: tokio::sync::Mutex::new(()),
            limits,
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        http::ops::prometheus();
        let server = http::server(listener, state.clone())?;
        Ok(Application {
            port,
            version,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the process is told to stop; keeps the index in step
    /// with writes made by other processes meanwhile, and wakes change-feed
    /// readers when another process changes a job.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let refresher = tokio::spawn(refresh_index(self.state.clone(), self.version));
        let jobs = tokio::spawn(follow_job_changes(self.state.clone()));
        let scheduler = tokio::spawn(run_scheduler(self.state.clone()));
        let worker = self.state.settings.notify_webhook.clone().map(|webhook| {
            tokio::spawn(
                notify::worker::Worker {
                    db: self.state.db.clone(),
                    clock: self.state.dispatch.clock(),
                    webhook,
                    ready: self.state.dispatch.outbox_ready(),
                    poll: Duration::from_millis(self.state.settings.notify_poll_ms.max(10)),
                    timeout: Duration::from_secs(10),
                }
                .run(),
            )
        });
        // Upkeep: the exporter drains histogram samples between scrapes;
        // the request limits forget clients whose buckets are full again.
        let upkeep = tokio::spawn({
            let state = self.state.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    http::ops::prometheus().run_upkeep();
                    state.limits.retain_recent();
                }
            }
        });
        let drain = tokio::spawn(drain_on_signal(self.state.clone(), self.server.handle()));
        let res = self.server.await;
        drain.abort();
        upkeep.abort();
        refresher.abort();
        jobs.abort();
        scheduler.abort();
        if let Some(w) = worker {
            w.abort();
        }
        self.state.db.close().await;
        res
    }
}

/// On SIGTERM or Ctrl-C: readiness goes false, then after the drain time
/// the server stops taking connections and lets requests in flight finish.
async fn drain_on_signal(state: web::Data<AppState>, server: actix_web::dev::ServerHandle) {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    state
        .draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(
        drain_ms = state.settings.drain_ms,
        "stopping: readiness is now false; requests in flight will finish"
    );
    tokio::time::sleep(Duration::from_millis(state.settings.drain_ms)).await;
    server.stop(true).await;
}

/// Wakes this process's change-feed readers on every PostgreSQL
/// notification of a job change (readers also poll, which covers SQLite
/// and a lost connection).
async fn follow_job_changes(state: web::Data<AppState>) {
    let mut listener = store::Listener::on(&state.db, store::JOBS_CHANNEL).await;
    loop {
        listener.changed().await;
        state.dispatch.wake();
    }
}

/// The server's own timed work: pickup reminders and late notices, every
/// `scheduler_ms` (several processes may run it at once: each write is
/// conditional on the job's version, so a reminder is written once).
async fn run_scheduler(state: web::Data<AppState>) {
    let every = Duration::from_millis(state.settings.scheduler_ms.max(10));
    loop {
        match state.dispatch.run_due().await {
            Ok(done) if done.reminders + done.late_notices > 0 => {
                tracing::info!(
                    reminders = done.reminders,
                    late_notices = done.late_notices,
                    "scheduler"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler round failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Database URLs may carry a password; logs and errors get them without it.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub async fn load_index(db: &Db) -> anyhow::Result<StationIndex> {
    let stations = store::stations::load_all(db).await?;
    Ok(StationIndex::new(
        stations.into_iter().map(Arc::new).collect(),
    ))
}

/// Rebuilds the index whenever the directory version moves: polled every
/// `refresh_secs`, and at once on a PostgreSQL NOTIFY.
async fn refresh_index(state: web::Data<AppState>, mut seen: Option<i64>) {
    let mut listener = store::DirectoryListener::connect(&state.db).await;
    let period = Duration::from_secs(state.settings.refresh_secs.max(1));
    loop {
        tokio::select! {
            () = listener.changed() => {}
            () = tokio::time::sleep(period) => {}
        }
        let Ok(version) = state.db.directory_version().await else {
            continue;
        };
        if Some(version) == seen {
            continue;
        }
        let _guard = state.directory_writes.lock().await;
        match load_index(&state.db).await {
            Ok(index) => {
                tracing::info!(version, stations = index.len(), "index refreshed");
                state.index.store(index);
                seen = Some(version);
            }
            Err(e) => tracing::warn!(error = %e, "index refresh failed"),
        }
    }
}
