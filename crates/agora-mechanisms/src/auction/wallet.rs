//! The wallet: what a bidder may still spend over the whole auction.

use agora_core::components::{AttrKind, AttrValue, Demographics, PopulationSchema};
use agora_core::seed::SeedStream;
use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

use super::spec::Budget;

/// A bidder's budget and what it has spent; the rules never let spending exceed it.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallet {
    /// The budget at the start of the auction; `None` means no limit.
    pub budget: Option<f64>,
    /// Paid so far for lots won.
    pub spent: f64,
}

impl Wallet {
    /// A wallet holding `budget` (`None`: unlimited), nothing spent.
    pub fn new(budget: Option<f64>) -> Self {
        Self { budget, spent: 0.0 }
    }

    /// What is left to spend; `None` means no limit.
    pub fn left(&self) -> Option<f64> {
        self.budget.map(|b| (b - self.spent).max(0.0))
    }

    /// Whether `amount` can be paid from what is left.
    pub fn covers(&self, amount: f64) -> bool {
        self.left().is_none_or(|left| amount <= left)
    }

    /// Pay `amount` for a lot won; refuses (and changes nothing) if it exceeds what is left.
    pub fn pay(&mut self, amount: f64) -> Result<(), String> {
        if !(amount.is_finite() && amount >= 0.0) {
            return Err(format!("cannot pay {amount}"));
        }
        if !self.covers(amount) {
            return Err(format!(
                "a price of {amount} exceeds the remaining budget {}",
                self.left().unwrap_or_default()
            ));
        }
        self.spent += amount;
        Ok(())
    }
}

/// Seed path tag of budget draws (after `purpose::MECHANISM`, round 0).
const BUDGET_DRAW: u64 = 4;

/// How budgets are assigned: resolved once against the population.
pub enum BudgetSource<'a> {
    /// Every bidder's budget is fixed or unlimited.
    Same(Option<f64>),
    /// Drawn per bidder from the run's seed streams.
    Drawn(&'a super::dist::ValueDist, SeedStream),
    /// A numeric attribute at this index, times a factor.
    Attribute(usize, f64),
}

impl<'a> BudgetSource<'a> {
    /// Resolve `budget` against `schema`; the error names a bad attribute.
    pub fn resolve(
        budget: &'a Budget,
        schema: &PopulationSchema,
        seeds: SeedStream,
    ) -> Result<Self, String> {
        Ok(match budget {
            Budget::Unlimited => BudgetSource::Same(None),
            Budget::Fixed(x) => BudgetSource::Same(Some(*x)),
            Budget::Drawn(dist) => BudgetSource::Drawn(dist, seeds),
            Budget::Attribute { name, times } => {
                let index = schema.attribute_index(name).ok_or_else(|| {
                    format!(
                        "the budget attribute \"{name}\" is not an attribute of this population"
                    )
                })?;
                if !matches!(schema.attributes[index].kind, AttrKind::Numeric) {
                    return Err(format!(
                        "the budget attribute \"{name}\" is not numeric; name a numeric attribute such as income"
                    ));
                }
                BudgetSource::Attribute(index, *times)
            }
        })
    }

    /// The budget of agent `agent` with `demographics`.
    pub fn budget(&self, agent: u32, demographics: Option<&Demographics>) -> Option<f64> {
        match *self {
            BudgetSource::Same(b) => b,
            BudgetSource::Drawn(dist, seeds) => {
                let mut rng = seeds.rng(&[
                    agora_core::seed::purpose::MECHANISM,
                    0,
                    BUDGET_DRAW,
                    u64::from(agent),
                ]);
                Some(dist.sample(&mut rng).max(0.0))
            }
            BudgetSource::Attribute(index, times) => {
                let x = match demographics.and_then(|d| d.0.get(index)) {
                    Some(AttrValue::Number(x)) if x.is_finite() => *x,
                    _ => 0.0,
                };
                Some((x * times).max(0.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::components::AttributeDef;

    #[test]
    fn a_wallet_never_pays_beyond_its_budget() {
        let mut w = Wallet::new(Some(100.0));
        assert!(w.covers(100.0) && !w.covers(100.01));
        w.pay(60.0).unwrap();
        assert_eq!(w.left(), Some(40.0));
        assert!(w.pay(41.0).unwrap_err().contains("exceeds"));
        assert_eq!(w.spent, 60.0, "a refused payment changes nothing");
        w.pay(40.0).unwrap();
        assert_eq!(w.left(), Some(0.0));
        assert!(w.pay(-1.0).is_err());
        let mut free = Wallet::new(None);
        free.pay(1e12).unwrap();
        assert_eq!(free.left(), None);
    }

    #[test]
    fn budgets_come_from_the_scenario_or_the_population() {
        let schema = PopulationSchema {
            attributes: vec![
                AttributeDef {
                    name: "income".into(),
                    kind: AttrKind::Numeric,
                },
                AttributeDef {
                    name: "region".into(),
                    kind: AttrKind::Categorical(vec!["north".into()]),
                },
            ],
            custom_traits: vec![],
        };
        let seeds = SeedStream::new(1);
        let attr = Budget::Attribute {
            name: "income".into(),
            times: 4.0,
        };
        let source = BudgetSource::resolve(&attr, &schema, seeds).unwrap();
        let demo = Demographics(vec![AttrValue::Number(50.0), AttrValue::Category(0)]);
        assert_eq!(source.budget(0, Some(&demo)), Some(200.0));
        assert_eq!(source.budget(0, None), Some(0.0), "missing counts as 0");
        let region = Budget::Attribute {
            name: "region".into(),
            times: 1.0,
        };
        assert!(
            BudgetSource::resolve(&region, &schema, seeds)
                .err()
                .unwrap()
                .contains("not numeric")
        );
        let drawn = Budget::Drawn(super::super::dist::ValueDist::Uniform {
            min: 10.0,
            max: 20.0,
        });
        let source = BudgetSource::resolve(&drawn, &schema, seeds).unwrap();
        let a = source.budget(3, None).unwrap();
        assert!((10.0..=20.0).contains(&a));
        assert_eq!(
            source.budget(3, None),
            Some(a),
            "draws are seeded per agent"
        );
        assert_ne!(source.budget(4, None), Some(a));
    }
}
