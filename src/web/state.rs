//! The application's state: what every request handler is given (store, facts, settings,
//! runner) and what the server keeps between requests (token cache, rate limits, visitor key,
//! templates).

use super::limiter::AddressLimiter;
use super::{auth, pages, visitor};
use crate::export::StalePolicy;
use crate::facts::FactSet;
use crate::review::ReviewSettings;
use crate::run::Runner;
use crate::store::Store;
use std::net::IpAddr;
use std::sync::Arc;

/// Failed token checks an address may make a minute (bursting to as many): a person
/// mistyping never meets it, a guesser is held to a few hundred argon2 runs an hour.
pub const FAILED_SIGN_INS_PER_MINUTE: f64 = 10.0;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub facts: Arc<FactSet>,
    pub settings: ReviewSettings,
    /// Runs started from the API or the review page are worked here, when set.
    pub runner: Option<Arc<Runner>>,
    pub stale_policy: StalePolicy,
    /// Send cookies with `Secure` (browsers accept it on https and on localhost).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`ClientAddr`).
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub(super) tokens: Arc<auth::TokenCache>,
    pub(super) votes: Arc<AddressLimiter>,
    /// Failed token checks (API and sign-in) each address may make per minute.
    pub(super) sign_in_failures: Arc<AddressLimiter>,
    /// Signs visitors' identities and hashes their networks; read from the store at the
    /// first vote.
    pub(super) visitor_key: Arc<tokio::sync::OnceCell<visitor::VisitorKey>>,
    pub(super) pages: Arc<minijinja::Environment<'static>>,
}

impl AppState {
    pub fn new(
        store: Store,
        facts: Arc<FactSet>,
        settings: ReviewSettings,
        runner: Option<Arc<Runner>>,
        votes_per_minute: f64,
    ) -> AppState {
        let pages = Arc::new(pages::templates::environment(Arc::clone(&facts)));
        AppState {
            store,
            facts,
            settings,
            runner,
            stale_policy: StalePolicy::Keep,
            secure_cookies: true,
            trusted_proxies: Arc::new(Vec::new()),
            tokens: Arc::new(auth::TokenCache::default()),
            votes: Arc::new(AddressLimiter::new(votes_per_minute)),
            sign_in_failures: Arc::new(AddressLimiter::new(FAILED_SIGN_INS_PER_MINUTE)),
            visitor_key: Arc::new(tokio::sync::OnceCell::new()),
            pages,
        }
    }

    /// Failed token checks each address may make a minute (`FAILED_SIGN_INS_PER_MINUTE`
    /// unless set).
    pub fn limit_failed_sign_ins(&mut self, per_minute: f64) {
        self.sign_in_failures = Arc::new(AddressLimiter::new(per_minute));
    }

    pub(super) fn desk(&self) -> crate::review::Desk<'_> {
        crate::review::Desk::new(&self.store, &self.facts, self.settings.clone())
    }
}
