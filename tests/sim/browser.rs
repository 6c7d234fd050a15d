//! What the tabs of one browser share: localStorage, a BroadcastChannel and an exclusive Web
//! Lock, with the timing real browsers give them.
//!
//! - localStorage: a tab reads its own writes at once; the other tabs' renderers see a write
//!   only after a propagation delay (defect 8 of issue 10). Writes reach each tab in the order
//!   the browser process committed them, and a tab never goes back to a write older than its own.
//!   A tab opened later starts from the committed state.
//! - BroadcastChannel: never delivered to the sender; per-sender FIFO towards each receiver (what
//!   browsers guarantee), with independent delays, so messages of different senders reorder.
//! - Web Lock: FIFO grants, released by its holder or when the holder's tab closes.
//!
//! The delays themselves are drawn by `World`, which schedules the deliveries.

use authkeeper::core::machine::{Generation, Stored};
use std::collections::{HashMap, VecDeque};

/// One localStorage write of the SDK's keys (a `Persist` or a shared `Clear`).
#[derive(Clone, Debug)]
pub enum Write {
    /// `refresh: None` leaves the stored refresh token as it is (as `storage.rs` does).
    Save { access: String, refresh: Option<String>, generation: Generation },
    Clear,
}

impl Write {
    pub fn apply(&self, view: &mut Stored) {
        match self {
            Write::Save { access, refresh, generation } => {
                view.access = Some(access.clone());
                if refresh.is_some() {
                    view.refresh = refresh.clone();
                }
                view.generation = *generation;
            }
            Write::Clear => *view = Stored::default(),
        }
    }

    pub fn refresh(&self) -> Option<&str> {
        match self {
            Write::Save { refresh, .. } => refresh.as_deref(),
            Write::Clear => None,
        }
    }
}

/// The browser process's copy of localStorage and the log of writes still propagating.
#[derive(Default)]
pub struct SharedStorage {
    pub committed: Stored,
    /// Every write, by sequence number (index + 1).
    pub writes: Vec<Write>,
    /// Per receiving tab, when its last write arrives (keeps the arrivals in commit order).
    last_arrival: HashMap<usize, u64>,
}

impl SharedStorage {
    /// Commits a write; returns its sequence number.
    pub fn commit(&mut self, write: Write) -> u64 {
        write.apply(&mut self.committed);
        self.writes.push(write);
        self.writes.len() as u64
    }

    /// When a write committed now, drawn to take `delay` ms, arrives at `tab`.
    pub fn arrival(&mut self, tab: usize, now: u64, delay: u64) -> u64 {
        let at = (now + delay).max(self.last_arrival.get(&tab).copied().unwrap_or(0));
        self.last_arrival.insert(tab, at);
        at
    }

    pub fn write(&self, seq: u64) -> &Write {
        &self.writes[seq as usize - 1]
    }
}

/// Per (sender, receiver), when the last message arrives: per-sender FIFO.
#[derive(Default)]
pub struct Channel {
    last_arrival: HashMap<(usize, usize), u64>,
}

impl Channel {
    pub fn arrival(&mut self, from: usize, to: usize, now: u64, delay: u64) -> u64 {
        let at = (now + delay).max(self.last_arrival.get(&(from, to)).copied().unwrap_or(0));
        self.last_arrival.insert((from, to), at);
        at
    }
}

/// A lock request: the tab and a ticket number telling its requests apart.
pub type Ticket = (usize, u64);

#[derive(Default)]
pub struct WebLock {
    pub holder: Option<Ticket>,
    pub waiting: VecDeque<Ticket>,
    next_ticket: u64,
}

impl WebLock {
    pub fn ticket(&mut self, tab: usize) -> Ticket {
        self.next_ticket += 1;
        (tab, self.next_ticket)
    }

    /// Queues the request; returns it if it is granted at once.
    pub fn request(&mut self, ticket: Ticket) -> Option<Ticket> {
        self.waiting.push_back(ticket);
        self.grant_next()
    }

    /// Frees the lock if `tab` holds it; returns the next grant, if any.
    pub fn release(&mut self, tab: usize) -> Option<Ticket> {
        if self.holder.is_some_and(|(t, _)| t == tab) {
            self.holder = None;
        }
        self.grant_next()
    }

    /// Withdraws a waiting request (the driver gave up waiting). False if it was not waiting.
    pub fn withdraw(&mut self, ticket: Ticket) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|t| *t != ticket);
        self.waiting.len() != before
    }

    /// A closed tab's requests go, and its hold with them.
    pub fn forget_tab(&mut self, tab: usize) -> Option<Ticket> {
        self.waiting.retain(|(t, _)| *t != tab);
        self.release(tab)
    }

    fn grant_next(&mut self) -> Option<Ticket> {
        if self.holder.is_some() {
            return None;
        }
        self.holder = self.waiting.pop_front();
        self.holder
    }

    pub fn held_by(&self, tab: usize) -> bool {
        self.holder.is_some_and(|(t, _)| t == tab)
    }
}
