//! Fixtures for keyport's test suites, one home for the values every adapter's tests build: amounts of
//! money written as decimal text, and fresh random secrets. Compiled for this crate's own tests and, through
//! the `testing` feature, for the test suites of the crates that enable it as a dev-dependency; never part
//! of a release build.

use crate::limits::Money;
use crate::secret::{Secret, SecretKind, RANDOM_BYTES};
use rust_decimal::Decimal;
use std::str::FromStr;

/// An amount written as decimal text (`"12.5"`, `"0.000002"`).
///
/// # Panics
/// When `text` is not a non-negative decimal: a fixture that cannot be built is a broken test.
#[expect(
    clippy::panic,
    reason = "test support: a fixture that cannot be built must fail the test loudly"
)]
pub fn money(text: &str) -> Money {
    match Decimal::from_str(text)
        .ok()
        .and_then(|d| Money::new(d).ok())
    {
        Some(money) => money,
        None => panic!("not an amount of money: {text:?}"),
    }
}

/// A fresh secret of `kind` from random bytes (v4 uuids, so two calls never collide).
pub fn secret(kind: SecretKind) -> Secret {
    let mut bytes = [0u8; RANDOM_BYTES];
    for chunk in bytes.chunks_mut(16) {
        let random = uuid::Uuid::new_v4();
        chunk.copy_from_slice(&random.as_bytes()[..chunk.len()]);
    }
    Secret::from_random(kind, &bytes)
}

/// The secret of `kind` whose random bytes are all `seed`: the same seed gives the same secret, for tests
/// that build a secret twice to find what they stored.
pub fn seeded_secret(kind: SecretKind, seed: u8) -> Secret {
    Secret::from_random(kind, &[seed; RANDOM_BYTES])
}
