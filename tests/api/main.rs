//! API tests: real HTTP against a spawned server on a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up and helpers: a failure there fails the test, as it should"
)]

mod helpers;

mod access;
mod browser;
mod browser_agent;
mod browser_dispatch;
mod browser_kpi;
mod browser_survey;
mod browser_tech;
mod calendar;
mod changes;
mod console;
mod directory;
mod dispatch;
mod faults;
mod hardening;
mod import;
mod kpi;
mod notify;
mod ops;
mod store_contract;
mod tech_day;
mod web;
