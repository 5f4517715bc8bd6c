//! What calls cost: a price table per model, and the layer that prices each call.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use crate::model::{ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

/// Prices of one model in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens not served from the server's cache.
    pub input: f64,
    /// Prompt tokens served from the server's cache (`input` when not given).
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Generated tokens.
    pub output: f64,
}

impl Price {
    /// The cost of `usage` in US dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = f64::from(usage.cached_tokens.min(usage.prompt_tokens));
        let fresh = f64::from(usage.prompt_tokens) - cached;
        (fresh * self.input
            + cached * self.cached_input.unwrap_or(self.input)
            + f64::from(usage.completion_tokens) * self.output)
            / 1_000_000.0
    }
}

/// Prices by model name; the built-in table can be extended from a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

/// The built-in price table (`assets/prices.ron`).
const BUILT_IN: &str = include_str!("../../../../assets/prices.ron");

impl PriceTable {
    /// The built-in prices.
    pub fn built_in() -> Self {
        // The built-in table is part of the source and parsed by a test.
        Self::parse(BUILT_IN, Path::new("assets/prices.ron")).unwrap_or_default()
    }

    /// Add (or replace) the prices in the RON file at `path`.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the price table: {e}", path.display()))?;
        self.prices.extend(Self::parse(&text, path)?.prices);
        Ok(())
    }

    fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let prices: BTreeMap<String, Price> = options.from_str(text).map_err(|e| {
            format!(
                "{}:{}:{}: {}; a price table maps model names to (input: ..., cached_input: ..., output: ...) in dollars per million tokens",
                path.display(),
                e.span.start.line,
                e.span.start.col,
                e.code
            )
        })?;
        for (model, price) in &prices {
            let values = [price.input, price.output, price.cached_input.unwrap_or(0.0)];
            if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(format!(
                    "{}: prices of `{model}` must be non-negative numbers",
                    path.display()
                ));
            }
        }
        Ok(Self { prices })
    }

    /// The price of backend `model` (`openai:gpt-4o-mini` or `gpt-4o-mini`), if known.
    pub fn get(&self, model: &str) -> Option<Price> {
        let name = model.strip_prefix("openai:").unwrap_or(model);
        self.prices.get(name).copied()
    }
}

/// Sets each response's cost from the price of its model, and the cost of the tokens
/// spent by a failed call ([`LlmError::Spent`]).
pub struct Priced {
    inner: Arc<dyn ChatModel>,
    price: Option<Price>,
}

impl Priced {
    /// Price calls to `inner` at `price` (no cost when `None`).
    pub fn new(inner: Arc<dyn ChatModel>, price: Option<Price>) -> Self {
        Self { inner, price }
    }

    fn priced(&self, answer: Result<ChatResponse, LlmError>) -> Result<ChatResponse, LlmError> {
        match answer {
            Ok(mut response) => {
                response.meta.cost_usd = self.price.map(|p| p.cost(&response.usage));
                Ok(response)
            }
            // A failure whose attempts reached the model costs their tokens.
            Err(error) => match error.meta().cloned() {
                Some(mut meta) => {
                    meta.attempts = error.attempts();
                    let (error, usage) = error.into_unspent();
                    meta.cost_usd = self.price.map(|p| p.cost(&usage));
                    Err(LlmError::Spent {
                        error: Box::new(error),
                        usage,
                        meta,
                    })
                }
                None => Err(error),
            },
        }
    }
}

impl ChatModel for Priced {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn reads_messages(&self) -> bool {
        self.inner.reads_messages()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        async move { self.priced(self.inner.complete(request).await) }.boxed()
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        self.inner.answer_now(request).map(|r| self.priced(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Validated;
    use crate::gateway::testing::{Scripted, Step, request};

    #[test]
    fn the_built_in_table_parses_and_prices_by_the_million() {
        let table = PriceTable::parse(BUILT_IN, Path::new("prices.ron")).unwrap();
        let price = table.get("openai:gpt-4o-mini").unwrap();
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 1_000_000,
            cached_tokens: 0,
        };
        assert!((price.cost(&usage) - 0.75).abs() < 1e-9);
        let cached = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 0,
            cached_tokens: 500_000,
        };
        assert!((price.cost(&cached) - (0.075 + 0.0375)).abs() < 1e-9);
        assert_eq!(table.get("unknown-model"), None);
    }

    #[test]
    fn a_user_table_extends_the_built_in_one_and_bad_files_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.ron");
        std::fs::write(
            &path,
            r#"{ "my-llama": (input: 0.0, output: 0.0), "gpt-4o": (input: 1.0, output: 2.0) }"#,
        )
        .unwrap();
        let mut table = PriceTable::built_in();
        table.extend_from_file(&path).unwrap();
        assert_eq!(table.get("gpt-4o").unwrap().input, 1.0);
        assert!(table.get("my-llama").is_some() && table.get("gpt-4o-mini").is_some());
        std::fs::write(&path, r#"{ "x": (input: 1.0) }"#).unwrap();
        let err = table.extend_from_file(&path).unwrap_err();
        assert!(
            err.contains("prices.ron:1:") && err.contains("output"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn responses_carry_their_cost() {
        let price = Price {
            input: 1.0,
            cached_input: None,
            output: 2.0,
        };
        let priced = Priced::new(Scripted::new(vec![]), Some(price));
        let r = priced.complete(&request(1)).await.unwrap();
        assert!((r.meta.cost_usd.unwrap() - (100.0 + 20.0) / 1e6).abs() < 1e-12);
    }

    #[tokio::test]
    async fn a_call_whose_answers_never_validate_costs_every_attempt() {
        let price = Price {
            input: 1.0,
            cached_input: None,
            output: 2.0,
        };
        let never_valid = vec![Step::AnswerWith(serde_json::json!({ "answer": 9 })); 2];
        let inner = Scripted::new(never_valid);
        let priced = Priced::new(Arc::new(Validated::new(inner)), Some(price));
        let err = priced.complete(&request(1)).await.unwrap_err();
        assert_eq!(
            (err.usage().prompt_tokens, err.usage().completion_tokens),
            (200, 20)
        );
        let cost = err.meta().and_then(|m| m.cost_usd).unwrap();
        assert!((cost - (200.0 + 40.0) / 1e6).abs() < 1e-12, "{cost}");
        assert_eq!(err.attempts(), 2);
    }
}
