//! The `repairnet` command line: serve, migrate, import, export, nearest,
//! geocode, token and demo-data. Thin: each command calls the library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use repairnet::auth::{check_role_scope, scope_from_flags, Role};
use repairnet::config::{Settings, DEFAULT_DATABASE_URL};
use repairnet::network::{export, import, query::NearestParams};
use repairnet::places::{Crs, Gazetteer};
use repairnet::store::{self, Db};

#[derive(Parser)]
#[command(
    name = "repairnet",
    version,
    about = "Service-station directory, nearest search and repair dispatch"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Parser)]
struct ServeOnly {
    #[command(flatten)]
    settings: Settings,
}

#[derive(clap::Args)]
struct DbArg {
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`.
    #[arg(long = "database", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web pages (the default command).
    Serve(Settings),
    /// Apply database migrations.
    Migrate(DbArg),
    /// Import stations from a CSV or GeoJSON file, all or nothing.
    Import {
        file: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// Import the valid rows and report the rest.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Write the directory to stdout.
    Export {
        #[arg(long, default_value = "csv", value_parser = ["csv", "geojson"])]
        format: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// The nearest stations to a point or an address, as a table.
    Nearest {
        #[arg(long, allow_hyphen_values = true)]
        lat: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        lon: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(short, long)]
        k: Option<String>,
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        open_now: bool,
        #[arg(long)]
        open_at: Option<String>,
        #[arg(long)]
        max_km: Option<String>,
        #[arg(long)]
        crs: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// The division(s) a free-text address matches.
    Geocode { text: String },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// KPIs for a period, as the API answers them (`GET /api/v1/kpi`).
    Report {
        /// `2026-W47`, `2026-11`, `2026-11-23` or `2026-11-01..2026-11-30`.
        #[arg(long)]
        period: String,
        /// One region (code or Chinese name), with its stations.
        #[arg(long)]
        region: Option<String>,
        /// One station.
        #[arg(long)]
        station: Option<String>,
        #[arg(long, default_value = "md", value_parser = ["md", "csv", "json"])]
        format: String,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Make a demo job history over the demo network (deterministic for a
    /// seed and the current day): the database must hold the demo network
    /// and no jobs yet. `serve` does this on first start. Up to 50,000 jobs
    /// go through the dispatch use cases one by one; more are planned and
    /// written in bulk (for measuring reports at scale).
    DemoHistory {
        #[arg(long, default_value_t = repairnet::demo::history::DAYS)]
        days: u32,
        /// Jobs in all (default: 24 a day).
        #[arg(long)]
        jobs: Option<u32>,
        #[arg(long, default_value_t = repairnet::demo::DEFAULT_SEED)]
        seed: u64,
        #[command(flatten)]
        db: DbArg,
    },
    /// Check the daily KPI tallies against a recomputation from the job
    /// histories (run it while no job is being written); exits with 1 when
    /// any row differs.
    KpiCheck {
        #[command(flatten)]
        db: DbArg,
    },
    /// Regenerate the demo network files (deterministic for a seed).
    DemoData {
        #[arg(long, default_value = "data/demo")]
        out: PathBuf,
        #[arg(long, default_value_t = repairnet::demo::DEFAULT_SEED)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// agent, dispatcher, technician, manager, parts or admin.
        #[arg(long)]
        role: String,
        /// A name for lists (who or what holds the token).
        #[arg(long, default_value = "")]
        label: String,
        /// Limit the token to one region (e.g. southwest).
        #[arg(long)]
        region: Option<String>,
        /// Limit the token to one station.
        #[arg(long)]
        station: Option<String>,
        /// Bind a technician token to its technician (required for that role).
        #[arg(long)]
        technician: Option<i64>,
        /// The token stops working after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
        #[command(flatten)]
        db: DbArg,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        id: String,
        #[command(flatten)]
        db: DbArg,
    },
}

async fn open_db(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url)
        .await
        .with_context(|| format!("connecting to {}", repairnet::redact(url)))?;
    db.migrate().await?;
    Ok(db)
}

/// The dispatch context a command runs under: the policy and holiday files
/// of `REPAIRNET_POLICY` and `REPAIRNET_HOLIDAYS` when set, as the server's,
/// so the daily KPI tallies are kept under the same rules.
fn command_context() -> anyhow::Result<repairnet::dispatch::DispatchContext> {
    let path = |v: &str| std::env::var_os(v).map(PathBuf::from);
    repairnet::dispatch::DispatchContext::configured(
        None,
        std::time::Duration::from_secs(1),
        path("REPAIRNET_POLICY").as_deref(),
        path("REPAIRNET_HOLIDAYS").as_deref(),
    )
}

/// Above this many jobs a demo history is written in bulk.
const BULK_FROM: u32 = 50_000;

/// Errors end the process with one line, never a backtrace; a reader that
/// closed the pipe early (`repairnet export | head`) is not an error.
fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("repairnet: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("repairnet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // No subcommand means `serve` with settings from the environment.
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeOnly::parse_from(["repairnet"]).settings));
    match command {
        Command::Serve(settings) => {
            repairnet::telemetry::init_as("info", settings.log_format);
            let app = repairnet::Application::build(settings.clone()).await?;
            tracing::info!(
                "repairnet listening on http://{}:{} (database {})",
                settings
                    .bind
                    .rsplit_once(':')
                    .map_or("127.0.0.1", |(h, _)| h),
                app.port(),
                repairnet::redact(&settings.database_url)
            );
            app.run_until_stopped().await?;
        }
        Command::Report {
            period,
            region,
            station,
            format,
            out,
            db,
        } => {
            let (from, to) =
                repairnet::reports::kpi::parse_period(&period).map_err(anyhow::Error::msg)?;
            let region = region
                .as_deref()
                .map(str::parse::<repairnet::places::Region>)
                .transpose()?;
            let station_id = station
                .as_deref()
                .map(repairnet::network::StationId::parse)
                .transpose()?;
            let db = open_db(&db.url).await?;
            let index = repairnet::network::SharedIndex::new(repairnet::load_index(&db).await?);
            let ctx = command_context()?;
            store::kpi::ensure(&db, &ctx.kpi_rules()).await?;
            let q = repairnet::reports::KpiQuery {
                from,
                to,
                region,
                station_id,
                granularity: repairnet::reports::kpi::Granularity::None,
                stations: true,
            };
            let report = repairnet::reports::service::kpi_report(
                &db,
                &index,
                repairnet::reports::targets::Targets::shipped(),
                ctx.calendar.timezone(),
                ctx.policy.sla.warning_share,
                &repairnet::auth::Principal::system(),
                &q,
                chrono::Utc::now(),
            )
            .await?;
            let text = match format.as_str() {
                "csv" => report.to_csv(),
                "json" => serde_json::to_string_pretty(&report)? + "\n",
                _ => report.to_markdown(),
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
        Command::DemoHistory {
            days,
            jobs,
            seed,
            db,
        } => {
            let url = db.url;
            let db = open_db(&url).await?;
            repairnet::demo::load_demo_if_empty(&db).await?;
            if store::jobs::any(&db).await? {
                bail!("the database already holds jobs; a demo history goes into one without");
            }
            let days = days.max(1);
            let index = std::sync::Arc::new(repairnet::network::SharedIndex::new(
                repairnet::load_index(&db).await?,
            ));
            let ctx = command_context()?;
            store::kpi::ensure(&db, &ctx.kpi_rules()).await?;
            let started = std::time::Instant::now();
            let bulk = Db::connect_for_bulk(&url).await?;
            let stats = match jobs {
                Some(n) if n > BULK_FROM => {
                    let stations: Vec<_> = index.load().iter().map(|s| (**s).clone()).collect();
                    let technicians = store::technicians::list(&db, None).await?;
                    let n = usize::try_from(n)?;
                    let bar = indicatif::ProgressBar::new(u64::try_from(n)?);
                    let stats = repairnet::demo::bulk::load_bulk(
                        &bulk,
                        &stations,
                        &technicians,
                        &ctx,
                        days,
                        n,
                        seed,
                        chrono::Utc::now(),
                        |done| bar.set_position(u64::try_from(done).unwrap_or(0)),
                    )
                    .await?;
                    bar.finish_and_clear();
                    stats
                }
                _ => {
                    let per_day =
                        jobs.map_or(repairnet::demo::history::PER_DAY, |j| j.div_ceil(days));
                    repairnet::demo::history::load_history(
                        &bulk,
                        index,
                        ctx,
                        days,
                        per_day,
                        seed,
                        chrono::Utc::now(),
                        false,
                    )
                    .await?
                }
            };
            bulk.close().await;
            eprintln!(
                "demo history: {} jobs, {} events, {} open today, in {:.1} s",
                stats.jobs,
                stats.events,
                stats.open,
                started.elapsed().as_secs_f64()
            );
        }
        Command::KpiCheck { db } => {
            let db = open_db(&db.url).await?;
            let ctx = command_context()?;
            let rules = ctx.kpi_rules();
            store::kpi::ensure(&db, &rules).await?;
            let started = std::time::Instant::now();
            let diffs = store::kpi::verify(&db, &rules).await?;
            for d in diffs.iter().take(20) {
                eprintln!("{d}");
            }
            if !diffs.is_empty() {
                bail!(
                    "{} daily KPI rows differ from the job histories",
                    diffs.len()
                );
            }
            eprintln!(
                "the daily KPI tallies equal a recomputation from the job histories ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Migrate(db) => {
            open_db(&db.url).await?;
            eprintln!("migrations applied to {}", repairnet::redact(&db.url));
        }
        Command::Import {
            file,
            db,
            skip_invalid,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let format = match file.extension().and_then(|e| e.to_str()) {
                Some("csv") => import::Format::Csv,
                Some("geojson" | "json") => import::Format::GeoJson,
                _ => bail!(
                    "{}: expected a .csv, .geojson or .json file",
                    file.display()
                ),
            };
            let parsed = import::parse(format, &bytes)?;
            for e in &parsed.errors {
                let msgs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
                eprintln!(
                    "row {} ({}): {}",
                    e.row,
                    e.id.as_deref().unwrap_or("?"),
                    msgs.join("; ")
                );
            }
            if !parsed.errors.is_empty() && !skip_invalid {
                bail!(
                    "{} of {} rows are invalid; nothing was imported (--skip-invalid imports the valid rows)",
                    parsed.errors.len(),
                    parsed.total()
                );
            }
            let db = open_db(&db.url).await?;
            let bar = ProgressBar::new(parsed.stations.len() as u64).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} stations {per_sec} {eta}")?,
            );
            let counts = store::stations::upsert_many_with_progress(&db, &parsed.stations, |n| {
                bar.inc(n as u64);
            })
            .await?;
            bar.finish_and_clear();
            eprintln!(
                "imported {} stations ({} new, {} updated, {} invalid rows skipped)",
                parsed.stations.len(),
                counts.inserted,
                counts.updated,
                parsed.errors.len()
            );
        }
        Command::Export { format, db } => {
            let db = open_db(&db.url).await?;
            let stations = store::stations::load_all(&db).await?;
            let mut out = std::io::stdout().lock();
            if format == "geojson" {
                writeln!(out, "{}", export::to_geojson(&stations, Crs::Wgs84))?;
            } else {
                out.write_all(&export::to_csv(&stations, Crs::Wgs84)?)?;
            }
        }
        Command::Nearest {
            lat,
            lon,
            address,
            k,
            service,
            product,
            open_now,
            open_at,
            max_km,
            crs,
            db,
        } => {
            let db = open_db(&db.url).await?;
            let index = repairnet::load_index(&db).await?;
            let params = NearestParams {
                lat,
                lon,
                address,
                k,
                service,
                product,
                open_now: open_now.then(|| "true".to_owned()),
                open_at,
                max_km,
                crs,
                out_crs: None,
            };
            let now = chrono::Utc::now();
            let q = match params.resolve(Gazetteer::embedded(), now) {
                Ok(q) => q,
                Err(errs) => {
                    let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
                    bail!("{}", msgs.join("; "));
                }
            };
            let mut out = std::io::stdout().lock();
            if let Some(d) = &q.division {
                writeln!(
                    out,
                    "{} ({}, {:?}, confidence {:.2})",
                    d.name, d.adcode, d.level, d.confidence
                )?;
            }
            writeln!(
                out,
                "{:>3}  {:>9}  {:<10}  {:<28}  {:<6}  {:<14}  services",
                "#", "km", "id", "name", "open", "phone"
            )?;
            for (i, h) in q.run(&index).iter().enumerate() {
                let s = &h.station;
                let services: Vec<&str> = s.services.iter().map(|v| v.as_str()).collect();
                writeln!(
                    out,
                    "{:>3}  {:>9.2}  {:<10}  {:<28}  {:<6}  {:<14}  {}",
                    i + 1,
                    h.distance_m / 1000.0,
                    s.id.as_str(),
                    s.name,
                    if s.is_open(now) { "open" } else { "closed" },
                    s.phone,
                    services.join(",")
                )?;
            }
        }
        Command::Geocode { text } => {
            let g = Gazetteer::embedded().geocode(&text);
            println!("{}", serde_json::to_string_pretty(&g)?);
            if g.matches.is_empty() {
                std::process::exit(1);
            }
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    role,
                    label,
                    region,
                    station,
                    technician,
                    expires_days,
                    db,
                },
        } => {
            let message = |e: repairnet::basic::FieldError| anyhow::anyhow!(e.message);
            let role: Role = role.parse().map_err(message)?;
            let scope = scope_from_flags(region.as_deref(), station.as_deref(), technician)
                .map_err(message)?;
            check_role_scope(role, &scope).map_err(message)?;
            let db = open_db(&db.url).await?;
            let expires_at =
                expires_days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
            let (token, id) =
                store::tokens::issue(&db, role, scope.clone(), &label, expires_at).await?;
            println!("{token}");
            eprintln!("created a {role} token ({scope}), id {id}; it is shown only this once");
        }
        Command::Token {
            command: TokenCommand::List { db },
        } => {
            let db = open_db(&db.url).await?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "id\trole\tscope\tlabel\tcreated_at\texpires_at\trevoked"
            )?;
            for t in store::tokens::list(&db).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.scope,
                    t.label,
                    t.created_at.to_rfc3339(),
                    t.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
                    t.revoked
                )?;
            }
        }
        Command::Token {
            command: TokenCommand::Revoke { id, db },
        } => {
            let db = open_db(&db.url).await?;
            match store::tokens::revoke(&db, &id).await {
                Ok(()) => eprintln!("revoked token {id}"),
                Err(store::StoreError::NotFound) => anyhow::bail!("no token {id}"),
                Err(e) => return Err(e.into()),
            }
        }
        Command::DemoData { out, seed } => {
            let net = repairnet::demo::generate(Gazetteer::snapshot_2020(), seed)?;
            repairnet::demo::write_csv(&net, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote the demo network to {}", out.display());
        }
    }
    Ok(())
}
