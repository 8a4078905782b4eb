//! Pure invoicing rules. Nothing here performs I/O or knows about HTTP or SQL: the boundary is
//! checked in CI (`cargo tree -p domain -i diesel` and `-i actix-web` find nothing).

pub mod amount_in_words;
pub mod branding;
pub mod cfdi;
pub mod csd;
pub mod fields;
pub mod identity;
pub mod local_time;
pub mod pac;
pub mod postal_code;
pub mod receiver;
pub mod rfc;
pub mod series;
pub mod stamp;
pub mod tax_profile;
pub mod tax_regime;
pub mod text;
pub mod validation;
