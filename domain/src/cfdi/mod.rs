//! CFDI 4.0, the Mexican electronic invoice: the tax engine that computes every amount
//! ([`taxes`]), the typed document ([`model::Comprobante`]), its XML ([`Comprobante::to_xml`]) and its
//! cadena original ([`Comprobante::cadena_original`]), the text the issuer's seal signs.
//!
//! From API input to a sealed document:
//! 1. [`Comprobante::build`] with a [`Header`] and [`ConceptoInput`]s (each holding a
//!    [`taxes::Line`]) checks them and computes the amounts, or returns every violation;
//! 2. [`Comprobante::set_certificate`], then [`Comprobante::cadena_original`] to sign;
//! 3. [`Comprobante::set_sello`], then [`Comprobante::to_xml`] for the PAC.

mod cadena;
pub mod model;
pub mod taxes;
mod xml;

pub use cadena::push_field;
pub use xml::escape_attribute;

pub use model::{
    CfdiRelacionados, Complemento, Comprobante, Concepto, ConceptoInput, Emisor, Header,
    InformacionGlobal, Receptor, TipoDeComprobante,
};

#[cfg(test)]
mod tests;
