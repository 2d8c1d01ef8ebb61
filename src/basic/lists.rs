//! List cells: CSV cells and database columns hold lists as `a;b`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::FieldError;

/// Splits a list cell written `a;b`, `a,b` or `a|b`, dropping blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([';', ',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses a list like `notebook;desktop` or `notebook,desktop` (CSV cells).
pub fn parse_list<T: FromStr<Err = FieldError> + Ord>(
    field: &str,
    s: &str,
) -> Result<BTreeSet<T>, FieldError> {
    s.split([';', ',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<T>().map_err(|e| e.under(field)))
        .collect()
}

/// Joins list values the way CSV cells and the database store them: `a;b`.
pub fn join_list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// A list's `next_cursor`: opaque to callers (hex of `kind:key`), so a
/// cursor made up, cut short or taken from another list is told apart
/// from one this list gave.
pub fn page_cursor(kind: &str, key: &str) -> String {
    hex::encode(format!("{kind}:{key}"))
}

/// The key inside a cursor [`page_cursor`] made for `kind`.
pub fn read_cursor(kind: &str, cursor: &str) -> Result<String, FieldError> {
    let bad = || FieldError::new("cursor", "cursor must be a next_cursor value of this list");
    let bytes = hex::decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        assert_eq!(split_list(" a; b,,c |"), ["a", "b", "c"]);
        assert_eq!(join_list(["a", "b"]), "a;b");
        assert!(split_list("").is_empty());
    }
}
