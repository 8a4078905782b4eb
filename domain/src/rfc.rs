//! The RFC (Registro Federal de Contribuyentes): the Mexican taxpayer key that names the issuer
//! (Emisor) and the receiver (Receptor) of every CFDI.
//!
//! A [`Rfc`] is proven well formed when it is built: SAT's pattern (`t_RFC` in `tdCFDI.xsd`),
//! a real calendar date and SAT's check digit. Whether SAT has the RFC in its registry of
//! active taxpayers (CFDI40143) cannot be known here; the PAC checks that when stamping.

use std::fmt;

use serde::Serialize;

/// Generic RFC for sales to the general public (público en general), a national receiver
/// that gives no RFC of its own.
pub const GENERIC_NATIONAL: &str = "XAXX010101000";

/// Generic RFC for a foreign receiver (residente en el extranjero) without a Mexican RFC.
pub const GENERIC_FOREIGN: &str = "XEXX010101000";

/// The kind of taxpayer an RFC belongs to. SAT tells them apart by length alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonType {
    /// Persona física: a natural person. 13-character RFC (4 letters from the name).
    Individual,
    /// Persona moral: a legal entity such as a company or an association. 12-character RFC
    /// (3 letters from the name).
    Company,
}

/// A well-formed RFC, in SAT's upper-case form.
///
/// Serializes as the plain string (`"EKU9003173C9"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Rfc(String);

impl Rfc {
    /// Parses an RFC such as `EKU9003173C9` (persona moral) or `CACX7605101P8` (persona física).
    ///
    /// Lower-case input is accepted and stored upper case: RFC letters carry no case
    /// distinction, SAT prints them upper case, yet people and systems write them in lower case
    /// (SAT's own test certificates are named `eku9003173c9_csd.cer`). Keeping one canonical
    /// form makes equality and uniqueness work and matches the `t_RFC` pattern the CFDI XML
    /// must satisfy, which allows upper case only.
    ///
    /// Nothing else is changed: surrounding whitespace, hyphens or inner spaces are refused,
    /// not stripped, so a client that sends them learns about it instead of having a
    /// different value stored than the one it sent.
    ///
    /// The generic RFCs [`GENERIC_NATIONAL`] and [`GENERIC_FOREIGN`] are accepted although
    /// `XAXX010101000` does not pass SAT's check-digit algorithm (it would need a `4`).
    pub fn parse(input: &str) -> Result<Self, RfcError> {
        let len = input.chars().count();
        let letters = match len {
            12 => 3,
            13 => 4,
            _ => return Err(RfcError::Length { len }),
        };
        let mut chars = Vec::with_capacity(len);
        let mut date = [0_u32; 6];
        for (index, found) in input.chars().enumerate() {
            let c = to_sat_case(found);
            chars.push(c);
            let position = index + 1;
            if index < letters {
                if !is_name_letter(c) {
                    return Err(RfcError::Format {
                        position,
                        found,
                        expected: "a letter A-Z, Ñ or &",
                    });
                }
            } else if index < letters + 6 {
                date[index - letters] = c.to_digit(10).ok_or(RfcError::Format {
                    position,
                    found,
                    expected: "a digit of the date YYMMDD",
                })?;
            } else if index < len - 1 {
                if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
                    return Err(RfcError::Format {
                        position,
                        found,
                        expected: "a letter A-Z or a digit",
                    });
                }
            } else if !(c.is_ascii_digit() || c == 'A') {
                return Err(RfcError::Format {
                    position,
                    found,
                    expected: "a check digit 0-9 or A",
                });
            }
        }

        let [y1, y2, m1, m2, d1, d2] = date;
        if !is_calendar_date(y1 * 10 + y2, m1 * 10 + m2, d1 * 10 + d2) {
            return Err(RfcError::Date {
                date: chars[letters..letters + 6].iter().collect(),
            });
        }

        let rfc: String = chars.iter().collect();
        if rfc == GENERIC_NATIONAL || rfc == GENERIC_FOREIGN {
            return Ok(Self(rfc));
        }
        match chars.split_last() {
            Some((&found, body)) if check_digit(body) == Some(found) => Ok(Self(rfc)),
            _ => Err(RfcError::CheckDigit),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn person_type(&self) -> PersonType {
        // Counted in characters: an `Ñ` takes two bytes.
        if self.0.chars().count() == 13 {
            PersonType::Individual
        } else {
            PersonType::Company
        }
    }

    /// `XAXX010101000`, público en general. SAT treats it as a persona física.
    pub fn is_generic_national(&self) -> bool {
        self.0 == GENERIC_NATIONAL
    }

    /// `XEXX010101000`, a foreign receiver. SAT treats it as a persona física.
    pub fn is_generic_foreign(&self) -> bool {
        self.0 == GENERIC_FOREIGN
    }
}

impl fmt::Display for Rfc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not an RFC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RfcError {
    #[error("an RFC has 12 characters (persona moral) or 13 (persona física), this one has {len}")]
    Length { len: usize },
    /// `position` counts characters from 1.
    #[error("character {position} of the RFC is {found:?}, expected {expected}")]
    Format {
        position: usize,
        found: char,
        expected: &'static str,
    },
    #[error("the RFC date {date} (YYMMDD) is not a calendar date")]
    Date { date: String },
    // The expected digit is left out on purpose: a typo anywhere in the RFC shows up here, and
    // naming the digit that "fixes" it invites swapping the last character, which yields a
    // well-formed RFC of somebody else.
    #[error("the RFC check digit (its last character) does not match the rest; look for a typo")]
    CheckDigit,
}

impl RfcError {
    /// Stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "invalid_rfc_length",
            Self::Format { .. } => "invalid_rfc_format",
            Self::Date { .. } => "invalid_rfc_date",
            Self::CheckDigit => "invalid_rfc_check_digit",
        }
    }
}

/// Upper-cases one character for one character. `str::to_uppercase` is not used because full
/// Unicode case mapping changes lengths (`ß` → `SS`) and could turn a refused input into a
/// well-formed RFC; only the letters an RFC can hold matter.
fn to_sat_case(c: char) -> char {
    match c {
        'ñ' => 'Ñ',
        _ => c.to_ascii_uppercase(),
    }
}

fn is_name_letter(c: char) -> bool {
    c.is_ascii_uppercase() || c == 'Ñ' || c == '&'
}

/// The year has two digits, so its century is unknown; February 29 is accepted in every year
/// divisible by 4, which is right for 2000 and wrong only for 1900, a date no living taxpayer
/// was born or incorporated on.
fn is_calendar_date(yy: u32, month: u32, day: u32) -> bool {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if yy.is_multiple_of(4) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// SAT's check digit for the first 11 (persona moral) or 12 (persona física) characters.
/// `None` when a character has no value in SAT's table.
fn check_digit(body: &[char]) -> Option<char> {
    // SAT's value table: digits, then letters with '&' between N and O, then space and Ñ.
    const VALUES: &str = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ";
    // A persona moral is padded with a leading space so both kinds weigh 12 characters.
    let padding = 12_usize.checked_sub(body.len())?;
    let mut sum = 0_u32;
    for (c, weight) in std::iter::repeat_n(' ', padding)
        .chain(body.iter().copied())
        .zip((2..=13_u32).rev())
    {
        let value = u32::try_from(VALUES.chars().position(|v| v == c)?).ok()?;
        sum += value * weight;
    }
    match (11 - sum % 11) % 11 {
        10 => Some('A'),
        digit => char::from_digit(digit, 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body_of(rfc: &str) -> Vec<char> {
        let mut chars: Vec<char> = rfc.chars().collect();
        chars.pop();
        chars
    }

    #[test]
    fn sat_test_and_published_rfcs_parse() {
        // SAT's test CSD holders (CFDI-RULES.md, test-csd/), SAT's own RFC, and the examples of
        // SAT's RFC algorithm document.
        for (rfc, person) in [
            ("EKU9003173C9", PersonType::Company),
            ("CACX7605101P8", PersonType::Individual),
            ("SAT970701NN3", PersonType::Company),
            ("GODE561231GR8", PersonType::Individual),
            ("&&&010101AA1", PersonType::Company),
            ("ÑAÑO010101AA3", PersonType::Individual),
        ] {
            let parsed = Rfc::parse(rfc).unwrap_or_else(|e| panic!("{rfc}: {e}"));
            assert_eq!(parsed.as_str(), rfc);
            assert_eq!(parsed.to_string(), rfc);
            assert_eq!(parsed.person_type(), person, "{rfc}");
            assert!(!parsed.is_generic_national() && !parsed.is_generic_foreign());
        }
    }

    #[test]
    fn check_digits_match_sat_examples() {
        assert_eq!(check_digit(&body_of("EKU9003173C9")), Some('9'));
        assert_eq!(check_digit(&body_of("CACX7605101P8")), Some('8'));
        assert_eq!(check_digit(&body_of("AABF800614HI0")), Some('0'));
        // 11 - remainder = 10 is written 'A'.
        assert_eq!(check_digit(&body_of("ABC010101ACA")), Some('A'));
        assert_eq!(check_digit(&body_of("GODE561231AEA")), Some('A'));
        assert_eq!(check_digit(&['A'; 13]), None);
    }

    #[test]
    fn lower_case_is_upper_cased() {
        let rfc = Rfc::parse("eku9003173c9").unwrap();
        assert_eq!(rfc.as_str(), "EKU9003173C9");
        assert_eq!(
            Rfc::parse("ñaño010101aa3").unwrap().as_str(),
            "ÑAÑO010101AA3"
        );
        assert_eq!(
            Rfc::parse("xaxx010101000").unwrap().as_str(),
            GENERIC_NATIONAL
        );
    }

    #[test]
    fn unicode_case_mapping_cannot_make_an_rfc() {
        // `str::to_uppercase` would turn this into SSKU9003173CA, a well-formed RFC.
        assert_eq!(check_digit(&body_of("SSKU9003173CA")), Some('A'));
        assert_eq!(
            Rfc::parse("ßKU9003173CA").unwrap_err(),
            RfcError::Format {
                position: 1,
                found: 'ß',
                expected: "a letter A-Z, Ñ or &"
            }
        );
    }

    #[test]
    fn generic_rfcs_are_accepted() {
        // XAXX010101000 fails SAT's check digit, XEXX010101000 passes it.
        assert_eq!(check_digit(&body_of(GENERIC_NATIONAL)), Some('4'));
        assert_eq!(check_digit(&body_of(GENERIC_FOREIGN)), Some('0'));

        let national = Rfc::parse(GENERIC_NATIONAL).unwrap();
        assert!(national.is_generic_national());
        assert!(!national.is_generic_foreign());
        assert_eq!(national.person_type(), PersonType::Individual);

        let foreign = Rfc::parse(GENERIC_FOREIGN).unwrap();
        assert!(foreign.is_generic_foreign());
        assert!(!foreign.is_generic_national());
        assert_eq!(foreign.person_type(), PersonType::Individual);
    }

    #[test]
    fn wrong_lengths_are_refused() {
        for (input, len) in [
            ("", 0),
            ("EKU9003173C", 11),
            ("CACX7605101P8X", 14),
            ("EKU-900317-3C9", 14),
            (" CACX7605101P8", 14),
        ] {
            let err = Rfc::parse(input).unwrap_err();
            assert_eq!(err, RfcError::Length { len }, "{input:?}");
            assert_eq!(err.code(), "invalid_rfc_length");
        }
    }

    #[test]
    fn whitespace_is_refused_not_trimmed() {
        for (input, position) in [(" EKU9003173C9", 1), ("EKU9003173C9 ", 4)] {
            let err = Rfc::parse(input).unwrap_err();
            assert!(
                matches!(err, RfcError::Format { position: p, .. } if p == position),
                "{input:?}: {err:?}"
            );
            assert_eq!(err.code(), "invalid_rfc_format");
        }
    }

    #[test]
    fn misplaced_characters_are_refused() {
        for (input, position) in [
            ("E1U9003173C9", 2),
            ("EKU90O3173C9", 6),
            ("EKU9003173-9", 11),
            ("EKU9003173CB", 12),
            ("eku9003173c-", 12),
            ("CACX7605101PÑ", 13),
            ("CAC17605101P8", 4),
        ] {
            let err = Rfc::parse(input).unwrap_err();
            assert!(
                matches!(err, RfcError::Format { position: p, .. } if p == position),
                "{input:?}: {err:?}"
            );
        }
        // The error names the character as the client sent it, before upper-casing.
        assert_eq!(
            Rfc::parse("ekuo003173c9").unwrap_err(),
            RfcError::Format {
                position: 4,
                found: 'o',
                expected: "a digit of the date YYMMDD"
            }
        );
    }

    /// Builds an RFC around `date` with a correct check digit, so that only the date can fail.
    fn with_date(date: &str) -> String {
        let body: String = format!("ABC{date}XY");
        let digit = check_digit(&body.chars().collect::<Vec<_>>()).unwrap();
        format!("{body}{digit}")
    }

    #[test]
    fn impossible_dates_are_refused() {
        for date in [
            "990230", "010229", "991301", "990001", "990100", "990431", "991232",
        ] {
            let err = Rfc::parse(&with_date(date)).unwrap_err();
            assert_eq!(
                err,
                RfcError::Date {
                    date: date.to_owned()
                }
            );
            assert_eq!(err.code(), "invalid_rfc_date");
        }
    }

    #[test]
    fn leap_days_and_month_ends_are_accepted() {
        for date in [
            "000229", "040229", "960229", "990131", "990228", "990430", "991231",
        ] {
            assert!(Rfc::parse(&with_date(date)).is_ok(), "{date}");
        }
    }

    #[test]
    fn bad_check_digits_are_refused() {
        for input in [
            "EKU9003173C8",
            "EKU9003173CA",
            "CACX7605101P9",
            "SAT970701NN0",
        ] {
            let err = Rfc::parse(input).unwrap_err();
            assert_eq!(err, RfcError::CheckDigit, "{input}");
            assert_eq!(err.code(), "invalid_rfc_check_digit");
        }
        // A typo in the middle is caught too, not only in the last character.
        assert_eq!(
            Rfc::parse("EKU9003173D9").unwrap_err(),
            RfcError::CheckDigit
        );
    }

    fn valid_shaped_body() -> impl Strategy<Value = String> {
        (
            "[A-Z&Ñ]{3,4}",
            0_u32..100,
            1_u32..=12,
            1_u32..=31,
            "[A-Z0-9]{2}",
        )
            .prop_map(|(name, yy, month, day, homoclave)| {
                let day = (1..=day)
                    .rev()
                    .find(|&d| is_calendar_date(yy, month, d))
                    .unwrap_or(1);
                format!("{name}{yy:02}{month:02}{day:02}{homoclave}")
            })
    }

    proptest! {
        #[test]
        fn the_computed_check_digit_and_no_other_makes_an_rfc(
            body in valid_shaped_body(),
            other in any::<char>(),
        ) {
            let chars: Vec<char> = body.chars().collect();
            let digit = check_digit(&chars).unwrap();
            let rfc = Rfc::parse(&format!("{body}{digit}")).unwrap();
            let person = if chars.len() == 12 { PersonType::Individual } else { PersonType::Company };
            prop_assert_eq!(rfc.person_type(), person);

            // The one body whose wrong digit is a generic RFC, accepted by name.
            prop_assume!(body != "XAXX01010100");
            // Every character a check digit may be, plus one arbitrary character; 'a' is 'A'.
            for wrong in "0123456789A".chars().chain([other]) {
                if wrong.to_ascii_uppercase() != digit {
                    prop_assert!(Rfc::parse(&format!("{body}{wrong}")).is_err(), "{body}{wrong}");
                }
            }
        }
    }
}
