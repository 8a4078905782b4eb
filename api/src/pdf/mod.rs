//! The printed representation of a CFDI ("representación impresa"): a PDF made from the CFDI
//! XML exactly as stored, for a stamped invoice, credit note, payment receipt or traslado, or
//! for a draft.
//!
//! [`render`] is a pure function (no I/O, no clock, no database), so the same XML and options
//! always give the same document and the HTTP layer decides when to call it. Steps:
//! 1. [`document`] reads the XML with roxmltree into a view model (values kept as the XML's
//!    text, so the printout cannot disagree with what SAT holds);
//! 2. [`layout`] places it on Letter pages: header, parties, the concept table (split across
//!    pages with its header repeated), totals with the amount in words, the payments of a
//!    recibo de pago, SAT's seals and QR code, "Página N de M";
//! 3. krilla writes the PDF, embedding only the glyphs used of the DejaVu fonts compiled in.
//!
//! Labels are in Spanish: the printout is a Mexican fiscal document.

mod catalogs;
mod document;
mod layout;
mod qr;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;

/// How to print a CFDI.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Print the "BORRADOR – SIN VALIDEZ FISCAL" mark on every page and leave out the seals
    /// and the QR code. A document without a TimbreFiscalDigital is always printed as a draft,
    /// whatever this says: without a stamp it has no fiscal validity.
    pub draft: bool,
    /// The organization's logo, printed top-left.
    pub logo: Option<Logo>,
    /// Colour of headings and of the table header, RGB; a dark blue when `None`.
    pub accent_color: Option<[u8; 3]>,
    /// A line of text at the bottom of every page (contact details, bank account, …).
    pub footer: Option<String>,
}

/// A logo image, already checked by the caller to be of the format it claims.
#[derive(Clone, PartialEq, Eq)]
pub enum Logo {
    Png(Vec<u8>),
    Jpeg(Vec<u8>),
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are noise in logs; their size is what helps.
        match self {
            Self::Png(bytes) => write!(f, "Logo::Png({} bytes)", bytes.len()),
            Self::Jpeg(bytes) => write!(f, "Logo::Jpeg({} bytes)", bytes.len()),
        }
    }
}

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The input is not well-formed XML.
    #[error("the CFDI is not well-formed XML: {0}")]
    Xml(#[from] roxmltree::Error),
    /// The XML is not a CFDI 4.0.
    #[error("the XML is not a CFDI 4.0: {0}")]
    NotACfdi(&'static str),
    /// The logo could not be decoded despite the caller's check.
    #[error("the logo cannot be decoded: {0}")]
    Logo(String),
    /// The fonts compiled into the binary are unreadable (a damaged build).
    #[error("the embedded fonts cannot be read")]
    Fonts,
    /// The PDF writer failed.
    #[error("the PDF cannot be written: {0}")]
    Pdf(String),
}

/// The PDF of the CFDI `xml` (the stored document, UTF-8).
pub fn render(xml: &str, options: &RenderOptions) -> Result<Vec<u8>, PdfError> {
    let invoice = document::Invoice::parse(xml)?;
    layout::render(&invoice, options)
}
