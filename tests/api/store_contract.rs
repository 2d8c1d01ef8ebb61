//! The storage contract, run unchanged against SQLite and PostgreSQL.

use crate::helpers::*;
use crate::on_both_backends;
use chrono::{DateTime, NaiveDate, Utc};
use repairnet::basic::{Adcode, LatLon};
use repairnet::dispatch::intake::Period;
use repairnet::dispatch::job::{EventName, EventRecord, Job};
use repairnet::dispatch::model::{
    Customer, CustomerDraft, Damage, ItemCondition, JobCode, JobId, JobKind, RequestKind,
    Technician, TechnicianDraft, TechnicianId,
};
use repairnet::dispatch::state::{JobEvent, JobState, JobStatus};
use repairnet::dispatch::warranty::{self, WarrantyInput};
use repairnet::dispatch::Policy;
use repairnet::network::import::{parse, Format};
use repairnet::network::Product;
use repairnet::network::StationId;
use repairnet::places::Region;
use repairnet::store::jobs::{self, Booked, Booking, JobFilter, JobWrite, Written};
use repairnet::store::{stations, Db, StoreError};
use std::collections::HashMap;

async fn fresh(backend: Backend) -> Option<Db> {
    let url = fresh_database(backend).await?;
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrations are idempotent");
    Some(db)
}

fn sample() -> Vec<repairnet::network::Station> {
    let parsed = parse(Format::Csv, repairnet::demo::STATIONS_CSV.as_bytes()).unwrap();
    assert!(parsed.errors.is_empty());
    parsed.stations
}

async fn station_rows_round_trip(backend: Backend) {
    let Some(db) = fresh(backend).await else {
        return;
    };
    let all = sample();
    let v0 = db.directory_version().await.unwrap();
    let counts = stations::upsert_many(&db, &all).await.unwrap();
    assert_eq!(counts.inserted, all.len());
    assert!(db.directory_version().await.unwrap() > v0);
    let mut loaded = stations::load_all(&db).await.unwrap();
    let mut expected = all.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded, expected);

    let first = &all[0];
    assert!(matches!(
        stations::insert(&db, first).await,
        Err(StoreError::Duplicate(_))
    ));
    let mut changed = first.clone();
    changed.name = "新名字".into();
    stations::update(&db, &changed).await.unwrap();
    assert_eq!(stations::get(&db, &first.id).await.unwrap().name, "新名字");
    stations::delete(&db, &first.id).await.unwrap();
    assert!(matches!(
        stations::get(&db, &first.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        stations::delete(&db, &first.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        stations::update(&db, &changed).await,
        Err(StoreError::NotFound)
    ));
    let missing = StationId::parse("nope").unwrap();
    assert!(matches!(
        stations::get(&db, &missing).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(stations::count(&db).await.unwrap() as usize, all.len() - 1);
}
on_both_backends!(station_rows_round_trip);

async fn tokens_are_found_by_hash_only(backend: Backend) {
    let Some(db) = fresh(backend).await else {
        return;
    };
    use repairnet::auth::{hash_token, new_token, Role, Scope};
    use repairnet::store::tokens::{self, NewToken};
    let t = new_token();
    let hash = hash_token(&t);
    let expires = Utc::now() + chrono::Duration::days(3);
    let id = tokens::insert(
        &db,
        &NewToken {
            hash: &hash,
            role: Role::Dispatcher,
            scope: Scope::Region(Region::Southwest),
            label: "西南调度",
            expires_at: Some(expires),
        },
    )
    .await
    .unwrap();
    let found = tokens::find(&db, &hash).await.unwrap().unwrap();
    assert_eq!(found.id, id);
    assert_eq!(found.role, Role::Dispatcher);
    assert_eq!(found.scope, Scope::Region(Region::Southwest));
    assert_eq!(found.label, "西南调度");
    assert!(found.is_live(Utc::now()));
    assert!(!found.is_live(expires + chrono::Duration::seconds(1)));
    // The secret itself finds nothing: only its hash is stored.
    assert!(tokens::find(&db, &t).await.unwrap().is_none());
    // Revoked: still listed, no longer live; an unknown id is NotFound.
    tokens::revoke(&db, &id).await.unwrap();
    let listed = tokens::list(&db).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked && !listed[0].is_live(Utc::now()));
    assert!(matches!(
        tokens::revoke(&db, "nope").await,
        Err(StoreError::NotFound)
    ));
}
on_both_backends!(tokens_are_found_by_hash_only);

fn tech(id: i64, station: &str, capacity: i64) -> Technician {
    Technician::try_from(TechnicianDraft {
        id: Some(id),
        station_id: station.into(),
        name: "张三".into(),
        skills: vec!["notebook".into()],
        daily_capacity: capacity,
        on_duty: true,
    })
    .unwrap()
}

async fn capacity_is_never_overbooked_under_concurrency(backend: Backend) {
    use repairnet::store::technicians;
    let Some(db) = fresh(backend).await else {
        return;
    };
    let all = sample();
    stations::upsert_many(&db, &all[..1]).await.unwrap();
    let tech = tech(7, all[0].id.as_str(), 5);
    let seven = tech.id;
    technicians::upsert_many(&db, std::slice::from_ref(&tech))
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { technicians::reserve(&db, seven, day).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 5, "capacity 5 but {granted} reservations granted");
    let booked = technicians::booked_on(&db, day).await.unwrap();
    assert_eq!(booked, HashMap::from([(seven, 5)]));
    // Another day is independent; an unknown technician gets nothing.
    assert!(technicians::reserve(&db, seven, day.succ_opt().unwrap())
        .await
        .unwrap());
    let unknown = TechnicianId::new(999).unwrap();
    assert!(!technicians::reserve(&db, unknown, day).await.unwrap());
    technicians::release(&db, seven, day).await.unwrap();
    assert!(technicians::reserve(&db, seven, day).await.unwrap());
    assert!(!technicians::reserve(&db, seven, day).await.unwrap());

    // A station with technicians cannot be deleted out from under them.
    let r = stations::delete(&db, &all[0].id).await;
    assert!(matches!(r, Err(StoreError::Referenced(_))), "{r:?}");
    // A technician of a missing station is refused, and nothing is written.
    let orphan = self::tech(8, "nowhere", 5);
    assert!(matches!(
        technicians::upsert_many(&db, &[tech.clone(), orphan]).await,
        Err(StoreError::Referenced(_))
    ));
    assert!(matches!(
        technicians::get(&db, TechnicianId::new(8).unwrap()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(technicians::get(&db, seven).await.unwrap(), tech);
}
on_both_backends!(capacity_is_never_overbooked_under_concurrency);

/// A job as intake would build it, unassigned, at `point`.
fn new_job(code: u64, kind: JobKind, region: Region, key: Option<&str>) -> Job {
    let now: DateTime<Utc> = "2026-11-24T02:00:00Z".parse().unwrap();
    let state = JobState::initial(kind);
    let input = WarrantyInput {
        purchase_date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        request: RequestKind::QualityProblem,
        damage: Damage::None,
        item: ItemCondition::default(),
    };
    Job {
        id: JobId(0),
        code: JobCode::from_random(code),
        kind,
        state,
        version: 1,
        region: Some(region),
        division_adcode: Some(Adcode::parse("510703").unwrap()),
        station_id: None,
        technician_id: None,
        booked_day: None,
        slot_period: Some(Period::Pm),
        distance_m: None,
        eta_minutes: None,
        customer: Customer::try_from(CustomerDraft {
            name: "王芳".into(),
            phone: "13800001234".into(),
            tier: Some("vip".into()),
        })
        .unwrap(),
        address: Some("绵阳涪城临园路".into()),
        point: LatLon::new(31.46, 104.75).unwrap(),
        product: Product::Notebook,
        warranty_input: input,
        problem: "不开机".into(),
        warranty: warranty::decide(&Policy::embedded().warranty, &input, now.date_naive()).unwrap(),
        due_at: now + chrono::Duration::days(7),
        first_visit_due_at: None,
        created_at: now,
        updated_at: now,
        idempotency_key: key.map(str::to_owned),
        request_hash: Some("h".into()),
    }
}

fn created(job: &Job) -> EventRecord {
    EventRecord::new(
        "tok",
        EventName::Created,
        None,
        job.status(),
        job.created_at,
    )
}

async fn insert(db: &Db, job: &Job, take: Option<Booking>) -> Booked<Written> {
    let events = [created(job)];
    jobs::write(
        db,
        &JobWrite::Insert {
            job,
            events: &events,
            take,
        },
    )
    .await
    .unwrap()
}

async fn jobs_round_trip_typed_with_events_and_versions(backend: Backend) {
    let Some(db) = fresh(backend).await else {
        return;
    };
    let all = sample();
    stations::upsert_many(&db, &all).await.unwrap();
    let station = all.iter().find(|s| s.onsite_radius_km.is_some()).unwrap();
    let t = tech(7, station.id.as_str(), 1);
    repairnet::store::technicians::upsert_many(&db, std::slice::from_ref(&t))
        .await
        .unwrap();

    // Insert: the job comes back typed and equal, its first entry with a seq.
    let job = new_job(1, JobKind::Onsite, Region::Southwest, Some("key-1"));
    let Booked::Done(w) = insert(&db, &job, None).await else {
        panic!("no booking was asked for")
    };
    assert_eq!(w.version, 1);
    assert_eq!(w.changes.len(), 1);
    assert_eq!(w.changes[0].event, EventName::Created);
    assert!(w.changes[0].seq > 0);
    let stored = jobs::get(&db, w.job_id).await.unwrap();
    assert_eq!(
        stored,
        Job {
            id: w.job_id,
            ..job.clone()
        }
    );
    assert_eq!(
        jobs::by_code(&db, &job.code).await.unwrap().unwrap().id,
        w.job_id
    );
    assert_eq!(
        jobs::by_idempotency_key(&db, "key-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        w.job_id
    );
    assert!(jobs::by_idempotency_key(&db, "key-2")
        .await
        .unwrap()
        .is_none());

    // The same code or idempotency key again is a duplicate; nothing is written.
    let again = new_job(2, JobKind::Onsite, Region::Southwest, Some("key-1"));
    let events = [created(&again)];
    assert!(matches!(
        jobs::write(
            &db,
            &JobWrite::Insert {
                job: &again,
                events: &events,
                take: None
            }
        )
        .await,
        Err(StoreError::Duplicate(_))
    ));

    // Update under the version read: assign with a booking and data.
    let mut next = stored.clone();
    let tr = repairnet::dispatch::state::apply(
        &next.state,
        &JobEvent::Assign { reason: None },
        next.created_at,
    )
    .unwrap();
    next.state = tr.state;
    next.station_id = Some(station.id.clone());
    next.technician_id = Some(t.id);
    next.booked_day = Some(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    next.distance_m = Some(1234.0);
    next.eta_minutes = Some(9);
    let assign = EventRecord::new(
        "tok",
        EventName::Assign,
        Some(JobStatus::New),
        JobStatus::Assigned,
        next.created_at,
    )
    .with_data(serde_json::json!({"technician_id": 7}));
    let booking = Booking {
        technician_id: t.id,
        day: next.booked_day.unwrap(),
    };
    let w2 = jobs::write(
        &db,
        &JobWrite::Update {
            job: &next,
            event: &assign,
            take: Some(booking),
            give_back: None,
        },
    )
    .await
    .unwrap();
    let Booked::Done(w2) = w2 else {
        panic!("capacity 1 was free")
    };
    assert_eq!(w2.version, 2);
    assert!(w2.changes[0].seq > w.changes[0].seq);
    let stored2 = jobs::get(&db, w.job_id).await.unwrap();
    assert_eq!(stored2.status(), JobStatus::Assigned);
    assert_eq!(stored2.technician_id, Some(t.id));
    assert_eq!(stored2.version, 2);

    // A write under the old version is stale, and changes nothing.
    assert!(matches!(
        jobs::write(
            &db,
            &JobWrite::Update {
                job: &next,
                event: &assign,
                take: None,
                give_back: None
            }
        )
        .await,
        Err(StoreError::StaleVersion)
    ));
    // A second job cannot take the full day; nothing of it is written.
    let other = new_job(3, JobKind::Onsite, Region::Southwest, None);
    assert_eq!(insert(&db, &other, Some(booking)).await, Booked::Full);
    assert!(jobs::by_code(&db, &other.code).await.unwrap().is_none());

    // Events: in order, typed, data a JSON object.
    let events = jobs::events(&db, w.job_id).await.unwrap();
    let names: Vec<_> = events.iter().map(|e| e.event).collect();
    assert_eq!(names, [EventName::Created, EventName::Assign]);
    assert_eq!(events[1].data.as_ref().unwrap()["technician_id"], 7);
    assert_eq!(events[1].from_status, Some(JobStatus::New));
    let json = serde_json::to_value(&events[1]).unwrap();
    assert!(json["data"].is_object(), "{json}");
}
on_both_backends!(jobs_round_trip_typed_with_events_and_versions);

async fn job_lists_filter_page_and_batch_their_events(backend: Backend) {
    let Some(db) = fresh(backend).await else {
        return;
    };
    stations::upsert_many(&db, &sample()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5_u64 {
        let (kind, region) = if i % 2 == 0 {
            (JobKind::Onsite, Region::Southwest)
        } else {
            (JobKind::CarryIn, Region::East)
        };
        let Booked::Done(w) = insert(&db, &new_job(100 + i, kind, region, None), None).await else {
            panic!()
        };
        ids.push(w.job_id);
    }
    let all = jobs::list(
        &db,
        &JobFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), ids);
    let onsite = jobs::list(
        &db,
        &JobFilter {
            kind: Some(JobKind::Onsite),
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(onsite.len(), 3);
    assert!(onsite
        .iter()
        .all(|j| j.kind == JobKind::Onsite && j.region == Some(Region::Southwest)));
    let east = jobs::list(
        &db,
        &JobFilter {
            region: Some(Region::East),
            statuses: vec![JobStatus::Received],
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(east.len(), 2);
    let none = jobs::list(
        &db,
        &JobFilter {
            statuses: vec![JobStatus::Closed],
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(none.is_empty());
    // Cursor paging: two pages of two, then the rest.
    let page1 = jobs::list(
        &db,
        &JobFilter {
            limit: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let page2 = jobs::list(
        &db,
        &JobFilter {
            limit: 2,
            after_id: Some(page1[1].id),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        page1.iter().chain(&page2).map(|j| j.id).collect::<Vec<_>>(),
        ids[..4]
    );
    let unassigned = jobs::list(
        &db,
        &JobFilter {
            unassigned: true,
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(unassigned.len(), 5);
    // One query for several jobs' events.
    let events = jobs::events_of(&db, &ids).await.unwrap();
    assert_eq!(events.len(), 5);
    assert!(ids
        .iter()
        .all(|id| events[id].len() == 1 && events[id][0].job_id == *id));
}
on_both_backends!(job_lists_filter_page_and_batch_their_events);

async fn a_stored_row_with_an_unknown_tier_is_an_error_not_a_default(backend: Backend) {
    let Some(db) = fresh(backend).await else {
        return;
    };
    stations::upsert_many(&db, &sample()).await.unwrap();
    let Booked::Done(w) = insert(
        &db,
        &new_job(9, JobKind::Onsite, Region::Southwest, None),
        None,
    )
    .await
    else {
        panic!()
    };
    let sql = "UPDATE jobs SET tier = 'gold' WHERE id = $1";
    match &db {
        Db::Sqlite(p) => sqlx::query(sql)
            .bind(w.job_id.0)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql)
            .bind(w.job_id.0)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    let r = jobs::get(&db, w.job_id).await;
    assert!(
        matches!(&r, Err(StoreError::Corrupt(m)) if m.contains("tier")),
        "{r:?}"
    );
}
on_both_backends!(a_stored_row_with_an_unknown_tier_is_an_error_not_a_default);
