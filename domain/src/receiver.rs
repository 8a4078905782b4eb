//! The CFDI Receptor rules a customer must satisfy before any invoice is made out to it
//! (Anexo 20 and SAT's error matrix, rules CFDI40143–CFDI40161), checked where SAT's lists
//! are not needed: the RFC's form and check digit, the régimen for the kind of person, the
//! CFDI use for the régimen, the generic RFCs, and foreign residence.
//!
//! The catalogs come through [`ReceiverCatalogs`], so the rules stay pure and the service
//! answers from the catalogs it has loaded (which an operator may have reloaded).

use crate::fields;
use crate::rfc::{PersonType, Rfc};
use crate::text::fold;
use crate::validation::{Pointer, Violation, Violations};

/// Which kinds of person a catalog entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonScope {
    pub natural: bool,
    pub legal: bool,
}

impl PersonScope {
    pub fn allows(self, person: PersonType) -> bool {
        match person {
            PersonType::Individual => self.natural,
            PersonType::Company => self.legal,
        }
    }
}

/// A c_UsoCFDI entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfdiUse {
    pub scope: PersonScope,
    /// The receivers' regímenes it may be used with (`regimenes_fiscales_receptores`).
    pub receiver_regimes: Vec<String>,
}

/// A c_Pais entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// The format of that country's tax ids (`patron_identidad_tributaria`), a regular
    /// expression, when SAT publishes one.
    pub tax_id_pattern: Option<String>,
}

/// What the receiver rules need to know from SAT's catalogs.
pub trait ReceiverCatalogs {
    fn tax_regime(&self, code: &str) -> Option<PersonScope>;
    fn cfdi_use(&self, code: &str) -> Option<CfdiUse>;
    fn country(&self, code: &str) -> Option<Country>;
    fn postal_code_exists(&self, code: &str) -> bool;
}

/// The receiver fields of a customer, as the client sent them.
#[derive(Debug, Clone, Copy)]
pub struct Receiver<'a> {
    /// Receptor/@Nombre.
    pub legal_name: &'a str,
    /// Receptor/@Rfc.
    pub rfc: &'a str,
    /// Receptor/@RegimenFiscalReceptor.
    pub tax_regime: &'a str,
    /// Receptor/@DomicilioFiscalReceptor.
    pub tax_postal_code: &'a str,
    /// Receptor/@UsoCFDI (the customer's default).
    pub cfdi_use: Option<&'a str>,
    /// Receptor/@ResidenciaFiscal.
    pub tax_residence_country: Option<&'a str>,
    /// Receptor/@NumRegIdTrib.
    pub foreign_tax_id: Option<&'a str>,
}

/// The régimen SAT requires with a generic RFC (CFDI40159).
pub const GENERIC_RFC_REGIME: &str = "616";

/// Checks `receiver` against the CFDI 4.0 receiver rules; `issuer_postal_code` is the
/// organization's (LugarExpedicion), which generic RFCs must use as their fiscal address.
/// Pointers are `at` + the field name (`/tax_regime`).
pub fn check(
    receiver: &Receiver<'_>,
    issuer_postal_code: &str,
    catalogs: &impl ReceiverCatalogs,
    at: &Pointer,
    violations: &mut Violations,
) {
    let field = |name: &str| at.field(name);
    fields::text(receiver.legal_name, 1, 254, field("legal_name"), violations);

    let rfc = match Rfc::parse(receiver.rfc) {
        Ok(rfc) => Some(rfc),
        Err(e) => {
            violations.push(Violation::new(field("rfc"), e.code(), e.to_string()));
            None
        }
    };
    let generic = rfc
        .as_ref()
        .is_some_and(|r| r.is_generic_national() || r.is_generic_foreign());
    let foreign = rfc.as_ref().is_some_and(Rfc::is_generic_foreign);

    if fold(receiver.legal_name.trim()) == "publico en general"
        && !rfc.as_ref().is_some_and(Rfc::is_generic_national)
    {
        violations.push(Violation::new(
            field("rfc"),
            "CFDI40146",
            "a receiver named PUBLICO EN GENERAL must have the RFC XAXX010101000",
        ));
    }

    // Régimen: in the catalog (CFDI40157), 616 with a generic RFC (CFDI40159), and fitting the
    // kind of person (CFDI40158).
    let regime = catalogs.tax_regime(receiver.tax_regime);
    match (&rfc, regime) {
        (_, None) => violations.push(Violation::new(
            field("tax_regime"),
            "CFDI40157",
            "tax_regime is not a key of SAT's c_RegimenFiscal catalog",
        )),
        (Some(_), Some(_)) if generic && receiver.tax_regime != GENERIC_RFC_REGIME => violations
            .push(Violation::new(
                field("tax_regime"),
                "CFDI40159",
                "with a generic RFC (XAXX010101000, XEXX010101000) the régimen must be 616",
            )),
        (Some(rfc), Some(scope)) if !generic && !scope.allows(rfc.person_type()) => violations
            .push(Violation::new(
                field("tax_regime"),
                "CFDI40158",
                format!(
                    "régimen {} does not apply to a {}",
                    receiver.tax_regime,
                    person_name(rfc.person_type())
                ),
            )),
        _ => {}
    }

    // Fiscal address: a postal code of c_CodigoPostal; the issuer's own with a generic RFC.
    if receiver.tax_postal_code.len() != 5
        || !receiver.tax_postal_code.bytes().all(|b| b.is_ascii_digit())
    {
        violations.push(Violation::new(
            field("tax_postal_code"),
            "invalid_postal_code",
            "tax_postal_code must be five digits",
        ));
    } else if !catalogs.postal_code_exists(receiver.tax_postal_code) {
        violations.push(Violation::new(
            field("tax_postal_code"),
            "unknown_postal_code",
            "tax_postal_code is not in SAT's c_CodigoPostal catalog",
        ));
    } else if generic && receiver.tax_postal_code != issuer_postal_code {
        violations.push(Violation::new(
            field("tax_postal_code"),
            "CFDI40149",
            format!(
                "with a generic RFC the fiscal postal code must be the issuer's ({issuer_postal_code})"
            ),
        ));
    }

    // CFDI use: in the catalog (CFDI40160), for this kind of person and régimen (CFDI40161).
    if let Some(code) = receiver.cfdi_use {
        match catalogs.cfdi_use(code) {
            None => violations.push(Violation::new(
                field("cfdi_use"),
                "CFDI40160",
                "cfdi_use is not a key of SAT's c_UsoCFDI catalog",
            )),
            Some(usage) => {
                let person_ok = rfc
                    .as_ref()
                    .is_none_or(|r| usage.scope.allows(r.person_type()));
                let regime_ok = usage
                    .receiver_regimes
                    .iter()
                    .any(|r| r == receiver.tax_regime);
                if regime.is_some() && (!person_ok || !regime_ok) {
                    violations.push(Violation::new(
                        field("cfdi_use"),
                        "CFDI40161",
                        format!(
                            "CFDI use {code} does not apply to régimen {} or to this kind of person",
                            receiver.tax_regime
                        ),
                    ));
                }
            }
        }
    }

    // Foreign residence: only with XEXX010101000 (CFDI40151, CFDI40154), never MEX
    // (CFDI40152), required with a foreign tax id (CFDI40153), whose format the country may
    // fix (CFDI40156).
    let country = receiver
        .tax_residence_country
        .map(|code| (code, catalogs.country(code)));
    if let Some((code, entry)) = &country {
        if entry.is_none() {
            violations.push(Violation::new(
                field("tax_residence_country"),
                "CFDI40150",
                "tax_residence_country is not a key of SAT's c_Pais catalog",
            ));
        } else if *code == "MEX" {
            violations.push(Violation::new(
                field("tax_residence_country"),
                "CFDI40152",
                "tax_residence_country cannot be MEX",
            ));
        } else if rfc.is_some() && !foreign {
            violations.push(Violation::new(
                field("tax_residence_country"),
                "CFDI40151",
                "only a foreign customer (RFC XEXX010101000) has a tax residence abroad",
            ));
        }
    }
    if let Some(tax_id) = receiver.foreign_tax_id {
        fields::text(tax_id, 1, 40, field("foreign_tax_id"), violations);
        if rfc.is_some() && !foreign {
            violations.push(Violation::new(
                field("foreign_tax_id"),
                "CFDI40154",
                "only a foreign customer (RFC XEXX010101000) has a foreign tax id",
            ));
        }
        match &country {
            None => violations.push(Violation::new(
                field("tax_residence_country"),
                "CFDI40153",
                "a foreign tax id needs the country that issued it",
            )),
            Some((
                code,
                Some(Country {
                    tax_id_pattern: Some(pattern),
                }),
            )) => {
                let anchored = format!("^(?:{pattern})$");
                if regex::Regex::new(&anchored).is_ok_and(|re| !re.is_match(tax_id)) {
                    violations.push(Violation::new(
                        field("foreign_tax_id"),
                        "CFDI40156",
                        format!("a tax id of {code} has the form {pattern}"),
                    ));
                }
            }
            Some(_) => {}
        }
    }
}

fn person_name(person: PersonType) -> &'static str {
    match person {
        PersonType::Individual => "persona física (13-character RFC)",
        PersonType::Company => "persona moral (12-character RFC)",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The entries of the real catalogs the tests use.
    struct Catalogs;

    impl ReceiverCatalogs for Catalogs {
        fn tax_regime(&self, code: &str) -> Option<PersonScope> {
            let (natural, legal) = match code {
                "601" => (false, true),
                "605" | "616" => (true, false),
                "612" => (true, false),
                "626" => (true, true),
                _ => return None,
            };
            Some(PersonScope { natural, legal })
        }
        fn cfdi_use(&self, code: &str) -> Option<CfdiUse> {
            let uses: HashMap<&str, (bool, bool, &[&str])> = HashMap::from([
                ("G03", (true, true, &["601", "612", "626"][..])),
                (
                    "S01",
                    (true, true, &["601", "605", "612", "616", "626"][..]),
                ),
                ("D01", (true, false, &["605", "612"][..])),
            ]);
            uses.get(code).map(|(natural, legal, regimes)| CfdiUse {
                scope: PersonScope {
                    natural: *natural,
                    legal: *legal,
                },
                receiver_regimes: regimes.iter().map(|r| r.to_string()).collect(),
            })
        }
        fn country(&self, code: &str) -> Option<Country> {
            match code {
                "USA" => Some(Country {
                    tax_id_pattern: Some("[0-9]{9}".into()),
                }),
                "MEX" | "DEU" => Some(Country {
                    tax_id_pattern: None,
                }),
                _ => None,
            }
        }
        fn postal_code_exists(&self, code: &str) -> bool {
            matches!(code, "42501" | "64000" | "22000")
        }
    }

    fn codes(receiver: Receiver<'_>) -> Vec<String> {
        let mut v = Violations::new();
        check(&receiver, "64000", &Catalogs, &Pointer::root(), &mut v);
        v.into_iter()
            .map(|v| format!("{} {}", v.pointer, v.code))
            .collect()
    }

    fn company() -> Receiver<'static> {
        Receiver {
            legal_name: "ESCUELA KEMPER URGATE",
            rfc: "EKU9003173C9",
            tax_regime: "601",
            tax_postal_code: "42501",
            cfdi_use: Some("G03"),
            tax_residence_country: None,
            foreign_tax_id: None,
        }
    }

    #[test]
    fn a_registered_company_passes() {
        assert!(codes(company()).is_empty());
    }

    #[test]
    fn regime_and_use_must_fit_the_person_and_each_other() {
        assert_eq!(
            codes(Receiver {
                tax_regime: "612",
                ..company()
            }),
            ["/tax_regime CFDI40158"]
        );
        assert_eq!(
            codes(Receiver {
                cfdi_use: Some("D01"),
                ..company()
            }),
            ["/cfdi_use CFDI40161"]
        );
        assert_eq!(
            codes(Receiver {
                tax_regime: "999",
                cfdi_use: Some("ZZZ"),
                ..company()
            }),
            ["/tax_regime CFDI40157", "/cfdi_use CFDI40160"]
        );
    }

    #[test]
    fn generic_rfcs_need_616_and_the_issuers_postal_code() {
        let public = Receiver {
            legal_name: "PUBLICO EN GENERAL",
            rfc: "XAXX010101000",
            tax_regime: "616",
            tax_postal_code: "64000",
            cfdi_use: Some("S01"),
            tax_residence_country: None,
            foreign_tax_id: None,
        };
        assert!(codes(public).is_empty());
        assert_eq!(
            codes(Receiver {
                tax_regime: "601",
                tax_postal_code: "42501",
                cfdi_use: Some("G03"),
                ..public
            }),
            ["/tax_regime CFDI40159", "/tax_postal_code CFDI40149"]
        );
        assert_eq!(
            codes(Receiver {
                rfc: "EKU9003173C9",
                tax_regime: "601",
                cfdi_use: Some("G03"),
                ..public
            }),
            ["/rfc CFDI40146"]
        );
    }

    #[test]
    fn only_foreign_customers_live_abroad() {
        let foreign = Receiver {
            legal_name: "ACME INC",
            rfc: "XEXX010101000",
            tax_regime: "616",
            tax_postal_code: "64000",
            cfdi_use: Some("S01"),
            tax_residence_country: Some("USA"),
            foreign_tax_id: Some("123456789"),
        };
        assert!(codes(foreign).is_empty());
        assert_eq!(
            codes(Receiver {
                foreign_tax_id: Some("12-34"),
                ..foreign
            }),
            ["/foreign_tax_id CFDI40156"]
        );
        assert_eq!(
            codes(Receiver {
                tax_residence_country: None,
                ..foreign
            }),
            ["/tax_residence_country CFDI40153"]
        );
        assert_eq!(
            codes(Receiver {
                tax_residence_country: Some("MEX"),
                foreign_tax_id: None,
                ..foreign
            }),
            ["/tax_residence_country CFDI40152"]
        );
        assert_eq!(
            codes(Receiver {
                tax_residence_country: Some("DEU"),
                foreign_tax_id: Some("DE123"),
                ..company()
            }),
            [
                "/tax_residence_country CFDI40151",
                "/foreign_tax_id CFDI40154"
            ]
        );
    }

    #[test]
    fn every_broken_field_is_reported_at_once() {
        let all_wrong = Receiver {
            legal_name: "",
            rfc: "EKU9003173C8",
            tax_regime: "999",
            tax_postal_code: "1234",
            cfdi_use: Some("ZZZ"),
            tax_residence_country: Some("XYZ"),
            foreign_tax_id: None,
        };
        assert_eq!(
            codes(all_wrong),
            [
                "/legal_name length",
                "/rfc invalid_rfc_check_digit",
                "/tax_regime CFDI40157",
                "/tax_postal_code invalid_postal_code",
                "/cfdi_use CFDI40160",
                "/tax_residence_country CFDI40150"
            ]
        );
    }
}
