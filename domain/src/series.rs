//! Invoice series: the CFDI `Serie` an organization numbers its documents under, and the
//! limits of its folio counter (CFDI `Folio`).

use crate::validation::{Pointer, Violation, Violations};

/// SAT's t_Serie: `[^|]{1,25}`.
pub const PREFIX_MAX_CHARS: usize = 25;

/// The largest folio a counter may start from: 2^53 − 1, the largest integer a JavaScript
/// number holds exactly, so a browser client never shows a folio other than the stored one.
/// CFDI's `Folio` takes 40 characters; this has 16 digits.
pub const MAX_FOLIO: i64 = 9_007_199_254_740_991;

/// A series prefix as written to `Comprobante/@Serie`, already trimmed by the caller: 1–25
/// characters, no `|` (it separates the cadena original's fields), no control characters, and
/// no runs of spaces: SAT's schema collapses them (`xs:whiteSpace collapse`), so the XML would
/// carry another Serie than the one stored.
pub fn prefix(value: &str, at: Pointer, violations: &mut Violations) {
    let len = value.chars().count();
    if !(1..=PREFIX_MAX_CHARS).contains(&len) {
        violations.push(Violation::new(
            at,
            "length",
            format!("must have 1 to {PREFIX_MAX_CHARS} characters besides leading and trailing white space"),
        ));
    } else if value
        .chars()
        .any(|c| c == '|' || c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        violations.push(Violation::new(
            at,
            "invalid_characters",
            "must not contain '|' or control characters (tabs, line breaks)",
        ));
    } else if value.contains("  ") {
        violations.push(Violation::new(
            at,
            "repeated_spaces",
            "must not contain two spaces in a row: SAT's schema collapses them into one",
        ));
    }
}

/// A folio counter's value: 1 to [`MAX_FOLIO`].
pub fn folio(value: i64, at: Pointer, violations: &mut Violations) {
    if !(1..=MAX_FOLIO).contains(&value) {
        violations.push(Violation::new(
            at,
            "out_of_range",
            format!("must be from 1 to {MAX_FOLIO}"),
        ));
    }
}

/// The counter of an existing series may move forward only: every folio below the stored
/// `next_folio` may have been issued already, and a folio must never repeat.
pub fn folio_change(current: i64, requested: i64, at: Pointer, violations: &mut Violations) {
    if requested < current {
        violations.push(Violation::new(
            at,
            "folio_would_repeat",
            format!(
                "next_folio may only be raised: folios below {current} may have been issued already"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str) -> Vec<String> {
        let mut v = Violations::new();
        prefix(value, Pointer::root().field("prefix"), &mut v);
        v.into_iter().map(|v| v.code).collect()
    }

    #[test]
    fn prefixes_follow_sat_t_serie() {
        for ok in [
            "F",
            "A-2026",
            "Nota de crédito",
            "F&E <2025>",
            &"X".repeat(25),
        ] {
            assert!(check(ok).is_empty(), "{ok}");
        }
        assert_eq!(check(""), ["length"]);
        assert_eq!(check(&"Ñ".repeat(26)), ["length"]);
        assert_eq!(check("A|B"), ["invalid_characters"]);
        assert_eq!(check("A\tB"), ["invalid_characters"]);
        assert_eq!(check("A\u{85}B"), ["invalid_characters"]);
        assert_eq!(check("A  B"), ["repeated_spaces"]);
    }

    #[test]
    fn folios_start_in_range_and_never_move_back() {
        let codes = |f: &dyn Fn(&mut Violations)| {
            let mut v = Violations::new();
            f(&mut v);
            v.into_iter().map(|v| v.code).collect::<Vec<_>>()
        };
        let at = || Pointer::root().field("next_folio");
        assert!(codes(&|v| folio(1, at(), v)).is_empty());
        assert!(codes(&|v| folio(MAX_FOLIO, at(), v)).is_empty());
        assert_eq!(codes(&|v| folio(0, at(), v)), ["out_of_range"]);
        assert_eq!(codes(&|v| folio(MAX_FOLIO + 1, at(), v)), ["out_of_range"]);
        assert!(codes(&|v| folio_change(10, 10, at(), v)).is_empty());
        assert!(codes(&|v| folio_change(10, 11, at(), v)).is_empty());
        assert_eq!(
            codes(&|v| folio_change(10, 9, at(), v)),
            ["folio_would_repeat"]
        );
    }
}
