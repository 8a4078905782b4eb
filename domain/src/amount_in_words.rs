//! The total in Spanish words, as Mexican invoices print it under the totals ("importe con
//! letra"): `14654.24` MXN is `CATORCE MIL SEISCIENTOS CINCUENTA Y CUATRO PESOS 24/100 M.N.`.
//!
//! The layout is the one every Mexican printout uses: the integer part in upper-case words,
//! the currency's name, the fraction as digits over its denominator, and a suffix: `M.N.`
//! (moneda nacional) for pesos, the ISO code otherwise.
//!
//! | Moneda | words end with |
//! | --- | --- |
//! | MXN | `PESOS 24/100 M.N.` (`UN PESO` for one) |
//! | USD | `DÓLARES 24/100 USD` |
//! | EUR | `EUROS 24/100 EUR` |
//! | GBP | `LIBRAS ESTERLINAS 24/100 GBP` (feminine: `UNA`, `DOSCIENTAS`) |
//! | any other | `24/100 XYZ`: the number alone, then the code, since we do not know the name |
//!
//! **Decimals** follow the currency's c_Moneda `decimales`: the amount is rounded half away
//! from zero to that many decimals (SAT's totals already are) and the fraction is written with
//! that many digits over `10^decimales`: `245/1000 KWD` for 3. A currency with 0 decimals has
//! no fraction at all (`MIL DOSCIENTOS JPY`): `00/100` would name cents that do not exist.
//!
//! Spanish rules applied: `UN` before a noun and before `MIL`/`MILLONES` (`VEINTIÚN MIL`,
//! `UN MILLÓN`), `UNO` when nothing follows (`CIENTO UNO 00/100 XYZ`), `MIL` not `UN MIL`,
//! `CIEN` alone but `CIENTO UNO`, `DE` between exact millions and the currency
//! (`UN MILLÓN DE PESOS`, but `UN MILLÓN CIEN PESOS`). Large numbers use the long scale
//! (`MIL MILLONES` = 10⁹, `BILLÓN` = 10¹²) up to `Decimal`'s maximum.

use rust_decimal::{Decimal, RoundingStrategy};

/// `amount` in words for an invoice in `currency` (c_Moneda key), whose c_Moneda `decimales`
/// is `decimals`. A negative amount is prefixed with `MENOS`.
pub fn amount_in_words(amount: Decimal, currency: &str, decimals: u32) -> String {
    // c_Moneda's largest is 4 (CLF); 6 keeps 10^decimals far from any overflow.
    let decimals = decimals.min(MAX_DECIMALS);
    let rounded = amount.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let magnitude = rounded.abs();
    let integer = magnitude.trunc();
    // `Decimal` holds at most 96 bits of mantissa, so both parts fit a u128.
    let whole = integer.mantissa().unsigned_abs() / 10u128.pow(integer.scale());
    let fraction_scaled = (magnitude - integer) * Decimal::from(10u64.pow(decimals));
    let fraction = fraction_scaled.trunc().mantissa().unsigned_abs()
        / 10u128.pow(fraction_scaled.trunc().scale());

    let name = CurrencyName::of(currency);
    let gender = name.map_or(Gender::None, |n| n.gender);
    let mut out = String::new();
    if negative {
        out.push_str("MENOS ");
    }
    out.push_str(&integer_in_words(whole, gender));
    if let Some(name) = name {
        let exact_millions = whole >= MILLION && whole.is_multiple_of(MILLION);
        out.push_str(if exact_millions { " DE " } else { " " });
        out.push_str(if whole == 1 {
            name.singular
        } else {
            name.plural
        });
    }
    if decimals > 0 {
        out.push_str(&format!(
            " {fraction:0width$}/1{zeros}",
            width = decimals as usize,
            zeros = "0".repeat(decimals as usize)
        ));
    }
    out.push(' ');
    out.push_str(name.map_or(currency, |n| n.suffix));
    out
}

const MILLION: u128 = 1_000_000;

/// More decimals than this are treated as this many.
pub const MAX_DECIMALS: u32 = 6;

/// How the last "one" of the number is said: it agrees with the noun that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    Masculine,
    Feminine,
    /// No noun follows (a currency we cannot name): `UNO`.
    None,
}

/// A currency we can name in Spanish.
#[derive(Debug, Clone, Copy)]
struct CurrencyName {
    singular: &'static str,
    plural: &'static str,
    suffix: &'static str,
    gender: Gender,
}

impl CurrencyName {
    fn of(code: &str) -> Option<Self> {
        let (singular, plural, suffix, gender) = match code {
            "MXN" => ("PESO", "PESOS", "M.N.", Gender::Masculine),
            "USD" => ("DÓLAR", "DÓLARES", "USD", Gender::Masculine),
            "EUR" => ("EURO", "EUROS", "EUR", Gender::Masculine),
            "GBP" => (
                "LIBRA ESTERLINA",
                "LIBRAS ESTERLINAS",
                "GBP",
                Gender::Feminine,
            ),
            _ => return None,
        };
        Some(Self {
            singular,
            plural,
            suffix,
            gender,
        })
    }
}

/// The form of the units word 1 (and 21, 31, …) in a group of three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum One {
    /// Before a noun, `MIL` or `MILLONES`: `UN`, `VEINTIÚN`.
    Un,
    /// At the very end with nothing after it: `UNO`, `VEINTIUNO`.
    Uno,
    /// Before a feminine noun: `UNA`, `VEINTIUNA`.
    Una,
}

/// Scale words of the long scale, one per group of six digits.
const SCALES: [(&str, &str); 4] = [
    ("MILLÓN", "MILLONES"),
    ("BILLÓN", "BILLONES"),
    ("TRILLÓN", "TRILLONES"),
    ("CUATRILLÓN", "CUATRILLONES"),
];

fn integer_in_words(n: u128, gender: Gender) -> String {
    if n == 0 {
        return "CERO".to_owned();
    }
    // Groups of six digits, least significant first: units, millones, billones, …
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push((rest % MILLION) as u32);
        rest /= MILLION;
    }
    let mut words: Vec<String> = Vec::new();
    for (index, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        if index == 0 {
            let last = match gender {
                Gender::Masculine => One::Un,
                Gender::Feminine => One::Una,
                Gender::None => One::Uno,
            };
            words.push(below_million(group, gender == Gender::Feminine, last));
        } else {
            // Millones are masculine whatever the currency: `DOSCIENTOS MILLONES DE LIBRAS`.
            words.push(below_million(group, false, One::Un));
            let (singular, plural) = SCALES
                .get(index - 1)
                .copied()
                .unwrap_or(("CUATRILLÓN", "CUATRILLONES"));
            words.push(if group == 1 { singular } else { plural }.to_owned());
        }
    }
    words.join(" ")
}

/// 1 to 999,999. The thousands take `UN` (`VEINTIÚN MIL`, RAE's preferred form also before a
/// feminine noun) and agree in the hundreds (`DOSCIENTAS MIL LIBRAS`).
fn below_million(n: u32, feminine: bool, last: One) -> String {
    let (thousands, units) = (n / 1000, n % 1000);
    let mut words = Vec::new();
    match thousands {
        0 => {}
        1 => words.push("MIL".to_owned()),
        t => {
            words.push(below_thousand(t, feminine, One::Un));
            words.push("MIL".to_owned());
        }
    }
    if units > 0 {
        words.push(below_thousand(units, feminine, last));
    }
    words.join(" ")
}

const UNITS: [&str; 30] = [
    "",
    "UNO",
    "DOS",
    "TRES",
    "CUATRO",
    "CINCO",
    "SEIS",
    "SIETE",
    "OCHO",
    "NUEVE",
    "DIEZ",
    "ONCE",
    "DOCE",
    "TRECE",
    "CATORCE",
    "QUINCE",
    "DIECISÉIS",
    "DIECISIETE",
    "DIECIOCHO",
    "DIECINUEVE",
    "VEINTE",
    "VEINTIUNO",
    "VEINTIDÓS",
    "VEINTITRÉS",
    "VEINTICUATRO",
    "VEINTICINCO",
    "VEINTISÉIS",
    "VEINTISIETE",
    "VEINTIOCHO",
    "VEINTINUEVE",
];

const TENS: [&str; 10] = [
    "",
    "",
    "",
    "TREINTA",
    "CUARENTA",
    "CINCUENTA",
    "SESENTA",
    "SETENTA",
    "OCHENTA",
    "NOVENTA",
];

const HUNDREDS: [&str; 10] = [
    "",
    "CIENTO",
    "DOSCIENTOS",
    "TRESCIENTOS",
    "CUATROCIENTOS",
    "QUINIENTOS",
    "SEISCIENTOS",
    "SETECIENTOS",
    "OCHOCIENTOS",
    "NOVECIENTOS",
];

/// 1 to 999.
fn below_thousand(n: u32, feminine: bool, last: One) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let mut words = Vec::new();
    match (hundreds, rest) {
        (0, _) => {}
        (1, 0) => words.push("CIEN".to_owned()),
        (1, _) => words.push("CIENTO".to_owned()),
        (h, _) => {
            let masculine = HUNDREDS[h as usize];
            words.push(if feminine {
                masculine.replace("IENTOS", "IENTAS")
            } else {
                masculine.to_owned()
            });
        }
    }
    if rest > 0 {
        words.push(below_hundred(rest, last));
    }
    words.join(" ")
}

/// 1 to 99.
fn below_hundred(n: u32, last: One) -> String {
    let one = |uno: &str| -> String {
        match last {
            One::Uno => uno.to_owned(),
            One::Un if uno == "VEINTIUNO" => "VEINTIÚN".to_owned(),
            One::Un => "UN".to_owned(),
            One::Una => format!("{}A", uno.trim_end_matches('O')),
        }
    };
    match n {
        1 => one("UNO"),
        21 => one("VEINTIUNO"),
        n if n < 30 => UNITS[n as usize].to_owned(),
        n => {
            let (tens, units) = (n / 10, n % 10);
            let tens_word = TENS[tens as usize];
            match units {
                0 => tens_word.to_owned(),
                1 => format!("{tens_word} Y {}", one("UNO")),
                u => format!("{tens_word} Y {}", UNITS[u as usize]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn words(amount: &str, currency: &str) -> String {
        amount_in_words(Decimal::from_str(amount).unwrap(), currency, 2)
    }

    fn mxn(amount: &str) -> String {
        words(amount, "MXN")
    }

    #[test]
    fn worked_example_of_the_rules() {
        assert_eq!(
            mxn("14654.24"),
            "CATORCE MIL SEISCIENTOS CINCUENTA Y CUATRO PESOS 24/100 M.N."
        );
    }

    #[test]
    fn currencies_we_can_name() {
        assert_eq!(
            words("14654.24", "USD"),
            "CATORCE MIL SEISCIENTOS CINCUENTA Y CUATRO DÓLARES 24/100 USD"
        );
        assert_eq!(words("1", "USD"), "UN DÓLAR 00/100 USD");
        assert_eq!(words("2.50", "EUR"), "DOS EUROS 50/100 EUR");
        assert_eq!(words("1.01", "EUR"), "UN EURO 01/100 EUR");
        assert_eq!(words("1", "GBP"), "UNA LIBRA ESTERLINA 00/100 GBP");
        assert_eq!(words("21", "GBP"), "VEINTIUNA LIBRAS ESTERLINAS 00/100 GBP");
        assert_eq!(
            words("201201", "GBP"),
            "DOSCIENTAS UN MIL DOSCIENTAS UNA LIBRAS ESTERLINAS 00/100 GBP"
        );
        assert_eq!(
            words("200000000", "GBP"),
            "DOSCIENTOS MILLONES DE LIBRAS ESTERLINAS 00/100 GBP"
        );
    }

    #[test]
    fn other_currencies_print_the_number_alone_and_the_code() {
        assert_eq!(words("1", "CAD"), "UNO 00/100 CAD");
        assert_eq!(words("21.5", "CHF"), "VEINTIUNO 50/100 CHF");
        assert_eq!(words("101", "CAD"), "CIENTO UNO 00/100 CAD");
        assert_eq!(words("21000", "CAD"), "VEINTIÚN MIL 00/100 CAD");
        assert_eq!(words("1000000", "CAD"), "UN MILLÓN 00/100 CAD");
    }

    #[test]
    fn decimals_follow_the_currency() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(amount_in_words(d("1200"), "JPY", 0), "MIL DOSCIENTOS JPY");
        assert_eq!(amount_in_words(d("1199.6"), "JPY", 0), "MIL DOSCIENTOS JPY");
        assert_eq!(amount_in_words(d("3.245"), "KWD", 3), "TRES 245/1000 KWD");
        assert_eq!(amount_in_words(d("3.05"), "KWD", 3), "TRES 050/1000 KWD");
        // Half away from zero, as the tax engine rounds.
        assert_eq!(mxn("0.125"), "CERO PESOS 13/100 M.N.");
        assert_eq!(mxn("0.994"), "CERO PESOS 99/100 M.N.");
        assert_eq!(mxn("0.995"), "UN PESO 00/100 M.N.");
    }

    #[test]
    fn one_and_its_forms() {
        assert_eq!(mxn("0"), "CERO PESOS 00/100 M.N.");
        assert_eq!(mxn("1"), "UN PESO 00/100 M.N.");
        assert_eq!(mxn("1.99"), "UN PESO 99/100 M.N.");
        assert_eq!(mxn("21"), "VEINTIÚN PESOS 00/100 M.N.");
        assert_eq!(mxn("31"), "TREINTA Y UN PESOS 00/100 M.N.");
        assert_eq!(mxn("101"), "CIENTO UN PESOS 00/100 M.N.");
        assert_eq!(mxn("1001"), "MIL UN PESOS 00/100 M.N.");
        assert_eq!(mxn("21021"), "VEINTIÚN MIL VEINTIÚN PESOS 00/100 M.N.");
        assert_eq!(mxn("41000"), "CUARENTA Y UN MIL PESOS 00/100 M.N.");
    }

    #[test]
    fn units_tens_and_hundreds() {
        assert_eq!(mxn("16"), "DIECISÉIS PESOS 00/100 M.N.");
        assert_eq!(mxn("22"), "VEINTIDÓS PESOS 00/100 M.N.");
        assert_eq!(mxn("23"), "VEINTITRÉS PESOS 00/100 M.N.");
        assert_eq!(mxn("26"), "VEINTISÉIS PESOS 00/100 M.N.");
        assert_eq!(mxn("30"), "TREINTA PESOS 00/100 M.N.");
        assert_eq!(mxn("99"), "NOVENTA Y NUEVE PESOS 00/100 M.N.");
        assert_eq!(mxn("100"), "CIEN PESOS 00/100 M.N.");
        assert_eq!(mxn("115"), "CIENTO QUINCE PESOS 00/100 M.N.");
        assert_eq!(mxn("500"), "QUINIENTOS PESOS 00/100 M.N.");
        assert_eq!(mxn("700"), "SETECIENTOS PESOS 00/100 M.N.");
        assert_eq!(mxn("900"), "NOVECIENTOS PESOS 00/100 M.N.");
        assert_eq!(mxn("999"), "NOVECIENTOS NOVENTA Y NUEVE PESOS 00/100 M.N.");
    }

    #[test]
    fn thousands_and_millions() {
        assert_eq!(mxn("1000"), "MIL PESOS 00/100 M.N.");
        assert_eq!(mxn("100000"), "CIEN MIL PESOS 00/100 M.N.");
        assert_eq!(mxn("100100"), "CIEN MIL CIEN PESOS 00/100 M.N.");
        assert_eq!(mxn("1000000"), "UN MILLÓN DE PESOS 00/100 M.N.");
        assert_eq!(mxn("1000000.50"), "UN MILLÓN DE PESOS 50/100 M.N.");
        assert_eq!(mxn("1000100"), "UN MILLÓN CIEN PESOS 00/100 M.N.");
        assert_eq!(mxn("2000000"), "DOS MILLONES DE PESOS 00/100 M.N.");
        assert_eq!(mxn("2001000"), "DOS MILLONES MIL PESOS 00/100 M.N.");
        assert_eq!(mxn("21000000"), "VEINTIÚN MILLONES DE PESOS 00/100 M.N.");
        assert_eq!(mxn("1000000000"), "MIL MILLONES DE PESOS 00/100 M.N.");
        assert_eq!(mxn("1001000000"), "MIL UN MILLONES DE PESOS 00/100 M.N.");
        assert_eq!(
            mxn("999999999999.99"),
            "NOVECIENTOS NOVENTA Y NUEVE MIL NOVECIENTOS NOVENTA Y NUEVE MILLONES \
             NOVECIENTOS NOVENTA Y NUEVE MIL NOVECIENTOS NOVENTA Y NUEVE PESOS 99/100 M.N."
        );
        assert_eq!(mxn("1000000000000"), "UN BILLÓN DE PESOS 00/100 M.N.");
        assert_eq!(mxn("3000000000001"), "TRES BILLONES UN PESOS 00/100 M.N.");
        assert!(words(&Decimal::MAX.to_string(), "MXN").starts_with("SETENTA Y NUEVE MIL"));
    }

    #[test]
    fn negative_amounts() {
        assert_eq!(mxn("-5.10"), "MENOS CINCO PESOS 10/100 M.N.");
        assert_eq!(mxn("-0.001"), "CERO PESOS 00/100 M.N.");
    }

    /// Reads back what [`amount_in_words`] wrote for MXN: a tiny parser of the same grammar,
    /// written independently (by value of each word) so the two must agree.
    fn parse_back(text: &str) -> Option<u128> {
        let text = text.strip_suffix(" M.N.")?;
        let (words, cents) = text.rsplit_once(' ')?;
        let (cents, hundred) = cents.split_once('/')?;
        if hundred != "100" || cents.len() != 2 {
            return None;
        }
        let cents: u128 = cents.parse().ok()?;
        let words = words
            .strip_suffix(" PESOS")
            .or_else(|| words.strip_suffix(" PESO"))?;
        let words = words.strip_suffix(" DE").unwrap_or(words);
        let (mut total, mut group, mut small) = (0u128, 0u128, 0u128);
        for word in words.split(' ') {
            let value = match word {
                "CERO" => 0,
                "Y" => continue,
                "MIL" => {
                    group += small.max(1) * 1000;
                    small = 0;
                    continue;
                }
                "MILLÓN" | "MILLONES" => {
                    total += (group + small) * MILLION;
                    (group, small) = (0, 0);
                    continue;
                }
                "UN" | "UNO" => 1,
                "VEINTIÚN" => 21,
                "CIEN" => 100,
                w => UNITS
                    .iter()
                    .position(|u| *u == w)
                    .or_else(|| TENS.iter().position(|t| *t == w).map(|t| t * 10))
                    .or_else(|| HUNDREDS.iter().position(|h| *h == w).map(|h| h * 100))
                    .filter(|v| *v > 0)? as u128,
            };
            small += value;
        }
        Some((total + group + small) * 100 + cents)
    }

    proptest! {
        #[test]
        fn words_are_well_formed_and_read_back(cents in 0u64..100_000_000_000_000) {
            let amount = Decimal::new(cents as i64, 2);
            let text = amount_in_words(amount, "MXN", 2);
            prop_assert!(!text.contains("  "), "double space in {text:?}");
            prop_assert!(!text.starts_with(' ') && !text.ends_with(' '));
            let suffix = format!(" {:02}/100 M.N.", cents % 100);
            prop_assert!(text.ends_with(&suffix), "{} lacks {}", text, suffix);
            // 1000 is MIL, never UN MIL (CIENTO UN MIL is 101,000 and fine).
            prop_assert!(!text.starts_with("UN MIL ") && !text.contains("MILLONES UN MIL ")
                && !text.contains("MILLÓN UN MIL "), "'UN MIL' in {text:?}");
            prop_assert_eq!(text.clone(), amount_in_words(amount, "MXN", 2));
            prop_assert_eq!(parse_back(&text), Some(u128::from(cents)), "{}", text);
        }

        #[test]
        fn any_currency_ends_with_its_fraction_and_code(cents in 0u64..10_000_000_000, code in "[A-Z]{3}") {
            let text = amount_in_words(Decimal::new(cents as i64, 2), &code, 2);
            let suffix = if code == "MXN" { "M.N.".to_owned() } else { code.clone() };
            let ending = format!(" {:02}/100 {suffix}", cents % 100);
            prop_assert!(text.ends_with(&ending), "{} lacks {}", text, ending);
            prop_assert!(!text.contains("  "));
        }
    }
}
