use crate::audit::{AuditFilter, AuditRecord, AuditTrail};
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// The most events one page answers, and how many it answers when not told.
pub const MAX_AUDIT_PAGE: u32 = 500;
pub const DEFAULT_AUDIT_PAGE: u32 = 100;

/// Where the next page of a listing starts. Opaque to callers: today the id of the last event listed,
/// hex-encoded with a version prefix so that the encoding can change without breaking clients silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor(i64);

impl AuditCursor {
    const PREFIX: &'static str = "a1";

    pub fn encode(self) -> String {
        format!("{}{:016x}", Self::PREFIX, self.0)
    }

    pub fn parse(value: &str) -> Result<Self, crate::FieldError> {
        let invalid = || crate::FieldError::new("cursor", "not a cursor this API handed out");
        let hex = value.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        if hex.len() != 16 {
            return Err(invalid());
        }
        let id = i64::from_str_radix(hex, 16).map_err(|_| invalid())?;
        if id < 1 {
            return Err(invalid());
        }
        Ok(Self(id))
    }
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<AuditCursor>,
}

/// The audit log as administrators and auditors read it: filtered, newest first, in pages (keyset
/// pagination by id, so a page never repeats or skips an event while new ones arrive). Reading writes
/// nothing, not even an audit event.
pub struct ListAudit {
    trail: Arc<dyn AuditTrail>,
}

impl ListAudit {
    pub fn new(trail: Arc<dyn AuditTrail>) -> Self {
        Self { trail }
    }

    /// `limit` must be within 1..=[`MAX_AUDIT_PAGE`]; `since` must come before `until`.
    pub async fn execute(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        cursor: Option<AuditCursor>,
        limit: u32,
    ) -> Result<AuditPage, Error> {
        if !actor.can_oversee() {
            return Err(Error::Forbidden(
                "only administrators and auditors read the audit log".into(),
            ));
        }
        if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("between 1 and {MAX_AUDIT_PAGE}"),
            ));
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            if since >= until {
                return Err(Error::invalid("until", "must be after since"));
            }
        }
        // One more than asked tells whether there is a next page without a count.
        let mut items = self
            .trail
            .list_events(filter, cursor.map(|c| c.0), limit + 1)
            .await?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| AuditCursor(last.id))
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, MockAuditTrail};
    use crate::fixtures::*;
    use crate::users::Role;

    fn record(id: i64) -> AuditRecord {
        AuditRecord {
            id,
            event: AuditEvent::system("api_key.expire", "api_key", id, now()),
            actor_username: None,
            seal: None,
        }
    }

    fn auditor() -> Actor {
        let mut actor = bob();
        actor.roles.push(Role::Auditor);
        actor
    }

    #[tokio::test]
    async fn users_without_oversight_are_refused_before_anything_is_read() {
        let trail = MockAuditTrail::new();
        let uc = ListAudit::new(Arc::new(trail));
        let err = uc
            .execute(&alice(), &AuditFilter::default(), None, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_full_page_hands_out_a_cursor_that_continues_below_its_last_event() {
        let mut trail = MockAuditTrail::new();
        trail
            .expect_list_events()
            .withf(|_, before, limit| before.is_none() && *limit == 3)
            .times(1)
            .returning(|_, _, _| Ok(vec![record(9), record(8), record(7)]));
        trail
            .expect_list_events()
            .withf(|_, before, limit| *before == Some(8) && *limit == 3)
            .times(1)
            .returning(|_, _, _| Ok(vec![record(7)]));
        let uc = ListAudit::new(Arc::new(trail));

        let first = uc
            .execute(&auditor(), &AuditFilter::default(), None, 2)
            .await
            .unwrap();
        assert_eq!(first.items.iter().map(|r| r.id).collect::<Vec<_>>(), [9, 8]);
        let cursor = first.next_cursor.unwrap();
        let cursor = AuditCursor::parse(&cursor.encode()).unwrap();

        let second = uc
            .execute(&auditor(), &AuditFilter::default(), Some(cursor), 2)
            .await
            .unwrap();
        assert_eq!(second.items.iter().map(|r| r.id).collect::<Vec<_>>(), [7]);
        assert_eq!(second.next_cursor, None, "the last page has no cursor");
    }

    #[tokio::test]
    async fn the_filter_reaches_the_store_as_given_and_admins_may_read_too() {
        let filter = AuditFilter {
            target_type: Some("api_key".into()),
            ..AuditFilter::default()
        };
        let expected = filter.clone();
        let mut trail = MockAuditTrail::new();
        trail
            .expect_list_events()
            .withf(move |f, _, _| *f == expected)
            .times(1)
            .returning(|_, _, _| Ok(vec![]));
        let uc = ListAudit::new(Arc::new(trail));
        let mut admin = alice();
        admin.roles.push(Role::Admin);
        let page = uc.execute(&admin, &filter, None, 100).await.unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
    }

    #[tokio::test]
    async fn a_limit_out_of_range_or_an_empty_time_window_names_the_field() {
        let uc = ListAudit::new(Arc::new(MockAuditTrail::new()));
        for limit in [0, MAX_AUDIT_PAGE + 1] {
            match uc
                .execute(&auditor(), &AuditFilter::default(), None, limit)
                .await
            {
                Err(Error::Invalid(errors)) => assert_eq!(errors[0].field, "limit"),
                other => panic!("{other:?}"),
            }
        }
        let filter = AuditFilter {
            since: Some(now()),
            until: Some(now()),
            ..AuditFilter::default()
        };
        match uc.execute(&auditor(), &filter, None, 10).await {
            Err(Error::Invalid(errors)) => assert_eq!(errors[0].field, "until"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cursors_round_trip_and_foreign_strings_are_refused() {
        let cursor = AuditCursor(123_456);
        assert_eq!(AuditCursor::parse(&cursor.encode()).unwrap(), cursor);
        for bad in [
            "",
            "123",
            "a1",
            "a1zzzzzzzzzzzzzzzz",
            "a10000000000000000",
            "a1ffffffffffffffff",
            "b1000000000001e240",
        ] {
            assert_eq!(
                AuditCursor::parse(bad).unwrap_err().field,
                "cursor",
                "{bad}"
            );
        }
    }
}
