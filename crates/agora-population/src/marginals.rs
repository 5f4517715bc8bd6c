//! Target versus observed distributions of a produced population.
//!
//! The report lets a user (and the tests) see that the population matches the spec:
//! one row per category of each categorical attribute, per (parent, child) pair of each
//! conditional attribute, and mean and standard deviation rows for numeric attributes
//! and traits. Observations are gathered in one pass over the personas.

use agora_core::components::{AttrKind, AttrValue, BIG_FIVE, Persona, PopulationSchema};
use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::draw::Post;
use crate::moments::moments;
use crate::spec::PopulationSpec;

/// One line of the marginals report.
///
/// `level` is a category label, `"parent/child"` for conditional shares, or `"mean"` /
/// `"std_dev"` for numbers. Targets follow the spec, accounting for truncation,
/// rounding and clamping; they are NaN where the spec gives none (attributes inferred
/// from an import file). Observed values ignore missing values and are NaN when
/// nothing was observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarginalRow {
    /// Attribute or trait name.
    pub attribute: String,
    /// Category, `parent/child` pair, `mean` or `std_dev`.
    pub level: String,
    /// Value the spec implies.
    pub target: f64,
    /// Value in the population.
    pub observed: f64,
}

/// Running mean and variance (Welford).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Moments {
    n: usize,
    mean: f64,
    m2: f64,
}

impl Moments {
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Mean and sample standard deviation; NaN when empty, sd 0 for one value.
    pub fn finish(&self) -> (f64, f64) {
        match self.n {
            0 => (f64::NAN, f64::NAN),
            1 => (self.mean, 0.0),
            n => (self.mean, (self.m2 / (n - 1) as f64).sqrt()),
        }
    }
}

/// What is counted for one attribute.
enum Tally {
    Categories(Vec<usize>),
    Numbers(Moments),
    Nothing,
}

/// Joint counts of a conditional attribute and its parent.
struct PairTally {
    child: usize,
    parent: usize,
    counts: Vec<Vec<usize>>,
}

/// Build the report for `personas` described by `schema`, with targets from `spec`.
pub(crate) fn report(
    spec: &PopulationSpec,
    schema: &PopulationSchema,
    personas: &[Persona],
) -> Vec<MarginalRow> {
    let attr_specs: Vec<_> = schema
        .attributes
        .iter()
        .map(|def| spec.attributes.iter().find(|a| a.name == def.name))
        .collect();
    let mut tallies: Vec<Tally> = schema
        .attributes
        .iter()
        .map(|def| match &def.kind {
            AttrKind::Categorical(labels) => Tally::Categories(vec![0; labels.len()]),
            AttrKind::Numeric => Tally::Numbers(Moments::default()),
            AttrKind::Text => Tally::Nothing,
        })
        .collect();
    let mut pairs: Vec<PairTally> = Vec::new();
    for (child, a) in attr_specs.iter().enumerate() {
        if let Some(Dist::Conditional { given, .. }) = a.map(|a| &a.dist)
            && let Some(parent) = schema.attribute_index(given)
            && let (AttrKind::Categorical(p), AttrKind::Categorical(c)) = (
                &schema.attributes[parent].kind,
                &schema.attributes[child].kind,
            )
        {
            pairs.push(PairTally {
                child,
                parent,
                counts: vec![vec![0; c.len()]; p.len()],
            });
        }
    }
    let mut big_five = [Moments::default(); 5];
    let mut custom = vec![Moments::default(); schema.custom_traits.len()];
    for p in personas {
        let values = &p.demographics.0;
        for (tally, v) in tallies.iter_mut().zip(values) {
            match (tally, v) {
                (Tally::Categories(counts), AttrValue::Category(c)) => {
                    if let Some(n) = counts.get_mut(usize::from(*c)) {
                        *n += 1;
                    }
                }
                (Tally::Numbers(m), AttrValue::Number(x)) => m.add(*x),
                _ => {}
            }
        }
        for pair in &mut pairs {
            if let (Some(AttrValue::Category(a)), Some(AttrValue::Category(b))) =
                (values.get(pair.parent), values.get(pair.child))
                && let Some(n) = pair
                    .counts
                    .get_mut(usize::from(*a))
                    .and_then(|r| r.get_mut(usize::from(*b)))
            {
                *n += 1;
            }
        }
        for (m, x) in big_five.iter_mut().zip(p.traits.big_five) {
            m.add(f64::from(x));
        }
        for (m, x) in custom.iter_mut().zip(&p.traits.custom) {
            m.add(f64::from(*x));
        }
    }

    let mut rows = Vec::new();
    let mut shares: Vec<Option<Vec<f64>>> = vec![None; schema.attributes.len()];
    for (i, def) in schema.attributes.iter().enumerate() {
        match (&def.kind, &tallies[i]) {
            (AttrKind::Categorical(labels), Tally::Categories(counts)) => {
                let target = attr_specs[i]
                    .and_then(|a| target_shares(&a.dist, schema, &shares, labels.len()));
                let total: usize = counts.iter().sum();
                for (k, label) in labels.iter().enumerate() {
                    rows.push(MarginalRow {
                        attribute: def.name.clone(),
                        level: label.clone(),
                        target: target.as_ref().map_or(f64::NAN, |t| t[k]),
                        observed: ratio(counts[k], total),
                    });
                }
                if let Some(pair) = pairs.iter().find(|p| p.child == i)
                    && let Some(Dist::Conditional { table, .. }) = attr_specs[i].map(|a| &a.dist)
                {
                    conditional_rows(&mut rows, schema, pair, table);
                }
                shares[i] = target;
            }
            (AttrKind::Numeric, Tally::Numbers(m)) => {
                let target = attr_specs[i].map_or((f64::NAN, f64::NAN), |a| {
                    moments(
                        &a.dist,
                        &Post::rounding(a.round && !a.dist.is_integer(), a.dist.bounds()),
                    )
                });
                push_moments(&mut rows, &def.name, target, m.finish());
            }
            _ => {}
        }
    }
    let clamp = Post {
        round: None,
        clamp01: true,
    };
    for (k, name) in BIG_FIVE.iter().enumerate() {
        let b = &spec.big_five;
        let target = moments(
            &Dist::Normal {
                mean: b.mean[k],
                std_dev: b.std_dev[k],
                min: None,
                max: None,
            },
            &clamp,
        );
        push_moments(&mut rows, name, target, big_five[k].finish());
    }
    for (k, name) in schema.custom_traits.iter().enumerate() {
        let target = spec
            .custom_traits
            .iter()
            .find(|t| &t.name == name)
            .map_or((f64::NAN, f64::NAN), |t| moments(t.dist.dist(), &clamp));
        push_moments(&mut rows, name, target, custom[k].finish());
    }
    rows
}

/// Unconditional category shares implied by `dist`, using the already computed shares
/// of a conditional attribute's parent.
fn target_shares(
    dist: &Dist,
    schema: &PopulationSchema,
    shares: &[Option<Vec<f64>>],
    len: usize,
) -> Option<Vec<f64>> {
    match dist {
        Dist::Categorical(c) => Some(c.shares()),
        Dist::Conditional { given, table } => {
            let parent = schema.attribute_index(given)?;
            let parent_shares = shares.get(parent)?.as_ref()?;
            let AttrKind::Categorical(parent_labels) = &schema.attributes[parent].kind else {
                return None;
            };
            let child_labels = dist.categories()?;
            let mut out = vec![0.0; len];
            for (p, label) in parent_labels.iter().enumerate() {
                let (_, row) = table.iter().find(|(l, _)| l == label)?;
                let row_shares = row.shares();
                for (c, child) in child_labels.iter().enumerate() {
                    out[c] += parent_shares[p] * row_shares[row.position(child)?];
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn conditional_rows(
    rows: &mut Vec<MarginalRow>,
    schema: &PopulationSchema,
    pair: &PairTally,
    table: &[(String, crate::Categories)],
) {
    let (AttrKind::Categorical(parent_labels), AttrKind::Categorical(child_labels)) = (
        &schema.attributes[pair.parent].kind,
        &schema.attributes[pair.child].kind,
    ) else {
        return;
    };
    for (p, parent_label) in parent_labels.iter().enumerate() {
        let row = table
            .iter()
            .find(|(l, _)| l == parent_label)
            .map(|(_, r)| r);
        let row_shares = row.map(|r| r.shares());
        let total: usize = pair.counts[p].iter().sum();
        for (c, child_label) in child_labels.iter().enumerate() {
            let target = row
                .zip(row_shares.as_ref())
                .and_then(|(r, s)| r.position(child_label).map(|k| s[k]))
                .unwrap_or(f64::NAN);
            rows.push(MarginalRow {
                attribute: schema.attributes[pair.child].name.clone(),
                level: format!("{parent_label}/{child_label}"),
                target,
                observed: ratio(pair.counts[p][c], total),
            });
        }
    }
}

fn push_moments(rows: &mut Vec<MarginalRow>, name: &str, target: (f64, f64), observed: (f64, f64)) {
    for (level, t, o) in [
        ("mean", target.0, observed.0),
        ("std_dev", target.1, observed.1),
    ] {
        rows.push(MarginalRow {
            attribute: name.to_string(),
            level: level.to_string(),
            target: t,
            observed: o,
        });
    }
}

fn ratio(count: usize, total: usize) -> f64 {
    if total == 0 {
        f64::NAN
    } else {
        count as f64 / total as f64
    }
}
