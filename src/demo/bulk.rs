//! A large demo job history for measuring reports at scale
//! (`repairnet demo-history --jobs 1000000`): the same kinds of jobs and
//! shares as [`super::history`], but each job's whole timeline is planned
//! up front, folded through the job state machine (an entry the machine
//! refuses is not written) and written in multi-row batches, with the daily
//! KPI tallies computed on the way. Use cases are not called, so nothing is
//! assigned by the optimiser and no capacity is taken: technicians may be
//! booked beyond their daily capacity. Marked as demo data like the small
//! history (actor `demo-history`, customers 演示客户…, phones 199 0000 ….).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::history::HistoryStats;
use crate::basic::LatLon;
use crate::dispatch::job::{EventName, EventRecord, Job};
use crate::dispatch::model::{
    Customer, CustomerDraft, Damage, ItemCondition, JobCode, JobId, JobKind, RequestKind,
    Technician, TechnicianId,
};
use crate::dispatch::sla::{self, SlaClock};
use crate::dispatch::state::{self, JobEvent, JobState, Satisfaction};
use crate::dispatch::warranty::{self, WarrantyInput};
use crate::dispatch::DispatchContext;
use crate::network::{Service, Station};
use crate::reports::kpi::{self, EntryLine, JobLine};
use crate::store::{self, Db};

/// Jobs generated and written per transaction.
const CHUNK: usize = 20_000;
const ACTOR: &str = "demo-history";
const PROBLEMS: &[&str] = &["开机无反应", "屏幕闪烁", "键盘失灵", "无法充电", "异响"];
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];

/// What happens to a job at an instant: a state change, or an entry that
/// leaves the status as it is.
#[derive(Debug, Clone)]
enum Plan {
    Move(JobEvent),
    Note(EventName),
}

/// Writes `jobs` jobs opened over the `days` days before `end` into `db`
/// (which holds the demo network and no jobs), and the daily KPI tallies.
/// `progress` is told the jobs written so far.
#[allow(
    clippy::too_many_arguments,
    reason = "the history's inputs, each needed"
)]
pub async fn load_bulk(
    db: &Db,
    stations: &[Station],
    technicians: &[Technician],
    ctx: &DispatchContext,
    days: u32,
    jobs: usize,
    seed: u64,
    end: DateTime<Utc>,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<HistoryStats> {
    let tz = ctx.calendar.timezone();
    let first_day = ctx.calendar.local_date(end) - Duration::days(i64::from(days));
    // On-site jobs go to stations with a technician, carry-in to any.
    let onsite: Vec<(&Station, Vec<&Technician>)> = stations
        .iter()
        .filter(|s| s.offers(Service::Onsite))
        .map(|s| {
            (
                s,
                technicians
                    .iter()
                    .filter(|t| t.station_id == s.id)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, t)| !t.is_empty())
        .collect();
    anyhow::ensure!(
        !stations.is_empty() && !onsite.is_empty(),
        "the bulk history needs the demo network"
    );
    let rules = ctx.kpi_rules();
    store::kpi::forget(db).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tallies = store::kpi::Tallies::new();
    let mut stats = HistoryStats::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..jobs {
        // Spread evenly over the days, within opening hours.
        let day =
            first_day + Duration::days(i64::try_from(i * days as usize / jobs.max(1)).unwrap_or(0));
        let minute = rng.gen_range(9 * 60..18 * 60);
        let Some(created) = tz
            .from_local_datetime(
                &day.and_hms_opt(minute / 60, minute % 60, 0)
                    .unwrap_or_default(),
            )
            .earliest()
            .map(|t| t.with_timezone(&Utc))
        else {
            continue;
        };
        if created >= end {
            continue;
        }
        let id = i64::try_from(i + 1)?;
        let carry_in = rng.gen_bool(0.4);
        let (station, tech) = if carry_in {
            (&stations[rng.gen_range(0..stations.len())], None)
        } else {
            let (s, techs) = &onsite[rng.gen_range(0..onsite.len())];
            (*s, Some(techs[rng.gen_range(0..techs.len())]))
        };
        let Some(job) = new_job(&mut rng, ctx, id, station, tech, created) else {
            continue;
        };
        let plan = plan(&mut rng, &job, tech, created);
        let (job, events) = fold(job, plan, end, tech.map(|t| t.id), tz);
        stats.jobs += 1;
        stats.events += events.len();
        if kpi::settled(job.status()) {
            let lines: Vec<EntryLine> = events.iter().map(EntryLine::from).collect();
            store::kpi::add_job(&mut tallies, &JobLine::from(&job), &lines, &rules, 1);
        } else {
            stats.open += 1;
        }
        chunk.push((job, events));
        if chunk.len() == CHUNK {
            store::jobs::insert_bulk(db, &chunk).await?;
            chunk.clear();
            progress(stats.jobs);
        }
    }
    store::jobs::insert_bulk(db, &chunk).await?;
    progress(stats.jobs);
    tallies.retain(|_, c| !c.is_zero());
    store::kpi::replace(db, &tallies, &rules).await?;
    db.analyze().await?;
    Ok(stats)
}

fn new_job(
    rng: &mut ChaCha8Rng,
    ctx: &DispatchContext,
    id: i64,
    station: &Station,
    tech: Option<&Technician>,
    created: DateTime<Utc>,
) -> Option<Job> {
    let kind = if tech.is_some() {
        JobKind::Onsite
    } else {
        JobKind::CarryIn
    };
    let products: Vec<_> = station
        .products
        .iter()
        .filter(|p| tech.is_none_or(|t| t.can_repair(**p)))
        .copied()
        .collect();
    let product = *products.get(rng.gen_range(0..products.len().max(1)))?;
    let today = ctx.calendar.local_date(created);
    let input = WarrantyInput {
        purchase_date: today - Duration::days(rng.gen_range(10..300)),
        request: RequestKind::QualityProblem,
        damage: Damage::None,
        item: ItemCondition::default(),
    };
    let customer = Customer::try_from(CustomerDraft {
        name: format!("演示客户{}{id}", SURNAMES[rng.gen_range(0..SURNAMES.len())]),
        phone: format!("1990000{:04}", id % 10_000),
        tier: Some(if rng.gen_bool(0.1) { "vip" } else { "standard" }.into()),
    })
    .ok()?;
    let targets = sla::targets(&ctx.policy, customer.tier, kind);
    let due = |t| {
        SlaClock {
            calendar: &ctx.calendar,
            target: t,
            started_at: created,
            pauses: &[],
            stopped_at: None,
        }
        .status(created, 1.0)
        .due_at
    };
    let point = LatLon::new(
        station.location.lat + rng.gen_range(-0.03..0.03),
        station.location.lon + rng.gen_range(-0.03..0.03),
    )
    .ok()?;
    Some(Job {
        id: JobId(id),
        code: JobCode::from_random(rng.gen()),
        kind,
        state: JobState::initial(kind),
        version: 1,
        region: Some(station.region),
        division_adcode: Some(station.adcode),
        station_id: Some(station.id.clone()),
        technician_id: None,
        booked_day: None,
        slot_period: None,
        distance_m: None,
        eta_minutes: None,
        customer,
        address: Some(format!("{}附近（演示地址）", station.address)),
        point,
        product,
        warranty_input: input,
        problem: PROBLEMS[rng.gen_range(0..PROBLEMS.len())].into(),
        warranty: warranty::decide(&ctx.policy.warranty, &input, today).ok()?,
        due_at: due(targets.completion),
        first_visit_due_at: targets.first_visit.map(due),
        created_at: created,
        updated_at: created,
        idempotency_key: None,
        request_hash: None,
    })
}

/// The job's timeline, in any order (the fold sorts it); shares as in
/// [`super::history`], plus assignments, transfers, reschedules, address
/// corrections and late notices.
fn plan(
    rng: &mut ChaCha8Rng,
    job: &Job,
    tech: Option<&Technician>,
    t0: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Plan)> {
    let h = Duration::hours;
    let m = Duration::minutes;
    let mut p = Vec::with_capacity(12);
    if rng.gen_bool(0.1) {
        p.push((
            t0 + m(rng.gen_range(10..60)),
            Plan::Note(EventName::Corrected),
        ));
    }
    if rng.gen_bool(0.05) {
        let reason = Some("客户取消".to_owned());
        p.push((
            t0 + h(rng.gen_range(1..20)),
            Plan::Move(JobEvent::Cancelled { reason }),
        ));
        return p;
    }
    let done = if tech.is_some() {
        p.push((
            t0 + m(rng.gen_range(2..60)),
            Plan::Move(JobEvent::Assign { reason: None }),
        ));
        if rng.gen_bool(0.1) {
            let reason = Some("就近改派".to_owned());
            p.push((
                t0 + m(rng.gen_range(61..120)),
                Plan::Move(JobEvent::Assign { reason }),
            ));
        }
        if rng.gen_bool(0.2) {
            p.push((
                t0 + m(rng.gen_range(121..240)),
                Plan::Note(EventName::Rescheduled),
            ));
        }
        let go = t0 + h(rng.gen_range(5..30));
        let arrive = go + m(rng.gen_range(20..90));
        p.push((go, Plan::Move(JobEvent::EnRoute)));
        p.push((arrive, Plan::Move(JobEvent::OnSite)));
        let mut done = arrive + m(rng.gen_range(40..180));
        if rng.gen_bool(0.12) {
            let reason = Some("等待配件".to_owned());
            p.push((arrive + m(30), Plan::Move(JobEvent::Hold { reason })));
            done = arrive + h(rng.gen_range(24..72));
            p.push((done - m(60), Plan::Move(JobEvent::Resume)));
        }
        p.push((done, Plan::Move(JobEvent::Repaired)));
        done
    } else {
        let repairing = t0 + h(rng.gen_range(1..4));
        let ready = repairing + h(rng.gen_range(24..24 * 9));
        p.push((repairing, Plan::Move(JobEvent::Repairing)));
        p.push((ready, Plan::Move(JobEvent::ReadyForPickup)));
        let wait = h(rng.gen_range(1..24 * 12));
        for n in 1..=2 {
            if wait > Duration::days(3 * n) {
                p.push((
                    ready + Duration::days(3 * n) + m(5),
                    Plan::Move(JobEvent::Notified),
                ));
            }
        }
        let handed = if wait < Duration::days(9) {
            p.push((ready + wait, Plan::Move(JobEvent::PickedUp)));
            ready + wait
        } else {
            let at = ready + Duration::days(9) + h(1);
            p.push((at, Plan::Move(JobEvent::MailedBack)));
            at
        };
        if ready > job.due_at && job.due_at - h(2) > t0 {
            p.push((job.due_at - h(2), Plan::Note(EventName::LateNotice)));
        }
        handed
    };
    if tech.is_some() && done > job.due_at && job.due_at - h(2) > t0 {
        p.push((job.due_at - h(2), Plan::Note(EventName::LateNotice)));
    }
    if rng.gen_bool(0.8) {
        let score: i64 = match rng.gen_range(0..100) {
            0..=3 => 1,
            4..=7 => 2,
            8..=19 => 3,
            20..=54 => 4,
            _ => 5,
        };
        let at = done + h(rng.gen_range(2..96));
        if let Ok(satisfaction) = Satisfaction::new(score) {
            p.push((at, Plan::Move(JobEvent::FollowUp { satisfaction })));
        }
        if score <= 2 && rng.gen_bool(0.7) {
            p.push((
                at + h(rng.gen_range(2..48)),
                Plan::Note(EventName::Recontacted),
            ));
        }
    }
    p.push((
        done + h(rng.gen_range(72..144)),
        Plan::Move(JobEvent::Closed),
    ));
    p
}

/// Runs the timeline through the state machine up to `end`; entries the
/// machine refuses are left out.
fn fold(
    mut job: Job,
    mut plan: Vec<(DateTime<Utc>, Plan)>,
    end: DateTime<Utc>,
    tech: Option<TechnicianId>,
    tz: chrono_tz::Tz,
) -> (Job, Vec<EventRecord>) {
    plan.sort_by_key(|(at, _)| *at);
    let mut events = vec![EventRecord::new(
        ACTOR,
        EventName::Created,
        None,
        job.status(),
        job.created_at,
    )];
    for (at, step) in plan {
        if at > end {
            break;
        }
        let status = job.status();
        let entry = match step {
            Plan::Note(name) => EventRecord::new(ACTOR, name, Some(status), status, at),
            Plan::Move(ev) => {
                let Ok(tr) = state::apply(&job.state, &ev, at) else {
                    continue;
                };
                let mut e =
                    EventRecord::new(ACTOR, name_of(&ev), Some(tr.from), tr.state.status, at);
                match &ev {
                    JobEvent::Assign { reason } => {
                        // The visit is booked on the day it was assigned.
                        job.booked_day = Some(at.with_timezone(&tz).date_naive());
                        job.technician_id = tech;
                        e = e.with_reason(reason.clone());
                    }
                    JobEvent::Hold { reason } | JobEvent::Cancelled { reason } => {
                        e = e.with_reason(reason.clone());
                    }
                    JobEvent::FollowUp { satisfaction } => {
                        e = e.with_data(json!({ "satisfaction": satisfaction.value() }));
                    }
                    _ => {}
                }
                job.state = tr.state;
                e
            }
        };
        job.updated_at = at;
        events.push(entry);
    }
    job.version = i64::try_from(events.len()).unwrap_or(1);
    (job, events)
}

fn name_of(ev: &JobEvent) -> EventName {
    ev.name().parse().unwrap_or(EventName::Corrected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::reports::kpi::{periods, tally, Counters, Facts, Granularity, Inputs};

    /// For settled jobs of every shape the bulk plan makes: the daily
    /// tallies add up to the tally of any period (flows summed, the
    /// backlog taken from the period's last day), and they do not change
    /// as time passes after the job's last entry. This is what lets a
    /// report add stored days instead of re-reading finished jobs.
    #[test]
    fn daily_tallies_add_up_to_any_period_and_hold_still() {
        let net = crate::demo::generate(
            crate::places::Gazetteer::snapshot_2020(),
            crate::demo::DEFAULT_SEED,
        )
        .unwrap();
        let ctx = DispatchContext::new(None, std::time::Duration::from_secs(1)).unwrap();
        let rules = ctx.kpi_rules();
        let tz = rules.tz;
        let end: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut settled, mut open) = (0, 0);
        for i in 0..3000 {
            let created = end - Duration::minutes(rng.gen_range(0..60 * 24 * 40));
            let s = &net.stations[rng.gen_range(0..net.stations.len())];
            let techs: Vec<&Technician> = net
                .technicians
                .iter()
                .filter(|t| t.station_id == s.id)
                .collect();
            let tech = (s.offers(Service::Onsite) && !techs.is_empty() && rng.gen_bool(0.6))
                .then(|| techs[rng.gen_range(0..techs.len())]);
            let Some(job) = new_job(&mut rng, &ctx, i + 1, s, tech, created) else {
                continue;
            };
            let p = plan(&mut rng, &job, tech, created);
            let (job, events) = fold(job, p, end, tech.map(|t| t.id), tz);
            if !kpi::settled(job.status()) {
                open += 1;
                continue;
            }
            settled += 1;
            let line = JobLine::from(&job);
            let entries: Vec<EntryLine> = events.iter().map(EntryLine::from).collect();
            let daily = kpi::daily(&line, &entries, &rules);
            let last = entries.iter().map(|e| e.at).max().unwrap();
            let later = last + Duration::minutes(rng.gen_range(0..60 * 24 * 60));
            let facts = Facts::of(&line, &entries, later);
            let inp = Inputs {
                warning_share: rules.warning_share,
                daily_capacity: 0,
                now: later,
            };
            for _ in 0..4 {
                let a =
                    created.with_timezone(&tz).date_naive() - Duration::days(rng.gen_range(0..4));
                let b = a + Duration::days(rng.gen_range(0..40));
                let period = &periods(a, b, Granularity::None, tz)[0];
                let mut sum = Counters::default();
                for (d, c) in daily.iter().filter(|(d, _)| *d >= a && *d <= b) {
                    sum.add_day(c, *d == b);
                }
                assert_eq!(
                    sum,
                    tally(&facts, period, &inp),
                    "job {i} over {a}..{b}: {events:#?}"
                );
            }
        }
        assert!(
            settled > 2000 && open > 50,
            "{settled} settled, {open} open"
        );
    }
}
