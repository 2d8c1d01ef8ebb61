use reqwest::Method;
use serde_json::{json, Value};
use std::fmt::Write as _;

use crate::helpers::*;
use crate::on_both_backends;
use repairnet::auth::Role;
use repairnet::basic::LatLon;

async fn all_stations(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/stations?limit=100&cursor={c}"),
            None => "/api/v1/stations?limit=100".to_owned(),
        };
        let (s, body) = app.get_json(&path).await;
        assert_eq!(s, 200, "{body}");
        out.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn dist(s: &Value, p: LatLon) -> f64 {
    LatLon::new(s["lat"].as_f64().unwrap(), s["lon"].as_f64().unwrap())
        .unwrap()
        .haversine_m(p)
}

#[tokio::test]
async fn nearest_on_the_demo_is_the_exact_great_circle_top_k() {
    let app = spawn_app().await;
    let stations = all_stations(&app).await;
    for (lat, lon, k) in [
        (30.80, 106.08, 5),
        (45.75, 126.65, 7),
        (22.54, 114.06, 3),
        (40.0, 90.0, 10),
    ] {
        let (s, body) = app
            .get_json(&format!(
                "/api/v1/stations/nearest?lat={lat}&lon={lon}&k={k}"
            ))
            .await;
        assert_eq!(s, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), k.min(stations.len()));
        let p = LatLon::new(lat, lon).unwrap();
        let mut brute: Vec<(f64, String)> = stations
            .iter()
            .map(|s| (dist(s, p), s["id"].as_str().unwrap().to_owned()))
            .collect();
        brute.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, r) in results.iter().enumerate() {
            let d = r["distance_m"].as_f64().unwrap();
            assert!(
                (d - brute[i].0).abs() < 1.0,
                "rank {i}: {d} vs {}",
                brute[i].0
            );
            assert!(i == 0 || d >= results[i - 1]["distance_m"].as_f64().unwrap());
            for field in [
                "id",
                "name",
                "province",
                "city",
                "adcode",
                "region",
                "address",
                "phone",
                "lat",
                "lon",
                "services",
                "products",
                "opening_hours",
                "onsite_radius_km",
            ] {
                assert!(r["station"].get(field).is_some(), "station lacks {field}");
            }
        }
        assert_eq!(body["query"]["lat"].as_f64(), Some(lat));
    }
}

#[tokio::test]
async fn filters_are_applied_while_searching_so_k_results_come_back() {
    let app = spawn_app().await;
    let (s, body) = app
        .get_json("/api/v1/stations/nearest?lat=31.2&lon=121.5&k=20&service=onsite&product=server")
        .await;
    assert_eq!(s, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let all = all_stations(&app).await;
    let matching = all
        .iter()
        .filter(|s| {
            s["services"].as_array().unwrap().contains(&json!("onsite"))
                && s["products"].as_array().unwrap().contains(&json!("server"))
        })
        .count();
    assert_eq!(results.len(), matching.min(20));
    for r in results {
        assert!(r["station"]["services"]
            .as_array()
            .unwrap()
            .contains(&json!("onsite")));
        assert!(r["station"]["products"]
            .as_array()
            .unwrap()
            .contains(&json!("server")));
    }
    // A radius keeps only stations inside it.
    let (_, body) = app
        .get_json("/api/v1/stations/nearest?lat=31.2&lon=121.5&k=100&max_km=50")
        .await;
    for r in body["results"].as_array().unwrap() {
        assert!(r["distance_m"].as_f64().unwrap() <= 50_000.0);
    }
    // open_at: on a Sunday morning in Shanghai only stations open on Sundays
    // come back, and still k of them.
    let (s, body) = app
        .get_json(
            "/api/v1/stations/nearest?lat=31.2&lon=121.5&k=5&open_at=2026-11-29T10:00:00%2B08:00",
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        let hours = r["station"]["opening_hours"].as_str().unwrap();
        assert!(hours.contains("Su"), "{hours} is closed on Sundays");
    }
}

#[tokio::test]
async fn bad_nearest_input_is_a_clear_400() {
    let app = spawn_app().await;
    for (q, field) in [
        ("lat=abc&lon=104", "lat"),
        ("lat=91&lon=104", "lat"),
        ("lat=NaN&lon=104", "lat"),
        ("lat=30&lon=inf", "lon"),
        ("lat=30&lon=181", "lon"),
        ("lat=30", "lat"),
        ("lon=30", "lat"),
        ("", "lat"),
        ("lat=30&lon=104&k=0", "k"),
        ("lat=30&lon=104&k=101", "k"),
        ("lat=30&lon=104&k=five", "k"),
        ("lat=30&lon=104&service=teleport", "service"),
        ("lat=30&lon=104&product=toaster", "product"),
        ("lat=30&lon=104&crs=mars", "crs"),
        ("lat=30&lon=104&open_at=yesterday", "open_at"),
        ("lat=30&lon=104&max_km=-3", "max_km"),
        ("lat=30&lon=104&open_now=maybe", "open_now"),
    ] {
        let (s, body) = app.get_json(&format!("/api/v1/stations/nearest?{q}")).await;
        assert_eq!(s, 400, "{q}: {body}");
        assert_eq!(error_code(&body), "invalid_input", "{q}");
        let fields: Vec<&str> = body["error"]["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{q}: {fields:?}");
    }
    let (s, body) = app
        .get_json("/api/v1/stations/nearest?lat=30&lon=104&kk=3")
        .await;
    assert_eq!(s, 400);
    assert_eq!(error_code(&body), "invalid_query");
}

#[tokio::test]
async fn list_pages_filters_and_geojson() {
    let app = spawn_app().await;
    let all = all_stations(&app).await;
    let mut ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "paging repeated a station");
    let (_, ready) = app.get_json("/readyz").await;
    assert_eq!(ready["stations_indexed"].as_u64().unwrap() as usize, n);

    // bbox around Sichuan/Chongqing: every item inside, none outside missed.
    let (s, body) = app
        .get_json("/api/v1/stations?bbox=102,28,108,32&limit=5000")
        .await;
    assert_eq!(s, 200);
    let inside: Vec<&Value> = all
        .iter()
        .filter(|s| {
            let (lat, lon) = (s["lat"].as_f64().unwrap(), s["lon"].as_f64().unwrap());
            (28.0..=32.0).contains(&lat) && (102.0..=108.0).contains(&lon)
        })
        .collect();
    assert_eq!(body["items"].as_array().unwrap().len(), inside.len());

    // A region filter keeps only its stations.
    let (_, body) = app
        .get_json("/api/v1/stations?region=southwest&limit=5000")
        .await;
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["region"] == "southwest"));

    // GeoJSON by Accept header.
    let res = app
        .client
        .get(app.url("/api/v1/stations?limit=5000"))
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/geo+json");
    let fc: Value = res.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["features"].as_array().unwrap().len(), n);
    assert_eq!(fc["features"][0]["geometry"]["type"], "Point");

    for q in [
        "bbox=1,2,3",
        "limit=0",
        "region=atlantis",
        "adcode=12",
        "format=xml",
    ] {
        let (s, body) = app.get_json(&format!("/api/v1/stations?{q}")).await;
        assert_eq!(s, 400, "{q}: {body}");
    }
}

fn new_station(id: &str) -> Value {
    json!({
        "id": id, "name": "测试服务站", "province": "四川省", "city": "绵阳市",
        "adcode": "510703", "address": "临园路1号", "phone": "0816-0000000",
        "lat": 31.4680, "lon": 104.6796,
        "services": ["onsite", "carry_in"], "products": ["notebook", "server"],
        "opening_hours": "Mo-Su 09:00-18:00", "onsite_radius_km": 25.0
    })
}

async fn admin_edits_reach_the_index_at_once(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let path = "/api/v1/stations";
    // Anonymous: 401; wrong role: 403; nothing written.
    let res = app
        .client
        .post(app.url(path))
        .json(&new_station("T1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let agent = token(&app.db, Role::Agent).await;
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(&agent)
        .json(&new_station("T1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth("rn_forged")
        .json(&new_station("T1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = app
        .admin(Method::POST, path)
        .json(&new_station("T1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["location"], "/api/v1/stations/T1");
    let (_, body) = app
        .get_json("/api/v1/stations/nearest?lat=31.4680&lon=104.6796&k=1")
        .await;
    assert_eq!(body["results"][0]["station"]["id"], "T1");
    assert!(body["results"][0]["distance_m"].as_f64().unwrap() < 1.0);

    let res = app
        .admin(Method::POST, path)
        .json(&new_station("T1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);

    let res = app
        .admin(Method::PATCH, "/api/v1/stations/T1")
        .json(&json!({"name": "改名服务站", "lat": 31.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, s) = app.get_json("/api/v1/stations/T1").await;
    assert_eq!(s["name"], "改名服务站");
    assert_eq!(s["lat"], 31.5);

    let mut put = new_station("T2");
    put.as_object_mut().unwrap().remove("id");
    let res = app
        .admin(Method::PUT, "/api/v1/stations/T2")
        .json(&put)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .admin(Method::PUT, "/api/v1/stations/T2")
        .json(&put)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = app
        .admin(Method::DELETE, "/api/v1/stations/T1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (s, body) = app.get_json("/api/v1/stations/T1").await;
    assert_eq!(s, 404);
    assert_eq!(error_code(&body), "not_found");
    let res = app
        .admin(Method::DELETE, "/api/v1/stations/T1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Survives a restart: a second server on the same database sees T2, not T1.
    let other = spawn_on_url(&app.database_url, Options::default()).await;
    let (s, _) = other.get_json("/api/v1/stations/T2").await;
    assert_eq!(s, 200);
    let (s, _) = other.get_json("/api/v1/stations/T1").await;
    assert_eq!(s, 404);
}
on_both_backends!(admin_edits_reach_the_index_at_once);

async fn a_second_process_sees_writes_of_the_first(backend: Backend) {
    let Some(a) = spawn_app_on(backend).await else {
        return;
    };
    let b = spawn_on_url(&a.database_url, Options::default()).await;
    let res = a
        .admin(Method::POST, "/api/v1/stations")
        .json(&new_station("X9"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut seen = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if b.get("/api/v1/stations/X9").await.status() == 200 {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "process B never saw the station written through process A"
    );
}
on_both_backends!(a_second_process_sees_writes_of_the_first);

#[tokio::test]
async fn bad_bodies_are_rejected_and_nothing_is_written() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            json_limit: Some(4096),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let before = app.get_json("/readyz").await.1["stations_indexed"]
        .as_u64()
        .unwrap();
    let path = "/api/v1/stations";
    // Malformed JSON.
    let res = app
        .admin(Method::POST, path)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_json");
    // Wrong content type.
    let res = app
        .admin(Method::POST, path)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // Oversized.
    let mut big = new_station("BIG");
    big["address"] = json!("路".repeat(5000));
    let res = app
        .admin(Method::POST, path)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    error_code(&res.json().await.unwrap());
    // Unknown enum value and out-of-range point: every problem listed.
    let mut bad = new_station("BAD");
    bad["services"] = json!(["teleport"]);
    bad["lat"] = json!(95.0);
    let res = app
        .admin(Method::POST, path)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"services") && fields.contains(&"lat"),
        "{fields:?}"
    );
    // Unknown field.
    let mut extra = new_station("EXTRA");
    extra["colour"] = json!("red");
    let res = app
        .admin(Method::POST, path)
        .json(&extra)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Bad id in path.
    let (s, _) = app.get_json("/api/v1/stations/bad%20id").await;
    assert_eq!(s, 400);

    let after = app.get_json("/readyz").await.1["stations_indexed"]
        .as_u64()
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn regions_count_every_station_once() {
    let app = spawn_app().await;
    let (s, body) = app.get_json("/api/v1/regions").await;
    assert_eq!(s, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let names: Vec<&str> = items.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["华北", "东北", "华东", "华中", "华南", "西南", "西北"]
    );
    let total: u64 = items
        .iter()
        .map(|r| r["station_count"].as_u64().unwrap())
        .sum();
    let indexed = app.get_json("/readyz").await.1["stations_indexed"]
        .as_u64()
        .unwrap();
    assert_eq!(total, indexed);
    assert!(items
        .iter()
        .all(|r| !r["provinces"].as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn an_address_finds_the_stations_nearest_its_division() {
    let app = spawn_app().await;
    let (s, body) = app
        .get_json("/api/v1/stations/nearest?address=%E7%BB%B5%E9%98%B3%E6%B6%AA%E5%9F%8E%E4%B8%B4%E5%9B%AD%E8%B7%AF&k=5")
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["query"]["division"]["adcode"], "510703", "{body}");
    assert_eq!(body["query"]["remainder"], "临园路");
    let (lat, lon) = (
        body["query"]["lat"].as_f64().unwrap(),
        body["query"]["lon"].as_f64().unwrap(),
    );
    let (_, by_point) = app
        .get_json(&format!("/api/v1/stations/nearest?lat={lat}&lon={lon}&k=5"))
        .await;
    assert_eq!(body["results"], by_point["results"]);
    assert_eq!(body["results"][0]["station"]["city"], "绵阳市");

    let (s, body) = app
        .get_json("/api/v1/stations/nearest?address=xyzzy&k=5")
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "address");
    let (s, _) = app
        .get_json("/api/v1/stations/nearest?address=%E7%BB%B5%E9%98%B3&lat=1&lon=2")
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_gcj02_point_gives_the_same_stations_as_its_wgs84_twin() {
    use repairnet::places::Crs;
    let app = spawn_app().await;
    let wgs = LatLon::new(31.4680, 104.6796).unwrap();
    let gcj = Crs::Gcj02.from_wgs84(wgs);
    assert!(
        gcj.haversine_m(wgs) > 100.0,
        "GCJ-02 shift expected in Sichuan"
    );
    let (_, a) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?lat={}&lon={}&k=5",
            wgs.lat, wgs.lon
        ))
        .await;
    let (s, b) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?lat={}&lon={}&k=5&crs=gcj02",
            gcj.lat, gcj.lon
        ))
        .await;
    assert_eq!(s, 200);
    let ids = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["station"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    for (x, y) in a["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["results"].as_array().unwrap())
    {
        assert!(
            (x["distance_m"].as_f64().unwrap() - y["distance_m"].as_f64().unwrap()).abs() < 0.5
        );
        // Station points come back in the caller's system: shifted by GCJ-02.
        let p = LatLon::new(
            y["station"]["lat"].as_f64().unwrap(),
            y["station"]["lon"].as_f64().unwrap(),
        )
        .unwrap();
        let q = LatLon::new(
            x["station"]["lat"].as_f64().unwrap(),
            x["station"]["lon"].as_f64().unwrap(),
        )
        .unwrap();
        assert!(p.haversine_m(q) > 100.0);
        assert_eq!(y["station"]["crs"], "gcj02");
    }
    // A WGS-84 position answered in GCJ-02 (browser location on AMap tiles).
    let (s, c) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?lat={}&lon={}&k=5&out_crs=gcj02",
            wgs.lat, wgs.lon
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(c["results"], b["results"]);
    assert!((c["query"]["lat"].as_f64().unwrap() - gcj.lat).abs() < 1e-9);
}

#[tokio::test]
async fn geocode_endpoint_answers_and_flags_ambiguity() {
    let app = spawn_app().await;
    let (s, body) = app
        .get_json("/api/v1/geocode?q=%E9%BC%93%E6%A5%BC%E5%8C%BA")
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["ambiguous"], true);
    assert!(body["matches"].as_array().unwrap().len() >= 4);
    let (_, body) = app.get_json("/api/v1/geocode?q=Zigong").await;
    assert_eq!(body["matches"][0]["adcode"], "510300");
    assert_eq!(body["ambiguous"], false);
    let (s, body) = app.get_json("/api/v1/geocode").await;
    assert_eq!(s, 400);
    assert_eq!(error_code(&body), "invalid_input");
}

#[tokio::test]
async fn geocode_answers_towns_former_names_and_conflicts() {
    let app = spawn_app().await;
    let get = |q: &str| {
        let mut url = "/api/v1/geocode?q=".to_owned();
        for b in q.bytes() {
            let _ = write!(url, "%{b:02X}");
        }
        let app = &app;
        async move { app.get_json(&url).await }
    };
    // A town: its own code and name, its county's adcode and point.
    let (s, body) = get("北滘镇兴业东路2号").await;
    assert_eq!(s, 200, "{body}");
    let m = &body["matches"][0];
    assert_eq!(m["level"], "town", "{body}");
    assert_eq!(m["town"], "北滘镇");
    assert_eq!(m["code"], "440606102");
    assert_eq!(m["adcode"], "440606");
    assert_eq!(m["district"], "顺德区");
    assert!(m["lat"].as_f64().is_some() && m["formerly"].is_null());
    assert_eq!(body["remainder"], "兴业东路2号");
    // A former name answers today's division and says what was said.
    let (_, body) = get("上海市闸北区天目西路").await;
    assert_eq!(body["matches"][0]["adcode"], "310106", "{body}");
    assert_eq!(body["matches"][0]["formerly"], "闸北区");
    assert_eq!(body["conflicts"], serde_json::json!([]));
    // A county outside the city said first contradicts it.
    let (_, body) = get("广州市鼓楼区").await;
    assert_eq!(body["matches"][0]["adcode"], "440100", "{body}");
    assert_eq!(body["conflicts"], serde_json::json!(["鼓楼区"]));
    assert!(body["matches"][0]["confidence"].as_f64().unwrap() < 0.5);
}
