//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` (default info).
//! Each request runs in a span carrying its request id, so every line logged
//! while serving it names the request.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // A second init (tests start many apps) is harmless; ignore the error.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not for log files.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
