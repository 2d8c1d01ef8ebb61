//! The /dispatch page in a real headless Chromium: the board lists every
//! open job, a transfer made on one board shows on another board served by
//! another server process without a reload, new jobs appear by themselves,
//! the optimiser previews and applies, and the page passes axe-core.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them the
//! test prints why it skipped, unless `CI` is set, where it fails. Runs on
//! PostgreSQL when it is reachable, else on SQLite (both servers share the
//! database file). Screenshots go to `target/screenshots/dispatch-*.png`.

use std::panic::AssertUnwindSafe;

use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use repairnet::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

fn purchase_date() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(40)).to_string()
}

/// Opens a job through the API as a call-centre agent would.
async fn create_job(app: &TestApp, agent: &str, name: &str, address: &str, auto: bool) -> Value {
    let mut body = json!({
        "kind": "onsite",
        "customer": {"name": name, "phone": "13912345678"},
        "address": address,
        "product": "notebook",
        "purchase_date": purchase_date(),
        "problem": "开机无显示",
    });
    if !auto {
        body["auto_assign"] = json!(false);
    }
    let res = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(agent)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let job: Value = res.json().await.expect("a job");
    assert_eq!(status, 201, "{job}");
    job
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.expect("JSON")
}

fn row_js(code: &str) -> String {
    format!("document.querySelector('[data-testid=\"job-row\"][data-code=\"{code}\"]')")
}

/// The text of a job's row, once it is on the board.
async fn row_text(c: &Client, code: &str, part: &str) -> String {
    wait_js(c, &row_js(code)).await;
    c.execute(
        &format!(
            "return {}.querySelector('{part}').textContent;",
            row_js(code)
        ),
        vec![],
    )
    .await
    .expect("script runs")
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn open_board(c: &Client, app: &TestApp, token: &str) {
    c.goto(&app.url(&format!("/dispatch#token={token}")))
        .await
        .expect("page loads");
    wait_js(c, "document.body.dataset.ready === 'true'").await;
}

/// Clicks `css`, retrying while the element is missing or not yet
/// interactable (a dialog opening, a panel sliding in on a busy machine).
async fn click(c: &Client, css: &str) {
    let started = std::time::Instant::now();
    loop {
        let outcome = match c.find(Locator::Css(css)).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => return,
            Err(_) if started.elapsed() < WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatch_board_follows_the_network_live() {
    let app = match spawn_app_on(Backend::Postgres).await {
        Some(app) => app,
        None => spawn_app().await,
    };
    // A second server process on the same database: the other board's.
    let other = spawn_on_url(&app.database_url, Options::default()).await;
    let Some((_d1, c1)) = browser().await else {
        return;
    };
    let Some((_d2, c2)) = browser().await else {
        return;
    };
    let outcome = AssertUnwindSafe(check_board(&app, &other, &c1, &c2))
        .catch_unwind()
        .await;
    let closed = (c1.close().await, c2.close().await);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    closed.0.expect("close the first session");
    closed.1.expect("close the second session");
}

async fn check_board(app: &TestApp, other: &TestApp, c1: &Client, c2: &Client) {
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;

    // (1) Jobs opened through the API are rows with their codes.
    let mianyang = create_job(app, &agent, "张伟", "绵阳涪城临园路", true).await;
    let chengdu = create_job(app, &agent, "李娜", "成都武侯区", true).await;
    let zhengzhou = create_job(app, &agent, "王芳", "郑州二七区", true).await;
    let code = mianyang["code"].as_str().expect("code").to_owned();
    assert!(
        mianyang["assignment"]["technician_id"].is_i64(),
        "the Mianyang job was not auto-assigned: {mianyang}"
    );

    // A token of another role gets the log-in form with the reason.
    c2.goto(&app.url(&format!("/dispatch#token={agent}")))
        .await
        .expect("page loads");
    let why = wait_js(
        c2,
        "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent",
    )
    .await;
    assert!(why.as_str().unwrap().contains("角色"), "{why}");
    let app_hidden = c2
        .execute("return document.getElementById('app').hidden;", vec![])
        .await
        .unwrap();
    assert_eq!(app_hidden, json!(true));

    open_board(c1, app, &dispatcher).await;
    let open = api_get(app, &dispatcher, "/api/v1/jobs?status=open&limit=500").await;
    let mut api_codes: Vec<String> = open["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|j| j["code"].as_str().unwrap().to_owned())
        .collect();
    api_codes.sort();
    let mut shown = Vec::new();
    for row in c1
        .find_all(Locator::Css("[data-testid='job-row']"))
        .await
        .unwrap()
    {
        shown.push(row.attr("data-code").await.unwrap().expect("data-code"));
    }
    shown.sort();
    assert_eq!(shown, api_codes, "one row per open job in scope");
    for j in [&mianyang, &chengdu, &zhengzhou] {
        assert!(shown.contains(&j["code"].as_str().unwrap().to_owned()));
    }
    let markers = c1
        .find_all(Locator::Css(
            "[data-testid='map'] .job-marker, [data-testid='map'] .job-cluster",
        ))
        .await
        .unwrap();
    assert!(!markers.is_empty(), "no job markers or clusters on the map");
    assert_accessible(c1, "the dispatch board").await;
    screenshots(c1, "dispatch").await;

    // The second board, through the other server process, with another job
    // selected: its selection must survive the live update.
    open_board(c2, other, &dispatcher).await;
    let watched = chengdu["code"].as_str().unwrap().to_owned();
    click(
        c2,
        &format!("[data-testid='job-row'][data-code='{watched}']"),
    )
    .await;
    wait_js(
        c2,
        &format!(
            "{}.getAttribute('aria-selected') === 'true'",
            row_js(&watched)
        ),
    )
    .await;
    let before = row_text(c2, &code, ".assignee").await;
    // Gone after a reload: proves the update came without one.
    c2.execute("window.stillHere = true;", vec![])
        .await
        .unwrap();

    // (2) Select the job on the first board: recommendation, history, loads.
    click(c1, &format!("[data-testid='job-row'][data-code='{code}']")).await;
    wait_js(c1, "document.querySelector('.candidates, .rec .none')").await;
    wait_js(c1, "document.querySelector('.history li')").await;
    wait_js(c1, "document.querySelector('table.loads')").await;
    let title = c1
        .find(Locator::Id("side-title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(title.contains(&code), "{title}");
    assert_accessible(c1, "the board with a job selected").await;
    screenshots(c1, "dispatch-selected").await;

    // Transfer to another technician who can take it: the dialog needs a reason.
    let current = mianyang["assignment"]["technician_id"].as_i64().unwrap();
    let rec = api_get(
        app,
        &dispatcher,
        &format!("/api/v1/jobs/{}/recommendation", mianyang["id"]),
    )
    .await;
    let techs = api_get(app, &dispatcher, "/api/v1/technicians").await;
    let name_of = |id: i64| {
        techs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"].as_i64() == Some(id))
            .and_then(|t| t["name"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let target = rec["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["technician_id"].as_i64())
        .find(|&t| t != current && name_of(t) != name_of(current))
        .expect("another candidate with another name");
    click(c1, "#transfer-open").await;
    wait_js(c1, "document.getElementById('transfer-dialog').open").await;
    c1.find(Locator::Id("transfer-tech"))
        .await
        .unwrap()
        .select_by_value(&target.to_string())
        .await
        .expect("the target technician is offered");
    click(c1, "#transfer-submit").await;
    let err = wait_js(
        c1,
        "!document.getElementById('transfer-error').hidden && document.getElementById('transfer-error').textContent",
    )
    .await;
    assert!(err.as_str().unwrap().contains("原因"), "{err}");
    c1.find(Locator::Id("transfer-reason"))
        .await
        .unwrap()
        .send_keys("原技师临时请假")
        .await
        .unwrap();
    assert_accessible(c1, "the transfer dialog").await;
    screenshots(c1, "dispatch-transfer").await;
    click(c1, "#transfer-submit").await;
    wait_js(c1, "!document.getElementById('transfer-dialog').open").await;
    let moved = api_get(app, &dispatcher, &format!("/api/v1/jobs/{code}")).await;
    assert_eq!(moved["assignment"]["technician_id"].as_i64(), Some(target));
    assert!(
        moved["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == json!("原技师临时请假")),
        "{moved}"
    );
    wait_js(
        c1,
        "Array.from(document.querySelectorAll('.history .ev-reason')).some(e => e.textContent.includes('原技师临时请假'))",
    )
    .await;

    // The other board sees it move, without a reload, selection kept.
    wait_js(
        c2,
        &format!("{}.dataset.technician === '{target}'", row_js(&code)),
    )
    .await;
    let after = row_text(c2, &code, ".assignee").await;
    assert_ne!(before, after, "the technician text did not change");
    assert!(after.contains(&name_of(target)), "{after}");
    let still = c2
        .execute(
            &format!("return {}.getAttribute('aria-selected');", row_js(&watched)),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(still, json!("true"), "the other board lost its selection");
    let same_page = c2
        .execute("return window.stillHere === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, json!(true), "the other board reloaded");

    // A state change through the event dialog: hold with a reason, then
    // resume; the other board follows both.
    click(c1, "[data-event='hold']").await;
    wait_js(c1, "document.getElementById('event-dialog').open").await;
    c1.find(Locator::Id("event-reason"))
        .await
        .unwrap()
        .send_keys("客户出差，下周再约")
        .await
        .unwrap();
    click(c1, "#event-submit").await;
    wait_js(c1, "!document.getElementById('event-dialog').open").await;
    wait_js(
        c2,
        &format!("{}.dataset.status === 'on_hold'", row_js(&code)),
    )
    .await;
    assert_eq!(row_text(c2, &code, ".status").await, "暂停");
    click(c1, "[data-event='resume']").await;
    wait_js(
        c2,
        &format!("{}.dataset.status === 'assigned'", row_js(&code)),
    )
    .await;

    // The region filter shows what the API lists for that region.
    let region = mianyang["region"].as_str().expect("a region").to_owned();
    c1.find(Locator::Id("f-region"))
        .await
        .unwrap()
        .select_by_value(&region)
        .await
        .expect("the region is offered");
    let in_region = api_get(
        app,
        &dispatcher,
        &format!("/api/v1/jobs?status=open&region={region}&limit=500"),
    )
    .await;
    let mut want: Vec<String> = in_region["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["code"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    let mut got: Vec<String> = c1
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=\"job-row\"]')).map(r => r.dataset.code);",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want, "rows in region {region}");
    assert!(!got.contains(&zhengzhou["code"].as_str().unwrap().to_owned()));
    click(c1, "#f-reset").await;
    wait_js(
        c1,
        &format!(
            "document.querySelectorAll('[data-testid=\"job-row\"]').length === {}",
            shown.len()
        ),
    )
    .await;

    // (3) A job opened while the boards are open appears on both.
    let fresh = create_job(app, &agent, "赵磊", "成都锦江区", true).await;
    let fresh_code = fresh["code"].as_str().unwrap();
    wait_js(c2, &row_js(fresh_code)).await;
    wait_js(c1, &row_js(fresh_code)).await;

    // (4) The optimiser: a preview of the unassigned jobs, then applied.
    let u1 = create_job(app, &agent, "孙丽", "绵阳游仙区", false).await;
    let u2 = create_job(app, &agent, "周强", "成都武侯区", false).await;
    let (u1, u2) = (
        u1["code"].as_str().unwrap().to_owned(),
        u2["code"].as_str().unwrap().to_owned(),
    );
    for u in [&u1, &u2] {
        wait_js(c1, &row_js(u)).await;
        assert_eq!(row_text(c1, u, ".assignee").await, "未派工");
    }
    click(c1, "#optimize").await;
    wait_js(
        c1,
        "document.querySelectorAll('#plan-assignments li').length >= 2",
    )
    .await;
    for u in [&u1, &u2] {
        wait_js(
            c1,
            &format!("document.querySelector('#plan-assignments li[data-code=\"{u}\"]')"),
        )
        .await;
    }
    wait_js(
        c1,
        "document.querySelectorAll('#map path[stroke=\"#6a1b9a\"]').length >= 2",
    )
    .await;
    let summary = c1
        .find(Locator::Id("plan-summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(summary.contains("km"), "{summary}");
    assert_accessible(c1, "the optimiser preview").await;
    // A preview changes nothing.
    let still_open = api_get(app, &dispatcher, &format!("/api/v1/jobs/{u1}")).await;
    assert!(still_open["assignment"].is_null(), "{still_open}");
    click(c1, "#plan-apply").await;
    wait_js(c1, "document.getElementById('apply-dialog').open").await;
    click(c1, "#apply-confirm").await;
    for u in [&u1, &u2] {
        wait_js(c1, &format!("{}.dataset.technician !== ''", row_js(u))).await;
        let text = row_text(c1, u, ".assignee").await;
        assert!(text != "未派工" && text.contains(" · "), "{u}: {text}");
        let job = api_get(app, &dispatcher, &format!("/api/v1/jobs/{u}")).await;
        assert!(job["assignment"]["technician_id"].is_i64(), "{job}");
        // ... and the other board follows.
        wait_js(c2, &format!("{}.dataset.technician !== ''", row_js(u))).await;
    }
}
