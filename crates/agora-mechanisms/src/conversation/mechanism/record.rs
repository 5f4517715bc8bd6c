//! Applying and recording answers: opinions, messages, consolidations and the
//! round's metrics.

use super::*;

impl Conversation {
    pub(super) fn record_opinion(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        i: usize,
        held: Result<Held, String>,
        prior: bool,
    ) -> Result<Decision, RunError> {
        let scale = self.setup.scale.clone();
        let (decision, reasoning) = match &held {
            Ok(h) => {
                let state = &mut self.st.agents[i];
                state.opinion = scale.normalise(h.stance);
                state.confidence = h.confidence;
                (Decision::Valid, Some(h.reasoning.clone()))
            }
            Err(reason) => {
                if prior {
                    // No usable answer: the rule prior without noise.
                    self.st.agents[i].opinion =
                        crate::conversation::dynamics::initial_opinion(self.prior_scores[i], 0.0);
                    self.st.agents[i].confidence = 0.5;
                }
                (Decision::Fallback(reason.clone()), None)
            }
        };
        if prior {
            self.st.agents[i].initial = self.st.agents[i].opinion;
            self.st.agents[i].at_round_start = self.st.agents[i].opinion;
        }
        let state = self.st.agents[i].clone();
        let stance = scale.point(state.opinion);
        let public = if prior {
            None
        } else {
            state.public_now.map(|(p, _)| scale.point(p))
        };
        let (status, reason) = match &decision {
            Decision::Valid => ("valid", None),
            Decision::Fallback(r) => ("fallback", Some(r.as_str())),
        };
        let id = AgentId(i as u32);
        let tables = &self.tables;
        let (opinions, answers) = (tables.opinions, tables.answers);
        ctx.recorder
            .row(opinions, if prior { 0 } else { ctx.round }, Some(id))?
            .str(self.label())
            .opt_str(self.setup.side_of(i as u32).map(|(_, s)| s))
            .f64(stance)
            .f64(state.confidence)
            .opt_f64(public)
            .str(status)
            .opt_str(reason)
            .opt_str(reasoning.as_deref())
            .end();
        if !prior
            && let (Some(table), Some((sentiment, turn)), Some(q)) =
                (answers, state.public_now, self.setup.question(ctx.round))
        {
            let stimulus = self
                .setup
                .stimuli
                .iter()
                .find(|s| s.round == ctx.round)
                .map(|s| s.id.as_str());
            ctx.recorder
                .row(table, ctx.round, Some(id))?
                .str(&q.id)
                .u32(turn)
                .opt_str(stimulus)
                .opt_f64(Some(scale.point(sentiment)))
                .opt_f64(Some(stance))
                .opt_f64(Some(state.confidence))
                .str(status)
                .end();
        }
        let payload = json!({
            "stance": stance,
            "confidence": state.confidence,
            "reasoning": reasoning.unwrap_or_default(),
            "before_round_1": prior,
        });
        let event = agent_event(
            ctx.round,
            id,
            kind::OPINION,
            Visibility::Private,
            payload.to_string(),
        );
        self.tell(world, ctx, event)?;
        Ok(decision)
    }

    pub(super) fn record_message(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        i: usize,
        turn: usize,
        answer: Result<crate::conversation::schema::Said, String>,
        forget_heard: bool,
    ) -> Result<Decision, RunError> {
        let scale = self.setup.scale.clone();
        let question = self.setup.question(ctx.round).map(|q| q.id.clone());
        let audience: Vec<u32> = self.graph.neighbours(i as u32);
        let table = self.tables.messages;
        let id = AgentId(i as u32);
        let said = match answer {
            Ok(said) => said,
            Err(reason) => {
                ctx.recorder
                    .row(table, ctx.round, Some(id))?
                    .str(self.label())
                    .u32(turn as u32 + 1)
                    .opt_str(question.as_deref())
                    .opt_str(None)
                    .opt_f64(None)
                    .opt_str(None)
                    .u32(0)
                    .opt_f64(None)
                    .opt_f64(None)
                    .opt_f64(None)
                    .opt_f64(None)
                    .opt_f64(None)
                    .str("fallback")
                    .opt_str(Some(&reason))
                    .end();
                return Ok(Decision::Fallback(reason));
            }
        };
        let share = scale.normalise(said.stance);
        let words = WordCounts::of(&said.text);
        let echo = self.st.previous.as_ref().map(|p| words.cosine(p));
        let (own, others) = metrics::persona_drift(&words, &self.card_words, i);
        let novelty = metrics::novelty(&words, self.st.earlier.iter().flatten());
        if let Some(e) = echo {
            self.tally.echo.push(e);
        }
        self.tally.drift.push(others - own);
        self.tally.novelty.push(novelty);
        ctx.recorder
            .row(table, ctx.round, Some(id))?
            .str(self.label())
            .u32(turn as u32 + 1)
            .opt_str(question.as_deref())
            .opt_str(Some(&said.text))
            .opt_f64(Some(said.stance))
            .opt_str(Some(&said.reasoning))
            .u32(audience.len() as u32)
            .opt_f64(echo)
            .opt_f64(Some(own))
            .opt_f64(Some(others))
            .opt_f64(Some(others - own))
            .opt_f64(Some(novelty))
            .str("valid")
            .opt_str(None)
            .end();
        self.st.previous = Some(words.clone());
        self.tally.words.push(words);
        {
            let speaker = &mut self.st.agents[i];
            speaker.spoke += 1;
            speaker.last_public = Some(share);
            speaker.public_now = Some((share, turn as u32 + 1));
            if forget_heard {
                speaker.heard.clear();
            }
        }
        for &j in &audience {
            let listener = &mut self.st.agents[j as usize];
            if listener.heard.len() >= MAX_HEARD {
                listener.heard.remove(0);
            }
            listener.heard.push(share);
            listener.heard_round.push(share);
            listener.last_heard = Some((i as u32, share));
        }
        let visibility = if self.graph.is_complete() {
            Visibility::Public
        } else {
            Visibility::Audience(audience.into_iter().map(AgentId).collect())
        };
        // The public payload carries only what was said in public.
        let payload = json!({
            "text": said.text,
            "stance": said.stance,
            "turn": turn + 1,
            "question": question,
        });
        let event = agent_event(
            ctx.round,
            id,
            kind::MESSAGE,
            visibility,
            payload.to_string(),
        );
        self.tell(world, ctx, event)?;
        Ok(Decision::Valid)
    }

    pub(super) fn consolidate(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        i: usize,
        fold: Option<Fold>,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        let Some((mark, items)) = fold else {
            return Ok(Decision::Fallback("nothing to consolidate".into()));
        };
        let max = self.setup.memory.summary_chars;
        let entity = self.agents[i];
        let previous = world
            .get::<Memory>(entity)
            .map(|m| m.summary().to_string())
            .unwrap_or_default();
        let (summary, decision) = match checked(answer, |v| check_summary(v, max)) {
            Ok(s) => (s, Decision::Valid),
            Err(reason) => (
                rule_summary(&previous, &items, max as usize),
                Decision::Fallback(reason),
            ),
        };
        let chars = summary.chars().count();
        if let Some(mut memory) = world.get_mut::<Memory>(entity) {
            memory.consolidate(summary, mark);
        }
        ctx.emit(agent_event(
            ctx.round,
            AgentId(i as u32),
            kind::CONSOLIDATED,
            Visibility::Private,
            json!({ "items": items.len(), "chars": chars }).to_string(),
        ))?;
        Ok(decision)
    }

    /// Metrics of the round just played, written to `debate_metrics`; the detector's
    /// signal is returned.
    pub(super) fn write_metrics(
        &mut self,
        ctx: &mut RoundCtx<'_>,
        stop: Option<&Stop>,
        signal: RoundSignal,
    ) -> Result<(), RunError> {
        let scale = &self.setup.scale;
        let range = scale.max - scale.min;
        let xs: Vec<f64> = self.st.agents.iter().map(|s| s.opinion).collect();
        let (m, var) = metrics::mean_variance(&xs);
        let distance =
            metrics::mean_abs_difference(self.st.agents.iter().map(|s| (s.opinion, s.initial)))
                .unwrap_or(0.0);
        let gap = metrics::mean_abs_difference(
            self.st
                .agents
                .iter()
                .filter_map(|s| s.public_now.map(|(p, _)| (p, s.opinion))),
        );
        let table = self.tables.metrics;
        ctx.recorder
            .row(table, ctx.round, None)?
            .str(self.label())
            .u32(self.agents.len() as u32)
            .u32(
                self.st
                    .agents
                    .iter()
                    .filter(|s| s.public_now.is_some())
                    .count() as u32,
            )
            .f64(scale.point(m))
            .f64(var * range * range)
            .f64(metrics::polarisation(&xs))
            .f64(distance)
            .f64(signal.shift)
            .opt_f64(gap)
            .opt_f64(mean(&self.tally.echo))
            .opt_f64(mean(&self.tally.drift))
            .opt_f64(signal.novelty)
            .opt_str(stop.map(|s| s.reason))
            .end();
        Ok(())
    }
}
