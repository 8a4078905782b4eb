//! Mexican postal codes, checked against SAT's c_CodigoPostal catalog (embedded in the binary:
//! an issuer's postal code is CFDI `LugarExpedicion` and must exist there).

use std::sync::LazyLock;

/// Every code of c_CodigoPostal, sorted, as numbers (95,000 entries in 380 KB).
static CODES: LazyLock<Vec<u32>> = LazyLock::new(|| {
    let mut codes: Vec<u32> = include_str!("../../catalogs/sat/c_CodigoPostal.csv")
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').next()?.parse().ok())
        .collect();
    codes.sort_unstable();
    codes
});

/// A five-digit postal code that exists in c_CodigoPostal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PostalCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostalCodeError {
    #[error("postal code must be five digits")]
    Format,
    #[error("postal code does not exist in SAT's c_CodigoPostal catalog")]
    Unknown,
}

impl PostalCodeError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Format => "invalid_postal_code",
            Self::Unknown => "unknown_postal_code",
        }
    }
}

impl PostalCode {
    pub fn parse(input: &str) -> Result<Self, PostalCodeError> {
        if input.len() != 5 || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PostalCodeError::Format);
        }
        let number: u32 = input.parse().map_err(|_| PostalCodeError::Format)?;
        if CODES.binary_search(&number).is_err() {
            return Err(PostalCodeError::Unknown);
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_must_exist_in_the_catalog() {
        assert_eq!(CODES.len(), 95_749);
        assert!(PostalCode::parse("64000").is_ok(), "Monterrey centro");
        assert!(PostalCode::parse("01000").is_ok(), "leading zero kept");
        assert_eq!(PostalCode::parse("6400"), Err(PostalCodeError::Format));
        assert_eq!(PostalCode::parse("64a00"), Err(PostalCodeError::Format));
        assert_eq!(PostalCode::parse("00001"), Err(PostalCodeError::Unknown));
    }
}
