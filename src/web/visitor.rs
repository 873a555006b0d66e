//! Site visitors: the identity the server issues each in a signed HttpOnly cookie, and the
//! client network a vote is counted by, hashed under the server's key so that no address is
//! stored.

use crate::store::{Store, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;

pub const VISITOR_COOKIE: &str = "narrator_visitor";

/// A year: long enough that a returning visitor changes their vote rather than adding one.
const COOKIE_MAX_AGE_SECS: i64 = 365 * 24 * 3600;

/// The server's key for visitors, shared through the database by every worker.
pub struct VisitorKey {
    key: Vec<u8>,
}

impl VisitorKey {
    pub async fn load(store: &Store) -> Result<VisitorKey, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).expect("the operating system's random source works");
        let hex = store
            .server_key("visitors", &crate::facts::hex_digest(&fresh))
            .await?;
        Ok(VisitorKey {
            key: hex.into_bytes(),
        })
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        for p in parts {
            mac.update(p);
            mac.update(b"\0");
        }
        // 128 bits: unforgeable, and short in a cookie.
        crate::facts::hex_digest(&mac.finalize().into_bytes()[..16])
    }

    /// A new identity, as the cookie carries it: `<random id>.<its signature>`.
    pub fn issue(&self) -> String {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).expect("the operating system's random source works");
        let id = crate::facts::hex_digest(&id);
        let signature = self.mac(&[b"visitor", id.as_bytes()]);
        format!("{id}.{signature}")
    }

    /// The identity in a cookie value, if this server issued it.
    pub fn verify<'a>(&self, value: &'a str) -> Option<&'a str> {
        let (id, signature) = value.split_once('.')?;
        let valid = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && super::auth::same_secret(signature, &self.mac(&[b"visitor", id.as_bytes()])))
            .then_some(id)
    }

    /// The client's network, hashed: an IPv4 /24 or an IPv6 /48, the smallest blocks a
    /// household, an office or a small provider is usually given, so one machine walking its
    /// own addresses stays one network.
    pub fn network(&self, addr: Option<IpAddr>) -> String {
        let block = match addr {
            Some(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => {
                    let [a, b, c, _] = v4.octets();
                    format!("{a}.{b}.{c}.0/24")
                }
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
                }
            },
            None => "unknown".to_string(),
        };
        self.mac(&[b"network", block.as_bytes()])
    }
}

/// `Set-Cookie` for a visitor's identity: sent to the API only, never readable by scripts.
/// Cross-site (`SameSite=None`) where cookies are `Secure`, since the site calling the API is
/// usually on another host; `Lax` on plain http, where browsers refuse `None`.
pub fn set_cookie(value: &str, secure: bool) -> String {
    let site = if secure {
        "SameSite=None; Secure"
    } else {
        "SameSite=Lax"
    };
    format!(
        "{VISITOR_COOKIE}={value}; Path=/api/v1; HttpOnly; Max-Age={COOKIE_MAX_AGE_SECS}; {site}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> VisitorKey {
        VisitorKey {
            key: b"0123456789abcdef".to_vec(),
        }
    }

    #[test]
    fn identities_verify_only_as_issued() {
        let k = key();
        let issued = k.issue();
        let id = k.verify(&issued).expect("its own");
        assert_eq!(id.len(), 32);
        assert_ne!(k.issue(), issued, "each is new");
        let (_, signature) = issued.split_once('.').unwrap();
        assert_eq!(k.verify(&format!("{}.{signature}", "0".repeat(32))), None);
        assert_eq!(k.verify("chosen-by-the-visitor"), None);
        let other = VisitorKey {
            key: b"another key".to_vec(),
        };
        assert_eq!(other.verify(&issued), None);
    }

    #[test]
    fn addresses_of_one_network_are_one_network() {
        let k = key();
        let at = |s: &str| k.network(Some(s.parse().unwrap()));
        assert_eq!(at("203.0.113.7"), at("203.0.113.200"));
        assert_ne!(at("203.0.113.7"), at("203.0.114.7"));
        assert_eq!(at("2001:db8:1:2::1"), at("2001:db8:1:ffff::9"));
        assert_ne!(at("2001:db8:1::1"), at("2001:db8:2::1"));
        assert_eq!(at("::ffff:203.0.113.9"), at("203.0.113.7"));
        assert!(!at("203.0.113.7").contains("203"), "no address is kept");
    }
}
