//! Travel time between points, behind one small type.
//!
//! The default is straight-line (haversine) distance times a detour factor
//! at an urban speed. When an OSRM server is configured its `table` service
//! gives road durations; on any error or timeout the straight-line figures
//! are used instead, with a warning and the
//! `repairnet_travel_fallback_total` counter, so dispatch never stalls on
//! the routing server.

use std::time::Duration;

use serde::Deserialize;

use crate::basic::LatLon;

#[derive(Debug, thiserror::Error)]
pub enum TravelError {
    #[error("travel: bad OSRM base URL {0:?}")]
    BadUrl(String),
    #[error("travel: OSRM request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("travel: OSRM answered HTTP {0}")]
    Status(u16),
    #[error("travel: OSRM answer not usable: {0}")]
    BadResponse(String),
}

/// Where a matrix's figures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TravelSource {
    Haversine,
    Osrm,
    /// OSRM was configured but failed; these are haversine figures.
    Fallback,
}

/// Row-major `from x to` durations (seconds) and distances (metres).
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub durations_s: Vec<f64>,
    pub distances_m: Vec<f64>,
    pub source: TravelSource,
}

impl Matrix {
    pub fn duration_s(&self, from: usize, to: usize) -> f64 {
        self.durations_s[from * self.cols + to]
    }
    pub fn distance_m(&self, from: usize, to: usize) -> f64 {
        self.distances_m[from * self.cols + to]
    }
}

/// Straight-line distance x detour factor, at a constant speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Haversine {
    pub detour: f64,
    pub speed_kmh: f64,
}

impl Default for Haversine {
    /// 1.3 detour at 30 km/h: urban driving in a Chinese city.
    fn default() -> Self {
        Self {
            detour: 1.3,
            speed_kmh: 30.0,
        }
    }
}

impl Haversine {
    pub fn distance_m(&self, a: LatLon, b: LatLon) -> f64 {
        a.haversine_m(b) * self.detour
    }
    pub fn duration_s(&self, a: LatLon, b: LatLon) -> f64 {
        self.distance_m(a, b) / (self.speed_kmh / 3.6)
    }
    pub fn matrix(&self, from: &[LatLon], to: &[LatLon]) -> Matrix {
        let mut m = Matrix {
            rows: from.len(),
            cols: to.len(),
            durations_s: Vec::with_capacity(from.len() * to.len()),
            distances_m: Vec::with_capacity(from.len() * to.len()),
            source: TravelSource::Haversine,
        };
        for &a in from {
            for &b in to {
                m.distances_m.push(self.distance_m(a, b));
                m.durations_s.push(self.duration_s(a, b));
            }
        }
        m
    }
}

/// A client of OSRM's `table` service.
#[derive(Debug, Clone)]
pub struct OsrmClient {
    base: String,
    http: reqwest::Client,
    /// OSRM's default `--max-table-size`; larger requests use haversine.
    pub max_points: usize,
}

#[derive(Deserialize)]
struct TableResponse {
    code: String,
    #[serde(default)]
    message: Option<String>,
    durations: Option<Vec<Vec<Option<f64>>>>,
    distances: Option<Vec<Vec<Option<f64>>>>,
}

impl OsrmClient {
    /// `base_url` like `http://osrm:5000`; every request gives up after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, TravelError> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://"))
            || reqwest::Url::parse(&base).is_err()
        {
            return Err(TravelError::BadUrl(base_url.to_owned()));
        }
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            base,
            http,
            max_points: 100,
        })
    }

    /// Durations and distances from every `from` to every `to`. Cells OSRM
    /// cannot route (null) are filled by `fill`.
    pub async fn table(
        &self,
        from: &[LatLon],
        to: &[LatLon],
        fill: &Haversine,
    ) -> Result<Matrix, TravelError> {
        let coords: Vec<String> = from
            .iter()
            .chain(to)
            .map(|p| format!("{:.6},{:.6}", p.lon, p.lat))
            .collect();
        let list =
            |r: std::ops::Range<usize>| r.map(|i| i.to_string()).collect::<Vec<_>>().join(";");
        let url = format!(
            "{}/table/v1/driving/{}?sources={}&destinations={}&annotations=duration,distance",
            self.base,
            coords.join(";"),
            list(0..from.len()),
            list(from.len()..from.len() + to.len()),
        );
        let resp = self.http.get(&url).send().await?;
        if !resp.status().is_success() {
            return Err(TravelError::Status(resp.status().as_u16()));
        }
        let body: TableResponse = resp.json().await?;
        if body.code != "Ok" {
            return Err(TravelError::BadResponse(format!(
                "code {}: {}",
                body.code,
                body.message.unwrap_or_default()
            )));
        }
        let shape_ok = |m: &Option<Vec<Vec<Option<f64>>>>| {
            m.as_ref().is_some_and(|rows| {
                rows.len() == from.len() && rows.iter().all(|r| r.len() == to.len())
            })
        };
        if !shape_ok(&body.durations) || !shape_ok(&body.distances) {
            return Err(TravelError::BadResponse(format!(
                "expected {}x{} durations and distances",
                from.len(),
                to.len()
            )));
        }
        let (durs, dists) = (
            body.durations.unwrap_or_default(),
            body.distances.unwrap_or_default(),
        );
        let mut m = Matrix {
            rows: from.len(),
            cols: to.len(),
            durations_s: Vec::with_capacity(from.len() * to.len()),
            distances_m: Vec::with_capacity(from.len() * to.len()),
            source: TravelSource::Osrm,
        };
        for (i, &a) in from.iter().enumerate() {
            for (j, &b) in to.iter().enumerate() {
                match (durs[i][j], dists[i][j]) {
                    (Some(d), Some(x))
                        if d.is_finite() && x.is_finite() && d >= 0.0 && x >= 0.0 =>
                    {
                        m.durations_s.push(d);
                        m.distances_m.push(x);
                    }
                    _ => {
                        m.durations_s.push(fill.duration_s(a, b));
                        m.distances_m.push(fill.distance_m(a, b));
                    }
                }
            }
        }
        Ok(m)
    }
}

/// The configured travel model.
#[derive(Debug, Clone)]
pub enum TravelModel {
    Haversine(Haversine),
    Osrm {
        client: OsrmClient,
        fallback: Haversine,
    },
}

impl Default for TravelModel {
    fn default() -> Self {
        TravelModel::Haversine(Haversine::default())
    }
}

impl TravelModel {
    /// OSRM at `url` when given, haversine otherwise.
    pub fn from_config(osrm_url: Option<&str>, timeout: Duration) -> Result<Self, TravelError> {
        Ok(match osrm_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => TravelModel::Osrm {
                client: OsrmClient::new(url, timeout)?,
                fallback: Haversine::default(),
            },
            None => TravelModel::default(),
        })
    }

    /// Never fails: any OSRM problem falls back to haversine.
    pub async fn durations(&self, from: &[LatLon], to: &[LatLon]) -> Matrix {
        match self {
            TravelModel::Haversine(h) => h.matrix(from, to),
            TravelModel::Osrm { client, fallback } => {
                if from.is_empty() || to.is_empty() {
                    return fallback.matrix(from, to);
                }
                let result = if from.len() + to.len() > client.max_points {
                    Err(TravelError::BadResponse(format!(
                        "{} points exceed the table limit of {}",
                        from.len() + to.len(),
                        client.max_points
                    )))
                } else {
                    client.table(from, to, fallback).await
                };
                result.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "OSRM table failed; using straight-line travel times");
                    metrics::counter!("repairnet_travel_fallback_total").increment(1);
                    Matrix { source: TravelSource::Fallback, ..fallback.matrix(from, to) }
                })
            }
        }
    }

    /// The straight-line model (for synchronous callers such as the optimiser).
    pub fn haversine(&self) -> Haversine {
        match self {
            TravelModel::Haversine(h) | TravelModel::Osrm { fallback: h, .. } => *h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    use std::sync::{Arc, Mutex};

    fn p(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn haversine_model_figures() {
        let h = Haversine::default();
        // 0.1 degree of latitude = 11,119.5 m; x1.3 = 14,455 m; at 30 km/h = 1,734.6 s.
        let (a, b) = (p(30.0, 104.0), p(30.1, 104.0));
        assert!(
            (h.distance_m(a, b) - 14_455.4).abs() < 1.0,
            "{}",
            h.distance_m(a, b)
        );
        assert!(
            (h.duration_s(a, b) - 1_734.6).abs() < 0.5,
            "{}",
            h.duration_s(a, b)
        );
        let m = h.matrix(&[a, b], &[b]);
        assert_eq!((m.rows, m.cols, m.source), (2, 1, TravelSource::Haversine));
        assert_eq!(m.duration_s(1, 0), 0.0);
        assert!(OsrmClient::new("ftp://x", Duration::from_secs(1)).is_err());
    }

    /// Spawns an OSRM look-alike on 127.0.0.1:0; `mode` picks its behaviour.
    #[allow(
        clippy::unused_async,
        reason = "called like the async servers it stands in for"
    )]
    async fn fake_osrm(
        mode: &'static str,
        seen: Arc<Mutex<Vec<String>>>,
    ) -> (String, actix_web::dev::ServerHandle) {
        let server = HttpServer::new(move || {
            let seen = seen.clone();
            App::new().route(
                "/table/v1/driving/{coords}",
                web::get().to(move |req: HttpRequest| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(req.uri().to_string());
                        match mode {
                            "error" => HttpResponse::InternalServerError().body("boom"),
                            "slow" => {
                                actix_web::rt::time::sleep(Duration::from_millis(800)).await;
                                HttpResponse::Ok().json(serde_json::json!({"code": "Ok"}))
                            }
                            "nocode" => HttpResponse::BadRequest()
                                .json(serde_json::json!({"code": "TooBig", "message": "Too many table coordinates"})),
                            _ => HttpResponse::Ok().json(serde_json::json!({
                                "code": "Ok",
                                "durations": [[600.5, null], [120.0, 60.0]],
                                "distances": [[5000.0, null], [900.0, 450.0]],
                            })),
                        }
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (format!("http://{addr}"), handle)
    }

    #[actix_web::test]
    async fn osrm_table_is_used_and_null_cells_fall_back() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (url, handle) = fake_osrm("ok", seen.clone()).await;
        let model = TravelModel::from_config(Some(&url), Duration::from_secs(2)).unwrap();
        let from = [p(31.2304, 121.4737), p(31.3, 121.5)];
        let to = [p(31.2, 121.4), p(31.25, 121.45)];
        let m = model.durations(&from, &to).await;
        assert_eq!(m.source, TravelSource::Osrm);
        assert_eq!(m.duration_s(0, 0), 600.5);
        assert_eq!(m.distance_m(1, 1), 450.0);
        // The null cell is the straight-line figure.
        assert_eq!(
            m.duration_s(0, 1),
            Haversine::default().duration_s(from[0], to[1])
        );
        let uri = seen.lock().unwrap()[0].clone();
        assert_eq!(
            uri,
            "/table/v1/driving/121.473700,31.230400;121.500000,31.300000;121.400000,31.200000;121.450000,31.250000\
             ?sources=0;1&destinations=2;3&annotations=duration,distance"
        );
        handle.stop(false).await;
    }

    #[actix_web::test]
    async fn errors_and_timeouts_fall_back_to_haversine() {
        let from = [p(39.9, 116.4)];
        let to = [p(39.95, 116.45), p(40.0, 116.3)];
        let want = Haversine::default().matrix(&from, &to);
        for mode in ["error", "slow", "nocode"] {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (url, handle) = fake_osrm(mode, seen.clone()).await;
            let model = TravelModel::from_config(Some(&url), Duration::from_millis(200)).unwrap();
            let started = std::time::Instant::now();
            let m = model.durations(&from, &to).await;
            assert_eq!(m.source, TravelSource::Fallback, "{mode}");
            assert_eq!(m.durations_s, want.durations_s, "{mode}");
            assert_eq!(
                seen.lock().unwrap().len(),
                1,
                "{mode}: the server was asked"
            );
            assert!(
                started.elapsed() < Duration::from_millis(700),
                "{mode}: the timeout applies"
            );
            handle.stop(false).await;
        }
        // Nobody listening at all.
        let model =
            TravelModel::from_config(Some("http://127.0.0.1:9"), Duration::from_millis(200))
                .unwrap();
        assert_eq!(
            model.durations(&from, &to).await.source,
            TravelSource::Fallback
        );
    }
}
