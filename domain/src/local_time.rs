//! Mexico's local time by SAT's time-zone names (c_CodigoPostal `huso_horario`): a CFDI's
//! `Fecha` is the local time of its `LugarExpedicion`, without an offset.
//!
//! Since the 2022 law (Ley de los Husos Horarios, in force 30 Oct 2022) only the border
//! municipalities keep daylight saving time, on the United States' dates (second Sunday of
//! March to first Sunday of November, at 02:00 local time). The offsets:
//!
//! | huso_horario | standard | daylight saving |
//! | --- | --- | --- |
//! | Tiempo del Sureste (Quintana Roo) | UTC−5 | no |
//! | Tiempo del Centro | UTC−6 | no |
//! | Tiempo del Centro en Frontera | UTC−6 | UTC−5 |
//! | Tiempo del Pacífico | UTC−7 | no |
//! | Tiempo del Pacífico en Frontera | UTC−7 | UTC−6 |
//! | Tiempo del Noroeste (Baja California) | UTC−8 | UTC−7 |

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

/// The zone of Mexico City, used when a postal code names no zone.
pub const ZONA_CENTRO: &str = "Tiempo del Centro";

/// Standard offset in hours and whether the zone keeps daylight saving time.
fn zone(name: &str) -> (i64, bool) {
    match name {
        "Tiempo del Sureste" => (-5, false),
        "Tiempo del Centro en Frontera" => (-6, true),
        "Tiempo del Pacífico" => (-7, false),
        "Tiempo del Pacífico en Frontera" => (-7, true),
        "Tiempo del Noroeste" => (-8, true),
        _ => (-6, false),
    }
}

/// The `n`th `weekday` of `month` (1-based `n`).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let shift = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    first + Duration::days(i64::from(shift + 7 * (n - 1)))
}

/// The local time at `instant` in the zone SAT calls `zone_name` (unknown names: Zona Centro).
pub fn local_time(zone_name: &str, instant: DateTime<Utc>) -> NaiveDateTime {
    let (standard, dst) = zone(zone_name);
    let standard_time = instant.naive_utc() + Duration::hours(standard);
    if !dst {
        return standard_time;
    }
    // DST runs from 02:00 standard time on the second Sunday of March to 02:00 daylight time
    // (01:00 standard) on the first Sunday of November.
    let year = standard_time.year();
    let at = |date: NaiveDate, hour| date.and_hms_opt(hour, 0, 0).unwrap_or_default();
    let starts = at(nth_weekday(year, 3, Weekday::Sun, 2), 2);
    let ends = at(nth_weekday(year, 11, Weekday::Sun, 1), 1);
    if standard_time >= starts && standard_time < ends {
        standard_time + Duration::hours(1)
    } else {
        standard_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    fn local(s: &str) -> NaiveDateTime {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn the_centre_has_no_daylight_saving_any_more() {
        assert_eq!(
            local_time(ZONA_CENTRO, utc("2026-07-01T18:00:00Z")),
            local("2026-07-01T12:00:00")
        );
        assert_eq!(
            local_time(ZONA_CENTRO, utc("2026-01-01T05:59:59Z")),
            local("2025-12-31T23:59:59")
        );
        assert_eq!(
            local_time("Tiempo del Sureste", utc("2026-07-01T18:00:00Z")),
            local("2026-07-01T13:00:00")
        );
        assert_eq!(
            local_time("Tiempo del Pacífico", utc("2026-07-01T18:00:00Z")),
            local("2026-07-01T11:00:00")
        );
    }

    #[test]
    fn border_zones_follow_the_us_dates() {
        // 2026: DST from Sunday 8 March to Sunday 1 November.
        let tijuana = "Tiempo del Noroeste";
        assert_eq!(
            local_time(tijuana, utc("2026-03-08T09:59:59Z")),
            local("2026-03-08T01:59:59")
        );
        assert_eq!(
            local_time(tijuana, utc("2026-03-08T10:00:00Z")),
            local("2026-03-08T03:00:00")
        );
        assert_eq!(
            local_time(tijuana, utc("2026-11-01T08:59:59Z")),
            local("2026-11-01T01:59:59")
        );
        assert_eq!(
            local_time(tijuana, utc("2026-11-01T09:00:00Z")),
            local("2026-11-01T01:00:00")
        );
        assert_eq!(
            local_time("Tiempo del Centro en Frontera", utc("2026-07-01T18:00:00Z")),
            local("2026-07-01T13:00:00")
        );
    }

    #[test]
    fn nth_weekday_counts_from_the_first_of_the_month() {
        assert_eq!(
            nth_weekday(2026, 3, Weekday::Sun, 2),
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default()
        );
        assert_eq!(
            nth_weekday(2026, 11, Weekday::Sun, 1),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
        );
        assert_eq!(
            nth_weekday(2027, 3, Weekday::Sun, 2),
            NaiveDate::from_ymd_opt(2027, 3, 14).unwrap_or_default()
        );
    }
}
