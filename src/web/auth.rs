//! Staff identity: bearer tokens (only argon2 hashes are stored), roles, review-page sessions
//! in HttpOnly cookies, and CSRF tokens for every form.

use super::{ApiError, AppState};
use crate::store::{SessionRow, StoreError, UserRow};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "narrator_session";
pub const SIGN_IN_COOKIE: &str = "narrator_sign_in";
pub const SESSION_HOURS: i64 = 8;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Starts runs and watches them.
    Editor,
    /// Works the review queue: claims, approves, rejects, skips.
    Reviewer,
    /// Manages users; may do everything the other roles do.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "editor" => Some(Role::Editor),
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A signed-in member of staff.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Staff {
    pub name: String,
    pub role: Role,
}

impl Staff {
    /// 403 unless the role allows it (admin allows everything).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role || self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; {} is {}",
                role.as_str(),
                self.name,
                self.role.as_str()
            )))
        }
    }

    fn from_row(user: &UserRow) -> Option<Staff> {
        Role::parse(&user.role).map(|role| Staff {
            name: user.name.clone(),
            role,
        })
    }
}

/// A new token: shown once, then only its hash is kept.
pub struct IssuedToken {
    pub token: String,
    pub token_id: String,
    pub hash: String,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    crate::facts::hex_digest(&buf)
}

/// Random tokens carry 256 bits, so argon2 here only keeps a stolen database from yielding
/// tokens; light parameters keep each first check of a token cheap.
fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(8 * 1024, 1, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

pub fn issue_token() -> IssuedToken {
    let token_id = random_hex(6);
    let token = format!("nar_{token_id}_{}", random_hex(32));
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    let hash = hasher()
        .hash_password(token.as_bytes(), &salt)
        .expect("argon2 hashes any input")
        .to_string();
    IssuedToken {
        token,
        token_id,
        hash,
    }
}

/// The token's id part, if it has the `nar_<id>_<secret>` shape.
fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("nar_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some(id)
}

/// Argon2 checks passed recently: the token's SHA-256 with the stored hash it matched, so the
/// (deliberately slow) check runs once per token a minute. The user row is read on every
/// request, so a disabled user or a replaced token stops working at once.
#[derive(Default)]
pub struct TokenCache {
    seen: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(60);

impl TokenCache {
    fn verified(&self, key: &[u8; 32], stored_hash: &str) -> bool {
        let seen = self.seen.lock().expect("token cache lock");
        seen.get(key)
            .is_some_and(|(hash, at)| hash == stored_hash && at.elapsed() < CACHE_TTL)
    }

    fn put(&self, key: [u8; 32], stored_hash: &str) {
        let mut seen = self.seen.lock().expect("token cache lock");
        seen.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        seen.insert(key, (stored_hash.to_string(), Instant::now()));
    }
}

/// What checking a token found.
#[derive(Debug)]
pub enum Checked {
    Staff(Staff),
    /// Unknown, malformed, replaced, or its user disabled: all told apart by nobody.
    Invalid,
    /// Too many failed checks from this client address lately.
    Throttled {
        retry_after_secs: u64,
    },
}

/// A hash no token matches, verified against when a token's id is unknown or its user
/// disabled, so that a failure costs the same argon2 run (and time) whether the id exists or
/// not: otherwise the time tells an attacker which ids are real.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| issue_token().hash)
}

async fn verify(token: &str, hash: &str) -> bool {
    let (token, hash) = (token.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| hasher().verify_password(token.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// The staff member a token belongs to, if it is valid and the user enabled. Failed checks
/// are counted per client address (`AppState::sign_in_failures`): past the limit the address
/// is refused before any check runs, so guessing costs an attacker time and us no CPU.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    addr: Option<IpAddr>,
) -> Result<Checked, StoreError> {
    if let Some(retry_after_secs) = state.sign_in_failures.blocked(addr) {
        return Ok(Checked::Throttled { retry_after_secs });
    }
    let found = check_token(state, token).await?;
    if found.is_none() {
        // Only the failure is charged: a valid token never uses up the address's allowance.
        let _ = state.sign_in_failures.take(addr);
    }
    Ok(found.map_or(Checked::Invalid, Checked::Staff))
}

async fn check_token(state: &AppState, token: &str) -> Result<Option<Staff>, StoreError> {
    // Not the shape of a token: nothing about any id to reveal, so no argon2 run.
    let Some(id) = token_id(token) else {
        return Ok(None);
    };
    let user = state
        .store
        .user_by_token_id(id)
        .await?
        .filter(|u| !u.disabled);
    let Some(user) = user else {
        verify(token, decoy_hash()).await;
        return Ok(None);
    };
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if !state.tokens.verified(&key, &user.token_hash) {
        if !verify(token, &user.token_hash).await {
            return Ok(None);
        }
        state.tokens.put(key, &user.token_hash);
    }
    Ok(Staff::from_row(&user))
}

/// API callers: `Authorization: Bearer <token>`, else 401 (429 after too many failures).
impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme is case-insensitive (RFC 9110).
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <token>".into()))?;
        let addr = super::client_addr(parts, state);
        match authenticate(state, token, addr).await? {
            Checked::Staff(staff) => Ok(staff),
            Checked::Invalid => Err(ApiError::Unauthorized("the token is not valid".into())),
            Checked::Throttled { retry_after_secs } => Err(ApiError::TooManyRequests {
                retry_after_secs,
                what: "failed token checks",
            }),
        }
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a cookie only this site's pages send back, never scripts.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn session_key(id: &str) -> String {
    crate::facts::hex_digest(&Sha256::digest(id.as_bytes()))
}

/// Starts a session for a token's owner: the cookie value (random) and the session's CSRF token.
pub async fn start_session(
    state: &AppState,
    token: &str,
    addr: Option<IpAddr>,
) -> Result<Result<(String, Staff), Checked>, StoreError> {
    let staff = match authenticate(state, token, addr).await? {
        Checked::Staff(staff) => staff,
        refused => return Ok(Err(refused)),
    };
    let Some(id) = token_id(token) else {
        return Ok(Err(Checked::Invalid));
    };
    let Some(user) = state.store.user_by_token_id(id).await? else {
        return Ok(Err(Checked::Invalid));
    };
    let session = random_hex(32);
    let expires = crate::store::now_ms() + SESSION_HOURS * 3_600_000;
    state
        .store
        .create_session(&session_key(&session), user.id, &random_hex(32), expires)
        .await?;
    Ok(Ok((session, staff)))
}

/// The session a review-page request carries, if live.
pub async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Staff, SessionRow)>, StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(row) = state.store.session(&session_key(id)).await? else {
        return Ok(None);
    };
    Ok(Staff::from_row(&row.user).map(|s| (s, row)))
}

pub fn new_csrf() -> String {
    random_hex(32)
}

/// Compares in time independent of where the strings differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_an_id_and_verify_against_their_hash_only() {
        let issued = issue_token();
        assert_eq!(token_id(&issued.token), Some(issued.token_id.as_str()));
        assert!(!issued.hash.contains(&issued.token));
        let parsed = PasswordHash::new(&issued.hash).unwrap();
        assert!(hasher()
            .verify_password(issued.token.as_bytes(), &parsed)
            .is_ok());
        let other = issue_token();
        assert!(hasher()
            .verify_password(other.token.as_bytes(), &parsed)
            .is_err());
        assert_eq!(token_id("nar_short_x"), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; narrator_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(set_cookie("n", "v", 60, true).contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn admin_may_do_everything_others_only_their_part() {
        let staff = |role| Staff {
            name: "x".into(),
            role,
        };
        assert!(staff(Role::Admin).require(Role::Reviewer).is_ok());
        assert!(staff(Role::Reviewer).require(Role::Reviewer).is_ok());
        assert!(staff(Role::Editor).require(Role::Reviewer).is_err());
        assert!(staff(Role::Reviewer).require(Role::Admin).is_err());
    }
}
