//! Audit events: who changed what. Written by the stores in the same transaction as the change itself.

use crate::ids::UserId;
use crate::users::Actor;
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// `None` for changes made by keyport itself (the reconciler, a command).
    pub actor: Option<UserId>,
    /// A dotted verb, e.g. `api_key.create`, `subscription.cancel`.
    pub action: String,
    /// `api_key`, `subscription`, `user`, `model`, ...
    pub target_type: String,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// keyport's own id of the request that made the change (a UUID v4 it generated; in its log lines and the
    /// answer's `x-request-id`); never taken from the client.
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: DateTime<Utc>,
    /// The `x-request-id` the client sent, if any: its own correlation id, recorded apart from keyport's.
    pub client_request_id: Option<String>,
}

impl AuditEvent {
    pub fn by(
        actor: &Actor,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            actor: Some(actor.user_id),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            before: None,
            after: None,
            request_id: actor.request_id.clone(),
            client_addr: actor.client_addr.clone(),
            at,
            client_request_id: actor.client_request_id.clone(),
        }
    }

    pub fn system(
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            actor: None,
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            before: None,
            after: None,
            request_id: None,
            client_addr: None,
            at,
            client_request_id: None,
        }
    }

    pub fn with_before(mut self, before: Value) -> Self {
        self.before = Some(before);
        self
    }

    pub fn with_after(mut self, after: Value) -> Self {
        self.after = Some(after);
        self
    }
}

/// A position in the audit chain: the row `seq` and its hash. The head (the last row) is what operators
/// record outside keyport to anchor the chain: whoever can rewrite the database can rewrite the whole
/// chain consistently, but not make it end in a head recorded elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: i64,
    /// Lower-case hex SHA-256.
    pub hash: String,
}

impl ChainLink {
    /// Parses `<seq>:<hash>`, as `keyport audit verify` prints the head.
    pub fn parse(value: &str) -> Result<Self, crate::FieldError> {
        let invalid = || crate::FieldError::new("expect_head", "expected <seq>:<64 hex digits>");
        let (seq, hash) = value.trim().split_once(':').ok_or_else(invalid)?;
        let seq: i64 = seq.parse().map_err(|_| invalid())?;
        let hash = hash.to_ascii_lowercase();
        if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        Ok(Self { seq, hash })
    }
}

impl std::fmt::Display for ChainLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// One chain row as verification reads it: what was sealed, and the hash recomputed now from the event as
/// it is stored today (with this row's `seq` and `prev_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub seq: i64,
    pub event_id: i64,
    pub prev_hash: Option<String>,
    pub hash: String,
    /// `None` when the event no longer exists.
    pub recomputed: Option<String>,
}

/// Events not in the chain yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnsealedEvents {
    /// Every unsealed event this session can see (i.e. of committed transactions).
    pub total: u64,
    /// Those recorded before the cut-off asked for: sealing should long have reached them.
    pub older: u64,
}

/// Which audit events to list. Every given filter must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<ActionFilter>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// An action filter: `api_key.create` exactly, or every action starting with `api_key.` (`api_key.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    Exact(String),
    Prefix(String),
}

impl ActionFilter {
    /// `name` exactly, or `prefix*` for every action that starts with `prefix`.
    pub fn parse(value: &str) -> Result<Self, crate::FieldError> {
        let value = value.trim();
        let (name, prefix) = match value.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (value, false),
        };
        let ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(crate::FieldError::new(
                "action",
                "an action such as api_key.create, or a prefix ending in '*' such as api_key.*",
            ));
        }
        Ok(if prefix {
            Self::Prefix(name.to_owned())
        } else {
            Self::Exact(name.to_owned())
        })
    }
}

/// A stored audit event, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
    /// The actor's username, when the actor is a user that still exists.
    pub actor_username: Option<String>,
    /// Where the event sits in the chain; `None` until it is sealed.
    pub seal: Option<ChainLink>,
}

/// The tamper-evident audit log: events sealed into a hash chain after their transaction commits, read
/// back for verification and listed for administrators and auditors. Nothing here writes an event:
/// stores write events inside their own transactions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AuditTrail: Send + Sync {
    /// Appends at most `batch` unsealed events of finished transactions to the chain, in one transaction,
    /// and answers how many; `None` when another sealer is at work (it is never waited for). MUST answer
    /// `Unexpected` (sealing nothing) when the chain's head names an event that no longer exists.
    async fn seal(&self, batch: u32) -> Result<Option<u32>, crate::StoreError>;
    /// The last chain row; `None` while the chain is empty.
    async fn head(&self) -> Result<Option<ChainLink>, crate::StoreError>;
    /// The chain rows with `from <= seq <= to`, in seq order, each with its hash recomputed from the event
    /// as stored now.
    async fn chain_entries(&self, from: i64, to: i64)
        -> Result<Vec<ChainEntry>, crate::StoreError>;
    /// Counts the events no chain row names (by reading them all: for verification, not for a hot path),
    /// and those of them recorded before `older_than`.
    async fn unsealed_events(
        &self,
        older_than: DateTime<Utc>,
    ) -> Result<UnsealedEvents, crate::StoreError>;
    /// How many events of finished transactions wait for the sealer, counted cheaply from the chain's head
    /// (exact unless the chain was tampered with), e.g. for metrics.
    async fn seal_backlog(&self) -> Result<u64, crate::StoreError>;
    /// The events matching `filter` with an id below `before` (all with `None`), newest (highest id) first,
    /// at most `limit`.
    async fn list_events(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, crate::StoreError>;
}

/// The longest reason an administrator may give for a decision (a rejection, a suspension, a block), in
/// characters.
pub const MAX_REASON_LEN: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_link_parses_what_it_prints() {
        let link = ChainLink {
            seq: 42,
            hash: "ab".repeat(32),
        };
        assert_eq!(ChainLink::parse(&link.to_string()).unwrap(), link);
        assert_eq!(
            ChainLink::parse(&format!("7:{}", "AB".repeat(32)))
                .unwrap()
                .hash,
            "ab".repeat(32)
        );
        for bad in [
            "",
            "7",
            "x:ab",
            "0:ab",
            &format!("-1:{}", "ab".repeat(32)),
            &format!("3:{}", "zz".repeat(32)),
            "3:abcd",
        ] {
            assert_eq!(
                ChainLink::parse(bad).unwrap_err().field,
                "expect_head",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_action_filter_is_exact_or_a_prefix() {
        assert_eq!(
            ActionFilter::parse("api_key.create").unwrap(),
            ActionFilter::Exact("api_key.create".into())
        );
        assert_eq!(
            ActionFilter::parse("api_key.*").unwrap(),
            ActionFilter::Prefix("api_key.".into())
        );
        for bad in ["", "*", "api%", "a b", "api_*.x", "**"] {
            assert_eq!(
                ActionFilter::parse(bad).unwrap_err().field,
                "action",
                "{bad}"
            );
        }
    }
}
