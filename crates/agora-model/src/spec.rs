//! Which model a run uses, as written on the command line or in a scenario.

use std::fmt;
use std::path::PathBuf;

/// A parsed model specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSpec {
    /// `rules`: the deterministic rule-based backend.
    Rules,
    /// `openai:MODEL`: an OpenAI-compatible server.
    OpenAi {
        /// Model name sent to the server.
        model: String,
    },
    /// `local` or `local:PATH.gguf`: a model run inside the process.
    Local {
        /// GGUF file; `None` means the default model.
        path: Option<PathBuf>,
    },
}

/// A model specification that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{0}`; use `rules`, `openai:MODEL` or `local[:PATH.gguf]`")]
pub struct ModelSpecError(pub String);

impl ModelSpec {
    /// Parse `rules`, `openai:MODEL`, `local` or `local:PATH`.
    pub fn parse(text: &str) -> Result<Self, ModelSpecError> {
        let text = text.trim();
        match text.split_once(':') {
            None if text == "rules" => Ok(ModelSpec::Rules),
            None if text == "local" => Ok(ModelSpec::Local { path: None }),
            Some(("openai", model)) if !model.trim().is_empty() => Ok(ModelSpec::OpenAi {
                model: model.trim().to_string(),
            }),
            Some(("local", path)) if !path.trim().is_empty() => Ok(ModelSpec::Local {
                path: Some(PathBuf::from(path.trim())),
            }),
            _ => Err(ModelSpecError(text.to_string())),
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Rules => f.write_str("rules"),
            ModelSpec::OpenAi { model } => write!(f, "openai:{model}"),
            ModelSpec::Local { path: None } => f.write_str("local"),
            ModelSpec::Local { path: Some(p) } => write!(f, "local:{}", p.display()),
        }
    }
}

impl std::str::FromStr for ModelSpec {
    type Err = ModelSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_text() {
        for text in [
            "rules",
            "openai:gpt-4o-mini",
            "local",
            "local:/m/model.gguf",
        ] {
            assert_eq!(ModelSpec::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn unknown_specs_are_rejected_with_the_accepted_forms() {
        for text in ["", "gpt4", "openai:", "local:", "rule"] {
            let err = ModelSpec::parse(text).unwrap_err().to_string();
            assert!(err.contains("openai:MODEL"), "{err}");
        }
    }
}
