//! Browser tests of the technician's day /tech (headless Chromium, axe-core):
//! the visits in the order the day endpoint drives them, a visit worked
//! through 出发 → 到达 → 完成维修, and steps taken without signal that wait
//! on the phone and go out when the connection is back — or are dropped
//! with a message when the server refuses them.
//!
//! The page cannot lose its network in headless Chromium, so the test uses
//! the page's hook: `window.__techOffline = true` makes its requests fail
//! as a dead connection would; clearing it and firing `online` reconnects.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them the
//! test prints why it skipped, unless `CI` is set, where it fails.
//! Screenshots go to `target/screenshots/tech-*.png`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fantoccini::{Client, Locator};
use repairnet::auth::{Role, Scope};
use repairnet::basic::ManualClock;
use repairnet::dispatch::model::TechnicianId;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

/// 2026-12-02 (a Wednesday) 08:00 in Shanghai: both of the day's windows
/// can still be booked.
const MORNING: &str = "2026-12-02T00:00:00Z";
const TODAY: &str = "2026-12-02";
const TOMORROW: &str = "2026-12-03";
const BOUGHT: &str = "2026-10-23";

/// Opens an on-site job booked into a window, as an agent would.
async fn open_job(
    app: &TestApp,
    agent: &str,
    name: &str,
    phone: &str,
    address: &str,
    day: &str,
    period: &str,
) -> Value {
    let body = json!({
        "kind": "onsite",
        "customer": {"name": name, "phone": phone},
        "address": address,
        "product": "notebook",
        "purchase_date": BOUGHT,
        "problem": "开机无显示，风扇狂转",
        "slot": {"date": day, "period": period},
    });
    let (status, job) = call(app, Method::POST, "/api/v1/jobs", agent, Some(body)).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["assignment"]["day"], json!(day), "{job}");
    job
}

/// Makes sure `job` is booked on technician `tech` (a transfer when the
/// auto-assign chose someone else).
async fn book_on(app: &TestApp, dispatcher: &str, job: &Value, tech: i64) {
    if job["assignment"]["technician_id"].as_i64() == Some(tech) {
        return;
    }
    let (status, moved) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{}/assign", job["id"]),
        dispatcher,
        Some(json!({"technician_id": tech, "reason": "同一片区，交给同一位技师"})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
}

async fn job_of(app: &TestApp, dispatcher: &str, id: i64) -> Value {
    let (status, job) = call(
        app,
        Method::GET,
        &format!("/api/v1/jobs/{id}"),
        dispatcher,
        None,
    )
    .await;
    assert_eq!(status, 200, "{job}");
    job
}

fn row_js(code: &str) -> String {
    format!("document.querySelector('#day-today [data-testid=\"job-row\"][data-code=\"{code}\"]')")
}

/// Waits until the visit shows `status` with nothing of it waiting to be
/// sent, i.e. the server has accepted every step taken on it.
async fn settled(c: &Client, code: &str, status: &str) {
    let row = row_js(code);
    wait_js(
        c,
        &format!("{row} && {row}.dataset.status === '{status}' && {row}.dataset.pending === '0'"),
    )
    .await;
}

/// Clicks `css` once it is there and enabled (a card is rebuilt after
/// each step, and its button is held back briefly against a double tap).
async fn click(c: &Client, css: &str) {
    let js = serde_json::to_string(css).expect("a CSS string");
    wait_js(
        c,
        &format!(
            "(() => {{ const e = document.querySelector({js}); return !!e && !e.disabled; }})()"
        ),
    )
    .await;
    // The card may be rebuilt between finding the button and clicking it
    // (a refresh landing then): find it again, a few times.
    let mut last = None;
    for _ in 0..5 {
        match c.find(Locator::Css(css)).await {
            Ok(e) => match e.click().await {
                Ok(()) => return,
                Err(err) => last = Some(err.to_string()),
            },
            Err(err) => last = Some(err.to_string()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("click {css}: {}", last.unwrap_or_default());
}

fn action(code: &str, event: &str) -> String {
    format!("#day-today [data-testid='job-row'][data-code='{code}'] [data-action='{event}']")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_works_the_day_on_a_phone_and_offline() {
    let at: DateTime<Utc> = MORNING.parse().unwrap();
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            clock: Some(Arc::new(ManualClock::new(at))),
            ..Options::default()
        },
    )
    .await
    .expect("sqlite is always there");
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), check_day(&app, &c)).await;
}

async fn check_day(app: &TestApp, c: &Client) {
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;

    // Three visits today on one technician, one tomorrow.
    let first = open_job(
        app,
        &agent,
        "张伟",
        "13912345678",
        "绵阳涪城临园路",
        TODAY,
        "am",
    )
    .await;
    let tech = first["assignment"]["technician_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("not auto-assigned: {first}"));
    let mut today = vec![first];
    for (name, phone, address, period) in [
        ("李娜", "13800001111", "绵阳游仙区", "am"),
        ("王芳", "13700002222", "绵阳涪城区", "pm"),
    ] {
        let j = open_job(app, &agent, name, phone, address, TODAY, period).await;
        book_on(app, &dispatcher, &j, tech).await;
        today.push(j);
    }
    let later = open_job(
        app,
        &agent,
        "赵磊",
        "13600003333",
        "绵阳涪城临园路",
        TOMORROW,
        "am",
    )
    .await;
    book_on(app, &dispatcher, &later, tech).await;
    let technician = scoped_token(
        &app.db,
        Role::Technician,
        Scope::Technician(TechnicianId::new(tech).unwrap()),
    )
    .await;

    // The order to check the page against: the day endpoint's.
    let (status, day) = call(
        app,
        Method::GET,
        &format!("/api/v1/technicians/{tech}/day"),
        &technician,
        None,
    )
    .await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["date"], json!(TODAY));
    let visits = day["visits"].as_array().expect("visits");
    let order: Vec<String> = visits
        .iter()
        .map(|v| v["job"]["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order.len(), 3, "{day}");
    for j in &today {
        assert!(order.contains(&j["code"].as_str().unwrap().to_owned()));
    }
    let id_of = |code: &str| -> i64 {
        visits
            .iter()
            .find(|v| v["job"]["code"] == json!(code))
            .and_then(|v| v["job"]["id"].as_i64())
            .unwrap()
    };

    // A token of another role gets the log-in form with the reason.
    c.set_window_size(390, 844).await.expect("resize");
    c.goto(&app.url(&format!("/tech#token={agent}")))
        .await
        .expect("page loads");
    let why = wait_js(
        c,
        "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent",
    )
    .await;
    assert!(why.as_str().unwrap().contains("角色"), "{why}");
    assert_accessible(c, "the log-in form").await;
    screenshot(c, "tech-login", 390, 844).await;
    c.set_window_size(390, 844).await.expect("resize");

    // (1) The day on a phone, the token taken out of the address bar. (A
    // new fragment alone would not load the page again.)
    c.goto("about:blank").await.expect("blank");
    c.goto(&app.url(&format!("/tech#token={technician}")))
        .await
        .expect("page loads");
    wait_js(c, "document.body.dataset.ready === 'true'").await;
    let url = c.current_url().await.expect("url");
    assert!(!url.as_str().contains("token="), "{url}");
    let shown = c
        .execute(
            "return Array.from(document.querySelectorAll('#day-today [data-testid=\"job-row\"]')).map(r => r.dataset.code);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(order), "today's visits in driving order");
    for code in &order {
        let row = row_js(code);
        let links = c
            .execute(
                &format!(
                    "const r = {row}; return [r.querySelector('a[href^=\"tel:\"]').getAttribute('href'), \
                     r.querySelector('a[href^=\"geo:\"]').getAttribute('href'), r.textContent];"
                ),
                vec![],
            )
            .await
            .unwrap();
        let job = &visits
            .iter()
            .find(|v| v["job"]["code"] == json!(code))
            .unwrap()["job"];
        assert_eq!(
            links[0],
            json!(format!(
                "tel:{}",
                job["customer"]["phone"].as_str().unwrap()
            ))
        );
        assert!(links[1].as_str().unwrap().starts_with("geo:"), "{links}");
        let text = links[2].as_str().unwrap();
        for want in ["已派工", "开机无显示", "完成时限"] {
            assert!(text.contains(want), "{code}: no {want} in {text}");
        }
        assert!(text.contains("上午") || text.contains("下午"), "{text}");
    }
    // Tomorrow is one tap away.
    click(c, "#tab-tomorrow").await;
    let tomorrow_row = format!(
        "#day-tomorrow [data-testid='job-row'][data-code='{}']",
        later["code"].as_str().unwrap()
    );
    wait_js(
        c,
        &format!(
            "!document.getElementById('day-tomorrow').hidden && document.querySelector(\"{tomorrow_row}\")"
        ),
    )
    .await;
    assert_accessible(c, "tomorrow's visits").await;
    click(c, "#tab-today").await;
    wait_js(c, "!document.getElementById('day-today').hidden").await;
    assert_accessible(c, "today's visits").await;
    screenshots(c, "tech").await;
    c.set_window_size(390, 844).await.expect("resize");

    // (2) The first visit worked through, with a note.
    let one = &order[0];
    click(c, &action(one, "en_route")).await;
    settled(c, one, "en_route").await;
    click(c, &action(one, "on_site")).await;
    settled(c, one, "on_site").await;
    let note = "更换主板，开机测试正常";
    c.find(Locator::Css(&format!(
        "#day-today [data-testid='job-row'][data-code='{one}'] textarea"
    )))
    .await
    .expect("the note field")
    .send_keys(note)
    .await
    .expect("typing");
    click(c, &action(one, "repaired")).await;
    // Finished: out of the driving order, into today's finished list.
    let finished = format!(
        "document.querySelector('#day-today [data-testid=\"done-row\"][data-code=\"{one}\"]')"
    );
    wait_js(
        c,
        &format!(
            "{finished} && {finished}.dataset.pending === '0' && !{}",
            row_js(one)
        ),
    )
    .await;
    let shown_note = c
        .execute(&format!("return {finished}.textContent;"), vec![])
        .await
        .unwrap();
    assert!(shown_note.as_str().unwrap().contains(note), "{shown_note}");
    let done = job_of(app, &dispatcher, id_of(one)).await;
    assert_eq!(done["status"], json!("repaired"), "{done}");
    let last = done["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], json!("repaired"), "{last}");
    assert_eq!(last["data"]["note"], json!(note), "{last}");

    // (3) No signal: 出发 on the second visit waits on the phone.
    let two = &order[1];
    c.execute("window.__techOffline = true;", vec![])
        .await
        .unwrap();
    click(c, &action(two, "en_route")).await;
    wait_js(
        c,
        "document.getElementById('queue').dataset.count === '1' && !document.getElementById('queue').hidden",
    )
    .await;
    let waiting = c
        .find(Locator::Id("queue"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(waiting.contains("1 项操作待发送"), "{waiting}");
    assert!(waiting.contains("出发"), "{waiting}");
    // Shown as done already, marked as waiting.
    let row = row_js(two);
    wait_js(
        c,
        &format!("{row}.dataset.status === 'en_route' && {row}.dataset.pending === '1'"),
    )
    .await;
    wait_js(
        c,
        "document.getElementById('net').dataset.state === 'offline'",
    )
    .await;
    let still = job_of(app, &dispatcher, id_of(two)).await;
    assert_eq!(still["status"], json!("assigned"), "nothing was sent");
    assert_accessible(c, "offline with a step waiting").await;
    screenshots(c, "tech-offline").await;
    c.set_window_size(390, 844).await.expect("resize");

    // Back online: the queue goes out and empties.
    c.execute(
        "window.__techOffline = false; window.dispatchEvent(new Event('online'));",
        vec![],
    )
    .await
    .unwrap();
    wait_js(c, "document.getElementById('queue').dataset.count === '0'").await;
    settled(c, two, "en_route").await;
    let sent = job_of(app, &dispatcher, id_of(two)).await;
    assert_eq!(sent["status"], json!("en_route"), "{sent}");

    // A step left waiting survives closing the page: it goes out after
    // the page is opened again (the tab keeps its token).
    c.execute("window.__techOffline = true;", vec![])
        .await
        .unwrap();
    click(c, &action(two, "on_site")).await;
    wait_js(c, "document.getElementById('queue').dataset.count === '1'").await;
    c.refresh().await.expect("reload");
    wait_js(c, "document.body.dataset.ready === 'true'").await;
    wait_js(c, "document.getElementById('queue').dataset.count === '0'").await;
    settled(c, two, "on_site").await;
    let arrived = job_of(app, &dispatcher, id_of(two)).await;
    assert_eq!(arrived["status"], json!("on_site"), "{arrived}");

    // (4) A step the server refuses is dropped with a message: 出发 taken
    // offline on the third visit while the dispatcher sets it en route.
    let three = &order[2];
    c.execute("window.__techOffline = true;", vec![])
        .await
        .unwrap();
    click(c, &action(three, "en_route")).await;
    wait_js(c, "document.getElementById('queue').dataset.count === '1'").await;
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{}/events", id_of(three)),
        &dispatcher,
        Some(json!({"event": "en_route"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    c.execute(
        "window.__techOffline = false; window.dispatchEvent(new Event('online'));",
        vec![],
    )
    .await
    .unwrap();
    wait_js(c, "document.getElementById('queue').dataset.count === '0'").await;
    let refused = wait_js(
        c,
        "document.querySelector('#refused .refusal') && document.querySelector('#refused .refusal').textContent",
    )
    .await;
    let refused = refused.as_str().unwrap();
    assert!(
        refused.contains(three.as_str()) && refused.contains("没有被接受"),
        "{refused}"
    );
    settled(c, three, "en_route").await;
    assert_accessible(c, "a refused step").await;
    screenshot(c, "tech-refused", 390, 844).await;
    c.set_window_size(390, 844).await.expect("resize");
    c.execute("window.scrollTo(0, document.body.scrollHeight);", vec![])
        .await
        .unwrap();
    screenshot(c, "tech-done", 390, 844).await;
}
