//! RFC 3339 date-times as CPIM (RFC 3862 §4.4), IMDN (RFC 5438 §6.3) and
//! isComposing (RFC 3994 §3.5) carry them: `2000-12-13T13:40:00-08:00`,
//! `2008-04-04T12:16:49Z`, with optional fractions of a second.
//!
//! Parsing is liberal (lower-case `t`/`z`, a space between date and time,
//! any number of fraction digits, `+00:00`); writing is strict (UTC with
//! `Z`, whole seconds).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A date and time with the UTC offset it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    /// 0–60 (60: a leap second, RFC 3339 §5.7).
    pub second: u8,
    pub nanosecond: u32,
    /// Minutes east of UTC (`-08:00` is -480; `Z` is 0).
    pub offset_minutes: i16,
}

impl DateTime {
    /// Parses an RFC 3339 `date-time` (surrounding white space ignored).
    pub fn parse(text: &str) -> Option<DateTime> {
        let b = text.trim().as_bytes();
        let num = |s: &[u8]| -> Option<u32> {
            if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            s.iter().try_fold(0u32, |n, &d| {
                n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
            })
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let year = num(&b[0..4])? as u16;
        let month = num(&b[5..7])? as u8;
        let day = num(&b[8..10])? as u8;
        let hour = num(&b[11..13])? as u8;
        let minute = num(&b[14..16])? as u8;
        let second = num(&b[17..19])? as u8;
        let mut rest = &b[19..];
        let mut nanosecond = 0u32;
        if rest.first() == Some(&b'.') {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let frac = &rest[1..1 + digits];
            for i in 0..9 {
                nanosecond = nanosecond * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
            rest = &rest[1 + digits..];
        }
        let offset_minutes = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = num(&[*h1, *h2])? as i16;
                let m = num(&[*m1, *m2])? as i16;
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                }
            }
            _ => return None,
        };
        let dt = DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanosecond,
            offset_minutes,
        };
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour <= 23
            && minute <= 59
            && second <= 60;
        valid.then_some(dt)
    }

    /// The time `t` in UTC, whole seconds (times before 1970 give 1970).
    pub fn from_system_time(t: SystemTime) -> DateTime {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            nanosecond: 0,
            offset_minutes: 0,
        }
    }

    /// Now, in UTC.
    pub fn now() -> DateTime {
        DateTime::from_system_time(SystemTime::now())
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }
}

impl fmt::Display for DateTime {
    /// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.nanosecond > 0 {
            let frac = format!("{:09}", self.nanosecond);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        if self.offset_minutes == 0 {
            f.write_str("Z")
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let m = self.offset_minutes.unsigned_abs();
            write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
        }
    }
}

fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_examples() {
        // RFC 3862 §5.1 and RFC 3994 §5.
        let a = DateTime::parse("2000-12-13T13:40:00-08:00").unwrap();
        assert_eq!((a.year, a.month, a.day, a.hour), (2000, 12, 13, 13));
        assert_eq!(a.offset_minutes, -480);
        assert_eq!(a.to_string(), "2000-12-13T13:40:00-08:00");
        let b = DateTime::parse("2003-01-27T10:43:00Z").unwrap();
        assert_eq!(b.offset_minutes, 0);
        assert_eq!(b.to_string(), "2003-01-27T10:43:00Z");
        let c = DateTime::parse("2024-05-01t10:00:00.250+00:00").unwrap();
        assert_eq!(c.nanosecond, 250_000_000);
        assert_eq!(c.to_string(), "2024-05-01T10:00:00.25Z");
        assert_eq!(a.unix_seconds(), 976_743_600);
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for bad in [
            "",
            "2000-12-13",
            "2000-13-13T13:40:00Z",
            "2001-02-29T00:00:00Z",
            "2000-12-13T24:00:00Z",
            "2000-12-13T13:40:00",
            "2000-12-13T13:40:00.Z",
            "2000-12-13T13:40:00+8",
            "2000-12-13T13:40:00+08:60",
            "２000-12-13T13:40:00Z",
        ] {
            assert_eq!(DateTime::parse(bad), None, "{bad}");
        }
        assert!(DateTime::parse("2000-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn system_time_round_trips() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let d = DateTime::from_system_time(t);
        assert_eq!(d.to_string(), "2023-11-14T22:13:20Z");
        assert_eq!(d.unix_seconds(), 1_700_000_000);
        assert_eq!(DateTime::parse(&d.to_string()), Some(d));
    }
}
