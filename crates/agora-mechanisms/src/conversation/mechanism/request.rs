//! What each step asks of an agent: typed facts for rule-based agents and the
//! rendered prompt for language models.

use super::*;

impl Conversation {
    pub(super) fn facts(
        &self,
        world: &World,
        i: usize,
        ctx: &RoundCtx<'_>,
    ) -> Option<(TurnFacts, Option<Fold>)> {
        let state = world.get_resource::<ConversationState>()?.agents.get(i)?;
        Some(match self.asking() {
            Step::Moderate => return None,
            Step::Prior => (
                TurnFacts::Prior {
                    score: self.prior_scores[i],
                },
                None,
            ),
            Step::Speak(_) | Step::SpeakTogether => (
                TurnFacts::Speak {
                    opinion: state.opinion,
                    heard: state.heard.clone(),
                    agreeableness: self.agreeableness[i],
                    voice: self.voice(i, ctx.round, state),
                },
                None,
            ),
            Step::Opinion => (
                TurnFacts::Update {
                    opinion: state.opinion,
                    confidence: state.confidence,
                    heard: state.heard_round.clone(),
                    shift: self.shift(i, ctx.round),
                },
                None,
            ),
            Step::Consolidate => {
                let memory = world.get::<Memory>(self.agents[i])?;
                let (items, mark) = memory.to_consolidate(self.setup.memory.recent as usize);
                let skip = items.len().saturating_sub(MAX_FOLDED_ITEMS);
                let items: Vec<String> = items
                    .iter()
                    .skip(skip)
                    .map(|item| truncate_line(&item.text, MAX_FOLDED_BYTES))
                    .collect();
                (
                    TurnFacts::Consolidate {
                        summary: memory.summary().to_string(),
                        items: items.clone(),
                        max_chars: self.setup.memory.summary_chars as usize,
                    },
                    Some((mark, items)),
                )
            }
        })
    }

    pub(super) fn render(
        &self,
        world: &World,
        i: usize,
        ctx: &RoundCtx<'_>,
        fold: Option<&Fold>,
    ) -> Option<Vec<ChatMessage>> {
        let entity = self.agents[i];
        let memory = world.get::<Memory>(entity)?;
        let question = self.asked.as_deref();
        let task = match self.asking() {
            Step::Speak(_) | Step::SpeakTogether => speak_task(&self.setup, ctx.round, question),
            Step::Prior | Step::Opinion => opinion_task(&self.setup),
            Step::Moderate => return None,
            Step::Consolidate => {
                let (_, items) = fold?;
                consolidate_task(memory.summary(), items, self.setup.memory.summary_chars)
            }
        };
        let shown = match self.asking() {
            Step::Consolidate => String::new(),
            _ => {
                let query = format!("{} {}", self.setup.topic, question.unwrap_or(""));
                memory.render_within(&query, self.budget())
            }
        };
        let role = self.setup.side_of(i as u32).map(|(_, s)| s);
        Some(vec![
            ChatMessage::system(self.system.clone()),
            ChatMessage::user(user_message(&self.cards[i], role, &shown, &task)),
        ])
    }

    /// The request of the current step for the `call`-th call of `seat` (an agent's id,
    /// or the moderator's seat) this round.
    pub(super) fn chat_request(
        &self,
        ctx: &RoundCtx<'_>,
        (seat, call): (u64, u32),
        messages: Vec<ChatMessage>,
        facts: TurnFacts,
    ) -> ChatRequest {
        let (task, schema) = match self.asking() {
            Step::Speak(_) | Step::SpeakTogether => {
                (self.setup.kind.speak_task, &self.message_schema)
            }
            Step::Prior | Step::Opinion => {
                (crate::conversation::TASK_OPINION, &self.opinion_schema)
            }
            Step::Consolidate => (crate::conversation::TASK_CONSOLIDATE, &self.summary_schema),
            Step::Moderate => (crate::conversation::TASK_MODERATE, &self.question_schema),
        };
        ChatRequest {
            task,
            messages,
            schema: schema.clone(),
            params: self.params,
            seed: ctx.call_seed(seat, call),
            facts: Some(Arc::new(facts)),
        }
    }
}
