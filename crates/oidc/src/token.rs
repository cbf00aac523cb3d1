//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7) against the provider's keys.

use crate::metadata::ALLOWED_ALGORITHMS;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyport_domain::identity::VerifiedIdentity;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// The provider's signing keys, as usable decoding keys.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<(Jwk, DecodingKey)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self
            .keys
            .iter()
            .map(|(jwk, _)| jwk.common.key_id.clone().unwrap_or_default())
            .collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Reads a JWKS document, keeping the signing keys keyport can use and skipping the rest (encryption
    /// keys, symmetric keys, kinds it does not know) rather than failing on them.
    pub(crate) fn from_document(document: &Value) -> Result<Self, String> {
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no 'keys' list")?;
        let keys = entries
            .iter()
            .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
            .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
            .filter_map(|jwk| DecodingKey::from_jwk(&jwk).ok().map(|key| (jwk, key)))
            .collect();
        Ok(Self { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys that may have signed a token with this `kid` and algorithm: the key of that id (when the
    /// token names one), of a type that fits the algorithm, and not declared for another algorithm.
    fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a DecodingKey> + 'a {
        self.keys.iter().filter_map(move |(jwk, key)| {
            let kid_matches = match kid {
                Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
                None => true,
            };
            let declared_alg_matches = jwk
                .common
                .key_algorithm
                .map(|declared| format!("{declared:?}") == format!("{alg:?}"))
                .unwrap_or(true);
            (kid_matches && declared_alg_matches && key_fits(&jwk.algorithm, alg)).then_some(key)
        })
    }

    /// Whether a key with this id is present (to decide whether the JWKS must be fetched again).
    pub(crate) fn knows(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        self.candidates(kid, alg).next().is_some()
    }
}

fn key_fits(params: &AlgorithmParameters, alg: Algorithm) -> bool {
    match (params, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// What validation needs besides the keys.
pub(crate) struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub clock_skew: Duration,
    pub groups_claim: &'a str,
}

/// The token's header, checked: an allowed algorithm and the key id it names.
pub(crate) fn header(token: &str) -> Result<(Algorithm, Option<String>), String> {
    // jsonwebtoken does not even parse `none`; say what happened rather than "invalid token".
    let raw_alg = token
        .split('.')
        .next()
        .and_then(|h| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .ok_or("the ID token is not a signed JWT")?;
    if !ALLOWED_ALGORITHMS.contains(&raw_alg.as_str()) {
        return Err(format!(
            "the ID token is signed with '{raw_alg}'; keyport accepts only {}",
            ALLOWED_ALGORITHMS.join(", ")
        ));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| format!("the ID token's header is invalid: {e}"))?;
    Ok((header.alg, header.kid))
}

/// Validates the token's signature with `keys` and its claims against `expect`; answers the identity.
pub(crate) fn validate(
    token: &str,
    keys: &KeySet,
    expect: &Expectations<'_>,
) -> Result<VerifiedIdentity, String> {
    let (alg, kid) = header(token)?;
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.leeway = expect.clock_skew.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&[expect.client_id]);
    validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
        .into_iter()
        .map(str::to_owned)
        .collect::<HashSet<_>>();

    let mut last_error = format!(
        "no key in the provider's JWKS matches the ID token (kid {})",
        kid.as_deref().unwrap_or("absent")
    );
    let mut claims = None;
    for key in keys.candidates(kid.as_deref(), alg) {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => {
                last_error = describe(e.kind());
                // Only a signature failure means "maybe another key"; anything else is final.
                if !matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) {
                    return Err(last_error);
                }
            }
        }
    }
    let claims = claims.ok_or(last_error)?;
    check_claims(&claims, expect)?;
    identity(token, &claims, expect)
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => "the ID token's signature does not verify".into(),
        K::ExpiredSignature => "the ID token has expired".into(),
        K::ImmatureSignature => "the ID token is not valid yet (nbf)".into(),
        K::InvalidIssuer => "the ID token comes from another issuer".into(),
        K::InvalidAudience => "the ID token is meant for another client (aud)".into(),
        K::MissingRequiredClaim(claim) => format!("the ID token has no '{claim}' claim"),
        K::InvalidAlgorithm => "the ID token's algorithm does not fit the key".into(),
        other => format!("the ID token is invalid: {other:?}"),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The checks jsonwebtoken does not make: `iat`, `azp`, `nonce`.
fn check_claims(claims: &Map<String, Value>, expect: &Expectations<'_>) -> Result<(), String> {
    let skew = i64::try_from(expect.clock_skew.as_secs()).unwrap_or(0);
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("the ID token has no 'iat' claim")?;
    if iat > now_secs() + skew {
        return Err("the ID token was issued in the future (iat)".into());
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let azp = claims.get("azp").and_then(Value::as_str);
    if audiences.len() > 1 && azp.is_none() {
        return Err("the ID token has several audiences and no 'azp' claim".into());
    }
    if azp.is_some_and(|azp| azp != expect.client_id) {
        return Err("the ID token was issued to another client (azp)".into());
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or("the ID token has no 'nonce' claim")?;
    if nonce.as_bytes().ct_eq(expect.nonce.as_bytes()).unwrap_u8() != 1 {
        return Err("the ID token's nonce is not the one this login sent".into());
    }
    Ok(())
}

/// The claim at `path`: the claim of that whole name, else a dotted path into nested objects
/// (`realm_access.roles`).
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The groups: a list of strings, or a single string.
pub(crate) fn groups(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    match claim_at(claims, path) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn identity(
    token: &str,
    claims: &Map<String, Value>,
    expect: &Expectations<'_>,
) -> Result<VerifiedIdentity, String> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let subject = text("sub").ok_or("the ID token's 'sub' is empty")?;
    let issuer = text("iss").ok_or("the ID token's 'iss' is empty")?;
    // Some providers send the flag as a string.
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    };
    Ok(VerifiedIdentity {
        issuer,
        subject,
        email: text("email"),
        email_verified,
        name: text("name"),
        preferred_username: text("preferred_username"),
        groups: groups(claims, expect.groups_claim),
        id_token: token.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_come_from_a_list_a_string_or_a_nested_path() {
        let claims = json!({
            "groups": ["a", "b", 3],
            "role": "admins",
            "realm_access": {"roles": ["x"]},
            "http://schemas.example/claims/groups": ["url"],
        });
        let claims = claims.as_object().unwrap();
        assert_eq!(groups(claims, "groups"), ["a", "b"]);
        assert_eq!(groups(claims, "role"), ["admins"]);
        assert_eq!(groups(claims, "realm_access.roles"), ["x"]);
        assert_eq!(
            groups(claims, "http://schemas.example/claims/groups"),
            ["url"]
        );
        assert!(groups(claims, "missing").is_empty());
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused_by_name() {
        use base64::Engine;
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            enc(json!({"alg": "none"})),
            enc(json!({"sub": "x"}))
        );
        assert!(header(&none).unwrap_err().contains("'none'"));
        let hs = format!(
            "{}.{}.c2ln",
            enc(json!({"alg": "HS256"})),
            enc(json!({"sub": "x"}))
        );
        assert!(header(&hs).unwrap_err().contains("'HS256'"));
        assert!(header("garbage").is_err());
    }

    fn expectations() -> Expectations<'static> {
        Expectations {
            issuer: "https://idp",
            client_id: "keyport",
            nonce: "n",
            clock_skew: Duration::from_secs(60),
            groups_claim: "groups",
        }
    }

    #[test]
    fn azp_nonce_and_iat_are_checked() {
        let base = json!({"iat": now_secs(), "aud": "keyport", "nonce": "n"});
        let ok = base.as_object().unwrap().clone();
        assert_eq!(check_claims(&ok, &expectations()), Ok(()));

        let mut wrong_nonce = ok.clone();
        wrong_nonce.insert("nonce".into(), json!("m"));
        assert!(check_claims(&wrong_nonce, &expectations())
            .unwrap_err()
            .contains("nonce"));

        let mut no_nonce = ok.clone();
        no_nonce.remove("nonce");
        assert!(check_claims(&no_nonce, &expectations()).is_err());

        let mut many = ok.clone();
        many.insert("aud".into(), json!(["keyport", "other"]));
        assert!(check_claims(&many, &expectations())
            .unwrap_err()
            .contains("azp"));
        many.insert("azp".into(), json!("keyport"));
        assert_eq!(check_claims(&many, &expectations()), Ok(()));
        many.insert("azp".into(), json!("other"));
        assert!(check_claims(&many, &expectations()).is_err());

        let mut future = ok.clone();
        future.insert("iat".into(), json!(now_secs() + 600));
        assert!(check_claims(&future, &expectations())
            .unwrap_err()
            .contains("future"));
        future.insert("iat".into(), json!(now_secs() + 30));
        assert_eq!(
            check_claims(&future, &expectations()),
            Ok(()),
            "within the skew"
        );
    }
}
