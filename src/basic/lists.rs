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
