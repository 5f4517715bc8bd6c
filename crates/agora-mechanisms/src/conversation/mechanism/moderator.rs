//! A focus group's questions: asked from the script, or by a model moderator.

use super::*;

impl Conversation {
    /// Ask the round's question: remember it and tell everyone.
    pub(super) fn ask(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        text: String,
    ) -> Result<(), RunError> {
        let id = self.setup.question(ctx.round).map(|q| q.id.clone());
        let payload = json!({ "id": id, "text": text }).to_string();
        self.asked = Some(text);
        self.tell(
            world,
            ctx,
            moderator_event(ctx.round, kind::QUESTION, payload),
        )
    }

    /// The model moderator's request for this round's question.
    pub(super) fn moderator_request(
        &self,
        world: &World,
        ctx: &RoundCtx<'_>,
        call: u32,
    ) -> Option<(ChatRequest, Pending)> {
        let script = self.setup.question(ctx.round)?.text.clone();
        let messages = if ctx.reads_text {
            let memory = world.get::<Memory>(self.moderator?)?;
            let shown = memory.render_within(&script, self.budget());
            vec![
                ChatMessage::system(moderator_system(&self.setup)),
                ChatMessage::user(moderate_task(&shown, ctx.round, &script)),
            ]
        } else {
            Vec::new()
        };
        let facts = TurnFacts::Moderate { script };
        let request = self.chat_request(ctx, (MODERATOR_SEAT, call), messages, facts);
        let pending = Pending {
            step: Step::Moderate,
            fold: None,
        };
        Some((request, pending))
    }

    /// Ask the model moderator's question, or the script's when its answer is invalid.
    pub(super) fn moderated(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        let script = self
            .setup
            .question(ctx.round)
            .map(|q| q.text.clone())
            .unwrap_or_default();
        let (text, decision) = match checked(answer, check_question) {
            Ok(question) => (question, Decision::Valid),
            Err(reason) => (script, Decision::Fallback(reason)),
        };
        self.ask(world, ctx, text)?;
        Ok(decision)
    }
}
