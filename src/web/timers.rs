//! The one timer the core asks for (`poll_timeout`), held as a handle that cancels on drop.

use crate::core::time::{clamp_timer_delay, Millis};
use gloo_timers::callback::Timeout;

#[must_use = "the deadline timer cancels when dropped"]
pub struct Deadline {
    pub at: Millis,
    _timeout: Timeout,
}

impl Deadline {
    /// gloo's `Timeout::new(u32)` hands the delay to setTimeout, which fires at once for delays
    /// past 2^31-1 ms (gloo#121); the clamp keeps far deadlines far.
    pub fn schedule(now: Millis, at: Millis, callback: impl FnOnce() + 'static) -> Deadline {
        let delay = clamp_timer_delay(at.since(now));
        Deadline { at, _timeout: Timeout::new(delay, callback) }
    }
}
