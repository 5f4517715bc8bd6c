//! Share-of-preference simulator: logit shares of a set of products a user defines.

use serde::{Deserialize, Serialize};

use super::study::ConjointStudy;
use crate::error::{ChoiceError, Result};
use crate::mnl::probabilities;

/// A product to put in a simulated market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Name shown in the result.
    pub name: String,
    /// One level index per attribute (see [`ConjointStudy::profile_from_labels`]).
    pub profile: Vec<usize>,
}

/// The predicted share of one product (or of "none").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Product name, or `"none"`.
    pub name: String,
    /// Logit probability of choosing it among the simulated set.
    pub share: f64,
}

/// Shares of preference `exp(U_i)/Σ_k exp(U_k)` over `products` (plus "none" when the
/// study has it and `include_none` is set), with `U` computed from `beta`.
pub fn share_of_preference(
    study: &ConjointStudy,
    beta: &[f64],
    products: &[Product],
    include_none: bool,
) -> Result<Vec<Share>> {
    if products.is_empty() {
        return Err(ChoiceError::empty("the list of products", "product"));
    }
    if beta.len() != study.n_parameters() {
        return Err(ChoiceError::dims(
            "the coefficient vector",
            study.n_parameters(),
            beta.len(),
        ));
    }
    let mut rows = products
        .iter()
        .map(|p| study.code_profile(&p.profile))
        .collect::<Result<Vec<_>>>()?;
    let mut names: Vec<String> = products.iter().map(|p| p.name.clone()).collect();
    if include_none && let Some(none) = study.none_row() {
        rows.push(none);
        names.push("none".to_owned());
    }
    let p = probabilities(beta, &rows)?;
    Ok(names
        .into_iter()
        .zip(p)
        .map(|(name, share)| Share { name, share })
        .collect())
}
