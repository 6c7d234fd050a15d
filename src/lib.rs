//! authkeeper: a browser JWT session manager.
//!
//! `core` is pure (no browser crates) and decides everything; `web` translates between the
//! browser and the core and exposes the `#[wasm_bindgen]` API used by `js/index.js`.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;
