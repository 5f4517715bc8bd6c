//! Choosing the model backend of a run.

use std::sync::Arc;

use agora_llm::{ChatModel, ModelSpec};
use agora_mechanisms::MechanismSpec;
use anyhow::{Result, bail};

/// The backend a run uses when neither the command line nor the scenario names one.
pub fn default_model() -> ModelSpec {
    ModelSpec::Rules
}

/// Build the backend for `spec`, with the rule policies `mechanism` needs.
pub fn build(spec: &ModelSpec, mechanism: &MechanismSpec) -> Result<Arc<dyn ChatModel>> {
    match spec {
        ModelSpec::Rules => Ok(Arc::new(mechanism.rule_backend())),
        ModelSpec::OpenAi { .. } | ModelSpec::Local { .. } => bail!(
            "the `{spec}` backend is not available in this build of agora; run with `--model rules`"
        ),
    }
}
