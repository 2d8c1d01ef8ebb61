//! The browser harness every page test shares: chromedriver and a headless
//! Chromium session, waiting on the page, the axe-core accessibility check
//! and screenshots at the two sizes people use.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them a
//! test prints why it skipped, unless `CI` is set, where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const WAIT: Duration = Duration::from_secs(20);

/// Kills chromedriver (and with it the browser) however the test ends.
pub struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts chromedriver and opens a headless session, or `None` (with the
/// reason printed) when chromedriver is not installed outside CI.
pub async fn browser() -> Option<(Chromedriver, Client)> {
    if !Path::new(CHROMEDRIVER).exists() {
        if std::env::var_os("CI").is_none() {
            eprintln!("SKIPPED: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver); set CI=1 to make this a failure");
            return None;
        }
        panic!("{CHROMEDRIVER} is required under CI");
    }
    let port = free_port();
    let driver = Chromedriver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let ready = reqwest::get(format!("{base}/status"))
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "chromedriver did not answer on {base}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--window-size=1280,900"],
        }),
    );
    // WebDriver is plain HTTP on loopback. A TLS connector would also work,
    // but fantoccini's rustls picks aws-lc-rs while reqwest picks ring, and
    // rustls then refuses to guess a process-wide provider.
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&base)
        .await
        .expect("a browser session");
    Some((driver, client))
}

/// Polls a JavaScript expression until it is truthy; returns its value.
pub async fn wait_js(c: &Client, expr: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = c
            .execute(&format!("return {expr};"), vec![])
            .await
            .expect("script runs");
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return v;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for `{expr}`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// axe-core, vendored (see `tests/vendor/axe-core/VERSION`).
const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// Runs axe-core on the page as it is now; returns the serious and critical
/// violations (rule id, impact, help and the first offending element).
pub async fn axe_violations(c: &Client) -> Vec<Value> {
    c.execute(AXE, vec![]).await.expect("axe-core loads");
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations\
               .filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => ({id: v.id, impact: v.impact, help: v.help,\
                           node: v.nodes[0] && v.nodes[0].html}))),\
               e => done([{id: 'axe-error', help: String(e)}]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    v.as_array().cloned().unwrap_or_default()
}

/// Fails the test when the page has a serious or critical accessibility
/// violation; `what` names the page state.
pub async fn assert_accessible(c: &Client, what: &str) {
    let v = axe_violations(c).await;
    assert!(
        v.is_empty(),
        "{what}: axe-core found {} serious/critical violations: {}",
        v.len(),
        json!(v)
    );
}

/// Where screenshots go: `target/screenshots/` of this crate.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
}

/// Saves `NAME-WIDTHxHEIGHT.png` of the page at that window size, then
/// restores the desktop size.
pub async fn screenshot(c: &Client, name: &str, width: u32, height: u32) {
    c.set_window_size(width, height).await.expect("resize");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = c.screenshot().await.expect("screenshot");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(format!("{name}-{width}x{height}.png")), png)
        .expect("write screenshot");
    c.set_window_size(1280, 800).await.expect("resize back");
}

/// Both sizes the pages are made for: a desk screen and a phone.
pub async fn screenshots(c: &Client, name: &str) {
    screenshot(c, name, 390, 844).await;
    screenshot(c, name, 1280, 800).await;
}

/// Runs a browser check, then closes the session even when the check
/// fails, so no browser outlives the test; a failure is raised after.
pub async fn run<F: std::future::Future<Output = ()>>(c: Client, check: F) {
    use futures_util::FutureExt;
    let outcome = std::panic::AssertUnwindSafe(check).catch_unwind().await;
    let closed = c.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    closed.expect("close the session");
}
