//! Static files for the demo page and the e2e tests: `/pkg/*` from `<root>/pkg/`, `/js/*`
//! from `<root>/js/`, everything else from `<root>/www/` (`index.html` for directories).
//! Hand-written rather than tower-http's ServeDir: a dozen lines, one dependency less, and
//! exact control over content types (`.wasm` must be `application/wasm` for streaming
//! instantiation) and caching (`no-store`, added to every response by the server layer).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::json_response;
use crate::state::App;

pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "txt" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Map a URL path to a file under `root`, refusing anything that could escape the
/// served directories (`..`, backslashes, NUL, absolute segments after decoding).
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let (dir, rest) = if let Some(rest) = decoded.strip_prefix("/pkg/") {
        ("pkg", rest)
    } else if let Some(rest) = decoded.strip_prefix("/js/") {
        ("js", rest)
    } else {
        ("www", decoded.strip_prefix('/').unwrap_or(&decoded))
    };
    let mut path = root.join(dir);
    for segment in rest.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return None,
            s if s.contains(['\\', '\0', ':']) => return None,
            s => path.push(s),
        }
    }
    if rest.is_empty() || rest.ends_with('/') || path.is_dir() {
        path.push("index.html");
    }
    Some(path)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not Found\n",
    )
        .into_response()
}

/// Router fallback: unknown API/admin paths get a JSON 404 (clients parse those), other
/// GET/HEAD requests are served from disk.
pub async fn fallback(State(app): State<Arc<App>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/__admin/") {
        return json_response(StatusCode::NOT_FOUND, json!({ "detail": "Not found." }));
    }
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let Some(file) = resolve(&app.root, path) else {
        return not_found();
    };
    // std::fs on the blocking pool: no need for tokio's `fs` feature for a handful of files.
    let read = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || std::fs::read(file)).await
    };
    match read {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type(&file))],
            bytes,
        )
            .into_response(),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_prefixes_and_index() {
        let root = Path::new("/r");
        assert_eq!(resolve(root, "/"), Some(PathBuf::from("/r/www/index.html")));
        assert_eq!(
            resolve(root, "/app.css"),
            Some(PathBuf::from("/r/www/app.css"))
        );
        assert_eq!(
            resolve(root, "/pkg/authkeeper_bg.wasm"),
            Some(PathBuf::from("/r/pkg/authkeeper_bg.wasm"))
        );
        assert_eq!(
            resolve(root, "/js/index.mjs"),
            Some(PathBuf::from("/r/js/index.mjs"))
        );
        assert_eq!(
            resolve(root, "/sub/"),
            Some(PathBuf::from("/r/www/sub/index.html"))
        );
        assert_eq!(
            resolve(root, "/a%20b.txt"),
            Some(PathBuf::from("/r/www/a b.txt"))
        );
    }

    #[test]
    fn refuses_traversal() {
        let root = Path::new("/r");
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/pkg/%2e%2e/secret"), None);
        assert_eq!(resolve(root, "/js/..%2f..%2fx"), None);
        assert_eq!(resolve(root, "/a%5cb"), None);
        assert_eq!(resolve(root, "/%zz"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("a.MJS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.svg")), "image/svg+xml");
    }
}
