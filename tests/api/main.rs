//! API tests: real HTTP against a spawned server on a fresh database.

mod helpers;

mod access;
mod browser;
mod changes;
mod directory;
mod dispatch;
mod import;
mod ops;
mod store_contract;
