//! Reference dev server for authkeeper.
//!
//! Emulates the backends the SDK must survive (djangorestframework-simplejwt with rotation
//! and blacklisting, an OAuth-style token endpoint, an httpOnly-cookie refresh flow), their
//! real-world error bodies, and fault injection, and serves the demo page. In-process use
//! (the contract tests) goes through [`serve`]; `main.rs` is a thin CLI around it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod http;
pub mod httpdate;
mod multipart;
mod routes;
mod state;
mod static_files;
pub mod tokens;

use state::App;

/// Where to listen and what to serve.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Host name or IP to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind; 0 picks a free one (read it back from [`serve`]'s address).
    pub port: u16,
    /// Repository root: static files come from `www/`, `pkg/` and `js/` under it.
    pub root: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8787,
            root: PathBuf::from("."),
        }
    }
}

/// Stops a running server: in-flight requests finish, idle connections close.
pub struct ShutdownHandle {
    tx: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ShutdownHandle {
    /// Signal shutdown and wait for the server task to end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }

    /// Signal shutdown without waiting (e.g. when the caller applies its own deadline).
    pub fn signal(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(());
        }
    }

    /// Wait for the server task to end (after [`ShutdownHandle::signal`]).
    pub async fn join(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Headers on every response. `Date` comes from the skewed server clock (hyper only adds
/// its own real-time `Date` when none is set), so clients can estimate the offset from it;
/// `Cache-Control: no-store` keeps browsers from caching tokens, API answers or stale wasm.
async fn common_headers(State(app): State<Arc<App>>, mut res: Response) -> Response {
    let now_ms = app.lock().now_ms();
    let headers = res.headers_mut();
    if let Ok(date) = HeaderValue::from_str(&httpdate::imf_fixdate(now_ms)) {
        headers.insert(header::DATE, date);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(routes::auth::router())
        .merge(routes::api::router())
        .merge(routes::admin::router())
        .fallback(static_files::fallback)
        .layer(DefaultBodyLimit::max(http::BODY_LIMIT))
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            common_headers,
        ))
        .with_state(app)
}

/// Bind and start serving in the background. Returns the bound address (useful with
/// port 0) and a handle to stop the server.
pub async fn serve(config: ServerConfig) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::new(config.root));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok((addr, ShutdownHandle { tx: Some(tx), task }))
}
