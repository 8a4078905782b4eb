//! Checks shared by every resource: text lengths, `external_id`, `metadata` (API.md's ERP-sync
//! fields), email lists. Each pushes violations with the field's pointer and never stops at the
//! first, so a client learns everything wrong with its request at once.

use std::collections::{BTreeMap, HashSet};

use crate::identity::Email;
use crate::validation::{Pointer, Violation, Violations};

pub const EXTERNAL_ID_MAX: usize = 100;
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_KEY_MAX: usize = 40;
pub const METADATA_VALUE_MAX: usize = 500;

/// Text of `min..=max` characters, without leading or trailing white space and without
/// control characters (a name with a stray tab or line break would print badly on a CFDI).
pub fn text(value: &str, min: usize, max: usize, at: Pointer, violations: &mut Violations) {
    let len = value.chars().count();
    if len < min || len > max {
        let message = if min == max {
            format!("must have exactly {min} characters")
        } else if min > 0 {
            format!("must have {min} to {max} characters")
        } else {
            format!("must have at most {max} characters")
        };
        violations.push(Violation::new(at, "length", message));
    } else if value.trim() != value {
        violations.push(Violation::new(
            at,
            "untrimmed",
            "must not start or end with white space",
        ));
    } else if value.chars().any(char::is_control) {
        violations.push(Violation::new(
            at,
            "invalid_characters",
            "must not contain control characters (tabs, line breaks)",
        ));
    }
}

/// Like [`text`] but line breaks and tabs are fine (notes, descriptions).
pub fn multiline_text(value: &str, max: usize, at: Pointer, violations: &mut Violations) {
    if value.chars().count() > max {
        violations.push(Violation::new(
            at,
            "length",
            format!("must have at most {max} characters"),
        ));
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        violations.push(Violation::new(
            at,
            "invalid_characters",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
}

/// The id a client's own system gives the resource: 1–100 visible characters.
pub fn external_id(value: &str, at: Pointer, violations: &mut Violations) {
    text(value, 1, EXTERNAL_ID_MAX, at, violations);
}

/// A flat map of strings for the client's own use (API.md, modelled on Stripe's metadata):
/// at most 50 keys of 1–40 characters, values of at most 500.
pub fn metadata(map: &BTreeMap<String, String>, at: Pointer, violations: &mut Violations) {
    if map.len() > METADATA_MAX_KEYS {
        violations.push(Violation::new(
            at.clone(),
            "too_many_keys",
            format!("metadata holds at most {METADATA_MAX_KEYS} keys"),
        ));
    }
    for (key, value) in map {
        let field = at.field(key);
        let len = key.chars().count();
        if len == 0 || len > METADATA_KEY_MAX || key.chars().any(char::is_control) {
            violations.push(Violation::new(
                field.clone(),
                "invalid_metadata_key",
                format!("metadata keys have 1 to {METADATA_KEY_MAX} characters and no control characters"),
            ));
        }
        multiline_text(value, METADATA_VALUE_MAX, field, violations);
    }
}

/// A list of 0..=`max` distinct email addresses (compared case-insensitively); returns them
/// as given when all are valid.
pub fn emails(list: &[String], max: usize, at: Pointer, violations: &mut Violations) {
    if list.len() > max {
        violations.push(Violation::new(
            at.clone(),
            "too_many_items",
            format!("at most {max} addresses"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, address) in list.iter().enumerate() {
        match Email::parse(address) {
            Ok(email) => {
                if !seen.insert(email.normalized()) {
                    violations.push(Violation::new(
                        at.index(i),
                        "duplicate",
                        "this address is already in the list",
                    ));
                }
            }
            Err(e) => violations.push(Violation::new(at.index(i), e.code(), e.to_string())),
        }
    }
}

/// A phone number as people write it: an optional `+`, digits, spaces and `( ) - .`, with
/// 7 to 20 digits; an extension may follow as `ext 123` or `x123`.
pub fn phone(value: &str, at: Pointer, violations: &mut Violations) {
    let lower = value.to_ascii_lowercase();
    let (number, extension) = match lower.find(['x', 'e']) {
        Some(i) => (&lower[..i], Some(&lower[i..])),
        None => (lower.as_str(), None),
    };
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let number_ok = number
        .trim_start_matches('+')
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.'))
        && (7..=20).contains(&digits);
    let extension_ok = extension.is_none_or(|ext| {
        let digits = ext
            .trim_start_matches("ext")
            .trim_start_matches('x')
            .trim_start_matches('.')
            .trim();
        !digits.is_empty() && digits.len() <= 6 && digits.chars().all(|c| c.is_ascii_digit())
    });
    if value.chars().count() > 40 || !number_ok || !extension_ok {
        violations.push(Violation::new(
            at,
            "invalid_phone",
            "a phone number has 7 to 20 digits, optionally a leading +, spaces and ( ) - ., and an extension like `ext 12`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl FnOnce(&mut Violations)) -> Vec<String> {
        let mut v = Violations::new();
        f(&mut v);
        v.into_iter()
            .map(|v| format!("{} {}", v.pointer, v.code))
            .collect()
    }

    #[test]
    fn text_reports_length_whitespace_and_control_characters() {
        let at = || Pointer::root().field("name");
        assert!(check(|v| text("ACME", 1, 10, at(), v)).is_empty());
        assert_eq!(check(|v| text("", 1, 10, at(), v)), ["/name length"]);
        assert_eq!(
            check(|v| text(" ACME", 1, 10, at(), v)),
            ["/name untrimmed"]
        );
        assert_eq!(
            check(|v| text("AC\tME", 1, 10, at(), v)),
            ["/name invalid_characters"]
        );
        assert_eq!(
            check(|v| text(&"Ñ".repeat(11), 1, 10, at(), v)),
            ["/name length"]
        );
    }

    #[test]
    fn metadata_limits_keys_and_values() {
        let mut map = BTreeMap::new();
        map.insert("erp".to_string(), "SAP-1".to_string());
        assert!(check(|v| metadata(&map, Pointer::root().field("metadata"), v)).is_empty());
        map.insert("k".repeat(41), "x".repeat(501));
        assert_eq!(
            check(|v| metadata(&map, Pointer::root().field("metadata"), v)).len(),
            2
        );
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            check(|v| metadata(&many, Pointer::root().field("metadata"), v)),
            ["/metadata too_many_keys"]
        );
    }

    #[test]
    fn email_lists_report_each_bad_or_repeated_address() {
        let list = vec![
            "pagos@cliente.mx".to_string(),
            "no-at-sign".to_string(),
            "PAGOS@cliente.mx".to_string(),
        ];
        assert_eq!(
            check(|v| emails(&list, 10, Pointer::root().field("emails"), v)),
            ["/emails/1 invalid_email", "/emails/2 duplicate"]
        );
    }

    #[test]
    fn phones_as_people_write_them() {
        for ok in [
            "+52 81 1234 5678",
            "(81) 1234-5678",
            "8112345678 ext 12",
            "81.1234.5678x9",
        ] {
            assert!(check(|v| phone(ok, Pointer::root(), v)).is_empty(), "{ok}");
        }
        for bad in [
            "12345",
            "call me",
            "+52 81 1234 5678 ext",
            "81-1234-5678 ext 1234567",
        ] {
            assert_eq!(check(|v| phone(bad, Pointer::root(), v)).len(), 1, "{bad}");
        }
    }
}
