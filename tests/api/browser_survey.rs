//! Browser tests of the survey page /survey (headless Chromium, axe-core):
//! a customer rates a finished repair from the keyboard, and every refusal
//! reads as a Chinese sentence.

use std::sync::Arc;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;
use repairnet::auth::Role;
use repairnet::basic::ManualClock;

const PHONE: &str = "13912345678";

/// A carry-in job; `finished` takes it through repair to picked up.
async fn carry_in_job(app: &TestApp, agent: &str, dispatcher: &str, finished: bool) -> Value {
    let (status, job) = call(
        app,
        Method::POST,
        "/api/v1/jobs",
        agent,
        Some(
            json!({"kind": "carry_in", "customer": {"name": "刘洋", "phone": PHONE},
                    "address": "泸州江阳", "product": "notebook", "purchase_date": "2026-10-01"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    if finished {
        let events = format!("/api/v1/jobs/{}/events", job["id"]);
        for e in ["repairing", "ready_for_pickup", "picked_up"] {
            let (status, body) = call(
                app,
                Method::POST,
                &events,
                dispatcher,
                Some(json!({"event": e})),
            )
            .await;
            assert_eq!(status, 200, "{e}: {body}");
        }
    }
    job
}

const ERROR_JS: &str = "!document.getElementById('survey-error').hidden \
    && document.getElementById('survey-error').textContent";

async fn error_after_submit(c: &Client) -> String {
    c.execute(
        "document.getElementById('survey-error').hidden = true;",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Id("submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(c, ERROR_JS)
        .await
        .as_str()
        .expect("a message")
        .to_owned()
}

async fn set_value(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn checked_score(c: &Client) -> Value {
    c.execute(
        "const r = document.querySelector('input[name=score]:checked'); return r && r.value;",
        vec![],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_rates_a_finished_repair_on_the_survey_page() {
    // A clock of the test's own, to run past the survey window at the end.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await
    .expect("sqlite is always there");
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let jobs = Jobs {
        done: carry_in_job(&app, &agent, &dispatcher, true).await,
        open: carry_in_job(&app, &agent, &dispatcher, false).await,
        late: carry_in_job(&app, &agent, &dispatcher, true).await,
    };
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), check_survey(&app, &c, &clock, &agent, &jobs)).await;
}

struct Jobs {
    /// Picked up: ready to rate.
    done: Value,
    /// Still in the workshop.
    open: Value,
    /// Picked up, rated only after the window.
    late: Value,
}

/// Opens the survey for `job` with the right phone and `score` picked.
async fn fill_in(app: &TestApp, c: &Client, job: &Value, score: u8) {
    let code = job["code"].as_str().unwrap();
    c.goto(&app.url(&format!("/survey?code={code}")))
        .await
        .unwrap();
    set_value(c, "last4", &PHONE[PHONE.len() - 4..]).await;
    c.find(Locator::Css(&format!("input[name=score][value='{score}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn check_survey(app: &TestApp, c: &Client, clock: &ManualClock, agent: &str, jobs: &Jobs) {
    let done = &jobs.done;
    let code = done["code"].as_str().unwrap();
    // The link comes by text message: the form is filled on a phone.
    c.set_window_size(390, 844).await.expect("resize");
    c.goto(&app.url(&format!("/survey?code={code}")))
        .await
        .expect("page loads");
    let shown_code = c
        .find(Locator::Id("code"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        shown_code.as_deref(),
        Some(code),
        "the code comes from the link"
    );
    assert_accessible(c, "the survey form").await;

    // Checked in the page before anything is sent.
    assert_eq!(error_after_submit(c).await, "请填写手机号的后四位数字。");
    set_value(c, "last4", "0000").await;
    assert_eq!(error_after_submit(c).await, "请选择一个评分（1 到 5 分）。");

    // The score from the keyboard: the first choice, then arrows through
    // the group (radio buttons move the choice with the arrow keys).
    let five = c
        .find(Locator::Css("input[name=score][value='5']"))
        .await
        .unwrap();
    five.click().await.unwrap();
    assert_eq!(checked_score(c).await, json!("5"));
    for _ in 0..3 {
        c.active_element()
            .await
            .unwrap()
            .send_keys(&Key::Down.to_string())
            .await
            .unwrap();
    }
    assert_eq!(
        checked_score(c).await,
        json!("2"),
        "arrow keys move the score"
    );
    let comment = "工程师很耐心，但等了很久才修好。";
    set_value(c, "comment", comment).await;
    let counter = c
        .find(Locator::Id("comment-count"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        counter,
        format!("还可以写 {} 字", 500 - comment.chars().count())
    );

    // A wrong phone: the server's not_found, in Chinese; the form stays.
    let msg = error_after_submit(c).await;
    assert!(msg.starts_with("维修单号和手机号后四位对不上"), "{msg}");
    let err = c.find(Locator::Id("survey-error")).await.unwrap();
    assert_eq!(
        err.attr("data-code").await.unwrap().as_deref(),
        Some("not_found")
    );
    assert!(c
        .find(Locator::Id("survey-form"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    assert_accessible(c, "the survey form with a refusal").await;
    screenshots(c, "survey-form").await;

    // The right phone records the score; a 2 promises a call back.
    set_value(c, "last4", &PHONE[PHONE.len() - 4..]).await;
    c.find(Locator::Id("submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(c, "!document.getElementById('thanks').hidden").await;
    assert!(!c
        .find(Locator::Id("survey-form"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    let thanks = c
        .find(Locator::Id("thanks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(thanks.contains("您给出的评分：2 分"), "{thanks}");
    assert!(
        c.find(Locator::Id("thanks-callback"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "a low score is told a call back comes"
    );
    let (status, job) = call(
        app,
        Method::GET,
        &format!("/api/v1/jobs/{}", done["id"]),
        agent,
        None,
    )
    .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["satisfaction"], json!(2), "{job}");
    assert_accessible(c, "the survey thank-you").await;
    screenshots(c, "survey-thanks").await;

    // Once is enough.
    fill_in(app, c, done, 4).await;
    assert_eq!(
        error_after_submit(c).await,
        "这张维修单已经评价过了，谢谢您的反馈。"
    );

    // A repair still in the workshop cannot be rated yet.
    fill_in(app, c, &jobs.open, 5).await;
    assert_eq!(
        error_after_submit(c).await,
        "这次维修还没有完成，完成后才能评价。"
    );

    // Nor one picked up longer ago than the survey window (3 days).
    clock.advance(chrono::Duration::days(4));
    fill_in(app, c, &jobs.late, 5).await;
    let msg = error_after_submit(c).await;
    assert!(msg.starts_with("这张维修单的评价期已过"), "{msg}");
}
