//! Analysis at the end of a run: Van Westendorp curves and price points, Gabor–Granger
//! demand and revenue curves and the revenue-maximising price.

use agora_choice::pricing::{VanWestendorpResponse, gabor_granger, van_westendorp};

/// One row of `price_sensitivity`.
#[derive(Clone, Debug, PartialEq)]
pub struct SensitivityRow {
    /// `van_westendorp` or `gabor_granger`.
    pub method: &'static str,
    /// `curve`, `price_point`, `demand`, `revenue` or `respondents`.
    pub row: &'static str,
    /// The curve (`too_cheap`, `cheap`, `expensive`, `too_expensive`, `not_cheap`,
    /// `not_expensive`), the price point (`pmc`, `pme`, `opp`, `ipp`,
    /// `revenue_max`), or the count (`used`, `dropped`).
    pub name: &'static str,
    /// The price of a curve point, or the price point itself.
    pub price: Option<f64>,
    /// A share, a demand, a revenue per respondent, or a count.
    pub value: Option<f64>,
    /// Lower end of the 95% interval (Wilson, for demand and revenue).
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// Answers behind the row.
    pub n: u32,
    /// Why a value is missing.
    pub note: Option<String>,
}

fn row(method: &'static str, row: &'static str, name: &'static str, n: u32) -> SensitivityRow {
    SensitivityRow {
        method,
        row,
        name,
        price: None,
        value: None,
        ci_low: None,
        ci_high: None,
        n,
        note: None,
    }
}

/// The (price, would buy) observations of one Gabor–Granger walk, completed under
/// monotone demand: the respondent buys at every rung up to the highest rung it
/// accepted and at none above. `answers` are (rung, bought); an empty walk gives none.
pub fn impute_walk(prices: &[f64], answers: &[(u16, bool)]) -> Vec<(f64, bool)> {
    if answers.is_empty() {
        return Vec::new();
    }
    let highest_yes = answers
        .iter()
        .filter(|(_, yes)| *yes)
        .map(|(r, _)| usize::from(*r))
        .max();
    prices
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, highest_yes.is_some_and(|h| i <= h)))
        .collect()
}

/// Van Westendorp rows from the four answers of each respondent.
pub fn analyse_van_westendorp(responses: &[VanWestendorpResponse]) -> Vec<SensitivityRow> {
    const M: &str = "van_westendorp";
    let n = responses.len() as u32;
    let result = match van_westendorp(responses) {
        Ok(r) => r,
        Err(e) => {
            let mut r = row(M, "respondents", "used", n);
            r.value = Some(0.0);
            r.note = Some(e.to_string());
            let mut d = row(M, "respondents", "dropped", n);
            d.value = Some(f64::from(n));
            return vec![r, d];
        }
    };
    let used = result.respondents as u32;
    let mut out = Vec::with_capacity(result.curves.len() * 6 + 6);
    for (name, value) in [("used", result.respondents), ("dropped", result.dropped)] {
        let mut r = row(M, "respondents", name, n);
        r.value = Some(value as f64);
        out.push(r);
    }
    for (name, price) in [
        ("pmc", result.pmc),
        ("pme", result.pme),
        ("opp", result.opp),
        ("ipp", result.ipp),
    ] {
        let mut r = row(M, "price_point", name, used);
        r.price = price;
        if price.is_none() {
            r.note = Some("the curves do not cross within the answered prices".into());
        }
        out.push(r);
    }
    for c in &result.curves {
        for (name, value) in [
            ("too_cheap", c.too_cheap),
            ("cheap", c.cheap),
            ("expensive", c.expensive),
            ("too_expensive", c.too_expensive),
            ("not_cheap", c.not_cheap),
            ("not_expensive", c.not_expensive),
        ] {
            let mut r = row(M, "curve", name, used);
            r.price = Some(c.price);
            r.value = Some(value);
            out.push(r);
        }
    }
    out
}

/// Gabor–Granger rows from (price, would buy) observations of `respondents` respondents.
pub fn analyse_gabor_granger(
    observations: &[(f64, bool)],
    respondents: u32,
) -> Vec<SensitivityRow> {
    const M: &str = "gabor_granger";
    let mut used = row(M, "respondents", "used", respondents);
    used.value = Some(f64::from(respondents));
    let result = match gabor_granger(observations) {
        Ok(r) => r,
        Err(e) => {
            used.note = Some(e.to_string());
            return vec![used];
        }
    };
    let mut out = vec![used];
    let mut best = row(M, "price_point", "revenue_max", respondents);
    best.price = Some(result.best_price);
    best.value = Some(result.best_revenue);
    out.push(best);
    for p in &result.points {
        let n = p.n as u32;
        let mut d = row(M, "demand", "demand", n);
        d.price = Some(p.price);
        d.value = Some(p.demand);
        d.ci_low = Some(p.ci_low);
        d.ci_high = Some(p.ci_high);
        out.push(d);
        let mut r = row(M, "revenue", "revenue", n);
        r.price = Some(p.price);
        r.value = Some(p.revenue);
        r.ci_low = Some(p.price * p.ci_low);
        r.ci_high = Some(p.price * p.ci_high);
        out.push(r);
    }
    out
}

/// Every row of `price_sensitivity` for the answers of a run.
pub fn analyse(
    vw: Option<&[VanWestendorpResponse]>,
    gg: Option<(&[(f64, bool)], u32)>,
) -> Vec<SensitivityRow> {
    let mut rows = Vec::new();
    if let Some(vw) = vw {
        rows.extend(analyse_van_westendorp(vw));
    }
    if let Some((observations, respondents)) = gg {
        rows.extend(analyse_gabor_granger(observations, respondents));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_is_completed_under_monotone_demand() {
        let prices = [10.0, 20.0, 30.0, 40.0];
        // Started at 20: yes, then 30: no.
        assert_eq!(
            impute_walk(&prices, &[(1, true), (2, false)]),
            [(10.0, true), (20.0, true), (30.0, false), (40.0, false)]
        );
        // Started at 30: no, 20: no, 10: no (walked off the bottom).
        assert!(
            impute_walk(&prices, &[(2, false), (1, false), (0, false)])
                .iter()
                .all(|(_, yes)| !yes)
        );
        assert!(impute_walk(&prices, &[]).is_empty());
    }

    /// Hand-computed: three respondents at 10/20/30 (thresholds 10, 20, 30 on a
    /// 10..40 ladder) give demand 1, 2/3, 1/3, 0 and revenue 10, 13.33, 10, 0.
    #[test]
    fn gabor_granger_rows_match_a_hand_computed_case() {
        let prices = [10.0, 20.0, 30.0, 40.0];
        let mut obs = Vec::new();
        for top in [0u16, 1, 2] {
            obs.extend(impute_walk(&prices, &[(top, true), (top + 1, false)]));
        }
        let rows = analyse_gabor_granger(&obs, 3);
        let best = rows.iter().find(|r| r.name == "revenue_max").unwrap();
        assert_eq!(best.price, Some(20.0));
        assert!((best.value.unwrap() - 40.0 / 3.0).abs() < 1e-12);
        let demand: Vec<f64> = rows
            .iter()
            .filter(|r| r.row == "demand")
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(demand, [1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0]);
    }

    /// Hand-computed Van Westendorp: two respondents (1, 2, 3, 4) and (2, 3, 4, 5).
    /// Grid 1..5. too cheap = [1, .5, 0, 0, 0]; too expensive = [0, 0, 0, .5, 1];
    /// cheap = [1, 1, .5, 0, 0]; expensive = [0, 0, .5, 1, 1].
    /// OPP: too cheap − too expensive = [1, .5, 0, ...]: 3. IPP: cheap − expensive =
    /// [1, 1, 0, ...]: 3. PMC: too cheap − not cheap = [1, .5, -.5, ...]: between 2 and
    /// 3 at 2 + .5/1 = 2.5. PME: not expensive − too expensive = [1, 1, .5, -.5, -1]:
    /// 3 + .5/1 = 3.5.
    #[test]
    fn van_westendorp_rows_match_a_hand_computed_case() {
        let r = |a, b, c, d| VanWestendorpResponse {
            too_cheap: a,
            cheap: b,
            expensive: c,
            too_expensive: d,
        };
        let rows = analyse_van_westendorp(&[
            r(1.0, 2.0, 3.0, 4.0),
            r(2.0, 3.0, 4.0, 5.0),
            r(5.0, 1.0, 2.0, 3.0),
        ]);
        let point = |name: &str| rows.iter().find(|r| r.name == name).unwrap().price.unwrap();
        assert_eq!(point("opp"), 3.0);
        assert_eq!(point("ipp"), 3.0);
        assert!((point("pmc") - 2.5).abs() < 1e-12);
        assert!((point("pme") - 3.5).abs() < 1e-12);
        let count = |name: &str| rows.iter().find(|r| r.name == name).unwrap().value.unwrap();
        assert_eq!((count("used"), count("dropped")), (2.0, 1.0));
        assert_eq!(rows.iter().filter(|r| r.row == "curve").count(), 5 * 6);
    }
}
