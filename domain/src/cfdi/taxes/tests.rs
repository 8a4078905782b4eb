use std::str::FromStr;

use proptest::prelude::*;

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn tax(kind: TaxKind, tax: Impuesto, factor: TipoFactor, rate: Option<&str>) -> TaxInput {
    TaxInput {
        kind,
        tax,
        factor,
        rate: rate.map(d),
    }
}

fn iva(rate: &str) -> TaxInput {
    tax(
        TaxKind::Transfer,
        Impuesto::Iva,
        TipoFactor::Tasa,
        Some(rate),
    )
}

fn line(quantity: &str, unit_price: &str, taxes: Vec<TaxInput>) -> Line {
    Line {
        quantity: d(quantity),
        unit_price: d(unit_price),
        discount: None,
        tax_object: if taxes.is_empty() {
            ObjetoImp::NotSubject
        } else {
            ObjetoImp::Subject
        },
        taxes,
    }
}

/// The worked example of CFDI-RULES.md.
pub(crate) fn worked_example() -> Vec<Line> {
    let mut discounted = line("3", "333.33", vec![iva("0.16")]);
    discounted.discount = Some(d("100.00"));
    vec![
        line("2", "1250.50", vec![iva("0.16")]),
        discounted,
        line(
            "1",
            "10000.00",
            vec![
                iva("0.16"),
                tax(
                    TaxKind::Withholding,
                    Impuesto::Isr,
                    TipoFactor::Tasa,
                    Some("0.10"),
                ),
                tax(
                    TaxKind::Withholding,
                    Impuesto::Iva,
                    TipoFactor::Tasa,
                    Some("0.106667"),
                ),
            ],
        ),
        line(
            "1",
            "850.00",
            vec![tax(
                TaxKind::Transfer,
                Impuesto::Iva,
                TipoFactor::Exento,
                None,
            )],
        ),
        line(
            "12",
            "18.50",
            vec![
                tax(
                    TaxKind::Transfer,
                    Impuesto::Ieps,
                    TipoFactor::Tasa,
                    Some("0.265"),
                ),
                iva("0.16"),
            ],
        ),
    ]
}

#[test]
fn constants_are_the_powers_of_ten_they_claim() {
    assert_eq!(MAX_INPUT, d("1000000000000"));
    assert_eq!(MAX_LINE_IMPORTE, d("100000000000000"));
    assert_eq!(MAX_AMOUNT_EXCLUSIVE, d("1000000000000000000"));
    assert_eq!(MAX_IEPS_CUOTA, d("72.1605"));
    assert_eq!(PICO, d("0.000000000001"));
    assert_eq!(half_unit(2), d("0.005"));
}

#[test]
fn rounding_is_half_away_from_zero_with_fixed_decimals() {
    assert_eq!(round_to(d("0.125"), 2).to_string(), "0.13");
    assert_eq!(round_to(d("0.135"), 2).to_string(), "0.14");
    assert_eq!(round_to(d("2501"), 6).to_string(), "2501.000000");
    assert_eq!(round_to(d("0.5"), 0).to_string(), "1");
}

#[test]
fn the_worked_example_reproduces_to_the_cent() {
    let c = compute(&worked_example(), 2).unwrap();
    assert_eq!(c.sub_total.to_string(), "14572.99");
    assert_eq!(c.descuento.unwrap().to_string(), "100.00");
    let imp = c.impuestos.as_ref().unwrap();
    let group = |tax, factor, rate: Option<&str>| {
        imp.traslados
            .iter()
            .find(|t| t.impuesto == tax && t.tipo_factor == factor && t.tasa_o_cuota == rate.map(d))
            .unwrap()
    };
    let iva16 = group(Impuesto::Iva, TipoFactor::Tasa, Some("0.16"));
    assert_eq!(iva16.base.to_string(), "13681.82");
    assert_eq!(iva16.importe.unwrap().to_string(), "2189.09");
    let exento = group(Impuesto::Iva, TipoFactor::Exento, None);
    assert_eq!(exento.base.to_string(), "850.00");
    assert_eq!(exento.importe, None);
    let ieps = group(Impuesto::Ieps, TipoFactor::Tasa, Some("0.265"));
    assert_eq!(ieps.base.to_string(), "222.00");
    assert_eq!(ieps.importe.unwrap().to_string(), "58.83");
    assert_eq!(imp.traslados.len(), 3);
    assert_eq!(
        imp.total_impuestos_trasladados.unwrap().to_string(),
        "2247.92"
    );
    assert_eq!(
        imp.total_impuestos_retenidos.unwrap().to_string(),
        "2066.67"
    );
    let ret: Vec<_> = imp
        .retenciones
        .iter()
        .map(|r| (r.impuesto, r.importe.to_string()))
        .collect();
    assert_eq!(
        ret,
        [
            (Impuesto::Isr, "1000.00".to_owned()),
            (Impuesto::Iva, "1066.67".to_owned())
        ]
    );
    assert_eq!(c.total.to_string(), "14654.24");

    // Line amounts keep 6 decimals; the IVA base of line 5 includes its IEPS.
    let l2 = &c.lines[1];
    assert_eq!(l2.importe.to_string(), "999.990000");
    assert_eq!(l2.traslados[0].base.to_string(), "899.990000");
    assert_eq!(l2.traslados[0].importe.unwrap().to_string(), "143.998400");
    let l5 = &c.lines[4];
    assert_eq!(l5.traslados[0].impuesto, Impuesto::Ieps);
    assert_eq!(l5.traslados[0].importe.unwrap().to_string(), "58.830000");
    assert_eq!(l5.traslados[1].base.to_string(), "280.830000");
    assert_eq!(l5.traslados[1].importe.unwrap().to_string(), "44.932800");
    assert_eq!(
        l5.traslados[1].tasa_o_cuota.unwrap().to_string(),
        "0.160000"
    );
    assert_eq!(c.lines[0].cantidad.to_string(), "2");
    assert_eq!(c.lines[0].valor_unitario.to_string(), "1250.50");
    assert!(c.limit_violations().is_empty());
}

#[test]
fn only_exempt_taxes_give_no_transferred_total() {
    let c = compute(
        &[line(
            "1",
            "10",
            vec![tax(
                TaxKind::Transfer,
                Impuesto::Iva,
                TipoFactor::Exento,
                None,
            )],
        )],
        2,
    )
    .unwrap();
    let imp = c.impuestos.unwrap();
    assert_eq!(imp.total_impuestos_trasladados, None);
    assert_eq!(imp.total_impuestos_retenidos, None);
    assert_eq!(c.total.to_string(), "10.00");
}

#[test]
fn tasa_zero_has_a_zero_importe_and_a_total() {
    let c = compute(&[line("1", "10", vec![iva("0")])], 0).unwrap();
    let imp = c.impuestos.unwrap();
    assert_eq!(imp.traslados[0].importe.unwrap().to_string(), "0");
    assert_eq!(imp.traslados[0].base.to_string(), "10");
    assert_eq!(imp.total_impuestos_trasladados.unwrap().to_string(), "0");
    assert_eq!(
        c.lines[0].traslados[0].importe.unwrap().to_string(),
        "0.000000"
    );
}

#[test]
fn ieps_cuota_is_base_times_cuota() {
    let c = compute(
        &[line(
            "1",
            "100",
            vec![
                tax(
                    TaxKind::Transfer,
                    Impuesto::Ieps,
                    TipoFactor::Cuota,
                    Some("0.5"),
                ),
                iva("0.16"),
            ],
        )],
        2,
    )
    .unwrap();
    let l = &c.lines[0];
    assert_eq!(l.traslados[0].importe.unwrap().to_string(), "50.000000");
    assert_eq!(l.traslados[0].tasa_o_cuota.unwrap().to_string(), "0.500000");
    assert_eq!(l.traslados[1].base.to_string(), "150.000000");
    assert_eq!(c.total.to_string(), "174.00");
}

fn codes(result: Result<TaxComputation, Violations>) -> Vec<(String, String)> {
    result
        .unwrap_err()
        .into_iter()
        .map(|v| (v.pointer, v.code))
        .collect()
}

fn pair(p: &str, c: &str) -> (String, String) {
    (p.to_owned(), c.to_owned())
}

#[test]
fn bad_amounts_are_reported_at_their_fields() {
    let mut l0 = line("0", "-1", vec![]);
    l0.discount = Some(d("1"));
    let mut l1 = line("1.0000001", "1.1234567", vec![]);
    l1.discount = Some(d("-1"));
    let mut l2 = line("2", "10", vec![]);
    l2.discount = Some(d("20.01"));
    let mut l3 = line("2", "10", vec![]);
    l3.discount = Some(d("0.0000001"));
    let l4 = line("1000000000001", "10000000000000", vec![]);
    let l5 = line("1000000000000", "1000", vec![]);
    assert_eq!(
        codes(compute(&[l0, l1, l2, l3, l4, l5], 2)),
        [
            pair("/lines/0/quantity", "not_positive"),
            pair("/lines/0/unit_price", "negative"),
            pair("/lines/1/quantity", "too_many_decimals"),
            pair("/lines/1/unit_price", "too_many_decimals"),
            pair("/lines/1/discount", "negative"),
            pair("/lines/2/discount", "CFDI40169"),
            pair("/lines/3/discount", "CFDI40168"),
            pair("/lines/4/quantity", "too_large"),
            pair("/lines/4/unit_price", "too_large"),
            pair("/lines/5/unit_price", "too_large"),
        ]
    );
    assert_eq!(codes(compute(&[], 2)), [pair("/lines", "no_lines")]);
    assert_eq!(
        codes(compute(&[line("1", "1", vec![])], 7)),
        [pair("/currency", "invalid_currency_decimals")]
    );
}

#[test]
fn trailing_zeros_beyond_six_decimals_are_accepted() {
    let c = compute(&[line("1.50000000", "2.0000000", vec![])], 2).unwrap();
    assert_eq!(c.lines[0].cantidad.to_string(), "1.5");
    assert_eq!(c.lines[0].valor_unitario.to_string(), "2");
    assert_eq!(c.total.to_string(), "3.00");
}

#[test]
fn tax_object_rules_use_sat_codes() {
    let with = |object, taxes| Line {
        tax_object: object,
        ..line("1", "10", taxes)
    };
    let isr = || {
        tax(
            TaxKind::Withholding,
            Impuesto::Isr,
            TipoFactor::Tasa,
            Some("0.10"),
        )
    };
    let ieps = || {
        tax(
            TaxKind::Transfer,
            Impuesto::Ieps,
            TipoFactor::Tasa,
            Some("0.08"),
        )
    };
    let lines = [
        with(ObjetoImp::Subject, vec![]),
        with(ObjetoImp::NotSubject, vec![iva("0.16")]),
        with(ObjetoImp::SubjectNoBreakdown, vec![iva("0.16")]),
        with(ObjetoImp::SubjectNotCaused, vec![iva("0.16")]),
        with(ObjetoImp::SubjectPodebi, vec![iva("0.16")]),
        with(ObjetoImp::IvaNotTransferred, vec![iva("0.16")]),
        with(ObjetoImp::IvaNotTransferredIepsNotBrokenDown, vec![ieps()]),
        with(ObjetoImp::IvaNotTransferredIepsBrokenDown, vec![isr()]),
        with(
            ObjetoImp::IvaNotTransferredIepsBrokenDown,
            vec![ieps(), iva("0.16")],
        ),
    ];
    assert_eq!(
        codes(compute(&lines, 2)),
        [
            pair("/lines/0/tax_object", "CFDI40171"),
            pair("/lines/1/taxes", "CFDI40172"),
            pair("/lines/2/taxes", "CFDI40172"),
            pair("/lines/3/taxes", "CFDI40172"),
            pair("/lines/4/taxes", "CFDI40172"),
            pair("/lines/5/taxes", "CFDI140226"),
            pair("/lines/6/taxes", "CFDI140226"),
            pair("/lines/7/taxes", "CFDI140227"),
            pair("/lines/8/taxes", "CFDI140227"),
        ]
    );
    // What those objects do allow.
    let fine = [
        with(ObjetoImp::IvaNotTransferred, vec![isr()]),
        with(ObjetoImp::IvaNotTransferredIepsNotBrokenDown, vec![]),
        with(
            ObjetoImp::IvaNotTransferredIepsBrokenDown,
            vec![ieps(), isr()],
        ),
        with(ObjetoImp::NotSubject, vec![]),
    ];
    assert!(compute(&fine, 2).is_ok());
}

#[test]
fn rates_follow_c_tasa_o_cuota() {
    use Impuesto::*;
    use TaxKind::*;
    use TipoFactor::*;
    let taxes = vec![
        tax(Transfer, Iva, Tasa, Some("0.15")),      // 0
        tax(Withholding, Iva, Tasa, Some("0.17")),   // 1
        tax(Withholding, Isr, Tasa, Some("0.36")),   // 2
        tax(Transfer, Isr, Tasa, Some("0.10")),      // 3
        tax(Transfer, Ieps, Tasa, Some("0.10")),     // 4
        tax(Withholding, Ieps, Tasa, Some("0.03")),  // 5
        tax(Transfer, Ieps, Cuota, Some("72.1606")), // 6
        tax(Withholding, Iva, Exento, None),         // 7
        tax(Transfer, Ieps, Exento, Some("0")),      // 8
        tax(Transfer, Iva, Cuota, None),             // 9
        tax(Withholding, Ieps, Cuota, None),         // 10
        tax(Transfer, Iva, Tasa, Some("0.1600001")), // 11
        tax(Transfer, Iva, Exento, None),            // 12 duplicate of nothing
        tax(Transfer, Isr, Exento, None),            // 13
        tax(Withholding, Iva, Cuota, Some("0.1")),   // 14
    ];
    assert_eq!(
        codes(compute(&[line("1", "10", taxes)], 2)),
        [
            pair("/lines/0/taxes/0/rate", "CFDI40179"),
            pair("/lines/0/taxes/1/rate", "CFDI40185"),
            pair("/lines/0/taxes/2/rate", "CFDI40185"),
            pair("/lines/0/taxes/3/tax", "CFDI40179"),
            pair("/lines/0/taxes/4/rate", "CFDI40179"),
            pair("/lines/0/taxes/5/rate", "CFDI40185"),
            pair("/lines/0/taxes/6/rate", "CFDI40179"),
            pair("/lines/0/taxes/7/factor", "CFDI40184"),
            pair("/lines/0/taxes/8/rate", "CFDI40177"),
            pair("/lines/0/taxes/9/rate", "CFDI40178"),
            pair("/lines/0/taxes/10/rate", "CFDI40185"),
            pair("/lines/0/taxes/11/rate", "CFDI40179"),
            pair("/lines/0/taxes/13/tax", "CFDI40179"),
            pair("/lines/0/taxes/14/rate", "CFDI40185"),
            pair("/lines/0/taxes/11", "duplicate_tax"),
        ]
    );
    let good = vec![
        tax(Transfer, Iva, Tasa, Some("0.08")),
        tax(Withholding, Iva, Tasa, Some("0.106667")),
        tax(Withholding, Isr, Tasa, Some("0.0125")),
        tax(Transfer, Ieps, Tasa, Some("0.304")),
        tax(Withholding, Ieps, Tasa, Some("1.60")),
        tax(Transfer, Ieps, Cuota, Some("72.1605")),
        tax(Withholding, Ieps, Cuota, Some("0")),
    ];
    assert!(compute(&[line("1", "10", good)], 2).is_ok());
}

#[test]
fn a_zero_base_cannot_carry_taxes() {
    let mut l = line(
        "1",
        "10",
        vec![
            iva("0.16"),
            tax(
                TaxKind::Withholding,
                Impuesto::Isr,
                TipoFactor::Tasa,
                Some("0.10"),
            ),
        ],
    );
    l.discount = Some(d("10"));
    assert_eq!(
        codes(compute(&[l], 2)),
        [
            pair("/lines/0/taxes/0", "CFDI40174"),
            pair("/lines/0/taxes/1", "CFDI40181"),
        ]
    );
}

#[test]
fn retentions_above_the_amount_due_are_refused() {
    let l = line(
        "1",
        "10",
        vec![tax(
            TaxKind::Withholding,
            Impuesto::Ieps,
            TipoFactor::Cuota,
            Some("2"),
        )],
    );
    assert_eq!(codes(compute(&[l], 2)), [pair("/lines", "negative_total")]);
}

#[test]
fn limits_catch_amounts_off_by_more_than_the_tolerance() {
    // 3 × 333.33 = 999.99: with Cantidad written without decimals the tolerance is wide.
    let (low, high) = importe_limits(d("3"), d("333.33"), 2).unwrap();
    assert!(low <= d("999.99") && d("999.99") <= high);
    assert_eq!(low, d("833.31")); // (3 − 0.5)(333.33 − 0.005) = 833.3125, truncated
    assert_eq!(high, d("1166.68")); // (3.5 − 1e-12)(333.335 − 1e-12) ≈ 1166.6725, rounded up
    let (low, high) = tax_limits(d("899.99"), d("0.16"), 2).unwrap();
    assert_eq!((low, high), (d("143.99"), d("144.00")));
    let mut v = Violations::new();
    let t = Traslado {
        base: d("899.99"),
        impuesto: Impuesto::Iva,
        tipo_factor: TipoFactor::Tasa,
        tasa_o_cuota: Some(d("0.16")),
        importe: Some(d("144.01")),
    };
    let r = Retencion {
        base: d("899.99"),
        impuesto: Impuesto::Isr,
        tipo_factor: TipoFactor::Tasa,
        tasa_o_cuota: d("0.10"),
        importe: d("89.98"),
    };
    check_limits(
        d("3.000000"),
        d("333.330000"),
        d("1000.01"),
        &[t],
        &[r],
        &Pointer::root().field("conceptos").index(1),
        &mut v,
    );
    let got: Vec<_> = v.into_iter().map(|v| (v.pointer, v.code)).collect();
    assert_eq!(
        got,
        [
            pair("/conceptos/1/importe", "CFDI40167"),
            pair("/conceptos/1/traslados/0/importe", "CFDI40180"),
            pair("/conceptos/1/retenciones/0/importe", "CFDI40186"),
        ]
    );
}

// --- properties ----------------------------------------------------------------------------

/// A decimal of `mantissa` (up to `max`) with 0 to 6 decimals.
fn amount(max: i64, min: i64) -> impl Strategy<Value = Decimal> {
    (min..=max, 0u32..=6).prop_map(|(m, s)| Decimal::new(m, s))
}

fn valid_tax_sets() -> impl Strategy<Value = (ObjetoImp, Vec<TaxInput>)> {
    use Impuesto::*;
    use TaxKind::*;
    use TipoFactor::*;
    let iva_t = prop_oneof![
        Just(Some("0.16")),
        Just(Some("0.08")),
        Just(Some("0")),
        Just(None)
    ]
    .prop_map(|r| match r {
        Some(r) => tax(Transfer, Iva, Tasa, Some(r)),
        None => tax(Transfer, Iva, Exento, None),
    });
    let ieps_t = prop_oneof![
        prop::sample::select(vec![
            "0.265", "0.30", "0.53", "0.50", "1.60", "0.304", "0.25", "0.09", "0.08", "0.07",
            "0.06", "0.03", "0"
        ])
        .prop_map(|r| tax(Transfer, Ieps, Tasa, Some(r))),
        (0i64..=721_605).prop_map(|m| TaxInput {
            kind: Transfer,
            tax: Ieps,
            factor: Cuota,
            rate: Some(Decimal::new(m, 4)),
        }),
    ];
    let isr_r = (0i64..=350_000).prop_map(|m| TaxInput {
        kind: Withholding,
        tax: Isr,
        factor: Tasa,
        rate: Some(Decimal::new(m, 6)),
    });
    let iva_r = (0i64..=160_000).prop_map(|m| TaxInput {
        kind: Withholding,
        tax: Iva,
        factor: Tasa,
        rate: Some(Decimal::new(m, 6)),
    });
    prop_oneof![
        Just((ObjetoImp::NotSubject, vec![])),
        Just((ObjetoImp::SubjectNoBreakdown, vec![])),
        (
            iva_t.clone(),
            proptest::option::of(ieps_t.clone()),
            proptest::option::of(isr_r.clone()),
            proptest::option::of(iva_r)
        )
            .prop_map(|(iva, ieps, isr, ivar)| {
                let mut taxes: Vec<TaxInput> = ieps.into_iter().collect();
                taxes.push(iva);
                taxes.extend(isr);
                taxes.extend(ivar);
                (ObjetoImp::Subject, taxes)
            }),
        (ieps_t, proptest::option::of(isr_r.clone())).prop_map(|(ieps, isr)| {
            let mut taxes = vec![ieps];
            taxes.extend(isr);
            (ObjetoImp::IvaNotTransferredIepsBrokenDown, taxes)
        }),
        proptest::option::of(isr_r)
            .prop_map(|isr| (ObjetoImp::IvaNotTransferred, isr.into_iter().collect())),
    ]
}

prop_compose! {
    fn valid_line()(
        // Products stay within MAX_LINE_IMPORTE (10^7 × 10^7).
        quantity in amount(10_000_000, 1),
        unit_price in amount(10_000_000, 1),
        discount_share in proptest::option::of(0u32..=99),
        (tax_object, taxes) in valid_tax_sets(),
    ) -> Line {
        let importe = round_to(quantity * unit_price, 6);
        // A share below 100% keeps the base above 0, as taxes require; 2 decimals like a client would.
        let discount = discount_share.map(|p| (importe * Decimal::new(i64::from(p), 2)).round_dp_with_strategy(2, RoundingStrategy::ToZero));
        Line { quantity, unit_price, discount, tax_object, taxes }
    }
}

/// Lines whose Importe is at least a cent, so that a discount leaves a base above 0.
fn priced_line() -> impl Strategy<Value = Line> {
    valid_line().prop_filter("Importe below a cent", |l| {
        l.quantity * l.unit_price >= Decimal::new(1, 2)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn computed_amounts_lie_within_sat_limits_and_totals_reconcile(
        lines in proptest::collection::vec(priced_line(), 1..8),
        decimals in prop::sample::select(vec![0u32, 2, 3]),
    ) {
        let c = match compute(&lines, decimals) {
            Ok(c) => c,
            // Heavy retentions (IEPS Cuota withheld is not generated, ISR+IVA ≤ 51%) cannot
            // exceed the line's own taxes plus its base, so nothing valid is refused here.
            Err(v) => return Err(TestCaseError::fail(format!("valid lines refused: {v}"))),
        };
        prop_assert!(c.limit_violations().is_empty(), "{}", c.limit_violations());
        let zero = Decimal::ZERO;
        let imp = c.impuestos.clone();
        let t = imp.as_ref().and_then(|i| i.total_impuestos_trasladados).unwrap_or(zero);
        let r = imp.as_ref().and_then(|i| i.total_impuestos_retenidos).unwrap_or(zero);
        prop_assert_eq!(c.total, c.sub_total - c.descuento.unwrap_or(zero) + t - r);
        prop_assert_eq!(c.sub_total, round_to(c.lines.iter().map(|l| l.importe).sum(), decimals));
        for written in [Some(c.sub_total), Some(c.total), c.descuento].into_iter().flatten() {
            prop_assert_eq!(written.scale(), decimals);
        }
        if let Some(imp) = imp {
            for g in &imp.traslados {
                let members = c.lines.iter().flat_map(|l| &l.traslados).filter(|x| {
                    (x.impuesto, x.tipo_factor, x.tasa_o_cuota) == (g.impuesto, g.tipo_factor, g.tasa_o_cuota)
                });
                let (b, i): (Vec<_>, Vec<_>) = members.map(|x| (x.base, x.importe)).unzip();
                prop_assert_eq!(g.base, round_to(b.into_iter().sum(), decimals));
                prop_assert_eq!(g.importe, i.into_iter().sum::<Option<Decimal>>().map(|s| round_to(s, decimals)));
            }
            let sum_t: Decimal = imp.traslados.iter().filter_map(|g| g.importe).sum();
            prop_assert_eq!(imp.total_impuestos_trasladados.unwrap_or(zero), sum_t);
            for g in &imp.retenciones {
                let s: Decimal = c.lines.iter().flat_map(|l| &l.retenciones).filter(|x| x.impuesto == g.impuesto).map(|x| x.importe).sum();
                prop_assert_eq!(g.importe, round_to(s, decimals));
            }
        }
        for l in &c.lines {
            prop_assert_eq!(l.importe.scale(), LINE_DECIMALS);
            for t in &l.traslados {
                prop_assert_eq!(t.base.scale(), LINE_DECIMALS);
                prop_assert_eq!(t.tipo_factor == TipoFactor::Exento, t.importe.is_none());
            }
        }
    }

    #[test]
    fn never_panics_on_any_input(
        raw in proptest::collection::vec(
            (any::<i64>(), 0u32..=28, any::<i64>(), 0u32..=28, proptest::option::of((any::<i64>(), 0u32..=28)), 0usize..8,
             proptest::collection::vec((any::<bool>(), 0usize..3, 0usize..3, proptest::option::of((any::<i64>(), 0u32..=28))), 0..5)),
            0..5),
        decimals in 0u32..10,
    ) {
        let objects = ["01", "02", "03", "04", "05", "06", "07", "08"];
        let lines: Vec<Line> = raw.into_iter().map(|(q, qs, p, ps, disc, obj, taxes)| Line {
            quantity: Decimal::new(q, qs),
            unit_price: Decimal::new(p, ps),
            discount: disc.map(|(m, s)| Decimal::new(m, s)),
            tax_object: ObjetoImp::from_code(objects[obj]).unwrap(),
            taxes: taxes.into_iter().map(|(w, t, f, r)| TaxInput {
                kind: if w { TaxKind::Withholding } else { TaxKind::Transfer },
                tax: [Impuesto::Isr, Impuesto::Iva, Impuesto::Ieps][t],
                factor: [TipoFactor::Tasa, TipoFactor::Cuota, TipoFactor::Exento][f],
                rate: r.map(|(m, s)| Decimal::new(m, s)),
            }).collect(),
        }).collect();
        if let Ok(c) = compute(&lines, decimals) {
            prop_assert!(c.limit_violations().is_empty());
        }
    }

    #[test]
    fn the_largest_accepted_inputs_compute_exactly(
        q in amount(i64::MAX, 1), p in amount(i64::MAX, 0),
    ) {
        let taxes = vec![
            tax(TaxKind::Transfer, Impuesto::Ieps, TipoFactor::Cuota, Some("72.1605")),
            iva("0.16"),
        ];
        let l = Line { tax_object: ObjetoImp::Subject, ..line("1", "1", taxes) };
        let l = Line { quantity: q, unit_price: p, ..l };
        if let Ok(c) = compute(&[l], 2) {
            prop_assert_eq!(c.lines[0].importe, round_to(q * p, 6));
            prop_assert!(c.limit_violations().is_empty());
        }
    }
}
