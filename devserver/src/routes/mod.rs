//! HTTP routes, one module per audience: the SDK's auth backends, the protected
//! application API, and the test-control admin API.

pub mod admin;
pub mod api;
pub mod auth;
