//! Fault injection: tests arm a [`FaultRule`] (which calls, which fault) and the middleware in front of
//! every route (`inject.rs`) fires it. The faults are the ways a real LiteLLM behind a real network fails
//! keyport: slowness, 5xx, a request that never ends, a connection closed without answer, and the worst one
//! for a non-idempotent call — the change committed but the answer lost.

mod inject;

pub(crate) use inject::inject;
use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally, after this delay.
    Latency(Duration),
    /// Answer this status without running the route: 500 with LiteLLM's unhandled-exception body, other
    /// codes with the plain-text reason phrase a proxy in front would send.
    Status(u16),
    /// Answer exactly this, without running the route (to replay a recorded LiteLLM answer).
    Respond {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Never answer (the route does not run).
    Timeout,
    /// Close the connection without an answer (the route does not run).
    DropConnection,
    /// Run the route (the change commits), then close the connection without an answer.
    CommitThenDrop,
    /// Run the route (the change commits), then never answer.
    CommitThenTimeout,
}

impl Fault {
    /// This fault for the next call whose path is exactly `path`.
    pub fn on(self, path: &str) -> FaultRule {
        FaultRule {
            fault: self,
            path: PathMatch::Exact(path.to_owned()),
            method: None,
            occurrence: Occurrence::Next(1),
        }
    }

    /// This fault for the next call, whatever its path.
    pub fn on_any_path(self) -> FaultRule {
        FaultRule {
            fault: self,
            path: PathMatch::Any,
            method: None,
            occurrence: Occurrence::Next(1),
        }
    }

    /// A canned JSON answer.
    pub fn json(status: u16, body: &str) -> Self {
        Self::Respond {
            status,
            content_type: "application/json".to_owned(),
            body: body.to_owned(),
        }
    }
}

/// Which paths a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Any,
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(p) => p == path,
            Self::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// Which of the matching calls (counted from when the rule is armed) the fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// The next `n` matching calls.
    Next(u32),
    /// Only the `n`-th matching call (1-based).
    Nth(u32),
    /// Every matching call until [`crate::LiteLlmDouble::clear_faults`].
    Always,
}

/// A fault, where it applies and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub fault: Fault,
    pub path: PathMatch,
    /// `GET`, `POST`, … or `None` for any method.
    pub method: Option<String>,
    pub occurrence: Occurrence,
}

impl FaultRule {
    /// Hit the next `n` matching calls.
    pub fn times(mut self, n: u32) -> Self {
        self.occurrence = Occurrence::Next(n);
        self
    }

    /// Hit only the `n`-th matching call (1-based).
    pub fn nth(mut self, n: u32) -> Self {
        self.occurrence = Occurrence::Nth(n);
        self
    }

    /// Hit every matching call.
    pub fn always(mut self) -> Self {
        self.occurrence = Occurrence::Always;
        self
    }

    /// Match paths starting with the rule's path instead of equal to it.
    pub fn prefix(mut self) -> Self {
        if let PathMatch::Exact(p) = self.path {
            self.path = PathMatch::Prefix(p);
        }
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }
}

impl From<Fault> for FaultRule {
    fn from(fault: Fault) -> Self {
        fault.on_any_path()
    }
}

/// A rule with its count of matching calls so far.
#[derive(Debug)]
pub(crate) struct ArmedFault {
    pub rule: FaultRule,
    pub seen: u32,
}

impl ArmedFault {
    /// Counts the call if it matches and says whether the fault fires for it.
    pub(super) fn hit(&mut self, method: &str, path: &str) -> bool {
        let rule = &self.rule;
        if !rule.path.matches(path) || rule.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        self.seen = self.seen.saturating_add(1);
        match rule.occurrence {
            Occurrence::Next(n) => self.seen <= n,
            Occurrence::Nth(n) => self.seen == n,
            Occurrence::Always => true,
        }
    }
}
