//! The invariants of docs/lifecycle.md#invariants, checked over the double's state and the database
//! once a scenario has settled:
//!
//! 1. no orphan: every LiteLLM key tagged `managed_by: keyport` has a row that is `active` or `retiring`;
//! 2. no missing key: every `active` or `retiring` row exists in LiteLLM, with the row's models; a row is
//!    `lost` only when the test itself deleted its key in LiteLLM;
//! 3. a dead key (revoked, expired, failed, lost) is gone from LiteLLM and does not authenticate;
//! 4. every live LiteLLM key's models are within its owner's active subscriptions, never empty;
//! 5. no secret in the database (any column of any table), in keyport's logs or in an error;
//! 6. every live key keyport issued may call only the inference routes (its `allowed_routes` is the policy's
//!    list, so LiteLLM refuses it `/key/generate`), and belongs to its owner's team;
//! 7. every key owner's LiteLLM user has the role `internal_user_viewer`, the models of their active
//!    subscriptions (`no-default-models` for none), one spend pool per active subscription with a budget,
//!    and is a member of their team, whose rate pools are those of the subscriptions;
//!
//! and convergence: no row left `provisioning` or pending sync, no job left to run or dead.

use crate::capture;
use crate::env::Env;
use keyport_domain::access::{team_id_of, UserAccess, GATEWAY_USER_ROLE, NO_MODELS};
use keyport_domain::ids::UserId;
use keyport_domain::keys::ApiKeyStore;
use keyport_domain::keys::{ApiKey, ApiKeyStatus, SyncState};
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::subscriptions::SubscriptionStore;
use std::collections::{BTreeSet, HashMap};

/// Whose keys to check: everybody's, or only these users' (scenarios sharing a database check their own
/// user after each run; the secret checks always cover everything).
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Everyone,
    Users(&'a [UserId]),
}

impl Scope<'_> {
    fn covers(&self, user: &str) -> bool {
        match self {
            Scope::Everyone => true,
            Scope::Users(users) => users.iter().any(|u| u.to_string() == user),
        }
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

async fn all_rows(env: &Env) -> Vec<ApiKey> {
    let store = env.store();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .keys_after(after, &ApiKeyStatus::ALL, 1000)
            .await
            .unwrap();
        let full = page.len() == 1000;
        after = page.last().map(|k| k.id);
        rows.extend(page);
        if !full {
            return rows;
        }
    }
}

async fn active_models(env: &Env, user: UserId) -> BTreeSet<String> {
    env.store()
        .list_subscriptions(user)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.status == SubscriptionStatus::Active)
        .map(|s| s.model_id.to_string())
        .collect()
}

/// Calls the double's chat endpoint with the secret; answers the status.
async fn chat(env: &Env, secret: &str, model: &str) -> u16 {
    env.http
        .post(format!("{}/v1/chat/completions", env.double.base_url()))
        .bearer_auth(secret)
        .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The models of a key's subscriptions that an administrator suspended.
async fn suspended_models(env: &Env, row: &ApiKey) -> BTreeSet<String> {
    env.store()
        .get_subscriptions(&row.subscription_ids)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.status == SubscriptionStatus::Suspended)
        .map(|s| s.model_id.to_string())
        .collect()
}

/// Calls the double's `/key/generate` with a key as the caller (what a holder would do to escape its
/// quotas); answers the status.
pub async fn mint(env: &Env, secret: &str) -> u16 {
    env.http
        .post(format!("{}/key/generate", env.double.base_url()))
        .bearer_auth(secret)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Every violation found, described; empty when all invariants hold.
pub async fn check(env: &Env, scope: Scope<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let rows = all_rows(env).await;
    let by_hash: HashMap<&str, &ApiKey> = rows.iter().map(|k| (k.hash.as_str(), k)).collect();
    let remote = env.double.keys();
    let secrets = env.secrets.secrets();
    let deleted_by_test = env.deleted_in_litellm.lock().unwrap().clone();
    let mut owners_models: HashMap<UserId, BTreeSet<String>> = HashMap::new();

    // 1 and 4: LiteLLM's side.
    for key in &remote {
        let owner = key.user_id.clone().unwrap_or_default();
        if !scope.covers(&owner) {
            continue;
        }
        let tagged = key.metadata.get("managed_by").and_then(|v| v.as_str()) == Some("keyport");
        let row = by_hash.get(key.hash.as_str());
        if !tagged {
            out.push(format!(
                "untagged key {} in LiteLLM (alias {:?})",
                short(&key.hash),
                key.alias
            ));
        }
        match row {
            None => out.push(format!(
                "1: orphan {} in LiteLLM (alias {:?}, models {:?}): keyport has no row",
                short(&key.hash),
                key.alias,
                key.models
            )),
            Some(row) if !matches!(row.status, ApiKeyStatus::Active | ApiKeyStatus::Retiring) => {
                out.push(format!(
                    "1: key {} ({}) is {} in keyport but still in LiteLLM",
                    short(&key.hash),
                    row.name,
                    row.status.as_str()
                ))
            }
            Some(row) => {
                let routes: BTreeSet<&str> =
                    key.allowed_routes.iter().map(String::as_str).collect();
                let settings = crate::env::self_service();
                let wanted_routes: BTreeSet<&str> = settings
                    .allowed_routes
                    .as_slice()
                    .iter()
                    .map(String::as_str)
                    .collect();
                if routes != wanted_routes {
                    out.push(format!(
                        "6: key {} ({}) may call {routes:?} in LiteLLM, not only {wanted_routes:?}",
                        short(&key.hash),
                        row.name
                    ));
                }
                let team = team_id_of(row.user_id);
                if key.team_id.as_deref() != Some(team.as_str()) {
                    out.push(format!(
                        "6: key {} ({}) is in team {:?}, not its owner's {team}",
                        short(&key.hash),
                        row.name,
                        key.team_id
                    ));
                }
                if key.models.is_empty() {
                    out.push(format!(
                        "4: key {} ({}) has no model in LiteLLM (= every model)",
                        short(&key.hash),
                        row.name
                    ));
                }
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    owners_models.entry(row.user_id)
                {
                    slot.insert(active_models(env, row.user_id).await);
                }
                let allowed = &owners_models[&row.user_id];
                let extra: Vec<&String> = key
                    .models
                    .iter()
                    .filter(|m| !allowed.contains(*m))
                    .collect();
                // A key whose subscriptions are all suspended is paused: blocked, holding their models.
                let paused = row.models.is_empty() && key.is_blocked();
                if !extra.is_empty() && !paused {
                    out.push(format!(
                        "4: key {} ({}, {}) may use {extra:?} in LiteLLM, outside its owner's active subscriptions {allowed:?}",
                        short(&key.hash),
                        row.name,
                        row.status.as_str()
                    ));
                }
            }
        }
    }

    // 7: the owners' LiteLLM users and teams.
    for user in owners_models.keys() {
        out.extend(user_in_line(env, *user).await);
    }

    // 2, 3 and convergence: keyport's side.
    let remote_by_hash: HashMap<&str, _> = remote.iter().map(|k| (k.hash.as_str(), k)).collect();
    for row in &rows {
        if !scope.covers(&row.user_id.to_string()) {
            continue;
        }
        let hash = row.hash.as_str();
        let what = format!(
            "key {} ({}, {})",
            short(hash),
            row.name,
            row.status.as_str()
        );
        let secret = secrets.get(&row.hash);
        match row.status {
            ApiKeyStatus::Active | ApiKeyStatus::Retiring => match remote_by_hash.get(hash) {
                None => out.push(format!("2: {what} is missing from LiteLLM")),
                // Paused: every subscription it serves is suspended by an administrator.
                Some(key) if row.models.is_empty() => {
                    if !key.is_blocked() {
                        out.push(format!(
                            "2: {what} serves no active subscription but is not blocked in LiteLLM"
                        ));
                    }
                    let suspended = suspended_models(env, row).await;
                    let held: BTreeSet<String> = key.models.iter().cloned().collect();
                    if suspended.is_empty() || !held.is_subset(&suspended) {
                        out.push(format!(
                            "2: {what} is paused with models {held:?}, its suspended subscriptions are {suspended:?}"
                        ));
                    }
                }
                Some(key) => {
                    let held: BTreeSet<&str> = key.models.iter().map(String::as_str).collect();
                    let wanted: BTreeSet<&str> = row.models.iter().map(|m| m.as_str()).collect();
                    if held != wanted {
                        out.push(format!(
                            "2: {what} has models {held:?} in LiteLLM, {wanted:?} in keyport"
                        ));
                    }
                    if key.is_blocked() {
                        out.push(format!("2: {what} is blocked in LiteLLM"));
                    }
                    if let (Some(secret), Some(model)) = (secret, row.models.first()) {
                        let status = chat(env, secret.expose(), model.as_str()).await;
                        if status != 200 {
                            out.push(format!("2: {what} does not work in LiteLLM ({status})"));
                        }
                        let minted = mint(env, secret.expose()).await;
                        if minted < 400 {
                            out.push(format!(
                                "6: {what} could mint a key of its own with /key/generate ({minted})"
                            ));
                        }
                    }
                }
            },
            ApiKeyStatus::Revoked
            | ApiKeyStatus::Expired
            | ApiKeyStatus::Failed
            | ApiKeyStatus::Lost => {
                if row.status == ApiKeyStatus::Lost && !deleted_by_test.contains(hash) {
                    out.push(format!(
                        "2: {what}, although its key was never deleted in LiteLLM behind keyport's back"
                    ));
                }
                if remote_by_hash.contains_key(hash) {
                    out.push(format!("3: {what} is still present in LiteLLM"));
                }
                match secret {
                    Some(secret) => {
                        let status = chat(env, secret.expose(), "gpt-4o-mini").await;
                        if status != 401 {
                            out.push(format!(
                                "3: {what} still authenticates in LiteLLM (chat answered {status})"
                            ));
                        }
                    }
                    None => out.push(format!("{what}: the test does not know its secret")),
                }
            }
            ApiKeyStatus::Provisioning => out.push(format!(
                "convergence: {what} is still provisioning after a reconcile pass"
            )),
        }
        if row.sync_state == SyncState::Pending {
            out.push(format!(
                "convergence: {what} is still pending sync ({:?})",
                row.last_sync_error
            ));
        }
    }

    // Convergence: the outbox is empty.
    let jobs = env
        .sql
        .query(
            "SELECT j.id, j.status, coalesce(k.user_id, j.user_id)::text, coalesce(j.last_error, '') FROM jobs j \
             LEFT JOIN api_keys k ON k.id = j.api_key_id \
             WHERE j.status IN ('pending', 'running', 'dead') ORDER BY j.id",
            &[],
        )
        .await
        .unwrap();
    for job in jobs {
        let owner: Option<String> = job.get(2);
        if owner.is_none_or(|o| scope.covers(&o)) {
            out.push(format!(
                "convergence: job {} is {} ({})",
                job.get::<_, i64>(0),
                job.get::<_, String>(1),
                job.get::<_, String>(3)
            ));
        }
    }

    out.extend(secrets_leaked(env, &secrets).await);
    out
}

/// 7: one user's LiteLLM side against their subscriptions in keyport.
pub async fn user_in_line(env: &Env, user: UserId) -> Vec<String> {
    let mut out = Vec::new();
    let subscriptions = env.store().list_subscriptions(user).await.unwrap();
    let access = UserAccess::of(user, None, None, &subscriptions);
    let Some(held) = env.double.user(&user.to_string()) else {
        return vec![format!(
            "7: user {user} owns keys but LiteLLM has no such user"
        )];
    };
    if held.user_role.as_deref() != Some(GATEWAY_USER_ROLE) {
        out.push(format!(
            "7: user {user} has the role {:?} in LiteLLM",
            held.user_role
        ));
    }
    let mut models: Vec<String> = access.models.iter().map(|m| m.to_string()).collect();
    if models.is_empty() {
        models.push(NO_MODELS.to_owned());
    }
    let mut have = held.models.clone();
    have.sort();
    if have != models {
        out.push(format!(
            "7: user {user} may call {have:?} in LiteLLM, not {models:?}"
        ));
    }
    let budgets: BTreeSet<String> = held.model_max_budget.keys().cloned().collect();
    let wanted: BTreeSet<String> = access.budgets.keys().map(|m| m.to_string()).collect();
    if budgets != wanted {
        out.push(format!(
            "7: user {user} has spend pools for {budgets:?} in LiteLLM, not {wanted:?}"
        ));
    }
    match env.double.team(&access.team_id()) {
        None => out.push(format!("7: user {user} has no team in LiteLLM")),
        Some(team) => {
            if !team.has_member(&user.to_string()) {
                out.push(format!("7: user {user} is not a member of their team"));
            }
            for (model, rates) in &access.rates {
                let rpm = team.model_limit("model_rpm_limit", model.as_str());
                if rpm != rates.rpm_limit.map(|r| r as i64) {
                    out.push(format!(
                        "7: user {user}'s team pools {rpm:?} requests a minute on {model}, not {:?}",
                        rates.rpm_limit
                    ));
                }
            }
        }
    }
    out
}

/// 5: the secrets the test's generator made, searched in every table, the logs and the errors. The
/// 12-character prefix is kept on purpose; the rest of a secret must appear nowhere.
async fn secrets_leaked(
    env: &Env,
    secrets: &HashMap<keyport_domain::secret::KeyHash, keyport_domain::secret::KeySecret>,
) -> Vec<String> {
    let hidden: HashMap<String, String> = secrets
        .iter()
        .map(|(hash, secret)| {
            (
                secret.expose()[12..].to_owned(),
                short(hash.as_str()).to_owned(),
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut report = |place: &str, text: &str| {
        for prefix in find_hidden(text, &hidden) {
            out.push(format!("5: the secret of key {prefix} appears in {place}"));
        }
    };
    let tables = env
        .sql
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap();
    for table in tables {
        let name: String = table.get(0);
        let text: String = env
            .sql
            .query_one(
                &format!(
                    "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM public.\"{}\" t",
                    name.replace('"', "\"\"")
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        report(&format!("table {name}"), &text);
    }
    capture::with_log(|log| report("keyport's logs", log));
    report("the use cases' errors", &env.errors.lock().unwrap());
    out
}

/// The keys (their hash prefixes) whose hidden part occurs in `text`: every window of that length inside
/// a run of letters and digits is looked up, so the search is linear in the text.
fn find_hidden(text: &str, hidden: &HashMap<String, String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Some(len) = hidden.keys().next().map(String::len) else {
        return found;
    };
    for run in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if run.len() < len {
            continue;
        }
        for start in 0..=run.len() - len {
            if let Some(prefix) = hidden.get(&run[start..start + len]) {
                found.insert(prefix.clone());
            }
        }
    }
    found
}
