//! Contract tests: each test starts its own server in-process on port 0 (so tests run in
//! parallel with independent state) and checks the HTTP contract the demo page and the
//! e2e tests rely on, with a real HTTP client.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authkeeper_devserver::{serve, ServerConfig, ShutdownHandle};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::{
    HeaderMap, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, DATE, RETRY_AFTER, SET_COOKIE,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

struct Srv {
    base: String,
    client: Client,
    handle: Option<ShutdownHandle>,
    root: PathBuf,
}

/// A throwaway repo root with www/, pkg/ and js/ for the static-file checks.
fn make_root() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "authkeeper-devserver-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    for (dir, file, content) in [
        ("www", "index.html", "<!doctype html><title>demo</title>"),
        ("www", "app.css", "body{}"),
        ("www", "logo.svg", "<svg/>"),
        ("pkg", "authkeeper_bg.wasm", "\0asm"),
        ("pkg", "authkeeper.js", "export {}"),
        ("js", "index.mjs", "export {}"),
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        std::fs::write(root.join(dir).join(file), content).expect("write");
    }
    std::fs::write(root.join("secret.txt"), "outside the served dirs").expect("write");
    root
}

async fn start() -> Srv {
    let root = make_root();
    let (addr, handle) = serve(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        root: root.clone(),
    })
    .await
    .expect("server starts");
    Srv {
        base: format!("http://{addr}"),
        client: Client::builder().build().expect("client"),
        handle: Some(handle),
        root,
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Srv {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    async fn post_raw(&self, path: &str, body: &'static str) -> Resp {
        self.send(
            self.client
                .post(self.url(path))
                .header(CONTENT_TYPE, "application/json")
                .body(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path))).await
    }

    async fn get_auth(&self, path: &str, token: &str) -> Resp {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// An authenticated POST of a raw body with its content type.
    async fn post_auth(&self, path: &str, token: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Resp {
        self.send(self.client.post(self.url(path)).bearer_auth(token).header(CONTENT_TYPE, content_type).body(body))
            .await
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self.post(&format!("/__admin/{path}"), body).await;
        assert_eq!(r.status, StatusCode::OK, "admin {path}: {}", r.text);
        r.json()
    }

    async fn state(&self) -> Value {
        self.get("/__admin/state").await.json()
    }

    async fn counters(&self) -> Value {
        self.state().await["counters"].clone()
    }

    /// Log in with the SimpleJWT shape; returns (access, refresh).
    async fn login(&self) -> (String, String) {
        let r = self
            .post(
                "/api/auth/login/",
                json!({"username": "alice", "password": "wonderland"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        (s(&v["access"]), s(&v["refresh"]))
    }

    async fn refresh(&self, refresh: &str) -> Resp {
        self.post("/api/auth/token/refresh/", json!({ "refresh": refresh }))
            .await
    }

    async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.expect("clean shutdown");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_string()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("claims JSON")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn invalid_token_body() -> Value {
    json!({"error": "invalid_token", "detail": "Token is expired or invalid", "action": "clear_tokens"})
}

fn refresh_required_body() -> Value {
    json!({"error": "refresh_token_required", "detail": "Refresh token is required", "action": "clear_tokens"})
}

fn blacklisted_body() -> Value {
    json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
}

fn api_401_body() -> Value {
    json!({"detail": "Given token not valid for any token type", "code": "token_not_valid"})
}

// ---------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_in_three_modes() {
    let srv = start().await;
    let creds = json!({"username": "alice", "password": "wonderland"});

    let (access, refresh) = srv.login().await;
    let (a, r) = (claims(&access), claims(&refresh));
    assert_eq!(
        (a["token_type"].clone(), a["user_id"].clone()),
        (json!("access"), json!(1))
    );
    assert_eq!(r["token_type"], "refresh");
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 30);
    assert_eq!(
        r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
        3600
    );
    assert_ne!(a["jti"], r["jti"]);
    assert!((a["iat"].as_i64().unwrap() - now_secs()).abs() <= 2);

    let v = srv
        .post("/api/auth/login/?mode=oauth", creds.clone())
        .await
        .json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 30);
    assert_eq!(claims(&s(&v["access_token"]))["token_type"], "access");
    assert_eq!(claims(&s(&v["refresh_token"]))["token_type"], "refresh");

    let r = srv.post("/api/auth/login/?mode=cookie", creds).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "cookie mode answers only {{access}}: {v}"
    );
    assert_eq!(claims(&s(&v["access"]))["token_type"], "access");
    let cookie = r
        .headers
        .get(SET_COOKIE)
        .and_then(|h| h.to_str().ok())
        .expect("Set-Cookie");
    let token = cookie
        .strip_prefix("refresh_token=")
        .and_then(|c| c.split(';').next())
        .expect("refresh cookie");
    assert_eq!(claims(token)["token_type"], "refresh");
    assert!(
        cookie.ends_with("; HttpOnly; SameSite=Strict; Path=/api/auth/"),
        "{cookie}"
    );

    assert_eq!(srv.counters().await["login_calls"], 3);
    srv.stop().await;
}

#[tokio::test]
async fn login_rejects_bad_credentials_inactive_user_and_bad_input() {
    let srv = start().await;
    let failed = json!({"detail": "No active account found with the given credentials", "code": "authentication_failed"});
    let r = srv
        .post(
            "/api/auth/login/",
            json!({"username": "alice", "password": "nope"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, failed.clone())
    );

    srv.admin("user/deactivate", json!({})).await;
    let r = srv
        .post(
            "/api/auth/login/",
            json!({"username": "alice", "password": "wonderland"}),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::UNAUTHORIZED, failed));
    srv.admin("user/activate", json!({})).await;
    srv.login().await;

    for (path, body) in [
        ("/api/auth/login/", "{not json"),
        ("/api/auth/login/", "[1,2]"),
        ("/api/auth/login/", r#"{"username":"alice"}"#),
        (
            "/api/auth/login/?mode=bogus",
            r#"{"username":"alice","password":"wonderland"}"#,
        ),
    ] {
        let r = srv.post_raw(path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(r.json()["error"], "bad_request");
    }
    assert_eq!(srv.counters().await["login_calls"], 7);
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// The three refresh contracts

#[tokio::test]
async fn simplejwt_refresh_rotates_and_blacklists_the_old_token() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;

    let r = srv.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(claims(&s(&v["access"]))["token_type"], "access");
    let rotated = s(&v["refresh"]);
    assert_ne!(claims(&rotated)["jti"], claims(&refresh)["jti"]);

    // Reuse of the rotated-out token: SimpleJWT's exact blacklist answer.
    let r = srv.refresh(&refresh).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, blacklisted_body())
    );
    // The new one still works.
    assert_eq!(srv.refresh(&rotated).await.status, StatusCode::OK);

    let c = srv.counters().await;
    assert_eq!(
        (c["refresh_calls"].clone(), c["refresh_ok"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(
        (c["refresh_failed"].clone(), c["refresh_reuse"].clone()),
        (json!(1), json!(1))
    );
    srv.stop().await;
}

#[tokio::test]
async fn rotation_and_blacklist_follow_config() {
    let srv = start().await;
    let cfg = srv.admin("config", json!({"rotate": false})).await;
    assert_eq!(cfg["config"]["rotate"], false);
    assert_eq!(cfg["config"]["blacklist"], true);
    let (_, refresh) = srv.login().await;
    for _ in 0..2 {
        let v = srv.refresh(&refresh).await.json();
        assert!(
            v.get("access").is_some() && v.get("refresh").is_none(),
            "no rotation: {v}"
        );
    }

    // Rotation without BLACKLIST_AFTER_ROTATION: the old token keeps working.
    srv.admin("config", json!({"rotate": true, "blacklist": false}))
        .await;
    let v = srv.refresh(&refresh).await.json();
    assert!(v.get("refresh").is_some());
    assert_eq!(srv.refresh(&refresh).await.status, StatusCode::OK);

    srv.admin("config", json!({"access_ttl": 5, "refresh_ttl": 50}))
        .await;
    let v = srv.refresh(&refresh).await.json();
    let (a, r) = (claims(&s(&v["access"])), claims(&s(&v["refresh"])));
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 5);
    assert_eq!(r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(), 50);
    srv.stop().await;
}

#[tokio::test]
async fn oauth_refresh_contract() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    let r = srv
        .post(
            "/api/auth/oauth/token/",
            json!({"grant_type": "refresh_token", "refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (v["token_type"].clone(), v["expires_in"].clone()),
        (json!("Bearer"), json!(30))
    );
    assert_eq!(claims(&s(&v["access_token"]))["token_type"], "access");
    let rotated = s(&v["refresh_token"]);

    let r = srv
        .post("/api/auth/oauth/token/", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, blacklisted_body())
    );
    // The OAuth endpoint reads `refresh_token`, not SimpleJWT's `refresh`.
    let r = srv
        .post("/api/auth/oauth/token/", json!({"refresh": rotated}))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::BAD_REQUEST, refresh_required_body())
    );

    srv.admin("config", json!({"rotate": false})).await;
    let v = srv
        .post("/api/auth/oauth/token/", json!({"refresh_token": rotated}))
        .await
        .json();
    assert!(
        v.get("access_token").is_some() && v.get("refresh_token").is_none(),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn oauth_refresh_accepts_the_rfc_6749_form_body() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    let form = format!("grant_type=refresh_token&refresh_token={refresh}&client_id=spa");
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/auth/oauth/token/"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json().get("access_token").is_some());
    // The same (now rotated-away) token again: the blacklist answer, as with JSON.
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/auth/oauth/token/"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
        )
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::UNAUTHORIZED, blacklisted_body()));
    srv.stop().await;
}

#[tokio::test]
async fn cookie_refresh_contract() {
    let srv = start().await;
    let jar_client = Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let creds = json!({"username": "alice", "password": "wonderland"});
    let res = jar_client
        .post(srv.url("/api/auth/login/?mode=cookie"))
        .json(&creds)
        .send()
        .await
        .expect("login");
    let first = res.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    let first_token = first.split(';').next().expect("pair").to_string(); // "refresh_token=..."

    // Empty body; the jar sends the cookie (Path=/api/auth/ covers the endpoint).
    let res = jar_client
        .post(srv.url("/api/auth/cookie/refresh/"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = res.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(rotated.ends_with("; HttpOnly; SameSite=Strict; Path=/api/auth/"));
    assert_ne!(rotated.split(';').next(), Some(first_token.as_str()));
    let v: Value = res.json().await.expect("json");
    assert_eq!(v.as_object().map(|o| o.len()), Some(1));
    assert_eq!(claims(&s(&v["access"]))["token_type"], "access");

    // The jar now holds the rotated cookie and keeps working.
    let res = jar_client
        .post(srv.url("/api/auth/cookie/refresh/"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::OK);

    // Replaying the first cookie by hand: blacklisted.
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/auth/cookie/refresh/"))
                .header(COOKIE, first_token),
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, blacklisted_body())
    );
    // No cookie at all.
    let r = srv
        .send(srv.client.post(srv.url("/api/auth/cookie/refresh/")))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::BAD_REQUEST, refresh_required_body())
    );
    srv.stop().await;
}

#[tokio::test]
async fn refresh_error_contract() {
    let srv = start().await;
    let (access, refresh) = srv.login().await;

    // 2. Missing / empty, on both JSON contracts.
    for (path, body) in [
        ("/api/auth/token/refresh/", ""),
        ("/api/auth/token/refresh/", "{}"),
        ("/api/auth/token/refresh/", r#"{"refresh":""}"#),
        ("/api/auth/token/refresh/", r#"{"refresh":null}"#),
        (
            "/api/auth/oauth/token/",
            r#"{"grant_type":"refresh_token"}"#,
        ),
    ] {
        let r = srv.post_raw(path, body).await;
        assert_eq!(
            (r.status, r.json()),
            (StatusCode::BAD_REQUEST, refresh_required_body()),
            "{path} {body:?}"
        );
    }

    // 3. Malformed, bad signature, wrong token type, non-string.
    let mut forged = refresh.clone();
    forged.pop();
    forged.push(if refresh.ends_with('A') { 'B' } else { 'A' });
    for bad in [
        json!("garbage"),
        json!("a.b.c"),
        json!(forged),
        json!(access),
        json!(12345),
    ] {
        let r = srv
            .post("/api/auth/token/refresh/", json!({ "refresh": bad }))
            .await;
        assert_eq!(
            (r.status, r.json()),
            (StatusCode::UNAUTHORIZED, invalid_token_body()),
            "{bad}"
        );
    }
    // Expired: move the server clock past the refresh lifetime instead of sleeping.
    srv.admin("clock", json!({"skew_seconds": 3601})).await;
    let r = srv.refresh(&refresh).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, invalid_token_body())
    );
    srv.admin("clock", json!({"skew_seconds": 0})).await;

    // 6. Inactive user.
    srv.admin("user/deactivate", json!({})).await;
    let r = srv.refresh(&refresh).await;
    let inactive = json!({"error": "user_inactive", "detail": "User account is inactive", "action": "clear_tokens"});
    assert_eq!((r.status, r.json()), (StatusCode::UNAUTHORIZED, inactive));
    srv.admin("user/activate", json!({})).await;

    // 5. Deleted user (database reset): the old token's user_id no longer exists.
    srv.admin("user/delete", json!({})).await;
    let r = srv.refresh(&refresh).await;
    let not_found = json!({
        "error": "user_not_found",
        "detail": "User account no longer exists. Please log in again.",
        "action": "clear_tokens",
    });
    assert_eq!((r.status, r.json()), (StatusCode::UNAUTHORIZED, not_found));

    // Malformed JSON is a plain 400 bad_request, not a logout instruction.
    let r = srv.post_raw("/api/auth/token/refresh/", "{oops").await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("bad_request"))
    );

    let c = srv.counters().await;
    assert_eq!(
        (
            c["refresh_calls"].clone(),
            c["refresh_failed"].clone(),
            c["refresh_ok"].clone()
        ),
        (json!(14), json!(14), json!(0))
    );
    srv.stop().await;
}

#[tokio::test]
async fn blacklist_check_comes_before_user_checks() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    assert_eq!(srv.refresh(&refresh).await.status, StatusCode::OK);
    srv.admin("user/delete", json!({})).await;
    let r = srv.refresh(&refresh).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, blacklisted_body())
    );
    srv.stop().await;
}

#[tokio::test]
async fn concurrent_reuse_of_one_refresh_token_has_exactly_one_winner() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    let results = futures_join_all(&srv, &refresh, 8).await;
    let ok = results.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    assert_eq!(srv.counters().await["refresh_reuse"], 7);
    srv.stop().await;
}

/// N concurrent refreshes with the same token (tokio tasks; no `futures` dependency).
async fn futures_join_all(srv: &Srv, refresh: &str, n: usize) -> Vec<StatusCode> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (client, url, body) = (
            srv.client.clone(),
            srv.url("/api/auth/token/refresh/"),
            json!({ "refresh": refresh }),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("send")
                .status()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

// ---------------------------------------------------------------------------------------
// User lifecycle

#[tokio::test]
async fn deleting_the_user_recreates_it_with_a_new_id() {
    let srv = start().await;
    let (access, _) = srv.login().await;
    let st = srv.admin("user/delete", json!({})).await;
    assert_eq!(st["user"]["id"], 2);
    assert_eq!(st["user"]["active"], true);
    // The old access token names a user that no longer exists.
    let r = srv.get_auth("/api/paper-trades/", &access).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, api_401_body())
    );
    // Logging in again works at once, as the new row.
    let (access, _) = srv.login().await;
    assert_eq!(claims(&access)["user_id"], 2);
    let trades = srv.get_auth("/api/paper-trades/", &access).await.json();
    assert_eq!(
        trades.as_array().map(Vec::len),
        Some(2),
        "demo trades re-seeded: {trades}"
    );
    assert_eq!(srv.admin("user/delete", json!({})).await["user"]["id"], 3);
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// Protected API

#[tokio::test]
async fn protected_api_rejects_missing_bad_and_expired_tokens() {
    let srv = start().await;
    let (access, refresh) = srv.login().await;

    let r = srv.get("/api/paper-trades/").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, api_401_body())
    );
    let r = srv.get_auth("/api/paper-trades/", "not-a-jwt").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, api_401_body())
    );
    let r = srv.get_auth("/api/paper-trades/", &refresh).await; // wrong token type
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = srv.get_auth("/api/paper-trades/", &access).await;
    assert_eq!(r.status, StatusCode::OK, "fresh token accepted: {}", r.text);

    // A 1 s token: exp is a whole second at most 1 s ahead, so after 1.05 s it has passed.
    // (Checked only after the wait: right after login it may already be expired.)
    srv.admin("config", json!({"access_ttl": 1})).await;
    let (access, _) = srv.login().await;
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let r = srv.get_auth("/api/paper-trades/", &access).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, api_401_body())
    );
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/echo/"))
                .bearer_auth(&access)
                .body("x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Inactive user: a valid access token stops working too.
    srv.admin("config", json!({"access_ttl": 30})).await;
    let fresh = s(&srv.refresh(&refresh).await.json()["access"]);
    srv.admin("user/deactivate", json!({})).await;
    assert_eq!(
        srv.get_auth("/api/paper-trades/", &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );

    let c = srv.counters().await;
    assert_eq!(
        (c["api_calls"].clone(), c["api_401s"].clone()),
        (json!(7), json!(6))
    );
    srv.stop().await;
}

#[tokio::test]
async fn paper_trades_list_and_create() {
    let srv = start().await;
    let (access, _) = srv.login().await;
    let trades = srv.get_auth("/api/paper-trades/", &access).await.json();
    let list = trades.as_array().expect("array");
    assert_eq!(list.len(), 2);
    for key in ["id", "symbol", "side", "qty", "price", "created_at"] {
        assert!(list[0].get(key).is_some(), "trade has {key}: {}", list[0]);
    }

    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/paper-trades/"))
                .bearer_auth(&access)
                .json(&json!({"symbol": "tsla", "side": "BUY", "qty": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = r.json();
    assert_eq!(
        (t["symbol"].clone(), t["side"].clone(), t["qty"].clone()),
        (json!("TSLA"), json!("buy"), json!(3.0))
    );
    assert!(t["price"].as_f64().unwrap() > 0.0);
    assert_eq!(
        srv.get_auth("/api/paper-trades/", &access)
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    for bad in [
        json!({"side": "buy", "qty": 1}),
        json!({"symbol": "X", "side": "hold", "qty": 1}),
        json!({"symbol": "X", "side": "buy", "qty": -1}),
        json!({"symbol": "X", "side": "buy", "qty": 1, "price": "abc"}),
        json!([1]),
    ] {
        let r = srv
            .send(
                srv.client
                    .post(srv.url("/api/paper-trades/"))
                    .bearer_auth(&access)
                    .json(&bad),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["error"], "bad_request");
    }
    let r = srv.post_auth("/api/paper-trades/", &access, "application/json", "{nope").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    srv.stop().await;
}

#[tokio::test]
async fn echo_reports_method_body_and_authorization() {
    let srv = start().await;
    let (access, _) = srv.login().await;
    let body = r#"{"symbol":"AAPL","note":"héllo"}"#;
    let r = srv.post_auth("/api/echo/", &access, "application/json", body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"method": "POST", "content_type": "application/json", "body": body, "authorization": format!("Bearer {access}")})
    );
    let v = srv.get_auth("/api/echo/", &access).await.json();
    assert_eq!(
        (
            v["method"].clone(),
            v["body"].clone(),
            v["content_type"].clone()
        ),
        (json!("GET"), json!(""), Value::Null)
    );
    let r = srv.post("/api/echo/", json!({})).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, api_401_body())
    );
    srv.stop().await;
}

#[tokio::test]
async fn upload_lists_fields_and_files() {
    let srv = start().await;
    let (access, _) = srv.login().await;
    let body = "--BOUNDARY\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nmy trades\r\n\
--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"trades.csv\"\r\nContent-Type: text/csv\r\n\r\n\
symbol,qty\r\nAAPL,1\r\n--BOUNDARY--\r\n";
    let r = srv.post_auth("/api/paper-trades/upload/", &access, "multipart/form-data; boundary=BOUNDARY", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"fields": {"note": "my trades"}, "files": [{"field": "file", "filename": "trades.csv", "size": 18}]})
    );

    let r = srv.post_auth("/api/paper-trades/upload/", &access, "text/plain", "x").await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("bad_request"))
    );
    let r = srv.post_auth("/api/paper-trades/upload/", &access, "multipart/form-data; boundary=B", "--B\r\nno headers end").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// Anonymous endpoints and logout

#[tokio::test]
async fn anonymous_endpoints_and_leaked_bearer_counter() {
    let srv = start().await;
    let r = srv
        .post(
            "/api/auth/register/",
            json!({"username": "bob", "password": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::CREATED, json!({"detail": "registered"}))
    );
    let r = srv
        .post("/api/auth/verify-otp/", json!({"otp": "000000"}))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, json!({"detail": "Invalid OTP"}))
    );
    let r = srv
        .post("/api/auth/verify-otp/", json!({"otp": "123456"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv.get("/api/public/").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({"ok": true})));
    assert_eq!(srv.counters().await["leaked_bearer"], 0);

    // A bearer sent to any of them is a leak.
    srv.send(
        srv.client
            .post(srv.url("/api/auth/register/"))
            .bearer_auth("t")
            .json(&json!({})),
    )
    .await;
    srv.send(
        srv.client
            .post(srv.url("/api/auth/verify-otp/"))
            .header(AUTHORIZATION, "Bearer t")
            .json(&json!({"otp": "1"})),
    )
    .await;
    srv.get_auth("/api/public/", "t").await;
    let c = srv.counters().await;
    assert_eq!(c["leaked_bearer"], 3);
    // None of that touched the refresh counters.
    assert_eq!(c["refresh_calls"], 0);
    srv.stop().await;
}

#[tokio::test]
async fn logout_blacklists_and_clears_the_cookie() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    let r = srv
        .post("/api/auth/logout/", json!({ "refresh": refresh }))
        .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    let cookie = r.headers[SET_COOKIE].to_str().expect("ascii");
    assert!(
        cookie.starts_with("refresh_token=;")
            && cookie.contains("Max-Age=0")
            && cookie.contains("Path=/api/auth/"),
        "{cookie}"
    );
    let r = srv.refresh(&refresh).await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::UNAUTHORIZED, blacklisted_body())
    );

    // Cookie-mode logout reads the cookie.
    let r = srv
        .post(
            "/api/auth/login/?mode=cookie",
            json!({"username": "alice", "password": "wonderland"}),
        )
        .await;
    let pair = r.headers[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/auth/logout/"))
                .header(COOKIE, pair.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = srv
        .send(
            srv.client
                .post(srv.url("/api/auth/cookie/refresh/"))
                .header(COOKIE, pair),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Logging out with nothing, or garbage, is still fine.
    assert_eq!(
        srv.post_raw("/api/auth/logout/", "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        srv.post("/api/auth/logout/", json!({"refresh": "junk"}))
            .await
            .status,
        StatusCode::OK
    );
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// Fault injection

#[tokio::test]
async fn fault_500_applies_times_then_clears() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    let st = srv
        .admin("fault", json!({"refresh": "500", "times": 2}))
        .await;
    assert_eq!(st["faults"]["refresh"], "500");
    for _ in 0..2 {
        let r = srv.refresh(&refresh).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            r.text.contains("Server Error (500)")
                && serde_json::from_str::<Value>(&r.text).is_err()
        );
    }
    // Faults come before validation: even a missing token got the 500. Now it is cleared.
    let r = srv.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let st = srv.state().await;
    assert_eq!(st["faults"]["refresh"], "none");
    let c = &st["counters"];
    assert_eq!(
        (
            c["refresh_calls"].clone(),
            c["refresh_failed"].clone(),
            c["refresh_ok"].clone()
        ),
        (json!(3), json!(2), json!(1))
    );
    srv.stop().await;
}

#[tokio::test]
async fn fault_429_sends_retry_after_until_cleared() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    srv.admin("fault", json!({"refresh": "429", "retry_after": 7}))
        .await;
    for path in [
        "/api/auth/token/refresh/",
        "/api/auth/oauth/token/",
        "/api/auth/cookie/refresh/",
        "/api/auth/token/refresh/",
    ] {
        let r = srv.post(path, json!({})).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(r.headers[RETRY_AFTER], "7");
        assert_eq!(r.json()["code"], "throttled");
    }
    srv.admin("fault", json!({"refresh": "429"})).await;
    assert_eq!(srv.refresh(&refresh).await.headers[RETRY_AFTER], "1"); // default
    srv.admin("fault", json!({"refresh": "none"})).await;
    assert_eq!(srv.refresh(&refresh).await.status, StatusCode::OK);
    srv.stop().await;
}

#[tokio::test]
async fn fault_hang_waits_then_answers_normally() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    srv.admin(
        "fault",
        json!({"refresh": "hang", "hang_ms": 400, "times": 1}),
    )
    .await;
    let t = Instant::now();
    let (client, url) = (srv.client.clone(), srv.url("/api/auth/token/refresh/"));
    let body = json!({ "refresh": refresh });
    let hung = tokio::spawn(async move { client.post(url).json(&body).send().await });

    // While one refresh hangs, the rest of the server keeps answering (no lock held).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let st = srv.state().await;
    assert!(!hung.is_finished(), "state answered during the hang");
    assert_eq!(
        st["faults"]["refresh"], "none",
        "times: 1 consumed by the hanging call"
    );

    let r = hung.await.expect("join").expect("response");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(srv.refresh(&s(&v["refresh"])).await.status, StatusCode::OK);
    srv.stop().await;
}

#[tokio::test]
async fn admin_rejects_bad_input() {
    let srv = start().await;
    for (path, body) in [
        ("fault", json!({"refresh": "503"})),
        ("fault", json!({})),
        ("fault", json!({"refresh": "500", "times": -1})),
        ("fault", json!({"refresh": "500", "tiems": 1})),
        ("config", json!({"access_ttl": "soon"})),
        ("config", json!({"accessTtl": 5})),
        ("config", json!({"rotate": 1})),
        ("clock", json!({})),
        ("clock", json!({"skew_seconds": "1"})),
    ] {
        let r = srv.post(&format!("/__admin/{path}"), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(r.json()["error"], "bad_request");
    }
    let r = srv.post_raw("/__admin/config", "{").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing changed.
    let st = srv.state().await;
    assert_eq!(
        st["config"],
        json!({"access_ttl": 30, "refresh_ttl": 3600, "rotate": true, "blacklist": true, "clock_skew_seconds": 0})
    );
    assert_eq!(st["faults"]["refresh"], "none");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// Clock, reset, static files

#[tokio::test]
async fn clock_skew_moves_token_times_and_date_header() {
    let srv = start().await;
    let st = srv.admin("clock", json!({"skew_seconds": -86400})).await;
    assert_eq!(st["config"]["clock_skew_seconds"], -86400);
    let server_ms = st["server_time_ms"].as_i64().unwrap();
    assert!((server_ms / 1000 - (now_secs() - 86400)).abs() <= 2);

    let (access, refresh) = srv.login().await;
    let iat = claims(&access)["iat"].as_i64().unwrap();
    assert!(
        (iat - (now_secs() - 86400)).abs() <= 2,
        "iat {iat} follows the skewed clock"
    );
    // Validation uses the same clock: the token is valid at server time.
    assert_eq!(srv.refresh(&refresh).await.status, StatusCode::OK);

    // The Date header follows the skewed clock too: it changes when the skew is removed.
    let r = srv.get("/api/public/").await;
    let skewed = r.headers[DATE].to_str().unwrap().to_string();
    assert!(skewed.ends_with(" GMT") && skewed.len() == 29, "{skewed}");
    srv.admin("clock", json!({"skew_seconds": 0})).await;
    let real = srv.get("/api/public/").await.headers[DATE]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(real[..16], skewed[..16], "a day apart: {real} vs {skewed}");
    // At real time the skewed token (iat a day ago, 30 s lifetime) is long expired.
    assert_eq!(
        srv.get_auth("/api/paper-trades/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    srv.stop().await;
}

#[tokio::test]
async fn reset_restores_defaults() {
    let srv = start().await;
    let (_, refresh) = srv.login().await;
    srv.admin("config", json!({"access_ttl": 1, "rotate": false}))
        .await;
    srv.admin("fault", json!({"refresh": "500"})).await;
    srv.admin("clock", json!({"skew_seconds": 99})).await;
    srv.admin("user/delete", json!({})).await;
    srv.admin("user/deactivate", json!({})).await;
    srv.refresh(&refresh).await;

    let st = srv.admin("reset", json!({})).await;
    assert_eq!(
        st["config"],
        json!({"access_ttl": 30, "refresh_ttl": 3600, "rotate": true, "blacklist": true, "clock_skew_seconds": 0})
    );
    assert_eq!(
        st["faults"],
        json!({"refresh": "none", "retry_after": 1, "hang_ms": 10000, "times": null})
    );
    assert_eq!(
        (st["user"]["id"].clone(), st["user"]["active"].clone()),
        (json!(1), json!(true))
    );
    assert!(
        st["counters"].as_object().unwrap().values().all(|v| v == 0),
        "{}",
        st["counters"]
    );
    // The user row is back as id 1, so the pre-reset session works again.
    assert_eq!(srv.refresh(&refresh).await.status, StatusCode::OK);

    srv.admin("counters/reset", json!({})).await;
    assert!(srv
        .counters()
        .await
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 0));
    srv.stop().await;
}

#[tokio::test]
async fn static_files_with_content_types_and_no_store() {
    let srv = start().await;
    for (path, ctype, body) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<!doctype html><title>demo</title>",
        ),
        (
            "/index.html",
            "text/html; charset=utf-8",
            "<!doctype html><title>demo</title>",
        ),
        ("/app.css", "text/css; charset=utf-8", "body{}"),
        ("/logo.svg", "image/svg+xml", "<svg/>"),
        ("/pkg/authkeeper_bg.wasm", "application/wasm", "\0asm"),
        (
            "/pkg/authkeeper.js",
            "text/javascript; charset=utf-8",
            "export {}",
        ),
        (
            "/js/index.mjs",
            "text/javascript; charset=utf-8",
            "export {}",
        ),
    ] {
        let r = srv.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers[CONTENT_TYPE], ctype, "{path}");
        assert_eq!(r.headers[CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(r.text, body);
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
    for path in [
        "/missing.js",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/pkg/..%2f..%2fsecret.txt",
    ] {
        assert_eq!(srv.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // API responses carry no-store too; unknown API paths answer JSON.
    let r = srv.get("/api/nope/").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    assert_eq!(r.headers[CACHE_CONTROL], "no-store");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------
// The binary

#[cfg(unix)]
#[tokio::test]
async fn binary_prints_its_address_and_exits_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let root = make_root();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authkeeper-devserver"))
        .args(["--port", "0", "--root"])
        .arg(&root)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read line");
    let url = line
        .trim_end()
        .strip_prefix("authkeeper-devserver listening on http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let r = reqwest::get(format!("{url}/api/public/"))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let _ = std::fs::remove_dir_all(root);
}
