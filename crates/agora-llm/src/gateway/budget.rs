//! Hard spending limits: no call is sent that the budget cannot cover.
//!
//! Every attempt that would reach the model first reserves its most expensive outcome
//! (the prompt's estimated tokens plus `max_tokens` of answer, priced); an attempt that
//! does not fit what is left is not sent and fails with
//! [`LlmError::BudgetExhausted`]. When the attempt ends, the reservation is replaced by
//! what it really used (tokens of failed and repaired attempts included). So the
//! experiment never spends more than its limit, and the spending between the limit and
//! the last sent calls is at most what the calls in flight may use.

use std::sync::{Arc, Mutex};

use crate::gateway::limit::estimated_tokens;
use crate::gateway::pricing::Price;
use crate::model::{ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

/// Spent and reserved amounts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Spend {
    cost: f64,
    tokens: u64,
    reserved_cost: f64,
    reserved_tokens: u64,
}

/// An experiment's spending limit, shared by every call of every run.
#[derive(Debug, Default)]
pub struct SpendingLimit {
    max_cost_usd: Option<f64>,
    max_tokens: Option<u64>,
    spend: Mutex<Spend>,
}

impl SpendingLimit {
    /// A limit of `max_cost_usd` dollars and `max_tokens` tokens (`None`: no limit).
    pub fn new(max_cost_usd: Option<f64>, max_tokens: Option<u64>) -> Arc<Self> {
        Arc::new(Self {
            max_cost_usd,
            max_tokens,
            spend: Mutex::new(Spend::default()),
        })
    }

    /// Count spending that happened before (an interrupted experiment's runs).
    pub fn add_spent(&self, cost_usd: f64, tokens: u64) {
        let mut s = self.lock();
        s.cost += cost_usd.max(0.0);
        s.tokens = s.tokens.saturating_add(tokens);
    }

    /// What has been spent so far: dollars and tokens.
    pub fn spent(&self) -> (f64, u64) {
        let s = self.lock();
        (s.cost, s.tokens)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spend> {
        self.spend.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve `cost` dollars and `tokens` tokens, or say which limit they exceed.
    fn reserve(&self, cost: f64, tokens: u64) -> Result<(), String> {
        let mut s = self.lock();
        if let Some(max) = self.max_tokens {
            let after = s.tokens + s.reserved_tokens + tokens;
            if after > max {
                return Err(format!(
                    "the token budget ({max}) cannot cover this call: {} spent, {} reserved by calls in flight, up to {tokens} for this one",
                    s.tokens, s.reserved_tokens
                ));
            }
        }
        if let Some(max) = self.max_cost_usd {
            let after = s.cost + s.reserved_cost + cost;
            if after > max {
                return Err(format!(
                    "the cost budget (${max:.4}) cannot cover this call: ${:.4} spent, ${:.4} reserved by calls in flight, up to ${cost:.4} for this one",
                    s.cost, s.reserved_cost
                ));
            }
        }
        s.reserved_cost += cost;
        s.reserved_tokens += tokens;
        Ok(())
    }

    /// Replace a reservation by what the attempt used.
    fn settle(&self, (cost, tokens): (f64, u64), used: (f64, u64)) {
        let mut s = self.lock();
        s.reserved_cost = (s.reserved_cost - cost).max(0.0);
        s.reserved_tokens = s.reserved_tokens.saturating_sub(tokens);
        s.cost += used.0;
        s.tokens = s.tokens.saturating_add(used.1);
    }
}

/// Keeps every attempt within the experiment's [`SpendingLimit`].
pub struct Budgeted {
    inner: Arc<dyn ChatModel>,
    limit: Arc<SpendingLimit>,
    price: Option<Price>,
}

impl Budgeted {
    /// Limit the attempts sent to `inner`, priced with `price` (unpriced models count
    /// tokens only).
    pub fn new(inner: Arc<dyn ChatModel>, limit: Arc<SpendingLimit>, price: Option<Price>) -> Self {
        Self {
            inner,
            limit,
            price,
        }
    }

    fn cost(&self, usage: &Usage) -> f64 {
        self.price.map_or(0.0, |p| p.cost(usage))
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        // The prompt as a server counts it: messages, a few tokens of framing each, and
        // the answer's JSON Schema (sent as the response format).
        let framing =
            8 * request.messages.len() as u64 + request.schema.to_string().len() as u64 / 4;
        let tokens = estimated_tokens(request).max(0.0) as u64 + framing;
        let prompt = tokens.saturating_sub(u64::from(request.params.max_tokens));
        let most = Usage {
            prompt_tokens: u32::try_from(prompt).unwrap_or(u32::MAX),
            completion_tokens: request.params.max_tokens,
            cached_tokens: 0,
        };
        let reserved = (self.cost(&most), tokens);
        self.limit
            .reserve(reserved.0, reserved.1)
            .map_err(LlmError::BudgetExhausted)?;
        let answer = self.inner.complete(request).await;
        let usage = match &answer {
            Ok(r) => r.usage,
            Err(e) => e.usage(),
        };
        let used = (
            self.cost(&usage),
            u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens),
        );
        self.limit.settle(reserved, used);
        answer
    }
}

middleware_chat_model!(Budgeted);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing::{Scripted, request};

    #[tokio::test]
    async fn no_call_is_sent_that_the_budget_cannot_cover() {
        // Each scripted answer uses 100 prompt + 10 completion tokens, more than the
        // estimate reserves: the limit still stops sending once it is reached, and the
        // overshoot is at most what the last call sent used.
        let inner = Scripted::new(vec![]);
        let limit = SpendingLimit::new(None, Some(300));
        let layer = Budgeted::new(inner.clone(), limit.clone(), None);
        let mut req = request(1);
        req.params.max_tokens = 8;
        let mut sent = 0;
        let mut refused = 0;
        for _ in 0..20 {
            match layer.complete(&req).await {
                Ok(_) => sent += 1,
                Err(LlmError::BudgetExhausted(why)) => {
                    refused += 1;
                    assert!(why.contains("token budget (300)"), "{why}");
                }
                Err(other) => panic!("{other}"),
            }
        }
        let (_, tokens) = limit.spent();
        assert!(tokens <= 300 + 110, "spent {tokens} of 300");
        assert_eq!(tokens, 110 * sent as u64);
        assert_eq!(inner.calls(), sent, "refused calls are never sent");
        assert!(refused > 0 && sent > 0);
    }

    #[tokio::test]
    async fn earlier_spending_counts() {
        let inner = Scripted::new(vec![]);
        let limit = SpendingLimit::new(None, Some(100));
        limit.add_spent(0.0, 95);
        let layer = Budgeted::new(inner.clone(), limit, None);
        let err = layer.complete(&request(1)).await.unwrap_err();
        assert!(matches!(err, LlmError::BudgetExhausted(_)));
        assert_eq!(inner.calls(), 0);
    }
}
