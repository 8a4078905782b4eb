//! Users and what they may do: email addresses, the password policy, and roles.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An email address as given (case kept for display), compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email must be an address like name@example.com")]
    Invalid,
    #[error("email must have at most 254 characters")]
    TooLong,
}

impl EmailError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_email",
            Self::TooLong => "too_long",
        }
    }
}

impl Email {
    /// Accepts what mail systems deliver to in practice: one `@`, a non-empty local part of at
    /// most 64 bytes, a domain with a dot and no empty labels, no white space or control
    /// characters (RFC 5321 limits; the full RFC 5322 grammar accepts addresses nobody can use).
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        if email.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError::Invalid)?;
        // Host names: letters (internationalized ones included), digits and inner hyphens.
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let chars_ok = email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>' && c != ',');
        if local.is_empty() || local.len() > 64 || domain.contains('@') || !labels_ok || !chars_ok {
            return Err(EmailError::Invalid);
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for lookups and uniqueness.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Password length limits (OWASP ASVS 2.1: at least 12 characters, allow at least 64, no
/// composition rules). The upper bound keeps hashing cost bounded.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A password that meets the policy; never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must have at least 12 characters")]
    TooShort,
    #[error("password must have at most 128 characters")]
    TooLong,
}

impl PasswordError {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
        }
    }
}

impl NewPassword {
    /// Counts characters, not bytes, so accented passphrases are measured as typed.
    pub fn parse(input: &str) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > PASSWORD_MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(input.to_string()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// What a user may do in their organization, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Accountant,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Accountant, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Accountant => "accountant",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role includes everything `required` may do.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert!(Email::parse("ana@example.com").is_ok());
        assert_eq!(
            Email::parse(" Ana.Lopez@Example.COM ").map(|e| e.normalized()),
            Ok("ana.lopez@example.com".to_string())
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@example.com",
            "ana@.example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert_eq!(
            NewPassword::parse("short").err(),
            Some(PasswordError::TooShort)
        );
        assert!(
            NewPassword::parse("contraseñaño").is_ok(),
            "12 characters, 14 bytes"
        );
        assert_eq!(
            NewPassword::parse(&"x".repeat(129)).err(),
            Some(PasswordError::TooLong)
        );
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse battery")),
            "Ok(NewPassword(..))"
        );
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Accountant));
        assert!(!Role::Viewer.at_least(Role::Accountant));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    proptest! {
        #[test]
        fn any_password_of_allowed_length_is_accepted(p in "\\PC{12,128}") {
            prop_assert!(NewPassword::parse(&p).is_ok());
        }
    }
}
