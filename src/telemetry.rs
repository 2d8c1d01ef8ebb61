//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` (default info).
//! Each request runs in a span carrying its request id, so every line logged
//! while serving it names the request.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(default_filter: &str) {
    init_as(default_filter, LogFormat::Text);
}

crate::basic::string_enum!(
    /// How log lines are written: for people, or one JSON object per line
    /// for a log collector.
    LogFormat {
        Text => "text",
        Json => "json",
    }
);

/// [`init`] in the given format.
pub fn init_as(default_filter: &str, format: LogFormat) {
    // actix logs a request line it cannot parse (raw non-ASCII in the
    // address, say) at ERROR and answers 400 itself: a client's mistake,
    // not the server's, so it is not logged unless asked for.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{default_filter},actix_http::h1::dispatcher=off"))
    });
    // A second init (tests start many apps) is harmless; ignore the error.
    let _ = match format {
        LogFormat::Json => fmt()
            .json()
            // The request's fields (id, method, path) on every line, and
            // one line as each request ends (an access log).
            .with_current_span(true)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
        LogFormat::Text => fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colour codes only for a person at a terminal, not for log files.
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The root span of every request: method, path (never the query string:
/// a caller's phone number travels in `?phone=` and must not reach the
/// logs), the request id, and the status when it ends.
pub struct PathOnlySpan;

impl tracing_actix_web::RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "http_request",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
