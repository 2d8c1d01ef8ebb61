//! Per-client request limits (token buckets of the `governor` crate, keyed
//! by the client's IP address as the connection shows it; behind a reverse
//! proxy that is the proxy, so limit there or give each client its own
//! address):
//! * `/api/v1/track` (a job code and four phone digits): strict, since the
//!   digits could otherwise be guessed;
//! * failed log-ins (a missing, unknown, revoked or expired token): strict;
//!   a client over the limit gets 429 for every request with a token until
//!   it may try again, so a right guess is not told apart from a wrong one;
//! * public search (stations, nearest, geocode, regions): generous.
//!
//! Each limit is `N` requests a minute with bursts up to `N`; 0 turns it
//! off. Over the limit: 429 with `Retry-After` and the error JSON.
//!
//! Every request's address is at most [`MAX_URI`] bytes (else 414) and its
//! headers at most [`MAX_HEADERS`] bytes (else 431): no endpoint needs
//! more, and big ones only cost parsing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::AppState;

/// The limits of one server process.
pub struct Limits {
    track: Option<DefaultKeyedRateLimiter<IpAddr>>,
    search: Option<DefaultKeyedRateLimiter<IpAddr>>,
    failed_auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Clients over the failed log-in limit, until they may try again.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    let n = NonZeroU32::new(per_minute)?;
    Some(RateLimiter::keyed(Quota::per_minute(n)))
}

/// Whom a limit counts: an IPv4 address, or an IPv6 address's /64 (one
/// customer line gets a whole /64, so single addresses would be free).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Whole seconds until `limiter` lets `ip` through again (at least 1).
fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), u64> {
    limiter
        .check_key(&ip)
        .map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
        .map_err(|s| s.max(1))
}

impl Limits {
    pub fn new(track_per_min: u32, search_per_min: u32, failed_auth_per_min: u32) -> Self {
        Limits {
            track: limiter(track_per_min),
            search: limiter(search_per_min),
            failed_auth: limiter(failed_auth_per_min),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Before a token is checked: a client blocked for failed log-ins waits.
    pub fn before_login(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else { return Ok(()) };
        let now = Instant::now();
        let blocked = self
            .blocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match blocked.get(&ip) {
            Some(until) if *until > now => Err(ApiError::TooManyRequests {
                retry_after_s: (*until - now).as_secs().max(1),
            }),
            _ => Ok(()),
        }
    }

    /// After a failed log-in: counts it; over the limit the client is
    /// blocked until the bucket lets it try again.
    pub fn failed_login(&self, ip: Option<IpAddr>) -> ApiError {
        let (Some(ip), Some(l)) = (ip, &self.failed_auth) else {
            return ApiError::Unauthorized;
        };
        match check(l, ip) {
            Ok(()) => ApiError::Unauthorized,
            Err(secs) => {
                let mut blocked = self
                    .blocked
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                // Forget clients whose wait is over, so the map stays small.
                if blocked.len() > 10_000 {
                    blocked.retain(|_, until| *until > now);
                }
                blocked.insert(ip, now + Duration::from_secs(secs));
                ApiError::TooManyRequests {
                    retry_after_s: secs,
                }
            }
        }
    }

    /// Forgets clients whose buckets are full again, so the maps do not
    /// grow with every address ever seen (run by the server's upkeep).
    pub fn retain_recent(&self) {
        for l in [&self.track, &self.search, &self.failed_auth]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn for_path(
        &self,
        method: &actix_web::http::Method,
        path: &str,
    ) -> Option<&DefaultKeyedRateLimiter<IpAddr>> {
        // The survey checks the same code and four digits as tracking.
        if path == "/api/v1/track" || path == "/api/v1/survey" {
            return self.track.as_ref();
        }
        let search = method == actix_web::http::Method::GET
            && (path == "/api/v1/stations"
                || path == "/api/v1/stations/nearest"
                || path == "/api/v1/geocode"
                || path == "/api/v1/regions");
        if search {
            self.search.as_ref()
        } else {
            None
        }
    }
}

/// The longest address a request may have (bytes).
pub const MAX_URI: usize = 8 * 1024;
/// The most header bytes a request may carry (names and values).
pub const MAX_HEADERS: usize = 32 * 1024;

/// The middleware: sizes, then the track and search limits per client.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let uri_len = req.uri().path().len() + req.uri().query().map_or(0, str::len);
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    let too_big = if uri_len > MAX_URI {
        Some(ApiError::UriTooLong(MAX_URI))
    } else if header_len > MAX_HEADERS {
        Some(ApiError::HeadersTooLarge(MAX_HEADERS))
    } else {
        None
    };
    if let Some(e) = too_big {
        let res = e.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    let ip = req.peer_addr().map(|a| client_key(a.ip()));
    // The path as routing sees it (percent-encoding undone), so
    // `/api/v1/%74rack` is counted as `/api/v1/track`.
    let over = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let l = state
            .limits
            .for_path(req.method(), req.match_info().as_str())?;
        check(l, ip?).err()
    });
    if let Some(retry_after_s) = over {
        let res = ApiError::TooManyRequests { retry_after_s }.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Answers 503 `timeout` to a request whose response has not begun within
/// the configured time (`REPAIRNET_REQUEST_TIMEOUT_MS`), so a stuck
/// database or a huge computation cannot hold a client and a worker
/// forever. The handler is dropped: a database transaction it had open
/// rolls back; one that had already committed stays committed, which the
/// client can check, or retry with the same `Idempotency-Key`.
pub async fn timeout(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(0, |s| s.settings.request_timeout_ms);
    if limit == 0 {
        return next.call(req).await;
    }
    // The request cannot be kept for the answer (routing needs it
    // unshared), so the timeout travels out as an error, which actix turns
    // into our JSON answer with `ResponseError`.
    if let Ok(res) = tokio::time::timeout(Duration::from_millis(limit), next.call(req)).await {
        res
    } else {
        tracing::warn!(timeout_ms = limit, "request timed out");
        Err(ApiError::Timeout(limit).into())
    }
}
