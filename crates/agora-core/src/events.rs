//! The canonical event log: what happened, stored once, neutrally.
//!
//! Each agent's prompt is a projection of this log into its own point of view; the
//! log itself never says "you". In memory the log holds the current round's events and
//! the previous round's (which mechanisms project into memories when a round starts);
//! everything is streamed to the `events` table as rounds end.

use serde::{Deserialize, Deserializer, Serialize};

use crate::components::AgentId;

/// Who may know about an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    /// Everyone in the run.
    Public,
    /// Only the acting agent (a private answer, an internal opinion).
    Private,
    /// The actor and the listed agents.
    Audience(Vec<AgentId>),
}

/// Event kinds are a small fixed vocabulary: a restored kind is stored once for the
/// life of the process.
fn intern(text: String) -> &'static str {
    static KINDS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut kinds = KINDS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = kinds.iter().find(|k| **k == text) {
        return k;
    }
    let k: &'static str = Box::leak(text.into_boxed_str());
    kinds.push(k);
    k
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            round: u32,
            actor: Option<AgentId>,
            kind: String,
            target: Option<AgentId>,
            visibility: Visibility,
            payload: String,
        }
        let e = Stored::deserialize(d)?;
        Ok(Event {
            round: e.round,
            actor: e.actor,
            kind: intern(e.kind),
            target: e.target,
            visibility: e.visibility,
            payload: e.payload,
        })
    }
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
        if self.actor == Some(viewer) {
            "You"
        } else {
            name
        }
    }
}

/// The run's event log.
///
/// Every event is written to the `events` table the moment it happens. The log keeps
/// in memory only what other agents may still perceive: public and audience events of
/// the current and the previous round. Private events are known to their actor alone,
/// who learns of them directly, so a million private survey answers cost no memory here.
#[derive(Debug)]
pub struct EventLog {
    table: agora_export::TableId,
    current: Vec<Event>,
    previous: Vec<Event>,
    recorded: u64,
}

impl EventLog {
    /// A log writing to the already opened `events` table.
    pub fn new(table: agora_export::TableId) -> Self {
        Self {
            table,
            current: Vec::new(),
            previous: Vec::new(),
            recorded: 0,
        }
    }

    /// Record that something happened: write it, and keep it if others may perceive it.
    #[inline]
    pub fn push(
        &mut self,
        recorder: &mut crate::record::Recorder,
        event: Event,
    ) -> Result<(), agora_export::ExportError> {
        recorder
            .row(self.table, event.round, event.actor)?
            .str(event.kind)
            .opt_u32(event.target.map(|t| t.0))
            .str(event.visibility.label())
            .str(&event.payload)
            .end();
        self.recorded += 1;
        if event.visibility != Visibility::Private {
            self.current.push(event);
        }
        Ok(())
    }

    /// Shared events of the round in progress.
    pub fn current(&self) -> &[Event] {
        &self.current
    }

    /// Shared events of the round before, for projection into memories.
    pub fn previous(&self) -> &[Event] {
        &self.previous
    }

    /// Shared events of the previous and current round that `viewer` may know about.
    pub fn visible_to(&self, viewer: AgentId) -> impl Iterator<Item = &Event> {
        self.previous
            .iter()
            .chain(&self.current)
            .filter(move |e| e.visible_to(viewer))
    }

    /// Events written to the table so far.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Close the round: its shared events become the previous round's.
    pub fn end_round(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    /// Continue a log after a snapshot: `previous` are the shared events of the last
    /// round played.
    pub fn resume(&mut self, previous: Vec<Event>) {
        self.current.clear();
        self.previous = previous;
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
    fn the_log_keeps_shared_events_of_one_previous_round_and_writes_all() {
        let dir = tempfile::tempdir().unwrap();
        let info = crate::record::RunInfo {
            run_id: "r".into(),
            partition: agora_export::Partition {
                arm: "a".into(),
                replicate: 0,
            },
            seeds: crate::seed::SeedStream::new(1),
        };
        let mut recorder =
            crate::record::Recorder::new(agora_export::OutputLayout::new(dir.path()), info);
        let mut log = EventLog::new(recorder.open(crate::tables::events_table()).unwrap());
        log.push(&mut recorder, event(1, Visibility::Public))
            .unwrap();
        log.end_round();
        log.push(&mut recorder, event(2, Visibility::Private))
            .unwrap();
        log.push(
            &mut recorder,
            event(3, Visibility::Audience(vec![AgentId(2)])),
        )
        .unwrap();
        assert_eq!(log.visible_to(AgentId(1)).count(), 1);
        assert_eq!(log.visible_to(AgentId(2)).count(), 2);
        log.end_round();
        log.end_round();
        assert_eq!(log.visible_to(AgentId(2)).count(), 0);
        assert_eq!(log.recorded(), 3);
        let tables = recorder.close().unwrap();
        assert_eq!(tables[0].rows, 3);
    }
}
