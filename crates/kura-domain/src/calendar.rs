//! The shop's business days: Japan's national holidays (the rules of the current law, with
//! 振替休日 and 国民の休日), weekends and the year-end closure; and what the shipping promise
//! ("ships within three to five business days of the order") makes the earliest delivery date.

use crate::Date;

/// The promise shown on every page that states it: dispatched within this many business days
/// after the order is confirmed (or the transfer arrives).
pub const SHIPS_WITHIN_BUSINESS_DAYS: i64 = 5;
/// The first business day a parcel may leave, counted like the above.
pub const SHIPS_FROM_BUSINESS_DAYS: i64 = 3;
/// Days a parcel travels; one more to Hokkaido and Okinawa.
pub const TRANSIT_DAYS: i64 = 1;
/// How far ahead a delivery date may be chosen, counted from the earliest.
pub const CHOOSABLE_DAYS: i64 = 27;

/// A national holiday's name, in Japanese and English; `None` on other days. The rules are
/// those in force since 2022 (the Olympic years' moved holidays are not reproduced).
pub fn holiday(d: Date) -> Option<(&'static str, &'static str)> {
    if let Some(h) = fixed_or_moving(d) {
        return Some(h);
    }
    // 振替休日: the first day after a Sunday holiday (and its following holidays) that is not
    // a holiday itself.
    let mut back = d.add_days(-1);
    while fixed_or_moving(back).is_some() {
        if back.weekday() == 0 {
            return Some(("振替休日", "Substitute holiday"));
        }
        back = back.add_days(-1);
    }
    // 国民の休日: a weekday between two holidays.
    if d.weekday() != 0
        && fixed_or_moving(d.add_days(-1)).is_some()
        && fixed_or_moving(d.add_days(1)).is_some()
    {
        return Some(("国民の休日", "Citizens' holiday"));
    }
    None
}

/// The `n`th Monday of a month.
fn nth_monday(year: i32, month: u32, n: u32) -> u32 {
    let first = Date {
        year,
        month,
        day: 1,
    }
    .weekday();
    let first_monday = 1 + (8 - first) % 7;
    first_monday + 7 * (n - 1)
}

/// 春分日 and 秋分日 by the usual approximation (valid 1980–2099).
fn equinox(year: i32, autumn: bool) -> u32 {
    let y = f64::from(year - 1980);
    let base = if autumn { 23.2488 } else { 20.8431 };
    (base + 0.242194 * y - (y / 4.0).floor()).floor() as u32
}

fn fixed_or_moving(d: Date) -> Option<(&'static str, &'static str)> {
    let (y, m, day) = (d.year, d.month, d.day);
    Some(match (m, day) {
        (1, 1) => ("元日", "New Year's Day"),
        (1, x) if x == nth_monday(y, 1, 2) => ("成人の日", "Coming of Age Day"),
        (2, 11) => ("建国記念の日", "National Foundation Day"),
        (2, 23) => ("天皇誕生日", "Emperor's Birthday"),
        (3, x) if x == equinox(y, false) => ("春分の日", "Vernal Equinox Day"),
        (4, 29) => ("昭和の日", "Showa Day"),
        (5, 3) => ("憲法記念日", "Constitution Day"),
        (5, 4) => ("みどりの日", "Greenery Day"),
        (5, 5) => ("こどもの日", "Children's Day"),
        (7, x) if x == nth_monday(y, 7, 3) => ("海の日", "Marine Day"),
        (8, 11) => ("山の日", "Mountain Day"),
        (9, x) if x == nth_monday(y, 9, 3) => ("敬老の日", "Respect for the Aged Day"),
        (9, x) if x == equinox(y, true) => ("秋分の日", "Autumnal Equinox Day"),
        (10, x) if x == nth_monday(y, 10, 2) => ("スポーツの日", "Sports Day"),
        (11, 3) => ("文化の日", "Culture Day"),
        (11, 23) => ("勤労感謝の日", "Labour Thanksgiving Day"),
        _ => return None,
    })
}

/// Why the shop does not ship on a day: a weekend, a holiday or the year-end closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Weekend,
    Holiday(&'static str, &'static str),
    YearEnd,
}

/// `None` on a business day.
pub fn closed(d: Date) -> Option<Closed> {
    if let Some((ja, en)) = holiday(d) {
        return Some(Closed::Holiday(ja, en));
    }
    if matches!((d.month, d.day), (12, 29..=31) | (1, 1..=3)) {
        return Some(Closed::YearEnd);
    }
    if matches!(d.weekday(), 0 | 6) {
        return Some(Closed::Weekend);
    }
    None
}

/// The `n`th business day after `d` (not counting `d`).
pub fn business_days_after(d: Date, n: i64) -> Date {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day = day.add_days(1);
        if closed(day).is_none() {
            left -= 1;
        }
    }
    day
}

/// The delivery dates a customer may choose on `today`: from the day after the last day the
/// promise allows for dispatch (plus the transit), for [`CHOOSABLE_DAYS`] days.
pub fn delivery_window_on(today: Date) -> (Date, Date) {
    let first = business_days_after(today, SHIPS_WITHIN_BUSINESS_DAYS).add_days(TRANSIT_DAYS);
    (first, first.add_days(CHOOSABLE_DAYS))
}

/// The earliest date for a prefecture (Hokkaido and Okinawa a day later).
pub fn earliest_delivery_to(today: Date, prefecture: crate::Prefecture) -> Date {
    let first = delivery_window_on(today).0;
    if matches!(prefecture.code(), 1 | 47) {
        first.add_days(1)
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn the_holidays_of_2026_are_known() {
        let named: Vec<(String, &str)> = (0..365)
            .map(|i| d("2026-01-01").add_days(i))
            .filter_map(|day| holiday(day).map(|(ja, _)| (day.iso(), ja)))
            .collect();
        let expected = [
            ("2026-01-01", "元日"),
            ("2026-01-12", "成人の日"),
            ("2026-02-11", "建国記念の日"),
            ("2026-02-23", "天皇誕生日"),
            ("2026-03-20", "春分の日"),
            ("2026-04-29", "昭和の日"),
            ("2026-05-03", "憲法記念日"),
            ("2026-05-04", "みどりの日"),
            ("2026-05-05", "こどもの日"),
            ("2026-05-06", "振替休日"),
            ("2026-07-20", "海の日"),
            ("2026-08-11", "山の日"),
            ("2026-09-21", "敬老の日"),
            ("2026-09-22", "国民の休日"),
            ("2026-09-23", "秋分の日"),
            ("2026-10-12", "スポーツの日"),
            ("2026-11-03", "文化の日"),
            ("2026-11-23", "勤労感謝の日"),
        ];
        let expected: Vec<(String, &str)> =
            expected.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        assert_eq!(named, expected);
        assert_eq!(holiday(d("2027-03-21")).map(|h| h.0), Some("春分の日"));
        assert_eq!(holiday(d("2027-03-22")).map(|h| h.0), Some("振替休日"));
    }

    #[test]
    fn the_earliest_delivery_keeps_the_shipping_promise() {
        // Wed 2 Dec 2026: five business days are Thu 3, Fri 4, Mon 7, Tue 8, Wed 9; a day's
        // transit makes Thu 10 the earliest.
        assert_eq!(delivery_window_on(d("2026-12-02")).0, d("2026-12-10"));
        // Over the year-end closure: Mon 28 Dec → Mon 4 to Fri 8 Jan → Sat 9 Jan; a week later
        // 成人の日 (Mon 11 Jan 2027) is skipped: Mon 4 → 5, 6, 7, 8, 12 → Wed 13 Jan.
        assert_eq!(delivery_window_on(d("2026-12-28")).0, d("2027-01-09"));
        assert_eq!(delivery_window_on(d("2027-01-04")).0, d("2027-01-13"));
        // Golden Week 2026: Fri 1 May → 7, 8, 11, 12, 13 → Thu 14 May.
        assert_eq!(delivery_window_on(d("2026-05-01")).0, d("2026-05-14"));
        let okinawa = crate::Prefecture::parse("沖縄県").unwrap();
        assert_eq!(
            earliest_delivery_to(d("2026-12-02"), okinawa),
            d("2026-12-11")
        );
        assert_eq!(closed(d("2026-12-30")), Some(Closed::YearEnd));
        assert_eq!(closed(d("2026-12-05")), Some(Closed::Weekend));
        assert_eq!(closed(d("2026-12-07")), None);
    }
}
