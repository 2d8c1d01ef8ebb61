//! The test harness: a real server on a random port over a fresh database
//! (a new SQLite file, or a new PostgreSQL database), talked to over HTTP.

use repairnet::auth::{Role, Scope};
use repairnet::basic::ManualClock;
use repairnet::config::Settings;
use repairnet::store::{tokens, Db};
use repairnet::Application;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty database URL on `backend`, or `None` (with the reason
/// printed) when PostgreSQL is unreachable outside CI. Under CI a missing
/// PostgreSQL fails the test.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    let name = format!("rn_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("repairnet-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            Some(format!(
                "sqlite://{}",
                dir.join(format!("{name}.db")).display()
            ))
        }
        Backend::Postgres => {
            let admin = match Db::connect(PG_ADMIN_URL).await {
                Ok(db) => db,
                Err(e) if std::env::var_os("CI").is_none() => {
                    eprintln!("SKIPPED: PostgreSQL at {PG_ADMIN_URL} is unreachable ({e}); set CI=1 to make this a failure");
                    return None;
                }
                Err(e) => panic!("PostgreSQL at {PG_ADMIN_URL} is required under CI: {e}"),
            };
            let Db::Postgres(pool) = &admin else {
                unreachable!()
            };
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(pool)
                .await
                .expect("create test database");
            admin.close().await;
            Some(format!("postgres://postgres@127.0.0.1:5432/{name}"))
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub database_url: String,
    pub client: reqwest::Client,
    pub admin_token: String,
}

pub struct Options {
    pub demo: bool,
    pub json_limit: Option<usize>,
    pub import_limit: Option<usize>,
    /// The server's clock; the system clock when `None`.
    pub clock: Option<Arc<ManualClock>>,
    /// The SMS gateway's webhook (no delivery without one).
    pub webhook: Option<String>,
    /// How often the scheduler runs. By default once at start only, so
    /// tests that do not test it never race its writes.
    pub scheduler_ms: Option<u64>,
    /// Any other setting, changed before the server starts.
    pub tweak: Option<fn(&mut Settings)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            demo: true,
            json_limit: None,
            import_limit: None,
            clock: None,
            webhook: None,
            scheduler_ms: None,
            tweak: None,
        }
    }
}

/// The demo network on SQLite: the common case.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Backend::Sqlite, Options::default())
        .await
        .expect("sqlite is always there")
}

pub async fn spawn_app_on(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, opts: Options) -> Option<TestApp> {
    if std::env::var_os("TEST_LOG").is_some() {
        repairnet::telemetry::init("info");
    }
    let database_url = fresh_database(backend).await?;
    Some(spawn_on_url(&database_url, opts).await)
}

/// Another server process's view: a second app on an existing database.
pub async fn spawn_on_url(database_url: &str, opts: Options) -> TestApp {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database_url.to_owned(),
        no_demo: !opts.demo,
        // Tests make their own jobs.
        no_demo_history: true,
        refresh_secs: 1,
        workers: Some(2),
        notify_webhook: opts.webhook,
        scheduler_ms: opts.scheduler_ms.unwrap_or(86_400_000),
        notify_poll_ms: 20,
        ..Settings::default()
    };
    if let Some(l) = opts.json_limit {
        settings.json_limit = l;
    }
    if let Some(l) = opts.import_limit {
        settings.import_limit = l;
    }
    if let Some(tweak) = opts.tweak {
        tweak(&mut settings);
    }
    let app = match opts.clock {
        Some(c) => Application::build_with_clock(settings, c).await,
        None => Application::build(settings).await,
    }
    .expect("app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let db = Db::connect(database_url).await.expect("test connection");
    let admin_token = token(&db, Role::Admin).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        database_url: database_url.to_owned(),
        client: reqwest::Client::new(),
        admin_token,
    }
}

/// One request with a bearer token and an optional JSON body; the status
/// and the JSON answer (null when the body is not JSON).
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn token(db: &Db, role: Role) -> String {
    scoped_token(db, role, Scope::All).await
}

/// A token of `role` limited to `scope`.
pub async fn scoped_token(db: &Db, role: Role, scope: Scope) -> String {
    tokens::issue(db, role, scope, "test", None)
        .await
        .expect("a token")
        .0
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        let body = res.json().await.expect("a JSON body");
        (status, body)
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }
}

/// Asserts the API error shape and returns its code.
pub fn error_code(body: &serde_json::Value) -> String {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {body}"
    );
    e["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

/// Runs an async test body on both backends: `#[tokio::test]`s named
/// `sqlite` and `postgres` in a module named after the body.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

/// A token made by the real binary's `token create` on `url`.
pub fn cli_token(url: &str, role: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args(["token", "create", "--role", role, "--database", url])
        .env("REPAIRNET_NO_DEMO_HISTORY", "true")
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The real binary serving `url` on a free port (no demo history), with
/// `args` and `env` added and its log written to `log`; returns once it
/// answers, with its base URL.
pub async fn serve_binary(
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    log: std::process::Stdio,
) -> (std::process::Child, String) {
    let port = crate::web::free_port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database",
            url,
        ])
        .args(args)
        .env("REPAIRNET_NO_DEMO_HISTORY", "true")
        .envs(env.iter().copied())
        .stderr(log)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return (server, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    panic!("the server did not start");
}
