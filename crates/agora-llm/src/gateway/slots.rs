//! A limit on calls in flight that hands a freed slot to the waiting call of highest
//! priority (see [`agora_model::priority`]), first come first served among equals.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use agora_model::CallPriority;
use tokio::sync::oneshot;

/// `n` slots for calls in flight, given out by priority.
#[derive(Clone)]
pub struct PrioritySlots {
    shared: Arc<Mutex<Queue>>,
}

struct Queue {
    free: usize,
    /// Each waiting call's end of the hand-over, by (priority, arrival): the first
    /// entry goes next.
    waiting: BTreeMap<(CallPriority, u64), oneshot::Sender<SlotPermit>>,
    arrivals: u64,
}

/// A slot held; dropping it frees the slot for the next waiting call.
pub struct SlotPermit {
    slots: Option<PrioritySlots>,
}

impl Drop for SlotPermit {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release();
        }
    }
}

impl PrioritySlots {
    /// A limit of `n` calls in flight (at least one).
    pub fn new(n: usize) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Queue {
                free: n.max(1),
                waiting: BTreeMap::new(),
                arrivals: 0,
            })),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue's state stays consistent whatever a panicking holder was doing.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for a slot at `priority`.
    pub async fn acquire(&self, priority: CallPriority) -> SlotPermit {
        let waiting = {
            let mut queue = self.queue();
            if queue.free > 0 {
                queue.free -= 1;
                return self.permit();
            }
            let (send, receive) = oneshot::channel();
            let arrival = queue.arrivals;
            queue.arrivals += 1;
            queue.waiting.insert((priority, arrival), send);
            receive
        };
        match waiting.await {
            Ok(permit) => permit,
            // The queue drops a waiter only after handing it a slot; were it ever
            // dropped otherwise, the call goes ahead rather than waiting for ever.
            Err(_) => SlotPermit { slots: None },
        }
    }

    fn permit(&self) -> SlotPermit {
        SlotPermit {
            slots: Some(self.clone()),
        }
    }

    /// Hand a freed slot to the first waiting call still waiting, or keep it free.
    fn release(&self) {
        let mut queue = self.queue();
        while let Some((_, send)) = queue.waiting.pop_first() {
            match send.send(self.permit()) {
                Ok(()) => return,
                // That call gave up waiting; the permit must not free the slot again.
                Err(mut unclaimed) => unclaimed.slots = None,
            }
        }
        queue.free += 1;
    }

    /// Slots free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.queue().free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test]
    async fn freed_slots_go_to_the_highest_priority_then_the_earliest() {
        let slots = PrioritySlots::new(1);
        let held = slots.acquire(CallPriority::default()).await;
        let wide = CallPriority::new(6, 0);
        let lone = CallPriority::new(1, 9);
        let mut waits: Vec<_> = [(wide, "wide 1"), (lone, "lone"), (wide, "wide 2")]
            .into_iter()
            .map(|(p, name)| {
                let slots = slots.clone();
                async move {
                    let permit = slots.acquire(p).await;
                    (name, permit)
                }
                .boxed()
            })
            .collect();
        // Queue them in order.
        for w in &mut waits {
            assert!(w.now_or_never().is_none());
        }
        let mut order = Vec::new();
        let mut last = held;
        let mut waits: Vec<_> = waits.into_iter().map(Some).collect();
        for _ in 0..3 {
            drop(last);
            let (i, (name, permit)) = waits
                .iter_mut()
                .enumerate()
                .find_map(|(i, w)| w.as_mut().and_then(|f| f.now_or_never()).map(|r| (i, r)))
                .expect("a waiting call got the freed slot");
            waits[i] = None;
            order.push(name);
            last = permit;
        }
        assert_eq!(order, ["lone", "wide 1", "wide 2"]);
        drop(last);
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn a_call_that_stops_waiting_does_not_lose_the_slot() {
        let slots = PrioritySlots::new(1);
        let held = slots.acquire(CallPriority::default()).await;
        let mut gave_up = slots.acquire(CallPriority::default()).boxed();
        assert!((&mut gave_up).now_or_never().is_none());
        drop(gave_up);
        drop(held);
        assert_eq!(slots.free(), 1);
        let again = slots.acquire(CallPriority::default()).now_or_never();
        assert!(again.is_some());
    }
}
