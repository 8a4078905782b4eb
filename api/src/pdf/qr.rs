//! SAT's verification QR code (Anexo 20, "código de barras bidimensional"): the URL of
//! verificacfdi with the folio fiscal, both RFCs, the total and the end of the issuer's seal.
//!
//! Formats, as SAT's specification and the reference implementations (phpcfdi's
//! cfdi-expresiones) write them for CFDI 3.3 and 4.0:
//! - `tt`: the Total with 6 decimals, trailing zeros dropped but one decimal kept
//!   (`14654.24`, `1000.0`, `0.0`), no padding of the integer part;
//! - `re`, `rr`: the RFC XML-escaped (`&` → `&amp;`, as in the XML), `Ñ` left as is (UTF-8);
//! - `fe`: the last 8 characters of the CFDI's Sello.

use rust_decimal::Decimal;
use std::str::FromStr;

use qrcode::{EcLevel, QrCode};

const VERIFY_URL: &str = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx";

/// The verification URL of a stamped CFDI.
pub(super) fn verification_url(uuid: &str, re: &str, rr: &str, total: &str, sello: &str) -> String {
    let chars: Vec<char> = sello.chars().collect();
    let fe: String = chars[chars.len().saturating_sub(8)..].iter().collect();
    format!(
        "{VERIFY_URL}?id={uuid}&re={}&rr={}&tt={}&fe={fe}",
        escape_rfc(re),
        escape_rfc(rr),
        format_total(total)
    )
}

fn escape_rfc(rfc: &str) -> String {
    rfc.replace('&', "&amp;")
}

fn format_total(total: &str) -> String {
    let Ok(value) = Decimal::from_str(total.trim()) else {
        // Not a number (never in a stored CFDI): print what the XML says.
        return total.to_owned();
    };
    let mut text = format!("{:.6}", value.abs());
    while text.ends_with('0') && !text.ends_with(".0") {
        text.pop();
    }
    text
}

/// The QR modules, row by row, `true` for dark; `None` if the URL does not fit a QR code
/// (it always does: it is under 200 characters).
pub(super) fn modules(url: &str) -> Option<(usize, Vec<bool>)> {
    // Level M, as SAT's specification asks.
    let code = QrCode::with_error_correction_level(url, EcLevel::M).ok()?;
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some((code.width(), dark))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_follows_sats_format() {
        let url = verification_url(
            "5F1D2B3C-0000-4000-8000-00000000ABCD",
            "EKU9003173C9",
            "PEÑ&010101AB1",
            "14654.240000",
            "abcdefghXYZ123+/==",
        );
        assert_eq!(
            url,
            "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?\
             id=5F1D2B3C-0000-4000-8000-00000000ABCD&re=EKU9003173C9&rr=PEÑ&amp;010101AB1\
             &tt=14654.24&fe=Z123+/=="
        );
    }

    #[test]
    fn total_keeps_one_decimal() {
        assert_eq!(format_total("1000"), "1000.0");
        assert_eq!(format_total("0"), "0.0");
        assert_eq!(format_total("0.10"), "0.1");
        assert_eq!(format_total("123.4567891"), "123.456789");
        assert_eq!(format_total("x"), "x");
    }
}
