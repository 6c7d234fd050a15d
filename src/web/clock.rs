//! Time and randomness, the two inputs the core refuses to read for itself.

use crate::core::time::Millis;

pub fn now() -> Millis {
    let ms = js_sys::Date::now();
    // Date.now() is a finite, non-negative f64 in any real browser; guard anyway so a
    // mocked clock cannot produce a nonsense cast.
    Millis(if ms.is_finite() && ms > 0.0 { ms as u64 } else { 0 })
}

pub fn jitter() -> f64 {
    js_sys::Math::random()
}
