//! The storage contract, run unchanged against SQLite and PostgreSQL.

use crate::helpers::*;
use crate::on_both_backends;
use repairnet::network::import::{parse, Format};
use repairnet::network::StationId;
use repairnet::store::{stations, Db, StoreError};

async fn fresh(backend: Backend) -> Option<Db> {
    let url = fresh_database(backend).await?;
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrations are idempotent");
    Some(db)
}

fn sample() -> Vec<repairnet::network::Station> {
    let parsed = parse(Format::Csv, repairnet::DEMO_STATIONS_CSV.as_bytes()).unwrap();
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
        Err(StoreError::Conflict(_))
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
    use repairnet::auth::{hash_token, new_token};
    let t = new_token();
    repairnet::store::tokens::insert(&db, &hash_token(&t), "dispatcher", "x")
        .await
        .unwrap();
    let (_, role) = repairnet::store::tokens::find(&db, &hash_token(&t))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role, "dispatcher");
    assert!(repairnet::store::tokens::find(&db, &t)
        .await
        .unwrap()
        .is_none());
}
on_both_backends!(tokens_are_found_by_hash_only);

async fn capacity_is_never_overbooked_under_concurrency(backend: Backend) {
    use repairnet::store::technicians::{self, TechnicianRow};
    let Some(db) = fresh(backend).await else {
        return;
    };
    let all = sample();
    stations::upsert_many(&db, &all[..1]).await.unwrap();
    let tech = TechnicianRow {
        id: 7,
        station_id: all[0].id.to_string(),
        name: "张三".into(),
        skills: "notebook".into(),
        daily_capacity: 5,
        on_duty: true,
    };
    technicians::upsert_many(&db, std::slice::from_ref(&tech))
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { technicians::reserve(&db, 7, day).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 5, "capacity 5 but {granted} reservations granted");
    let booked = technicians::booked_on(&db, day).await.unwrap();
    assert_eq!(booked, vec![(7, 5)]);
    // Another day is independent; an unknown technician gets nothing.
    assert!(technicians::reserve(&db, 7, day.succ_opt().unwrap())
        .await
        .unwrap());
    assert!(!technicians::reserve(&db, 999, day).await.unwrap());
    technicians::release(&db, 7, day).await.unwrap();
    assert!(technicians::reserve(&db, 7, day).await.unwrap());
    assert!(!technicians::reserve(&db, 7, day).await.unwrap());

    // A station with technicians cannot be deleted out from under them.
    let r = stations::delete(&db, &all[0].id).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // A technician of a missing station is refused, and nothing is written.
    let orphan = TechnicianRow {
        id: 8,
        station_id: "nowhere".into(),
        ..tech.clone()
    };
    assert!(matches!(
        technicians::upsert_many(&db, &[tech.clone(), orphan]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        technicians::get(&db, 8).await,
        Err(StoreError::NotFound)
    ));
}
on_both_backends!(capacity_is_never_overbooked_under_concurrency);
