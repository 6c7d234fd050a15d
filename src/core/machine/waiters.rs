//! The requests waiting for a refresh to settle.

use super::WaiterId;
use std::collections::BTreeMap;

/// Why a request is waiting; it decides what it gets when no new token is coming soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WaitReason {
    /// Not sent yet: its token is within the leeway or expired.
    BeforeSend,
    /// Sent, and the server answered 401 to the current token.
    AfterUnauthorized,
}

/// Keyed by id (the web layer hands out increasing ids, so this is also arrival order, and a
/// cancel is a log-time removal even with a thousand waiters).
#[derive(Debug, Default)]
pub(super) struct Waiters {
    waiting: BTreeMap<WaiterId, WaitReason>,
}

impl Waiters {
    pub fn add(&mut self, id: WaiterId, reason: WaitReason) {
        self.waiting.insert(id, reason);
    }

    pub fn remove(&mut self, id: WaiterId) -> bool {
        self.waiting.remove(&id).is_some()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Removes and returns every waiter.
    pub fn take_all(&mut self) -> Vec<WaiterId> {
        std::mem::take(&mut self.waiting).into_keys().collect()
    }

    /// Removes and returns the waiters waiting for this reason.
    pub fn take(&mut self, reason: WaitReason) -> Vec<WaiterId> {
        let taken: Vec<WaiterId> = self.waiting.iter().filter(|(_, r)| **r == reason).map(|(id, _)| *id).collect();
        for id in &taken {
            self.waiting.remove(id);
        }
        taken
    }
}
