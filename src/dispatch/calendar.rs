//! The business calendar: working hours on working days, where working days
//! are the configured weekdays minus public holidays plus make-up working
//! days (调休). Used for SLA clocks measured in business hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

use super::policy::CalendarPolicy;

const EMBEDDED_DAYS: &str = include_str!("../../data/holidays-cn.csv");

/// The longest stretch without a working day that a calendar may describe;
/// bounds every day-by-day walk.
const MAX_DAYS_WITHOUT_WORK: i64 = 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("holidays line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("calendar: {0}")]
    Config(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Holiday,
    Workday,
}

/// One row of the holidays file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: chrono_tz::Tz,
    open: NaiveTime,
    close: NaiveTime,
    weekdays: [bool; 7],
    special: BTreeMap<NaiveDate, (DayKind, String)>,
    /// The last day the holiday list speaks for: the end of the last year
    /// it has a row in. After it, only the working weekdays count.
    covered_until: Option<NaiveDate>,
}

/// What a calendar day is, for people (`GET /api/v1/calendar`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DayInfo {
    pub date: NaiveDate,
    pub working: bool,
    /// `workday`, `weekend`, `holiday` or `makeup_workday` (调休).
    pub kind: &'static str,
    /// The holiday's name, for holidays and make-up days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Parses `date,kind,name` rows; `#` lines and the header are skipped.
pub fn parse_special_days(text: &str) -> Result<Vec<SpecialDay>, CalendarError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("date,") {
            continue;
        }
        let err = |m: String| CalendarError::Line {
            line: i + 1,
            message: m,
        };
        let mut parts = line.splitn(3, ',');
        let date = parts.next().unwrap_or_default().trim();
        let kind = parts.next().unwrap_or_default().trim();
        let name = parts.next().unwrap_or_default().trim();
        let date: NaiveDate = date
            .parse()
            .map_err(|_| err(format!("bad date {date:?}")))?;
        let kind = match kind {
            "holiday" => DayKind::Holiday,
            "workday" => DayKind::Workday,
            other => {
                return Err(err(format!(
                    "kind must be holiday or workday, got {other:?}"
                )))
            }
        };
        out.push(SpecialDay {
            date,
            kind,
            name: name.to_owned(),
        });
    }
    Ok(out)
}

fn weekday_of(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

impl BusinessCalendar {
    pub fn new(
        tz: chrono_tz::Tz,
        open: NaiveTime,
        close: NaiveTime,
        working_weekdays: &[Weekday],
        days: &[SpecialDay],
    ) -> Result<Self, CalendarError> {
        if open >= close {
            return Err(CalendarError::Config(format!(
                "open ({open}) must be before close ({close})"
            )));
        }
        if working_weekdays.is_empty() {
            return Err(CalendarError::Config(
                "at least one working weekday is required".into(),
            ));
        }
        let mut weekdays = [false; 7];
        for w in working_weekdays {
            weekdays[w.num_days_from_monday() as usize] = true;
        }
        let special = days
            .iter()
            .map(|d| (d.date, (d.kind, d.name.clone())))
            .collect();
        let covered_until = days
            .iter()
            .map(|d| d.date.year())
            .max()
            .and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31));
        Ok(Self {
            tz,
            open,
            close,
            weekdays,
            special,
            covered_until,
        })
    }

    pub fn from_policy(p: &CalendarPolicy, days: &[SpecialDay]) -> Result<Self, CalendarError> {
        let tz = p
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| CalendarError::Config(format!("unknown time zone {:?}", p.timezone)))?;
        let time = |s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| CalendarError::Config(format!("time must be HH:MM, got {s:?}")))
        };
        let weekdays = p
            .working_weekdays
            .iter()
            .map(|w| {
                weekday_of(w).ok_or_else(|| CalendarError::Config(format!("unknown weekday {w:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(tz, time(&p.open)?, time(&p.close)?, &weekdays, days)
    }

    /// The policy's hours with the shipped Chinese holidays.
    pub fn china(p: &CalendarPolicy) -> Result<Self, CalendarError> {
        Self::from_policy(p, &parse_special_days(EMBEDDED_DAYS)?)
    }

    /// Asia/Shanghai, 09:00-18:00, Monday to Friday, shipped holidays.
    #[allow(
        clippy::expect_used,
        reason = "the embedded policy and calendar are fixed at build time and parsed by the tests"
    )]
    pub fn china_default() -> Self {
        Self::china(&super::policy::Policy::embedded().calendar)
            .expect("embedded calendar is valid")
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.tz
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.special.get(&d) {
            Some((DayKind::Holiday, _)) => false,
            Some((DayKind::Workday, _)) => true,
            None => self.weekdays[d.weekday().num_days_from_monday() as usize],
        }
    }

    /// The public holidays of the list, in order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.special
            .iter()
            .filter(|(_, (k, _))| *k == DayKind::Holiday)
            .map(|(d, _)| *d)
    }

    /// The last day the holiday list covers (none: no list at all).
    pub fn covered_until(&self) -> Option<NaiveDate> {
        self.covered_until
    }

    /// Whether `d` lies past the holiday list, where a holiday would be
    /// taken for a working day.
    pub fn beyond_coverage(&self, d: NaiveDate) -> bool {
        self.covered_until.is_none_or(|c| d > c)
    }

    /// A day as people ask about it.
    pub fn day_info(&self, d: NaiveDate) -> DayInfo {
        let weekday = self.weekdays[d.weekday().num_days_from_monday() as usize];
        let (kind, name) = match self.special.get(&d) {
            Some((DayKind::Holiday, n)) => ("holiday", Some(n.clone())),
            Some((DayKind::Workday, n)) => ("makeup_workday", Some(n.clone())),
            None if weekday => ("workday", None),
            None => ("weekend", None),
        };
        DayInfo {
            date: d,
            working: self.is_working_day(d),
            kind,
            name,
        }
    }

    /// The local calendar date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The working window of a day in UTC, or None on a non-working day.
    fn window(&self, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(d) {
            return None;
        }
        let at = |t: NaiveTime| {
            self.tz
                .from_local_datetime(&d.and_time(t))
                .earliest()
                .map(|x| x.with_timezone(&Utc))
        };
        Some((at(self.open)?, at(self.close)?))
    }

    /// `start` plus `amount` of working time; a start outside working hours
    /// begins counting at the next opening.
    pub fn add_business_time(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount <= Duration::zero() {
            return start;
        }
        let mut left = amount;
        let mut day = self.local_date(start);
        let mut idle = 0;
        loop {
            if let Some((open, close)) = self.window(day) {
                idle = 0;
                let from = open.max(start);
                if from < close {
                    let avail = close - from;
                    if avail >= left {
                        return from + left;
                    }
                    left -= avail;
                }
            } else {
                idle += 1;
                if idle > MAX_DAYS_WITHOUT_WORK {
                    // A calendar with no working day for a year: nothing is ever due.
                    return DateTime::<Utc>::MAX_UTC;
                }
            }
            let Some(next) = day.succ_opt() else {
                return DateTime::<Utc>::MAX_UTC;
            };
            day = next;
        }
    }

    pub fn add_business_hours(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        self.add_business_time(start, Duration::hours(i64::from(hours)))
    }

    /// Working time between two instants; negative when `b` is before `a`.
    pub fn business_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b < a {
            return -self.business_time_between(b, a);
        }
        let mut total = Duration::zero();
        let last = self.local_date(b);
        let mut day = self.local_date(a);
        while day <= last {
            if let Some((open, close)) = self.window(day) {
                let (from, to) = (open.max(a), close.min(b));
                if from < to {
                    total += to - from;
                }
            }
            let Some(next) = day.succ_opt() else {
                break;
            };
            day = next;
        }
        total
    }

    /// Working hours between two instants, as a fraction.
    pub fn business_hours_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
        self.business_time_between(a, b).num_seconds() as f64 / 3600.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        // Local Shanghai time for readability.
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn shipped_days_cover_2025_and_2026() {
        let days = parse_special_days(EMBEDDED_DAYS).unwrap();
        let count = |y: i32, k: DayKind| {
            days.iter()
                .filter(|d| d.date.year() == y && d.kind == k)
                .count()
        };
        // 2025: 1+8+3+5+3+8 = 28 holiday days, 5 make-up days.
        assert_eq!(count(2025, DayKind::Holiday), 28);
        assert_eq!(count(2025, DayKind::Workday), 5);
        // 2026: 3+9+3+5+3+3+7 = 33, make-up days 6.
        assert_eq!(count(2026, DayKind::Holiday), 33);
        assert_eq!(count(2026, DayKind::Workday), 6);
        // Every make-up day falls on a weekend, every holiday row is unique.
        assert!(days
            .iter()
            .filter(|d| d.kind == DayKind::Workday)
            .all(|d| matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun)));
        let mut dates: Vec<_> = days.iter().map(|d| d.date).collect();
        dates.dedup();
        assert_eq!(dates.len(), days.len());
        assert!(parse_special_days("2026-01-01,party,x").is_err());
    }

    #[test]
    fn working_days_follow_holidays_and_make_up_days() {
        let cal = BusinessCalendar::china_default();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(cal.is_working_day(d("2026-11-23"))); // plain Monday
        assert!(!cal.is_working_day(d("2026-11-22"))); // plain Sunday
        assert!(cal.is_working_day(d("2026-10-10"))); // make-up Saturday
        assert!(!cal.is_working_day(d("2026-10-05"))); // National Day Monday
        assert!(cal.is_working_day(d("2026-09-20"))); // make-up Sunday
    }

    #[test]
    fn add_hours_within_a_day_and_overnight() {
        let cal = BusinessCalendar::china_default();
        assert_eq!(
            cal.add_business_hours(t("2026-11-23 10:00"), 3),
            t("2026-11-23 13:00")
        );
        // 16:00 + 4h: 2h today, 2h from Tuesday's opening.
        assert_eq!(
            cal.add_business_hours(t("2026-11-23 16:00"), 4),
            t("2026-11-24 11:00")
        );
        // Before opening starts at opening; after closing starts next day.
        assert_eq!(
            cal.add_business_hours(t("2026-11-23 06:00"), 1),
            t("2026-11-23 10:00")
        );
        assert_eq!(
            cal.add_business_hours(t("2026-11-23 20:00"), 1),
            t("2026-11-24 10:00")
        );
        // Friday 17:00 + 2h skips the weekend.
        assert_eq!(
            cal.add_business_hours(t("2026-11-27 17:00"), 2),
            t("2026-11-30 10:00")
        );
        // Ending exactly at closing stays on that day.
        assert_eq!(
            cal.add_business_hours(t("2026-11-23 09:00"), 9),
            t("2026-11-23 18:00")
        );
    }

    #[test]
    fn national_day_week_and_make_up_saturday() {
        let cal = BusinessCalendar::china_default();
        // Wed 2026-09-30 17:00 + 2h: Oct 1-7 holidays, Thu 8 and Fri 9 work.
        assert_eq!(
            cal.add_business_hours(t("2026-09-30 17:00"), 2),
            t("2026-10-08 10:00")
        );
        // Fri 2026-10-09 17:00 + 2h lands on the make-up Saturday 10th.
        assert_eq!(
            cal.add_business_hours(t("2026-10-09 17:00"), 2),
            t("2026-10-10 10:00")
        );
        // From the Saturday before (19th, not working) to the make-up Sunday 20th.
        assert_eq!(
            cal.add_business_hours(t("2026-09-19 12:00"), 1),
            t("2026-09-20 10:00")
        );
        // Between Sep 30 09:00 and Oct 12 09:00: Sep 30, Oct 8, 9, 10 = 4 days x 9h.
        assert_eq!(
            cal.business_hours_between(t("2026-09-30 09:00"), t("2026-10-12 09:00")),
            36.0
        );
        assert_eq!(
            cal.business_hours_between(t("2026-10-12 09:00"), t("2026-09-30 09:00")),
            -36.0
        );
    }

    #[test]
    fn between_is_inverse_of_add() {
        let cal = BusinessCalendar::china_default();
        let start = t("2026-02-12 15:30");
        for h in [1u32, 5, 9, 10, 27, 80] {
            let end = cal.add_business_hours(start, h);
            assert_eq!(
                cal.business_hours_between(start, end),
                f64::from(h),
                "{h}h -> {end}"
            );
        }
        // Spring Festival 2026: Feb 12 (Thu) 15:30 + 9h = Thu 2.5h, Fri 13 6.5h -> 15:30 Fri.
        assert_eq!(cal.add_business_hours(start, 9), t("2026-02-13 15:30"));
        // +12h: Fri 13 full (9h -> 5.5 left after Thu), then make-up Sat 14.
        assert_eq!(cal.add_business_hours(start, 12), t("2026-02-14 09:30"));
    }

    #[test]
    fn bad_configuration_is_rejected() {
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        assert!(BusinessCalendar::new(tz, nine, nine, &[Weekday::Mon], &[]).is_err());
        assert!(BusinessCalendar::new(
            tz,
            nine,
            NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            &[],
            &[]
        )
        .is_err());
    }
}
