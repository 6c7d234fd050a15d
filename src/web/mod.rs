//! Browser adapters: each file translates one browser facility for the pure core, which decides.
//! Nothing here may panic on what the page or a server controls; failures become typed JS errors.

mod api;
mod clock;
mod config;
mod convert;
mod driver;
mod events;
mod http;
mod lifecycle;
mod promises;
mod storage;
mod tabs;
mod timers;

pub use api::{decode_jwt, AuthCore};
