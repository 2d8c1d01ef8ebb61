//! Field errors and the one collector every validation uses, so a single
//! answer can list every problem with an input at once.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::Serialize;
use utoipa::ToSchema;

/// Why a value was rejected; `field` names the input field for error reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, ToSchema)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same message filed under another field name (a nested input).
    #[must_use]
    pub fn under(self, field: &str) -> Self {
        Self::new(field, self.message)
    }
}

/// Collects field errors while an input is validated.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs a validation that records its errors in a collector and builds
    /// the value with `?` on each part once every part has been checked:
    /// the value when nothing was recorded, else every error.
    pub fn collect<T>(build: impl FnOnce(&mut Fields) -> Option<T>) -> Result<T, Vec<FieldError>> {
        let mut f = Fields::new();
        match build(&mut f) {
            Some(v) if f.is_empty() => Ok(v),
            _ => Err(f.0),
        }
    }

    /// The value, or `None` with its error recorded.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Like [`Fields::take`], filing the error under `field`.
    pub fn take_as<T>(&mut self, field: &str, r: Result<T, FieldError>) -> Option<T> {
        self.take(r.map_err(|e| e.under(field)))
    }

    /// Parses an optional input; a failure is recorded under `field`.
    pub fn opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        let r = value.map(parse)?;
        self.take_as(field, r)
    }

    /// An optional whole number within `range`; `default` when absent (and,
    /// with the error recorded, when invalid).
    pub fn int_in<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        range: RangeInclusive<T>,
        default: T,
    ) -> T
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(v) = value else {
            return default;
        };
        match v.trim().parse::<T>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.push(FieldError::new(
                    field,
                    format!(
                        "{field} must be a whole number from {} to {}, got {v:?}",
                        range.start(),
                        range.end()
                    ),
                ));
                default
            }
        }
    }

    /// Records `message` under `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.push(FieldError::new(field, message));
        }
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn extend(&mut self, errs: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errs);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded, else every error.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_error_in_order() {
        let mut f = Fields::new();
        assert_eq!(f.take(Ok::<_, FieldError>(1)), Some(1));
        assert_eq!(f.take(Err::<i32, _>(FieldError::new("a", "bad a"))), None);
        assert_eq!(
            f.opt("b", Some("x"), |s| s
                .parse::<i32>()
                .map_err(|_| FieldError::new("?", "not a number"))),
            None
        );
        assert_eq!(
            f.opt("c", None, |s| s
                .parse::<i32>()
                .map_err(|_| FieldError::new("?", "x"))),
            None
        );
        assert_eq!(f.int_in("limit", Some("0"), 1..=500, 50), 50);
        assert_eq!(f.int_in("limit", Some(" 7 "), 1..=500, 50), 7);
        assert_eq!(f.int_in("limit", None, 1..=500, 50), 50);
        f.check(true, "d", "never");
        f.check(false, "e", "always");
        let errs = f.finish().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["a", "b", "limit", "e"]);
        assert_eq!(errs[1].message, "not a number");
        assert!(Fields::new().finish().is_ok());
    }
}
