//! Egocentric views: the event log projected into one agent's point of view.
//!
//! History is stored once, neutrally, as [`Event`]s. What an agent remembers is the
//! projection of each event it may know about: its own words as "You said", others'
//! words under their names, what the moderator asked or showed. Private events are
//! projected for their actor only, and the private opinion and reasoning of another
//! agent are never projected, whatever an event's visibility says.

use agora_core::Event;
use agora_core::components::{AgentId, MemoryKind};
use serde_json::Value;

/// Kinds of events a conversation writes.
pub mod kind {
    /// A public message (payload: `text`, `stance`, `turn`, `question`).
    pub const MESSAGE: &str = "message";
    /// A private opinion (payload: `stance`, `confidence`, `reasoning`).
    pub const OPINION: &str = "opinion";
    /// A question of the moderator (payload: `id`, `text`).
    pub const QUESTION: &str = "question";
    /// A stimulus shown by the moderator (payload: `id`, `title`, `text`).
    pub const STIMULUS: &str = "stimulus";
    /// A memory consolidation (private; payload: `through`, `chars`).
    pub const CONSOLIDATED: &str = "memory_consolidated";
    /// The conversation stopped (payload: `reason`, `detail`).
    pub const STOPPED: &str = "conversation_stopped";
}

fn text<'a>(payload: &'a Value, key: &str) -> &'a str {
    payload.get(key).and_then(Value::as_str).unwrap_or("")
}

/// How `viewer` remembers `event`, or `None` if it may not know of it. `name` gives
/// the display name of an agent.
pub fn project<'n>(
    event: &Event,
    viewer: AgentId,
    name: impl Fn(AgentId) -> &'n str,
) -> Option<(MemoryKind, String)> {
    let payload: Value = serde_json::from_str(&event.payload).ok()?;
    project_parsed(event, &payload, viewer, name)
}

/// [`project`] with the event's payload already parsed (one parse for many viewers).
pub fn project_parsed<'n>(
    event: &Event,
    payload: &Value,
    viewer: AgentId,
    name: impl Fn(AgentId) -> &'n str,
) -> Option<(MemoryKind, String)> {
    if !event.visible_to(viewer) {
        return None;
    }
    let own = event.actor == Some(viewer);
    match event.kind {
        kind::MESSAGE => {
            let words = text(payload, "text");
            Some(if own {
                (MemoryKind::Said, format!("You said: \"{words}\""))
            } else {
                let speaker = event.actor.map_or("Someone", &name);
                (MemoryKind::Saw, format!("{speaker} said: \"{words}\""))
            })
        }
        // Only one's own private opinion, and never another's, whatever the visibility.
        kind::OPINION if own => {
            let stance = payload.get("stance").and_then(Value::as_f64)?;
            let confidence = payload
                .get("confidence")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            Some((
                MemoryKind::Thought,
                format!(
                    "You privately put your opinion at {} (confidence {confidence:.2}).",
                    agora_core::components::format_number((stance * 100.0).round() / 100.0)
                ),
            ))
        }
        kind::QUESTION => Some((
            MemoryKind::Saw,
            format!("The moderator asked: \"{}\"", text(payload, "text")),
        )),
        kind::STIMULUS => Some((
            MemoryKind::Saw,
            format!(
                "The moderator showed \"{}\": {}",
                text(payload, "title"),
                text(payload, "text")
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::Visibility;

    fn event(kind: &'static str, actor: u32, visibility: Visibility, payload: &str) -> Event {
        Event {
            round: 1,
            actor: Some(AgentId(actor)),
            kind,
            target: None,
            visibility,
            payload: payload.into(),
        }
    }

    fn names(id: AgentId) -> &'static str {
        ["Ana", "Bo", "Cy"][id.0 as usize]
    }

    #[test]
    fn own_words_are_yours_and_others_carry_their_names() {
        let e = event(
            kind::MESSAGE,
            0,
            Visibility::Public,
            r#"{"text":"Trains!","stance":5}"#,
        );
        assert_eq!(
            project(&e, AgentId(0), names).unwrap().1,
            "You said: \"Trains!\""
        );
        assert_eq!(
            project(&e, AgentId(1), names).unwrap().1,
            "Ana said: \"Trains!\""
        );
        let heard_by_bo = event(
            kind::MESSAGE,
            0,
            Visibility::Audience(vec![AgentId(1)]),
            r#"{"text":"psst"}"#,
        );
        assert!(
            project(&heard_by_bo, AgentId(2), names).is_none(),
            "Cy is not in the audience"
        );
    }

    #[test]
    fn another_agents_opinion_is_never_projected_even_if_marked_public() {
        let payload = r#"{"stance":6.5,"confidence":0.9,"reasoning":"secret"}"#;
        for visibility in [Visibility::Private, Visibility::Public] {
            let e = event(kind::OPINION, 0, visibility, payload);
            assert!(project(&e, AgentId(1), names).is_none());
            let (kind, line) = project(&e, AgentId(0), names).unwrap();
            assert_eq!(kind, MemoryKind::Thought);
            assert!(
                line.starts_with("You privately") && !line.contains("secret"),
                "{line}"
            );
        }
    }
}
