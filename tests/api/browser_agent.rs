//! The /agent page in a real headless Chromium: a call-centre agent opens an
//! on-site job from the keyboard alone, and a caller's number brings up
//! their earlier jobs. The page must show what the API holds.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them the
//! tests print why they skipped, unless `CI` is set, where they fail.
//! Screenshots go to `target/screenshots/agent-*.png`.

use chrono::{Duration, Utc};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use repairnet::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

const ADDRESS: &str = "绵阳涪城临园路";

/// A calendar day `days` before today in Asia/Shanghai, `YYYY-MM-DD`.
fn shanghai_day(days_ago: i64) -> String {
    let now = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    (now.date_naive() - Duration::days(days_ago))
        .format("%Y-%m-%d")
        .to_string()
}

/// Presses keys on whatever has the focus, as a person would.
async fn press(c: &Client, keys: &[Key]) {
    let mut seq = KeyActions::new("keyboard".into());
    for k in keys {
        let ch: char = (*k).into();
        seq = seq
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
    }
    c.perform_actions(seq).await.expect("key presses");
    c.release_actions().await.expect("release keys");
}

/// Ctrl+A: selects the whole text of the focused field, so typing replaces it.
async fn select_all(c: &Client) {
    let ctrl: char = Key::Control.into();
    let seq = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: ctrl })
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' })
        .then(KeyAction::Up { value: ctrl });
    c.perform_actions(seq).await.expect("key presses");
    c.release_actions().await.expect("release keys");
}

/// The `data-testid` (or id) of the focused element.
async fn focused(c: &Client) -> String {
    c.execute(
        "const a = document.activeElement; return a ? (a.dataset.testid || a.id || a.tagName) : '';",
        vec![],
    )
    .await
    .expect("script runs")
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Presses Tab until `testid` has the focus (at most `max` presses).
async fn tab_to(c: &Client, testid: &str, max: usize) {
    for _ in 0..max {
        if focused(c).await == testid {
            return;
        }
        press(c, &[Key::Tab]).await;
    }
    assert_eq!(focused(c).await, testid, "Tab never reached {testid}");
}

/// Types into the focused field.
async fn type_text(c: &Client, text: &str) {
    c.active_element()
        .await
        .expect("a focused element")
        .send_keys(text)
        .await
        .expect("typing");
}

async fn value_of(c: &Client, testid: &str) -> Value {
    c.execute(
        &format!("return document.querySelector('[data-testid=\"{testid}\"]').value;"),
        vec![],
    )
    .await
    .expect("script runs")
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} is on the page"))
        .text()
        .await
        .expect("text")
}

/// Opens the console with `token` in the fragment and waits until it is ready.
async fn open_console(app: &TestApp, c: &Client, token: &str) {
    c.goto(&app.url(&format!("/agent#token={token}")))
        .await
        .expect("page loads");
    wait_js(c, "document.body.dataset.ready").await;
    let url = c.current_url().await.expect("url");
    assert!(
        !url.as_str().contains("token="),
        "the token stays in the address bar: {url}"
    );
}

/// The jobs the API holds for a phone number (`?phone=`, or the open jobs
/// filtered here on a server without that filter).
async fn jobs_for_phone(app: &TestApp, token: &str, phone: &str) -> Vec<Value> {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/jobs?phone={phone}&limit=100")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    if res.status().as_u16() == 200 {
        let body: Value = res.json().await.expect("json");
        return body["items"].as_array().expect("items").clone();
    }
    let body: Value = app
        .client
        .get(app.url("/api/v1/jobs?status=open&limit=500"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|j| j["customer"]["phone"] == json!(phone))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_opens_an_onsite_job_from_the_keyboard() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), keyboard_intake(&app, &c, &agent)).await;
}

async fn keyboard_intake(app: &TestApp, c: &Client, agent: &str) {
    let phone = "13700005678";
    let purchase_date = shanghai_day(40);
    open_console(app, c, agent).await;
    assert_accessible(c, "the empty console").await;

    // The console opens with the caller's number focused.
    assert_eq!(focused(c).await, "caller-phone");
    type_text(c, phone).await;
    wait_js(
        c,
        &format!("document.body.dataset.historyFor === '{phone}'"),
    )
    .await;
    tab_to(c, "customer-name", 3).await;
    type_text(c, "王芳").await;
    tab_to(c, "address", 3).await;
    type_text(c, ADDRESS).await;
    tab_to(c, "product", 3).await;
    press(c, &[Key::Down]).await;
    assert_eq!(value_of(c, "product").await, json!("notebook"));
    tab_to(c, "kind", 3).await;
    assert_eq!(value_of(c, "kind").await, json!("onsite"));
    tab_to(c, "purchase-date", 3).await;
    type_text(c, &purchase_date).await;
    tab_to(c, "problem", 5).await;
    type_text(c, "开机黑屏，风扇不转").await;

    // The preview: the division, nearby stations, the earliest slots and
    // the warranty decision, as the API answers them.
    wait_js(
        c,
        "document.body.dataset.preview === 'ready' && document.body.dataset.warranty",
    )
    .await;
    let division = text_of(c, "#division").await;
    assert!(division.contains("涪城区"), "division line: {division:?}");
    let (_, nearest) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?address={ADDRESS}&k=1&service=onsite&product=notebook"
        ))
        .await;
    let first_onsite = nearest["results"][0]["station"]["id"]
        .as_str()
        .expect("an on-site station near the address");
    let ok_ids = c
        .execute(
            "return [...document.querySelectorAll('#station-list li.is-ok')].map(li => li.dataset.id);",
            vec![],
        )
        .await
        .expect("script runs");
    assert!(
        ok_ids
            .as_array()
            .is_some_and(|ids| ids.contains(&json!(first_onsite))),
        "{first_onsite} is not listed as able to come: {ok_ids}"
    );
    let slots = c
        .find_all(Locator::Css("#slot-list input[type=radio]"))
        .await
        .expect("slots");
    assert!(!slots.is_empty(), "no visit slots offered");
    let warranty = text_of(c, "#warranty-decision").await;
    assert_eq!(warranty, "免费维修", "40 days after purchase");
    assert_accessible(c, "the console with a preview").await;
    screenshots(c, "agent").await;

    // Enter twice on the button: one job, its code shown large.
    tab_to(c, "create-job", 6).await;
    press(c, &[Key::Enter, Key::Enter]).await;
    let shown = wait_js(
        c,
        "document.body.dataset.created && document.querySelector('[data-testid=\"job-code\"]').textContent",
    )
    .await;
    let jobs = jobs_for_phone(app, agent, phone).await;
    assert_eq!(jobs.len(), 1, "exactly one job for the caller: {jobs:?}");
    let job = &jobs[0];
    assert_eq!(shown, job["code"], "the code shown is the job's");
    assert_eq!(job["kind"], json!("onsite"));
    assert_eq!(job["customer"]["name"], json!("王芳"));
    assert_eq!(job["product"], json!("notebook"));
    assert_eq!(job["purchase_date"], json!(purchase_date));
    assert_eq!(job["division_adcode"], json!("510703"));
    assert!(
        job["assignment"].is_object(),
        "the recommended technician was booked: {job}"
    );
    let result = c.find(Locator::Id("result")).await.expect("#result");
    assert!(result.is_displayed().await.expect("displayed"));
    let due = text_of(c, "#result-due").await;
    assert!(!due.trim().is_empty() && due != "—", "due time: {due:?}");
    // The caller's record now lists the new job.
    wait_js(
        c,
        &format!(
            "document.querySelector('#history-list [data-code=\"{}\"]')",
            job["code"].as_str().unwrap()
        ),
    )
    .await;
    assert_accessible(c, "the console after creation").await;
    screenshots(c, "agent-created").await;

    // The next call starts from a clean form with the number focused.
    tab_to(c, "next-call", 3).await;
    press(c, &[Key::Enter]).await;
    wait_js(c, "document.getElementById('result').hidden").await;
    assert_eq!(focused(c).await, "caller-phone");
    for field in [
        "caller-phone",
        "customer-name",
        "address",
        "purchase-date",
        "problem",
    ] {
        assert_eq!(value_of(c, field).await, json!(""), "{field} is cleared");
    }
}

/// Replaces the address and waits for the preview of the new one.
async fn enter_address(c: &Client, address: &str) {
    c.find(Locator::Css("[data-testid=address]"))
        .await
        .expect("address field")
        .click()
        .await
        .expect("click");
    // The preview for the address before may still read 'ready': wait for
    // the division line to change as well.
    let before = text_of(c, "#division").await;
    select_all(c).await;
    type_text(c, address).await;
    wait_js(
        c,
        &format!(
            "document.body.dataset.preview === 'ready' \
             && document.querySelector('#address').value === {address:?} \
             && document.querySelector('#division').textContent !== {before:?}"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_line_shows_towns_former_names_and_conflicts() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), async move {
        open_console(&app, &c, &agent).await;
        // A town: the line names it under its county.
        enter_address(&c, "北滘镇兴业东路2号").await;
        let line = text_of(&c, "#division").await;
        assert!(
            line.contains("顺德区") && line.contains("北滘镇"),
            "{line:?}"
        );
        assert!(line.contains("兴业东路2号"), "{line:?}");
        // A former name: today's district, and what the caller said.
        enter_address(&c, "上海闸北区天目西路").await;
        let line = text_of(&c, "#division").await;
        assert!(
            line.contains("静安区") && line.contains("原称 闸北区"),
            "{line:?}"
        );
        // A county the city does not hold: a warning to check with the caller.
        enter_address(&c, "广州市鼓楼区").await;
        let warn = text_of(&c, "[data-test=division-conflict]").await;
        assert!(warn.contains("鼓楼区") && warn.contains("核实"), "{warn:?}");
        screenshots(&c, "agent-address-conflict").await;
        // A name shared by two districts: the choices, the likelier first.
        enter_address(&c, "南山区").await;
        wait_js(&c, "!document.querySelector('#division-choices').hidden").await;
        let first = text_of(&c, "#division-list .choice label").await;
        assert!(first.contains("深圳市"), "{first:?}");
        assert_accessible(&c, "the console with address choices").await;
        screenshots(&c, "agent-address-choices").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_number_brings_up_their_earlier_job() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let phone = "13912340007";
    let res = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(&agent)
        .json(&json!({
            "kind": "onsite", "customer": {"name": "赵敏", "phone": phone},
            "address": ADDRESS, "product": "desktop",
            "purchase_date": shanghai_day(200), "problem": "蓝屏",
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 201);
    let job: Value = res.json().await.expect("json");
    let code = job["code"].as_str().expect("a code").to_owned();
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), async {
        open_console(&app, &c, &agent).await;
        assert_eq!(focused(&c).await, "caller-phone");
        type_text(&c, phone).await;
        let card = format!("#history-list [data-code=\"{code}\"]");
        wait_js(&c, &format!("document.querySelector('{card}')")).await;
        let summary = text_of(&c, &format!("{card} summary")).await;
        assert!(summary.contains(&code), "{summary:?}");
        let status = job["status"].as_str().unwrap();
        let label = c
            .execute(&format!("return Staff.STATUS['{status}'];"), vec![])
            .await
            .unwrap();
        assert!(
            summary.contains(label.as_str().unwrap()),
            "{summary:?} lacks the status {label}"
        );
        // Opened: what the agent reads out, and the job's history.
        let readout = text_of(&c, &format!("{card} .readout")).await;
        assert!(
            readout.contains(&code) && readout.contains("0007"),
            "{readout:?}"
        );
        let events = c
            .find_all(Locator::Css(&format!("{card} .timeline li")))
            .await
            .unwrap();
        assert_eq!(events.len(), job["events"].as_array().unwrap().len());
        let caller = text_of(&c, "#caller-summary").await;
        assert!(caller.contains("1 张工单"), "{caller:?}");
        assert_accessible(&c, "the console with a caller's earlier job").await;
        screenshots(&c, "agent-history").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_role_gets_the_log_in_form() {
    let app = spawn_app().await;
    let manager = token(&app.db, Role::Manager).await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), async {
        c.goto(&app.url(&format!("/agent#token={manager}")))
            .await
            .expect("page loads");
        let reason = wait_js(
            &c,
            "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent",
        )
        .await;
        assert!(reason.as_str().unwrap().contains("角色"), "{reason}");
        let app_hidden = c
            .execute("return document.getElementById('app').hidden;", vec![])
            .await
            .unwrap();
        assert_eq!(app_hidden, json!(true));
        assert_accessible(&c, "the log-in form with a reason").await;
    })
    .await;
}

/// Whether the `<dialog>` with this id is open.
async fn dialog_open(c: &Client, id: &str) -> bool {
    c.execute(
        &format!("return document.getElementById('{id}').open;"),
        vec![],
    )
    .await
    .expect("script runs")
        == json!(true)
}

/// The window chosen in the reschedule dialog; the radio has the focus.
async fn checked_slot(c: &Client) -> (String, String) {
    let v = c
        .execute(
            "const i = document.querySelector('#reschedule-slot-list input:checked');\
             return i === document.activeElement ? [i.dataset.date, i.dataset.period] : null;",
            vec![],
        )
        .await
        .expect("script runs");
    let field = |k: usize| v[k].as_str().expect("a chosen window").to_owned();
    (field(0), field(1))
}

/// The job as the API holds it now.
async fn job_now(app: &TestApp, token: &str, code: &str) -> Value {
    let (st, job) = call(
        app,
        Method::GET,
        &format!("/api/v1/jobs/{code}"),
        token,
        None,
    )
    .await;
    assert_eq!(st, 200, "{job}");
    job
}

fn last_event(job: &Value) -> Value {
    job["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_moves_corrects_and_cancels_their_job_from_the_record() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let phone = "13811112222";
    let (st, made) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(json!({
            "kind": "onsite", "customer": {"name": "李雷", "phone": phone},
            "address": ADDRESS, "product": "notebook",
            "purchase_date": shanghai_day(40), "problem": "键盘失灵",
        })),
    )
    .await;
    assert_eq!(st, 201, "{made}");
    let code = made["code"].as_str().expect("a code").to_owned();
    // Opened without a window, the visit is booked for a day (period null).
    let booked = (
        made["assignment"]["day"]
            .as_str()
            .expect("the job is booked")
            .to_owned(),
        made["assignment"]["period"].as_str().map(str::to_owned),
    );
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(
        c.clone(),
        serve_from_the_record(&app, &c, &agent, phone, &code, booked),
    )
    .await;
}

async fn serve_from_the_record(
    app: &TestApp,
    c: &Client,
    agent: &str,
    phone: &str,
    code: &str,
    booked: (String, Option<String>),
) {
    open_console(app, c, agent).await;
    type_text(c, phone).await;
    let card = format!("#history-list [data-code=\"{code}\"]");
    wait_js(c, &format!("document.querySelector('{card}')")).await;
    let open = c
        .execute(
            &format!("return document.querySelector('{card}').open;"),
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(open, json!(true), "the caller's open job is shown opened");

    // 改约, from the keyboard alone: the dialog offers the technician's
    // windows, the earliest chosen; one down arrow picks the next.
    tab_to(c, "job-reschedule", 40).await;
    press(c, &[Key::Enter]).await;
    wait_js(
        c,
        "document.getElementById('reschedule-dialog').dataset.slots === 'ready'",
    )
    .await;
    assert_eq!(focused(c).await, "reschedule-slot-0");
    let offered = c
        .execute(
            "return document.querySelectorAll('#reschedule-slot-list input').length;",
            vec![],
        )
        .await
        .expect("script runs");
    assert!(
        offered.as_u64().is_some_and(|n| n >= 2),
        "windows offered: {offered}"
    );
    assert_accessible(c, "the reschedule dialog").await;
    screenshots(c, "agent-reschedule").await;
    assert!(
        dialog_open(c, "reschedule-dialog").await,
        "resizing closed it"
    );
    assert_eq!(focused(c).await, "reschedule-slot-0");
    // Down arrows until a window after the booked one is chosen.
    let later = |day: &str, period: &str| match &booked.1 {
        Some(p) => (day, period) > (booked.0.as_str(), p.as_str()),
        None => day > booked.0.as_str(),
    };
    let (mut day, mut period) = (String::new(), String::new());
    for _ in 0..offered.as_u64().unwrap_or_default() {
        press(c, &[Key::Down]).await;
        (day, period) = checked_slot(c).await;
        if later(&day, &period) {
            break;
        }
    }
    assert!(later(&day, &period), "no window after {booked:?} offered");
    tab_to(c, "reschedule-reason", 3).await;
    type_text(c, "客户那天不在家").await;
    tab_to(c, "reschedule-submit", 3).await;
    press(c, &[Key::Enter]).await;
    wait_js(
        c,
        "!document.getElementById('reschedule-dialog').open && document.getElementById('history-notice').textContent",
    )
    .await;
    assert_eq!(focused(c).await, "job-reschedule", "focus is back on 改约");
    let job = job_now(app, agent, code).await;
    assert_eq!(
        (&job["assignment"]["day"], &job["assignment"]["period"]),
        (&json!(day), &json!(period)),
        "{job}"
    );
    let last = last_event(&job);
    assert_eq!(last["event"], json!("rescheduled"), "{last}");
    assert_eq!(last["reason"], json!("客户那天不在家"));
    let timeline = text_of(c, &format!("{card} .timeline")).await;
    assert!(timeline.contains("改约"), "{timeline:?}");

    // 修改信息: the caller's new number; only it is sent.
    let new_phone = "13933334444";
    tab_to(c, "job-correct", 3).await;
    press(c, &[Key::Enter]).await;
    assert!(dialog_open(c, "correct-dialog").await);
    assert_eq!(focused(c).await, "correct-name");
    assert_eq!(
        value_of(c, "correct-phone").await,
        json!(phone),
        "prefilled"
    );
    assert_eq!(value_of(c, "correct-address").await, json!(ADDRESS));
    tab_to(c, "correct-phone", 3).await;
    select_all(c).await;
    type_text(c, new_phone).await;
    assert_accessible(c, "the correct-details dialog").await;
    tab_to(c, "correct-submit", 6).await;
    press(c, &[Key::Enter]).await;
    wait_js(c, "!document.getElementById('correct-dialog').open").await;
    assert_eq!(focused(c).await, "job-correct", "focus is back on 修改信息");
    let job = job_now(app, agent, code).await;
    assert_eq!(job["customer"]["phone"], json!(new_phone), "{job}");
    let last = last_event(&job);
    assert_eq!(
        (&last["event"], &last["data"]["fields"]),
        (&json!("corrected"), &json!(["customer.phone"])),
        "{last}"
    );
    let notice = text_of(c, "#history-notice").await;
    assert!(notice.contains("电话"), "{notice:?}");

    // 取消工单: Esc closes the dialog; a reason is required.
    tab_to(c, "job-cancel", 3).await;
    press(c, &[Key::Enter]).await;
    assert!(dialog_open(c, "cancel-dialog").await);
    press(c, &[Key::Escape]).await;
    wait_js(c, "!document.getElementById('cancel-dialog').open").await;
    assert_eq!(focused(c).await, "job-cancel", "Esc gives the focus back");
    press(c, &[Key::Enter]).await;
    assert_eq!(focused(c).await, "cancel-reason");
    tab_to(c, "cancel-submit", 3).await;
    press(c, &[Key::Enter]).await;
    wait_js(c, "!document.getElementById('cancel-error').hidden").await;
    assert!(
        dialog_open(c, "cancel-dialog").await,
        "no reason, no cancellation"
    );
    assert_eq!(focused(c).await, "cancel-reason");
    type_text(c, "客户已自行修好").await;
    assert_accessible(c, "the cancel dialog").await;
    tab_to(c, "cancel-submit", 3).await;
    press(c, &[Key::Enter]).await;
    wait_js(c, "!document.getElementById('cancel-dialog').open").await;
    let job = job_now(app, agent, code).await;
    assert_eq!(job["status"], json!("cancelled"), "{job}");
    assert_eq!(last_event(&job)["reason"], json!("客户已自行修好"));
    let summary = text_of(c, &format!("{card} summary")).await;
    assert!(summary.contains("已取消"), "{summary:?}");
    let actions = c
        .find_all(Locator::Css(&format!("{card} .job-actions")))
        .await
        .expect("find");
    assert!(actions.is_empty(), "a cancelled job offers no actions");
    assert_accessible(c, "the console after the cancellation").await;
}
