//! Calendar dates without a time zone library: Japan has one zone (UTC+9, no daylight saving),
//! so "today in Japan" is the UTC day of `unix + 9 h`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

const JST_OFFSET_SECONDS: i64 = 9 * 3600;

impl Date {
    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Today's date in Japan.
    pub fn today_in_japan(unix: i64) -> Self {
        Self::from_days((unix + JST_OFFSET_SECONDS).div_euclid(86_400))
    }

    /// A moment in Japan to the minute, `YYYY-MM-DD HH:MM` (for deadlines in pages and mails).
    pub fn japan_minute(unix: i64) -> String {
        let minutes = (unix + JST_OFFSET_SECONDS).rem_euclid(86_400) / 60;
        format!(
            "{} {:02}:{:02}",
            Self::today_in_japan(unix).iso(),
            minutes / 60,
            minutes % 60
        )
    }

    /// Parses a moment in Japan, `YYYY-MM-DDTHH:MM` (a `datetime-local` field), the same with
    /// a space, or a date alone (midnight), into Unix seconds.
    pub fn parse_japan_minute(input: &str) -> Option<i64> {
        let input = input.trim();
        let (date, time) = match input.split_once(['T', ' ']) {
            Some((d, t)) => (d, Some(t.trim())),
            None => (input, None),
        };
        let day = Self::parse(date)?;
        let (hour, minute) = match time {
            None => (0, 0),
            Some(t) => {
                let (h, m) = t.split_once(':')?;
                let (h, m): (i64, i64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
                if !(0..24).contains(&h) || !(0..60).contains(&m) {
                    return None;
                }
                (h, m)
            }
        };
        Some(day.to_days() * 86_400 + hour * 3600 + minute * 60 - JST_OFFSET_SECONDS)
    }

    pub fn add_days(self, n: i64) -> Self {
        Self::from_days(self.to_days() + n)
    }

    /// Parses `YYYY-MM-DD` (a real calendar date).
    pub fn parse(input: &str) -> Option<Self> {
        let mut it = input.trim().splitn(3, '-');
        let year: i32 = it.next()?.parse().ok()?;
        let month: u32 = it.next()?.parse().ok()?;
        let day: u32 = it.next()?.parse().ok()?;
        let d = Self { year, month, day };
        let valid = (1..=12).contains(&month)
            && (1900..=9999).contains(&year)
            && Self::from_days(d.to_days()) == d;
        valid.then_some(d)
    }

    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// 0 = Sunday.
    pub fn weekday(self) -> u32 {
        u32::try_from((self.to_days() + 4).rem_euclid(7)).unwrap_or(0)
    }

    /// `2026年12月5日(土)`.
    pub fn label_ja(self) -> String {
        const W: [&str; 7] = ["日", "月", "火", "水", "木", "金", "土"];
        format!(
            "{}年{}月{}日({})",
            self.year,
            self.month,
            self.day,
            W.get(self.weekday() as usize).copied().unwrap_or("")
        )
    }

    pub fn label_en(self) -> String {
        const W: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const M: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {} {} {}",
            W.get(self.weekday() as usize).copied().unwrap_or(""),
            self.day,
            M.get(self.month.saturating_sub(1) as usize)
                .copied()
                .unwrap_or(""),
            self.year
        )
    }

    /// A moment in Japan as people read it: `2026年12月5日(土) 10:00`.
    pub fn moment_ja(unix: i64) -> String {
        let (h, m) = Self::japan_hour_minute(unix);
        format!("{} {h:02}:{m:02}", Self::today_in_japan(unix).label_ja())
    }

    /// The same in English: `Sat 5 Dec 2026, 10:00 (Japan time)`.
    pub fn moment_en(unix: i64) -> String {
        let (h, m) = Self::japan_hour_minute(unix);
        format!(
            "{}, {h:02}:{m:02} (Japan time)",
            Self::today_in_japan(unix).label_en()
        )
    }

    fn japan_hour_minute(unix: i64) -> (i64, i64) {
        let minutes = (unix + JST_OFFSET_SECONDS).rem_euclid(86_400) / 60;
        (minutes / 60, minutes % 60)
    }
}

/// The delivery dates a customer may choose today (in Japan): see
/// [`crate::calendar::delivery_window_on`].
pub fn delivery_window(unix_now: i64) -> (Date, Date) {
    crate::calendar::delivery_window_on(Date::today_in_japan(unix_now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_minute_is_nine_hours_ahead() {
        // 2026-03-31 15:30 UTC is 2026-04-01 00:30 in Japan.
        let unix = Date::parse("2026-03-31").unwrap().to_days() * 86_400 + 15 * 3600 + 30 * 60;
        assert_eq!(Date::japan_minute(unix), "2026-04-01 00:30");
    }

    #[test]
    fn a_japan_minute_parses_back() {
        let unix = Date::parse("2026-03-31").unwrap().to_days() * 86_400 + 15 * 3600 + 30 * 60;
        assert_eq!(Date::parse_japan_minute("2026-04-01T00:30"), Some(unix));
        assert_eq!(Date::parse_japan_minute("2026-04-01 00:30"), Some(unix));
        assert_eq!(Date::parse_japan_minute("2026-04-01"), Some(unix - 30 * 60));
        for bad in [
            "2026-02-30T10:00",
            "2026-04-01T24:00",
            "2026-04-01T10",
            "yesterday",
            "",
        ] {
            assert_eq!(Date::parse_japan_minute(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_round_trip() {
        let d = Date {
            year: 2026,
            month: 11,
            day: 25,
        };
        assert_eq!(Date::from_days(d.to_days()), d);
        assert_eq!(Date::from_days(0).iso(), "1970-01-01");
        assert_eq!(d.weekday(), 3);
        assert_eq!(d.label_ja(), "2026年11月25日(水)");
        assert_eq!(d.label_en(), "Wed 25 Nov 2026");
        let unix = d.to_days() * 86_400 + 3600; // 10:00 in Japan
        assert_eq!(Date::moment_ja(unix), "2026年11月25日(水) 10:00");
        assert_eq!(Date::moment_en(unix), "Wed 25 Nov 2026, 10:00 (Japan time)");
        assert_eq!(
            Date::parse("2024-02-29").unwrap().add_days(1).iso(),
            "2024-03-01"
        );
        assert!(Date::parse("2025-02-29").is_none());
        assert!(Date::parse("2025-13-01").is_none());
        assert!(Date::parse("x").is_none());
    }

    #[test]
    fn japan_is_nine_hours_ahead() {
        // 2026-11-25 20:00 UTC is already the 26th in Japan.
        let unix = Date {
            year: 2026,
            month: 11,
            day: 25,
        }
        .to_days()
            * 86_400
            + 20 * 3600;
        assert_eq!(Date::today_in_japan(unix).iso(), "2026-11-26");
    }
}
