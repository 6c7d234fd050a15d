//! The requests waiting for a refresh to settle.

use super::WaiterId;

/// Why a request is waiting; it decides what it gets when no new token is coming soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WaitReason {
    /// Not sent yet: its token is within the leeway or expired.
    BeforeSend,
    /// Sent, and the server answered 401 to the current token.
    AfterUnauthorized,
    /// `auth.refresh()`: wants a new token, not the current one.
    Forced,
}

/// In arrival order. A Vec rather than a map: it costs a fraction of a BTreeMap in the shipped
/// wasm, and a cancel scanning even a thousand waiters is a microsecond.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    waiting: Vec<(WaiterId, WaitReason)>,
}

impl Waiters {
    /// An id already waiting keeps its place and takes the new reason.
    pub fn add(&mut self, id: WaiterId, reason: WaitReason) {
        match self.waiting.iter_mut().find(|(w, _)| *w == id) {
            Some(entry) => entry.1 = reason,
            None => self.waiting.push((id, reason)),
        }
    }

    pub fn remove(&mut self, id: WaiterId) -> bool {
        !self.take_where(None, Some(id)).is_empty()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Removes and returns the waiters waiting for `only` (every one for `None`), in arrival
    /// order, with why they waited.
    pub fn take(&mut self, only: Option<WaitReason>) -> Vec<(WaiterId, WaitReason)> {
        self.take_where(only, None)
    }

    /// The one loop over the waiters: those waiting for `only` (any reason for `None`) with the
    /// id `id` (any for `None`) are taken, the others keep their places. A plain loop: a
    /// `retain` closure is instantiated per use, and `Vec::remove` links its own shifting.
    fn take_where(&mut self, only: Option<WaitReason>, id: Option<WaiterId>) -> Vec<(WaiterId, WaitReason)> {
        let all = std::mem::take(&mut self.waiting);
        let mut taken = Vec::new();
        for &waiter in &all {
            if only.is_none_or(|r| r == waiter.1) && id.is_none_or(|id| id == waiter.0) {
                taken.push(waiter);
            } else {
                self.waiting.push(waiter);
            }
        }
        taken
    }
}
