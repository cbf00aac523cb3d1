use crate::keys::AdminKeyStore;
use crate::keys::ApiKey;
use crate::keys::{ListAllKeys, ListAllKeysRequest};
use crate::paging::Page;
use crate::users::Actor;
use crate::Error;
use std::sync::Arc;

/// Which of the caller's keys to list: the same filters, cursor and page size as everybody's keys
/// ([`ListAllKeysRequest`]), without the owner (always the caller).
#[derive(Debug, Clone, Default)]
pub struct ListKeysRequest {
    /// provisioning, active, retiring, revoked, expired, failed or lost.
    pub status: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<u32>,
}

/// The caller's keys, newest first, a page at a time, with their subscriptions, models, status and last
/// known spend. Never a secret: keyport does not have them. It is [`ListAllKeys`] restricted to the caller,
/// so the filters, the cursor and their objections are the administrators' list's.
pub struct ListKeys {
    all: ListAllKeys,
}

impl ListKeys {
    pub fn new(keys: Arc<dyn AdminKeyStore>) -> Self {
        Self {
            all: ListAllKeys::new(keys),
        }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        request: ListKeysRequest,
    ) -> Result<Page<ApiKey>, Error> {
        let page = self
            .all
            .page(ListAllKeysRequest {
                user_id: Some(actor.user_id),
                status: request.status,
                cursor: request.cursor,
                limit: request.limit,
            })
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(|owned| owned.key).collect(),
            next_cursor: page.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::keys::ApiKeyStatus;
    use crate::keys::{MockAdminKeyStore, OwnedKey};
    use crate::paging::DEFAULT_PAGE_SIZE;

    fn owned(status: ApiKeyStatus) -> OwnedKey {
        OwnedKey {
            key: api_key(alice().user_id, status),
            owner: "alice".into(),
        }
    }

    #[tokio::test]
    async fn lists_only_the_callers_keys_a_page_at_a_time() {
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys()
            .times(1)
            .withf(|q| {
                q.user_id == Some(alice().user_id)
                    && q.status == Some(ApiKeyStatus::Active)
                    && q.after.is_none()
                    && q.limit == 3
            })
            .returning(|_| Ok((0..3).map(|_| owned(ApiKeyStatus::Active)).collect()));
        let page = ListKeys::new(Arc::new(keys))
            .execute(
                &alice(),
                ListKeysRequest {
                    status: Some("active".into()),
                    cursor: None,
                    limit: Some(2),
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(page.items.iter().all(|k| k.user_id == alice().user_id));
        assert_eq!(
            page.next_cursor,
            Some(page.items[1].id.to_string()),
            "one more than the page was there: the cursor is the page's last id"
        );
    }

    #[tokio::test]
    async fn a_member_needs_no_role_and_the_default_page_is_the_admin_lists() {
        let mut keys = MockAdminKeyStore::new();
        let cursor = crate::ids::ApiKeyId::new();
        keys.expect_list_all_keys()
            .times(1)
            .withf(move |q| {
                q.user_id == Some(bob().user_id)
                    && q.status.is_none()
                    && q.after == Some(cursor)
                    && q.limit == DEFAULT_PAGE_SIZE + 1
            })
            .returning(|_| Ok(vec![owned(ApiKeyStatus::Revoked)]));
        let page = ListKeys::new(Arc::new(keys))
            .execute(
                &bob(),
                ListKeysRequest {
                    cursor: Some(cursor.to_string()),
                    ..ListKeysRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next_cursor, None, "the last page has no cursor");
    }

    #[tokio::test]
    async fn a_bad_status_cursor_or_limit_is_named_and_nothing_is_read() {
        let mut keys = MockAdminKeyStore::new();
        keys.expect_list_all_keys().never();
        let uc = ListKeys::new(Arc::new(keys));
        for limit in [0, 201] {
            let err = uc
                .execute(
                    &alice(),
                    ListKeysRequest {
                        status: Some("nope".into()),
                        cursor: Some("nope".into()),
                        limit: Some(limit),
                    },
                )
                .await
                .unwrap_err();
            let Error::Invalid(errors) = err else {
                panic!("{err:?}")
            };
            let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["status", "cursor", "limit"]);
        }
    }
}
