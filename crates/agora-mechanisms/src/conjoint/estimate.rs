//! Estimation at the end of a run: part-worths by multinomial logit (overall and per
//! segment), importances, willingness to pay and shares of preference.

use agora_choice::conjoint::{
    DesignTask, Product, importances, part_worths, share_of_preference, willingness_to_pay_table,
};
use agora_choice::{ChoiceTask, MnlOptions, fit_mnl};
use serde::{Deserialize, Serialize};

use super::spec::ConjointSpec;
use crate::market::Segmentation;

/// One row of `conjoint_estimates`.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateRow {
    /// `all`, or `attribute=category` for a segment.
    pub segment: String,
    /// `part_worth`, `importance`, `wtp`, `share` or `fit`.
    pub kind: &'static str,
    /// Attribute (part-worths, importances, WTP), product (shares), or null (fit).
    pub attribute: Option<String>,
    /// Level (part-worths, WTP) or what a fit row reports (`log_likelihood`).
    pub level: Option<String>,
    /// The estimate.
    pub estimate: Option<f64>,
    /// Its standard error, when it has one.
    pub std_error: Option<f64>,
    /// Lower end of the 95% interval.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// Respondents whose choices entered the fit.
    pub respondents: u32,
    /// Choices that entered the fit.
    pub choices: u32,
    /// Why a row has no estimate, or how the fit went.
    pub note: Option<String>,
}

/// A valid answer: respondent (roster position), task (from 0), chosen alternative
/// (the number of profiles means "none").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Respondent number (roster position).
    pub respondent: u32,
    /// Task number, from 0.
    pub task: u16,
    /// Index of the chosen alternative; `alternatives` means "none".
    pub chosen: u8,
}

/// Estimate the study on `answers` for everyone and per segment.
pub fn estimate_all(
    spec: &ConjointSpec,
    design: &[DesignTask],
    answers: &[Answer],
    segments: &[Segmentation],
) -> Vec<EstimateRow> {
    let mut rows = estimate(spec, design, answers, "all");
    for s in segments {
        for label in 0..s.labels.len() {
            let subset: Vec<Answer> = answers
                .iter()
                .copied()
                .filter(|a| {
                    s.of.get(a.respondent as usize)
                        .copied()
                        .flatten()
                        .map(usize::from)
                        == Some(label)
                })
                .collect();
            rows.extend(estimate(spec, design, &subset, &s.name(label)));
        }
    }
    rows
}

fn row(segment: &str, kind: &'static str, n: (u32, u32)) -> EstimateRow {
    EstimateRow {
        segment: segment.to_string(),
        kind,
        attribute: None,
        level: None,
        estimate: None,
        std_error: None,
        ci_low: None,
        ci_high: None,
        respondents: n.0,
        choices: n.1,
        note: None,
    }
}

/// Estimate the study on one set of answers, labelled `segment`.
pub fn estimate(
    spec: &ConjointSpec,
    design: &[DesignTask],
    answers: &[Answer],
    segment: &str,
) -> Vec<EstimateRow> {
    let tasks_per = spec.tasks as usize;
    let mut respondents: Vec<u32> = answers.iter().map(|a| a.respondent).collect();
    respondents.sort_unstable();
    respondents.dedup();
    let n = (respondents.len() as u32, answers.len() as u32);
    let failed = |note: String| {
        let mut r = row(segment, "fit", n);
        r.level = Some("log_likelihood".into());
        r.note = Some(note);
        vec![r]
    };
    let tasks: Result<Vec<ChoiceTask>, String> = answers
        .iter()
        .map(|a| {
            let shown = design
                .get(a.respondent as usize * tasks_per + usize::from(a.task))
                .ok_or_else(|| format!("no design task for respondent {}", a.respondent))?;
            spec.study
                .code_task(&shown.profiles, usize::from(a.chosen))
                .map_err(|e| e.to_string())
        })
        .collect();
    let tasks = match tasks {
        Ok(t) if t.is_empty() => return failed("no valid choices to estimate from".into()),
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let fit = match fit_mnl(&tasks, &MnlOptions::default()) {
        Ok(fit) => fit,
        Err(e) => return failed(e.to_string()),
    };
    let mut out = Vec::new();
    let mut fit_row = row(segment, "fit", n);
    fit_row.level = Some("log_likelihood".into());
    fit_row.estimate = Some(fit.log_likelihood);
    fit_row.note = Some(if fit.converged {
        format!("converged after {} Newton steps", fit.iterations)
    } else {
        format!("not converged after {} Newton steps", fit.iterations)
    });
    out.push(fit_row);
    match part_worths(&spec.study, &fit) {
        Ok(table) => out.extend(table.into_iter().map(|p| EstimateRow {
            attribute: Some(p.attribute),
            level: Some(p.level),
            estimate: Some(p.estimate),
            std_error: Some(p.std_error),
            ci_low: Some(p.ci_low),
            ci_high: Some(p.ci_high),
            ..row(segment, "part_worth", n)
        })),
        Err(e) => out.extend(failed(e.to_string())),
    }
    match importances(&spec.study, &fit.beta) {
        Ok(table) => out.extend(table.into_iter().map(|i| EstimateRow {
            attribute: Some(i.attribute),
            estimate: Some(i.importance),
            ..row(segment, "importance", n)
        })),
        Err(e) => out.push(EstimateRow {
            note: Some(e.to_string()),
            ..row(segment, "importance", n)
        }),
    }
    if spec
        .study
        .attributes()
        .iter()
        .any(|a| matches!(a.kind, agora_choice::conjoint::AttributeKind::Price { .. }))
    {
        match willingness_to_pay_table(&spec.study, &fit) {
            Ok(table) => out.extend(table.into_iter().map(|w| EstimateRow {
                attribute: Some(w.attribute),
                level: Some(w.level),
                estimate: Some(w.estimate),
                std_error: Some(w.std_error),
                ci_low: Some(w.ci_low),
                ci_high: Some(w.ci_high),
                ..row(segment, "wtp", n)
            })),
            Err(e) => out.push(EstimateRow {
                note: Some(e.to_string()),
                ..row(segment, "wtp", n)
            }),
        }
    }
    if !spec.products.is_empty() {
        let products: Vec<Product> = spec
            .products
            .iter()
            .zip(&spec.product_profiles)
            .map(|(p, profile)| Product {
                name: p.name.clone(),
                profile: profile.clone(),
            })
            .collect();
        match share_of_preference(&spec.study, &fit.beta, &products, spec.none_option) {
            Ok(shares) => out.extend(shares.into_iter().map(|s| EstimateRow {
                attribute: Some(s.name),
                estimate: Some(s.share),
                ..row(segment, "share", n)
            })),
            Err(e) => out.push(EstimateRow {
                note: Some(e.to_string()),
                ..row(segment, "share", n)
            }),
        }
    }
    out
}
