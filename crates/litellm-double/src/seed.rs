//! Preloading keys without HTTP: [`crate::LiteLlmDouble::seed_keys`] and `litellm-double --seed-keys FILE`
//! store what `/key/generate` would have stored, so that a benchmark can start from 100,000 keys in well
//! under a second instead of 100,000 calls.

use crate::auth::ADMIN_USER_ID;
use crate::duration;
use crate::handlers::key::generate::key_name;
use crate::handlers::key::{budget_duration_problem, max_budget_problem};
use crate::hashing::hash_token;
use crate::state::{KeyRecord, Store};
use anyhow::{bail, ensure, Context};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashSet;
use std::io::BufRead;

/// One key to preload: the fields of a `/key/generate` request, with the key given either raw (`key`, hashed
/// like LiteLLM) or as its hash (`key_hash`, LiteLLM's `token`), and an absolute `expires` instead of a
/// `duration`. As a JSON line:
///
/// ```json
/// {"key_hash": "9f86…", "alias": "keyport-…", "user_id": "…", "models": ["gpt-4o-mini"],
///  "metadata": {"managed_by": "keyport"}, "max_budget": 25, "budget_duration": "30d", "rpm_limit": 60}
/// ```
///
/// Unknown fields are refused. The key is stored as created now by the master key; `budget_reset_at` follows
/// from `budget_duration` as on `/key/generate`; `spend` (default 0) is both the window's and the lifetime
/// spend. A key given by hash only is named `sk-...` and the hash's last four characters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKey {
    pub key: Option<String>,
    pub key_hash: Option<String>,
    #[serde(alias = "key_alias")]
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub blocked: Option<bool>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub expires: Option<DateTime<Utc>>,
    pub spend: Option<f64>,
}

impl SeedKey {
    /// The key's hash, checked: `key_hash` (64 lower-case hex digits) or the sha256 of `key` (`sk-…`).
    fn hash(&self) -> anyhow::Result<String> {
        match (&self.key, &self.key_hash) {
            (Some(raw), None) => {
                ensure!(raw.starts_with("sk-"), "key must start with sk-");
                Ok(hash_token(raw))
            }
            (None, Some(hash)) => {
                ensure!(
                    hash.len() == 64
                        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                    "key_hash must be 64 lower-case hex digits"
                );
                Ok(hash.clone())
            }
            _ => bail!("give exactly one of key and key_hash"),
        }
    }

    fn into_record(self, hash: String, now: DateTime<Utc>) -> anyhow::Result<KeyRecord> {
        if let Some(problem) = max_budget_problem(self.max_budget) {
            bail!(problem);
        }
        if let Some(problem) = budget_duration_problem(self.budget_duration.as_deref()) {
            bail!(problem);
        }
        let spend = self.spend.unwrap_or(0.0);
        ensure!(
            spend.is_finite() && spend >= 0.0,
            "spend must be a non-negative number"
        );
        let key_name = match &self.key {
            Some(raw) => key_name(raw),
            None => key_name(&hash),
        };
        Ok(KeyRecord {
            key_name,
            alias: self.alias,
            user_id: self.user_id,
            team_id: self.team_id,
            models: self.models,
            blocked: self.blocked,
            metadata: serde_json::Value::Object(self.metadata.unwrap_or_default()),
            spend,
            total_spend: spend,
            model_spend: Default::default(),
            max_budget: self.max_budget,
            soft_budget: self.soft_budget,
            budget_reset_at: self
                .budget_duration
                .as_deref()
                .and_then(|d| duration::parse(d).ok())
                .map(|span| span.next_reset(now)),
            budget_duration: self.budget_duration,
            tpm_limit: self.tpm_limit,
            rpm_limit: self.rpm_limit,
            max_parallel_requests: self.max_parallel_requests,
            expires: self.expires,
            key_type: "default".to_owned(),
            allowed_routes: Vec::new(),
            created_by: Some(ADMIN_USER_ID.to_owned()),
            updated_by: Some(ADMIN_USER_ID.to_owned()),
            created_at: now,
            updated_at: now,
            last_active: None,
            hash,
        })
    }
}

/// Stores every key or none: a key whose hash or alias is taken (by a stored key or an earlier one of the
/// same seed) or that is invalid fails the whole seed, naming its position (1-based).
pub(crate) fn seed(
    store: &mut Store,
    keys: impl Iterator<Item = anyhow::Result<SeedKey>>,
) -> anyhow::Result<usize> {
    let mut aliases: HashSet<String> = store
        .keys
        .values()
        .filter_map(|k| k.alias.clone())
        .collect();
    let mut added: Vec<String> = Vec::new();
    let mut outcome = Ok(());
    for (n, key) in keys.enumerate() {
        let step = key.and_then(|key| {
            let hash = key.hash()?;
            ensure!(!store.keys.contains_key(&hash), "key {hash} exists already");
            if let Some(alias) = &key.alias {
                ensure!(aliases.insert(alias.clone()), "alias {alias} is taken");
            }
            let now = store.next_created_at();
            let record = key.into_record(hash.clone(), now)?;
            store.keys.insert(hash.clone(), record);
            added.push(hash);
            Ok(())
        });
        if let Err(error) = step {
            outcome = Err(error.context(format!("seed key {}", n + 1)));
            break;
        }
    }
    match outcome {
        Ok(()) => Ok(added.len()),
        Err(error) => {
            for hash in &added {
                store.keys.remove(hash);
            }
            Err(error)
        }
    }
}

/// The keys of a JSON lines reader, one [`SeedKey`] per line; blank lines are skipped.
pub(crate) fn json_lines(reader: impl BufRead) -> impl Iterator<Item = anyhow::Result<SeedKey>> {
    reader
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(n, line)| {
            let line = line.context("reading the seed")?;
            serde_json::from_str(&line).with_context(|| format!("line {}", n + 1))
        })
}
