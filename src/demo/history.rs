//! A demo job history: `days` of invented jobs over the demo network, so
//! the dashboard and the dispatch board are alive on first start.
//!
//! Deterministic for a seed and an end instant. Every job goes through the
//! real dispatch use cases on a manual clock that walks forward in time:
//! intake with warranty, SLA and auto-assignment, the technicians' and the
//! stations' events, the scheduler's reminders and late notices, customers'
//! follow-ups. Nothing is sent: the history is written without customer
//! messages. It is marked as demo data: every entry it posts carries the
//! actor `demo-history`, customers are named 演示客户… with phone numbers
//! in the unassigned 199 0000 range.
//!
//! What happens to a job (shares per job): on-site 60 %, carry-in 40 %;
//! 5 % cancelled before the work; on-site visits start 1–30 h after
//! opening, 12 % go on hold after the technician arrives (parts) for 1–3
//! days; carry-in repairs take 1–9 days (so some run late); items are
//! collected 0–12 days after the ready message, and those not collected
//! after the third notice are mailed back; 80 % of customers answer the
//! follow-up within 0–4 days (scores weighted towards 4–5, 1–2 about 8 %),
//! 70 % of complaints are called back; completed jobs are closed 3–5 days
//! later. Whatever falls after the end instant has not happened yet: those
//! jobs are open today.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::auth::{Principal, Role, Scope};
use crate::basic::{Clock, ManualClock};
use crate::dispatch::service::Opened;
use crate::dispatch::{DispatchContext, DispatchService};
use crate::network::{Service, SharedIndex};
use crate::store::{self, Db};

/// Days of history made on first start.
pub const DAYS: u32 = 90;
/// Jobs opened per day across the network.
pub const PER_DAY: u32 = 24;

/// What the history made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryStats {
    pub jobs: usize,
    pub events: usize,
    pub open: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Post(&'static str),
    Hold,
    FollowUp(u8),
    Recontact,
    /// Collected, or mailed back when all notices went unanswered.
    Collect,
}

/// Steps waiting for their instant, earliest first (ties in insertion order).
type Queue = BinaryHeap<Reverse<(DateTime<Utc>, u64, i64, Step)>>;

const PROBLEMS: &[&str] = &[
    "开机无反应",
    "屏幕闪烁",
    "键盘失灵",
    "无法充电",
    "异响",
    "蓝屏死机",
];
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];

/// Loads `days` days of history ending at `end` into `db` (which holds the
/// demo network and no jobs). With `tallies_per_write` every write keeps
/// the daily KPI tallies, as a server's do; without, they are rebuilt once
/// at the end, which makes a first start about a third quicker. The use
/// cases' own log lines are silenced (thousands of made-up jobs); the
/// caller logs the totals.
#[allow(
    clippy::too_many_arguments,
    reason = "the history's inputs, each needed"
)]
pub async fn load_history(
    db: &Db,
    index: Arc<SharedIndex>,
    ctx: DispatchContext,
    days: u32,
    per_day: u32,
    seed: u64,
    end: DateTime<Utc>,
    tallies_per_write: bool,
) -> anyhow::Result<HistoryStats> {
    use tracing::instrument::WithSubscriber;
    make_history(db, index, ctx, days, per_day, seed, end, tallies_per_write)
        .with_subscriber(tracing::subscriber::NoSubscriber::default())
        .await
}

#[allow(
    clippy::too_many_arguments,
    reason = "the history's inputs, each needed"
)]
async fn make_history(
    db: &Db,
    index: Arc<SharedIndex>,
    ctx: DispatchContext,
    days: u32,
    per_day: u32,
    seed: u64,
    end: DateTime<Utc>,
    tallies_per_write: bool,
) -> anyhow::Result<HistoryStats> {
    let tz = ctx.calendar.timezone();
    let first_day = ctx.calendar.local_date(end) - Duration::days(i64::from(days));
    let start = tz
        .from_local_datetime(&first_day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(end, |t| t.with_timezone(&Utc));
    let clock = Arc::new(ManualClock::new(start));
    let rules = ctx.kpi_rules();
    let mut svc = DispatchService::new(db.clone(), index.clone(), ctx, true, clock.clone())
        .without_messages();
    if !tallies_per_write {
        svc = svc.without_kpi_upkeep();
    }
    let who = Principal {
        token_id: "demo-history".into(),
        role: Role::Admin,
        scope: Scope::All,
    };
    let snapshot = index.load();
    let stations: Vec<_> = snapshot.iter().cloned().collect();
    anyhow::ensure!(
        !stations.is_empty(),
        "the demo history needs the demo network"
    );
    let onsite: Vec<_> = stations
        .iter()
        .filter(|s| s.offers(Service::Onsite))
        .cloned()
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Every job's arrival first, then their steps as time reaches them.
    let mut arrivals = Vec::new();
    for d in 0..days {
        let day = first_day + Duration::days(i64::from(d));
        for _ in 0..per_day {
            let minute = rng.gen_range(9 * 60..18 * 60);
            let local = day
                .and_hms_opt(minute / 60, minute % 60, 0)
                .unwrap_or_default();
            if let Some(t) = tz.from_local_datetime(&local).earliest() {
                arrivals.push(t.with_timezone(&Utc));
            }
        }
    }
    let mut queue: Queue = BinaryHeap::new();
    let mut tie = 0u64;
    let mut push = |q: &mut BinaryHeap<_>, at: DateTime<Utc>, id: i64, s: Step| {
        tie += 1;
        q.push(Reverse((at, tie, id, s)));
    };
    let mut stats = HistoryStats::default();
    let mut next_scheduler = start;
    let mut arrivals = arrivals.into_iter().peekable();
    loop {
        let next_arrival = arrivals.peek().copied();
        let next_step = queue.peek().map(|Reverse((t, ..))| *t);
        let at = match (next_arrival, next_step) {
            (Some(a), Some(s)) => a.min(s),
            (Some(a), None) => a,
            (None, Some(s)) => s,
            (None, None) => break,
        };
        if at > end {
            break;
        }
        // The server's scheduler, every 12 simulated hours: often enough
        // for reminders 3 days apart, and what makes the history quick.
        while next_scheduler <= at {
            clock.set(next_scheduler);
            svc.run_due().await?;
            next_scheduler += Duration::hours(12);
        }
        clock.set(at);
        if next_arrival == Some(at) {
            arrivals.next();
            let carry_in = rng.gen_bool(0.4);
            let pool = if carry_in { &stations } else { &onsite };
            let s = &pool[rng.gen_range(0..pool.len())];
            let product = s
                .products
                .iter()
                .nth(rng.gen_range(0..s.products.len().max(1)))
                .copied();
            let Some(product) = product else { continue };
            let (dlat, dlon) = (rng.gen_range(-0.03..0.03), rng.gen_range(-0.03..0.03));
            let bought = clock.now() - Duration::days(rng.gen_range(10..300));
            let name = format!(
                "演示客户{}{}",
                SURNAMES[rng.gen_range(0..SURNAMES.len())],
                stats.jobs + 1
            );
            let body = json!({
                "kind": if carry_in { "carry_in" } else { "onsite" },
                "customer": {"name": name, "phone": format!("1990000{:04}", stats.jobs % 10_000),
                             "tier": if rng.gen_bool(0.1) { "vip" } else { "standard" }},
                "lat": s.location.lat + dlat, "lon": s.location.lon + dlon,
                // The point is what locates the job; the text is what a
                // technician reads (invented, near the station).
                "address": format!("{}附近（演示地址）", s.address),
                "product": product.as_str(),
                "purchase_date": tz.from_utc_datetime(&bought.naive_utc()).date_naive().to_string(),
                "problem": PROBLEMS[rng.gen_range(0..PROBLEMS.len())],
                "station_id": if carry_in { Value::from(s.id.as_str()) } else { Value::Null },
            });
            let Ok(Opened::Created { job, .. }) = svc.open_job(&who, body, None).await else {
                continue;
            };
            stats.jobs += 1;
            let id = job.id;
            if rng.gen_bool(0.05) {
                push(
                    &mut queue,
                    at + Duration::hours(rng.gen_range(1..20)),
                    id,
                    Step::Post("cancelled"),
                );
                continue;
            }
            if carry_in {
                let repairing = at + Duration::hours(rng.gen_range(1..4));
                let ready = repairing + Duration::hours(rng.gen_range(24..24 * 9));
                push(&mut queue, repairing, id, Step::Post("repairing"));
                push(&mut queue, ready, id, Step::Post("ready_for_pickup"));
                let collect = ready + Duration::hours(rng.gen_range(1..24 * 12));
                push(&mut queue, collect, id, Step::Collect);
                plan_follow_up(
                    &mut rng,
                    &mut queue,
                    &mut push,
                    collect.max(ready + Duration::days(9)) + Duration::hours(2),
                    id,
                );
            } else {
                let go = at + Duration::hours(rng.gen_range(1..30));
                let arrive = go + Duration::minutes(rng.gen_range(20..90));
                push(&mut queue, go, id, Step::Post("en_route"));
                push(&mut queue, arrive, id, Step::Post("on_site"));
                let mut done = arrive + Duration::minutes(rng.gen_range(40..180));
                if rng.gen_bool(0.12) {
                    push(&mut queue, arrive + Duration::minutes(30), id, Step::Hold);
                    done = arrive + Duration::hours(rng.gen_range(24..72));
                    push(
                        &mut queue,
                        done - Duration::minutes(60),
                        id,
                        Step::Post("resume"),
                    );
                }
                push(&mut queue, done, id, Step::Post("repaired"));
                plan_follow_up(&mut rng, &mut queue, &mut push, done, id);
            }
            continue;
        }
        let Some(Reverse((_, _, id, step))) = queue.pop() else {
            break;
        };
        let key = id.to_string();
        let posted = match step {
            Step::Post(e) => svc.post_event(&who, &key, json!({"event": e}), None).await,
            Step::Hold => {
                svc.post_event(
                    &who,
                    &key,
                    json!({"event": "hold", "reason": "等待配件"}),
                    None,
                )
                .await
            }
            Step::FollowUp(score) => {
                svc.post_event(
                    &who,
                    &key,
                    json!({"event": "follow_up", "satisfaction": score}),
                    None,
                )
                .await
            }
            Step::Recontact => {
                svc.recontact(&who, &key, "已致电客户，说明原因并致歉")
                    .await
            }
            Step::Collect => {
                let picked = svc
                    .post_event(&who, &key, json!({"event": "picked_up"}), None)
                    .await;
                if picked.is_err() {
                    // Not collected by now: mailed back once all notices went unanswered.
                    let mail = clock.now() + Duration::days(9);
                    push(&mut queue, mail, id, Step::Post("mailed_back"));
                }
                picked
            }
        };
        if let Ok(v) = posted {
            stats.events += 1;
            let completed = matches!(v.status.as_str(), "repaired" | "picked_up" | "mailed_back");
            if completed && matches!(step, Step::Post(_) | Step::Collect) {
                push(
                    &mut queue,
                    clock.now() + Duration::days(rng.gen_range(3..6)),
                    id,
                    Step::Post("closed"),
                );
            }
            if let Step::FollowUp(score) = step {
                if score <= 2 && rng.gen_bool(0.7) {
                    push(
                        &mut queue,
                        clock.now() + Duration::hours(rng.gen_range(2..48)),
                        id,
                        Step::Recontact,
                    );
                }
            }
        }
    }
    clock.set(end);
    svc.run_due().await?;
    if !tallies_per_write {
        store::kpi::rebuild(db, &rules).await?;
    }
    stats.open = store::jobs::count_open(db).await?;
    Ok(stats)
}

fn plan_follow_up<F>(
    rng: &mut ChaCha8Rng,
    q: &mut Queue,
    push: &mut F,
    done: DateTime<Utc>,
    id: i64,
) where
    F: FnMut(&mut Queue, DateTime<Utc>, i64, Step),
{
    if rng.gen_bool(0.8) {
        let score = match rng.gen_range(0..100) {
            0..=3 => 1,
            4..=7 => 2,
            8..=19 => 3,
            20..=54 => 4,
            _ => 5,
        };
        push(
            q,
            done + Duration::hours(rng.gen_range(2..96)),
            id,
            Step::FollowUp(score),
        );
    }
}
