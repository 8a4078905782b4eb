//! Rule violations, each tied to the place in the input that broke the rule.
//!
//! Validation collects every violation before answering, so a client fixes all its fields in
//! one round trip. The location is an RFC 6901 JSON pointer into the request body
//! (`/lines/2/quantity`).

use std::fmt;

use serde::Serialize;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON pointer to the offending value (`""` is the whole document).
    pub pointer: String,
    /// Stable machine-readable code: snake_case, or SAT's code (`CFDI40105`) for a SAT rule.
    pub code: String,
    /// A sentence for a human.
    pub message: String,
}

impl Violation {
    pub fn new(pointer: Pointer, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.0,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Every violation found in one input; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was violated, else every violation.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Violation> for Violations {
    fn from(v: Violation) -> Self {
        Self(vec![v])
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {} ({})", v.pointer, v.message, v.code)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// An RFC 6901 JSON pointer, built one reference token at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pointer(String);

impl Pointer {
    /// The whole document.
    pub fn root() -> Self {
        Self::default()
    }

    /// The member `name` of the object at this pointer.
    pub fn field(&self, name: &str) -> Self {
        let mut s = self.0.clone();
        s.push('/');
        // RFC 6901 §3: '~' is written '~0' and '/' is written '~1'.
        s.push_str(&name.replace('~', "~0").replace('/', "~1"));
        Self(s)
    }

    /// The element `index` of the array at this pointer.
    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}/{index}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference tokens, unescaped.
    pub fn tokens(&self) -> Vec<String> {
        if self.0.is_empty() {
            return Vec::new();
        }
        self.0[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pointers_follow_rfc_6901() {
        let p = Pointer::root().field("lines").index(2).field("quantity");
        assert_eq!(p.as_str(), "/lines/2/quantity");
        assert_eq!(Pointer::root().field("a/b~c").as_str(), "/a~1b~0c");
        assert_eq!(Pointer::root().as_str(), "");
    }

    #[test]
    fn violations_collect_and_convert() {
        let mut all = Violations::new();
        assert_eq!(all.clone().into_result(1), Ok(1));
        all.push(Violation::new(
            Pointer::root().field("rfc"),
            "invalid_rfc",
            "bad",
        ));
        all.push(Violation::new(
            Pointer::root().field("name"),
            "too_long",
            "long",
        ));
        assert_eq!(all.len(), 2);
        assert_eq!(
            all.to_string(),
            "/rfc: bad (invalid_rfc); /name: long (too_long)"
        );
        assert!(all.into_result(()).is_err());
    }

    proptest! {
        #[test]
        fn any_field_name_round_trips_through_a_pointer(names in proptest::collection::vec(".*", 0..5)) {
            let p = names.iter().fold(Pointer::root(), |p, n| p.field(n));
            prop_assert_eq!(p.tokens(), names);
        }
    }
}
