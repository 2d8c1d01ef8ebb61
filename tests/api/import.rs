use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;
use repairnet::auth::Role;

const HEADER: &str = "id,name,province,city,adcode,region,address,phone,lat,lon,services,products,opening_hours,timezone,onsite_radius_km\n";

fn row(id: &str, lat: &str) -> String {
    format!("{id},导入站{id},四川省,成都市,510107,southwest,天府大道1号,028-0000000,{lat},104.06,carry_in,notebook,Mo-Su 09:00-18:00,Asia/Shanghai,\n")
}

async fn count(app: &TestApp) -> u64 {
    app.get_json("/readyz").await.1["stations_indexed"]
        .as_u64()
        .unwrap()
}

async fn post_csv(app: &TestApp, query: &str, body: String) -> (u16, Value) {
    let res = app
        .admin(Method::POST, &format!("/api/v1/stations/import{query}"))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn csv_import_is_all_or_nothing_with_a_row_report(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let before = count(&app).await;
    let body = format!(
        "{HEADER}{}{}{}",
        row("I1", "30.5"),
        row("I2", "north"),
        row("I3", "99")
    );
    let (s, v) = post_csv(&app, "", body.clone()).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_code(&v), "invalid_rows");
    let report = &v["error"]["details"];
    assert_eq!(report["total"], 3);
    let rows: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [2, 3]);
    assert_eq!(
        count(&app).await,
        before,
        "a rejected import wrote something"
    );
    assert_eq!(app.get("/api/v1/stations/I1").await.status(), 404);

    // Dry run writes nothing even when valid.
    let (s, v) = post_csv(
        &app,
        "?dry_run=true",
        format!("{HEADER}{}", row("I1", "30.5")),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["valid"], 1);
    assert_eq!(count(&app).await, before);

    // skip_invalid imports the good row and reports the rest.
    let (s, v) = post_csv(&app, "?mode=skip_invalid", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["inserted"], 1);
    assert_eq!(v["skipped"], 2);
    assert_eq!(count(&app).await, before + 1);
    let (_, near) = app
        .get_json("/api/v1/stations/nearest?lat=30.5&lon=104.06&k=1")
        .await;
    assert_eq!(near["results"][0]["station"]["id"], "I1");

    // Re-import updates in place.
    let (s, v) = post_csv(&app, "", format!("{HEADER}{}", row("I1", "30.6"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["inserted"].as_u64(), v["updated"].as_u64()),
        (Some(0), Some(1))
    );
    let (_, st) = app.get_json("/api/v1/stations/I1").await;
    assert_eq!(st["lat"], 30.6);
}
on_both_backends!(csv_import_is_all_or_nothing_with_a_row_report);

#[tokio::test]
async fn geojson_import_and_export_round_trip() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            demo: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let src = spawn_app().await;
    let res = src
        .client
        .get(src.url("/api/v1/stations?format=geojson&limit=5000"))
        .send()
        .await
        .unwrap();
    let exported = res.text().await.unwrap();
    let n = serde_json::from_str::<Value>(&exported).unwrap()["features"]
        .as_array()
        .unwrap()
        .len();
    let res = app
        .admin(Method::POST, "/api/v1/stations/import")
        .header("content-type", "application/geo+json")
        .body(exported)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["inserted"].as_u64().unwrap() as usize, n);
    let a = src
        .get("/api/v1/stations?format=csv&limit=5000")
        .await
        .text()
        .await
        .unwrap();
    let b = app
        .get("/api/v1/stations?format=csv&limit=5000")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(a, b, "the copy differs from the source");
}

#[tokio::test]
async fn import_rejects_bad_files_and_callers() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            import_limit: Some(10_000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let before = count(&app).await;
    let (s, v) = post_csv(&app, "", "id,name\nA,B\n".into()).await;
    assert_eq!(s, 422);
    assert_eq!(error_code(&v), "invalid_file");
    let (s, _) = post_csv(&app, "", format!("{HEADER}{}", row("Z", "30").repeat(200))).await;
    assert_eq!(s, 413);
    let (s, _) = post_csv(&app, "?mode=some", format!("{HEADER}{}", row("Z", "30"))).await;
    assert_eq!(s, 400);
    let res = app
        .admin(Method::POST, "/api/v1/stations/import")
        .header("content-type", "application/pdf")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = app
        .admin(Method::POST, "/api/v1/stations/import")
        .header("content-type", "application/geo+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let manager = token(&app.db, Role::Manager).await;
    let res = app
        .client
        .post(app.url("/api/v1/stations/import"))
        .bearer_auth(manager)
        .header("content-type", "text/csv")
        .body(format!("{HEADER}{}", row("Z", "30")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(count(&app).await, before);
}
