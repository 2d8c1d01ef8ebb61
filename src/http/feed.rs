//! The change feed route: every committed job change in sequence order,
//! within the caller's scope, by long poll or server-sent events.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::READERS;
use super::AppState;
use crate::basic::{FieldError, Fields};
use crate::dispatch::service::ChangePage;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(job_changes);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ChangeParams {
    /// A sequence number from an earlier answer's `next` (or an event's
    /// `id:`); `latest` starts from now; default 0, the beginning.
    after: Option<String>,
    /// Seconds to wait when nothing is new, 0-25 (default 25).
    wait: Option<String>,
}

/// The change feed: every committed job change after `after`, in order,
/// within the caller's scope (agent, dispatcher, manager, technician). With
/// nothing new it waits (long poll); with `Accept: text/event-stream` it
/// streams server-sent events (`id:` the sequence number, `data:` the
/// change), resuming from `Last-Event-ID`.
#[utoipa::path(tag = "dispatch", params(ChangeParams), responses((status = 200, body = ChangePage, description = "or a text/event-stream of changes"), (status = 400), (status = 401), (status = 403)), security(("bearer" = [])))]
#[get("/jobs/changes")]
async fn job_changes(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<ChangeParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(READERS)?;
    let mut f = Fields::new();
    let resume = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let after = match resume.as_deref().or(p.after.as_deref()).map(str::trim) {
        None => 0,
        Some("latest") => state.dispatch.last_change().await?,
        Some(v) => f
            .take(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                FieldError::new(
                    "after",
                    "after must be a sequence number from `next`, or latest",
                )
            }))
            .unwrap_or(0),
    };
    let wait = f.int_in("wait", p.wait.as_deref(), 0..=25, 25);
    f.finish()?;
    let sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !sse {
        let page = state
            .dispatch
            .changes(&who, after, Duration::from_secs(wait))
            .await?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let events = futures_util::stream::unfold(
        (state.into_inner(), who, after),
        |(state, who, after)| async move {
            match state.dispatch.changes(&who, after, SSE_KEEPALIVE).await {
                Ok(page) => {
                    let mut out = String::new();
                    if page.changes.is_empty() {
                        // A comment keeps proxies from closing an idle stream.
                        out.push_str(": keep-alive\n\n");
                    }
                    for c in &page.changes {
                        let data = serde_json::to_string(c).unwrap_or_default();
                        // Writing to a String cannot fail.
                        let _ = write!(out, "id: {}\ndata: {data}\n\n", c.seq);
                    }
                    let next = (state, who, page.next);
                    Some((Ok::<_, actix_web::Error>(web::Bytes::from(out)), next))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change stream ended");
                    None
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Compression would hold events back until a buffer fills.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(events))
}

/// How long an event stream stays quiet before it sends a keep-alive.
const SSE_KEEPALIVE: Duration = Duration::from_secs(15);
