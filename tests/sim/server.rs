//! The simulated backend: djangorestframework-simplejwt with `ROTATE_REFRESH_TOKENS` and
//! `BLACKLIST_AFTER_ROTATION`, plus an API whose endpoints accept any unexpired access token.
//!
//! Every login starts a refresh-token *family*; each refresh of the family's current token
//! blacklists it and issues the next one. Tokens carry a readable `jti` (`F2.R3`: family 2, the
//! refresh token of index 3) that the trace prints instead of the token.

use super::jwt::unsigned_jwt;
use std::collections::HashMap;

/// SimpleJWT's answer to a blacklisted, expired or otherwise unusable refresh token.
pub const TOKEN_NOT_VALID: &str = r#"{"detail":"Token is invalid","code":"token_not_valid"}"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Access,
    Refresh,
}

/// What the server knows about a token it issued. Times are on the server's clock (ms).
#[derive(Clone, Debug)]
pub struct Issued {
    pub family: usize,
    pub index: u32,
    pub kind: Kind,
    pub exp_ms: i64,
    pub name: String,
}

#[derive(Debug)]
pub struct Family {
    /// Index of the refresh token the server accepts now; all earlier ones are blacklisted.
    pub current: u32,
    pub current_refresh: String,
    /// Every token of the family revoked at once (user deactivated, password changed).
    pub revoked: bool,
    pub access_life_s: u64,
    pub refresh_life_s: u64,
    /// The session generation the tab that logged in gave it.
    pub generation: u64,
    /// When the login happened (simulation real time).
    pub login_real: u64,
    /// When each index was issued (server ms).
    pub issued_ms: Vec<i64>,
}

/// Why the server refused a refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Rotated away already: the reuse the cross-tab lock exists to prevent.
    Blacklisted,
    Revoked,
    Expired,
    Unknown,
}

pub enum RefreshResult {
    Rotated { family: usize, from: u32, access: String, refresh: String },
    Refused { why: Refusal, family: Option<usize>, index: Option<u32> },
}

#[derive(Default)]
pub struct Server {
    pub families: Vec<Family>,
    pub tokens: HashMap<String, Issued>,
}

impl Server {
    fn mint(&mut self, family: usize, index: u32, kind: Kind, server_ms: i64, life_s: u64) -> String {
        let iat = server_ms.div_euclid(1_000);
        let exp = iat + life_s as i64;
        let letter = if kind == Kind::Access { 'A' } else { 'R' };
        let name = format!("F{}.{letter}{index}", family + 1);
        let kind_name = if kind == Kind::Access { "access" } else { "refresh" };
        let token = unsigned_jwt(&format!(r#"{{"token_type":"{kind_name}","iat":{iat},"exp":{exp},"jti":"{name}"}}"#));
        let issued = Issued { family, index, kind, exp_ms: exp * 1_000, name };
        self.tokens.insert(token.clone(), issued);
        token
    }

    /// The app's own login call: a new family. Returns (access, refresh, family).
    pub fn login(&mut self, server_ms: i64, real: u64, access_life_s: u64, refresh_life_s: u64) -> (String, String, usize) {
        let family = self.families.len();
        self.families.push(Family {
            current: 0,
            current_refresh: String::new(),
            revoked: false,
            access_life_s,
            refresh_life_s,
            generation: 0,
            login_real: real,
            issued_ms: vec![server_ms],
        });
        let access = self.mint(family, 0, Kind::Access, server_ms, access_life_s);
        let refresh = self.mint(family, 0, Kind::Refresh, server_ms, refresh_life_s);
        self.families[family].current_refresh = refresh.clone();
        (access, refresh, family)
    }

    /// POST /api/auth/token/refresh/ `{"refresh": token}`, processed (no fault).
    pub fn refresh(&mut self, server_ms: i64, presented: &str) -> RefreshResult {
        let Some(info) = self.tokens.get(presented).filter(|i| i.kind == Kind::Refresh).cloned() else {
            return RefreshResult::Refused { why: Refusal::Unknown, family: None, index: None };
        };
        let refused = |why| RefreshResult::Refused { why, family: Some(info.family), index: Some(info.index) };
        let family = &self.families[info.family];
        if family.revoked {
            return refused(Refusal::Revoked);
        }
        if server_ms >= info.exp_ms {
            return refused(Refusal::Expired);
        }
        if info.index != family.current {
            return refused(Refusal::Blacklisted);
        }
        let (access_life, refresh_life) = (family.access_life_s, family.refresh_life_s);
        let next = info.index + 1;
        let access = self.mint(info.family, next, Kind::Access, server_ms, access_life);
        let refresh = self.mint(info.family, next, Kind::Refresh, server_ms, refresh_life);
        let family = &mut self.families[info.family];
        family.current = next;
        family.current_refresh = refresh.clone();
        family.issued_ms.push(server_ms);
        RefreshResult::Rotated { family: info.family, from: info.index, access, refresh }
    }

    /// A protected API endpoint: 200 for an unexpired access token we issued, else 401.
    /// (SimpleJWT access tokens are stateless: a revoked family's access token works until `exp`.)
    pub fn api(&self, server_ms: i64, bearer: Option<&str>) -> u16 {
        match bearer.and_then(|b| self.tokens.get(b)) {
            Some(i) if i.kind == Kind::Access && server_ms < i.exp_ms => 200,
            _ => 401,
        }
    }

    /// The user is deactivated or changes their password elsewhere: every family so far dies.
    pub fn revoke_all(&mut self) {
        for family in &mut self.families {
            family.revoked = true;
        }
    }

    pub fn name(&self, token: Option<&str>) -> String {
        match token {
            None => "none".into(),
            Some(t) => self.tokens.get(t).map_or_else(|| "foreign-token".into(), |i| i.name.clone()),
        }
    }

    pub fn info(&self, token: &str) -> Option<&Issued> {
        self.tokens.get(token)
    }

    /// Whether the family's current refresh token would still be accepted.
    pub fn family_alive(&self, family: usize, server_ms: i64) -> bool {
        let f = &self.families[family];
        !f.revoked && self.tokens.get(&f.current_refresh).is_some_and(|i| server_ms < i.exp_ms)
    }
}
