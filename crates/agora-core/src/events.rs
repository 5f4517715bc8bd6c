//! The canonical event log: what happened, stored once, neutrally.
//!
//! Each agent's prompt is a projection of this log into its own point of view; the
//! log itself never says "you". In memory the log holds the current round's events and
//! the previous round's (which mechanisms project into memories when a round starts);
//! everything is streamed to the `events` table as rounds end.

use crate::components::AgentId;

/// Who may know about an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone in the run.
    Public,
    /// Only the acting agent (a private answer, an internal opinion).
    Private,
    /// The actor and the listed agents.
    Audience(Vec<AgentId>),
}

impl Visibility {
    fn label(&self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Audience(_) => "audience",
        }
    }
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Round it happened in.
    pub round: u32,
    /// The agent that acted, if any (the moderator or the mechanism itself otherwise).
    pub actor: Option<AgentId>,
    /// What happened (`answer`, `bid`, `message`, ...).
    pub kind: &'static str,
    /// Whom it concerned, if anyone.
    pub target: Option<AgentId>,
    /// Who may know it.
    pub visibility: Visibility,
    /// Structured details as a JSON object.
    pub payload: String,
}

impl Event {
    /// Whether `viewer` may know about this event.
    pub fn visible_to(&self, viewer: AgentId) -> bool {
        match &self.visibility {
            Visibility::Public => true,
            Visibility::Private => self.actor == Some(viewer),
            Visibility::Audience(who) => self.actor == Some(viewer) || who.contains(&viewer),
        }
    }

    /// How `viewer` refers to the actor: "You" for its own acts, else `name`.
    pub fn actor_label<'a>(&self, viewer: AgentId, name: &'a str) -> &'a str {
        if self.actor == Some(viewer) { "You" } else { name }
    }
}

/// The run's event log.
#[derive(Debug, Default)]
pub struct EventLog {
    current: Vec<Event>,
    previous: Vec<Event>,
    recorded: u64,
}

impl EventLog {
    /// Record that something happened this round.
    pub fn push(&mut self, event: Event) {
        self.current.push(event);
    }

    /// Events of the round in progress.
    pub fn current(&self) -> &[Event] {
        &self.current
    }

    /// Events of the round before, for projection into memories.
    pub fn previous(&self) -> &[Event] {
        &self.previous
    }

    /// Events of the previous and current round that `viewer` may know about.
    pub fn visible_to(&self, viewer: AgentId) -> impl Iterator<Item = &Event> {
        self.previous.iter().chain(&self.current).filter(move |e| e.visible_to(viewer))
    }

    /// Events written to the table so far.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Write the current round's events to `table` and make them the previous round.
    pub fn record_round(
        &mut self,
        recorder: &mut crate::record::Recorder,
        table: agora_export::TableId,
    ) -> Result<(), agora_export::ExportError> {
        for e in &self.current {
            recorder
                .row(table, e.round, e.actor)?
                .str(e.kind)
                .opt_u32(e.target.map(|t| t.0))
                .str(e.visibility.label())
                .str(&e.payload)
                .end();
        }
        self.recorded += self.current.len() as u64;
        self.previous = std::mem::take(&mut self.current);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: u32, visibility: Visibility) -> Event {
        Event {
            round: 1,
            actor: Some(AgentId(actor)),
            kind: "message",
            target: None,
            visibility,
            payload: "{}".into(),
        }
    }

    #[test]
    fn private_events_are_visible_only_to_their_actor() {
        let e = event(1, Visibility::Private);
        assert!(e.visible_to(AgentId(1)));
        assert!(!e.visible_to(AgentId(2)));
        assert_eq!(e.actor_label(AgentId(1), "Ana"), "You");
        assert_eq!(e.actor_label(AgentId(2), "Ana"), "Ana");
    }

    #[test]
    fn audience_events_reach_the_audience_and_the_actor_only() {
        let e = event(1, Visibility::Audience(vec![AgentId(3)]));
        assert!(e.visible_to(AgentId(1)) && e.visible_to(AgentId(3)));
        assert!(!e.visible_to(AgentId(2)));
    }

    #[test]
    fn the_log_keeps_one_previous_round() {
        let mut log = EventLog::default();
        log.push(event(1, Visibility::Public));
        log.previous = std::mem::take(&mut log.current);
        log.push(event(2, Visibility::Private));
        assert_eq!(log.visible_to(AgentId(1)).count(), 1);
        assert_eq!(log.visible_to(AgentId(2)).count(), 2);
    }
}
