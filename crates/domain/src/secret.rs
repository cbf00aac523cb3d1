//! Secrets and what keyport keeps of them.
//!
//! An API key looks like `sk-kp-<32 base62 characters><6 base62 checksum characters>`: it starts with `sk-`
//! as LiteLLM requires, `sk-kp-` makes it recognisable to secret scanners, and the CRC32 checksum lets a
//! scanner (or keyport) tell a real key from a random string without asking anyone. Only its SHA-256
//! ([`KeyHash`], which is exactly LiteLLM's `token`) and a short [`KeyPrefix`] are ever stored. Personal access
//! tokens for keyport's own API use the same shape with the prefix `kp_pat_`.

use crate::FieldError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters in a secret; each carries log2(62) ≈ 5.95 bits, so about 190 bits in all.
pub const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
/// Characters of the random part that the prefix shows, after the fixed kind prefix.
const PREFIX_RANDOM_CHARS: usize = 6;

/// How many random bytes a [`crate::runtime::SecretGenerator`] must supply for one secret.
pub const RANDOM_BYTES: usize = RANDOM_CHARS;

/// The kinds of secret keyport issues; each has its own recognisable prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A LiteLLM virtual key (`sk-kp-…`).
    ApiKey,
    /// A personal access token for keyport's REST API (`kp_pat_…`).
    AccessToken,
    /// A browser session's id, the value of the session cookie (`kp_sess_…`).
    Session,
    /// The `state` of one OIDC login, sent through the identity provider and back (`kp_state_…`).
    LoginState,
    /// The secret that binds one OIDC login to the browser that started it, the value of the login
    /// cookie (`kp_login_…`); never leaves that browser except back to keyport.
    LoginBinding,
}

impl SecretKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "sk-kp-",
            Self::AccessToken => "kp_pat_",
            Self::Session => "kp_sess_",
            Self::LoginState => "kp_state_",
            Self::LoginBinding => "kp_login_",
        }
    }

    fn len(self) -> usize {
        self.prefix().len() + RANDOM_CHARS + CHECKSUM_CHARS
    }
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM_CHARS] {
    let mut value = crc32fast::hash(body);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// A plaintext secret: shown to its owner once, never stored, logged or printed (its `Debug` is redacted
/// and it has no `Display`), wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    value: String,
    #[zeroize(skip)]
    kind: SecretKind,
}

/// An API key's secret.
pub type KeySecret = Secret;

impl Secret {
    /// Builds a secret of `kind` from random bytes (see [`RANDOM_BYTES`]).
    pub fn from_random(kind: SecretKind, random: &[u8; RANDOM_BYTES]) -> Self {
        let mut value = String::with_capacity(kind.len());
        value.push_str(kind.prefix());
        let body: Vec<u8> = random
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
            .collect();
        let sum = checksum(&body);
        value.extend(body.iter().map(|b| char::from(*b)));
        value.extend(sum.iter().map(|b| char::from(*b)));
        Self { value, kind }
    }

    /// Parses a secret presented by a caller, checking its shape and checksum.
    pub fn parse(kind: SecretKind, value: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("token", "not a keyport secret");
        let rest = value.strip_prefix(kind.prefix()).ok_or_else(invalid)?;
        if value.len() != kind.len() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid());
        }
        let (body, sum) = rest.as_bytes().split_at(RANDOM_CHARS);
        if checksum(body).ct_eq(sum).unwrap_u8() != 1 {
            return Err(invalid());
        }
        Ok(Self {
            value: value.to_owned(),
            kind,
        })
    }

    /// The plaintext, for the one place that must send or show it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(self)
    }

    /// A value derived from this secret for one purpose (`label`), e.g. a session's CSRF token: hex
    /// SHA-256 of `label:secret`. Knowing it reveals nothing of the secret nor of its [`KeyHash`].
    pub fn derive(&self, label: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(label.as_bytes());
        hasher.update(b":");
        hasher.update(self.value.as_bytes());
        hex::encode(hasher.finalize())
    }

    pub fn prefix(&self) -> KeyPrefix {
        let end = self.kind.prefix().len() + PREFIX_RANDOM_CHARS;
        KeyPrefix(self.value.get(..end).unwrap_or_default().to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?}, <redacted>)", self.kind)
    }
}

/// Lower-case hex SHA-256 of a secret. For API keys this is LiteLLM's `token`, the id that joins keyport's
/// rows with LiteLLM's keys and spend logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(secret: &Secret) -> Self {
        Self(hex::encode(Sha256::digest(secret.expose().as_bytes())))
    }

    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.len() == 64
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                "key_hash",
                "expected 64 lower-case hex characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, as every comparison of secret-derived values must.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl TryFrom<String> for KeyHash {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<KeyHash> for String {
    fn from(value: KeyHash) -> Self {
        value.0
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.0)
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The start of a secret (`sk-kp-AbC123`), safe to store and show so that a user recognises their key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Rebuilds a stored prefix.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(seed: u8) -> [u8; RANDOM_BYTES] {
        let mut out = [0u8; RANDOM_BYTES];
        for (i, b) in out.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 7);
        }
        out
    }

    #[test]
    fn api_keys_start_with_sk_and_satisfy_litellm_custom_key_rules() {
        let secret = Secret::from_random(SecretKind::ApiKey, &bytes(1));
        let s = secret.expose();
        assert!(s.starts_with("sk-kp-"));
        assert_eq!(s.len(), 44);
        assert!(s[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(secret.prefix().as_str(), &s[..12]);
    }

    #[test]
    fn a_generated_secret_parses_back_and_a_changed_character_fails_the_checksum() {
        let secret = Secret::from_random(SecretKind::AccessToken, &bytes(9));
        let parsed = Secret::parse(SecretKind::AccessToken, secret.expose()).unwrap();
        assert_eq!(parsed, secret);
        let mut tampered = secret.expose().to_owned().into_bytes();
        tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(Secret::parse(SecretKind::AccessToken, &tampered).is_err());
        assert!(
            Secret::parse(SecretKind::ApiKey, secret.expose()).is_err(),
            "kind prefix is checked"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::from_random(SecretKind::ApiKey, &bytes(3));
        let printed = format!("{secret:?}");
        assert!(!printed.contains(&secret.expose()[6..]));
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn the_hash_is_litellms_sha256_hex() {
        let secret = Secret::parse(
            SecretKind::ApiKey,
            Secret::from_random(SecretKind::ApiKey, &bytes(5)).expose(),
        )
        .unwrap();
        let hash = secret.hash();
        assert_eq!(hash.as_str().len(), 64);
        assert_eq!(hash.as_str(), hex::encode(Sha256::digest(secret.expose())));
        assert!(hash.ct_eq(&KeyHash::parse(hash.as_str()).unwrap()));
        assert!(KeyHash::parse("ABC").is_err());
    }
}
