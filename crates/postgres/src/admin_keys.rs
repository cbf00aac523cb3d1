//! `AdminKeyStore`: everybody's keys, a page at a time, in two queries (the page with its owners, then the
//! links of exactly those keys).

use crate::api_keys::links_of_key;
use crate::error::diesel_error;
use crate::rows::{ApiKeyRow, KeyLinkRow};
use crate::schema::{api_key_subscriptions, api_keys, subscriptions, users};
use crate::PgStore;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use keyport_domain::admin::{AdminKeyStore, KeyQuery, OwnedKey};
use keyport_domain::ids::ApiKeyId;
use keyport_domain::StoreError;
use std::collections::HashMap;
use uuid::Uuid;

#[async_trait]
impl AdminKeyStore for PgStore {
    async fn list_all_keys(&self, query: &KeyQuery) -> Result<Vec<OwnedKey>, StoreError> {
        let mut page = api_keys::table
            .inner_join(users::table.on(users::id.eq(api_keys::user_id)))
            .order(api_keys::id.desc())
            .limit(i64::from(query.limit))
            .select((ApiKeyRow::as_select(), users::username))
            .into_boxed();
        if let Some(user) = query.user_id {
            page = page.filter(api_keys::user_id.eq(user.0));
        }
        if let Some(status) = query.status {
            page = page.filter(api_keys::status.eq(status.as_str()));
        }
        if let Some(after) = query.after {
            page = page.filter(api_keys::id.lt(after.0));
        }
        let mut conn = self.conn().await?;
        let keys: Vec<(ApiKeyRow, String)> = page.load(&mut conn).await.map_err(diesel_error)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|(key, _)| key.id).collect();
        let links: Vec<KeyLinkRow> = api_key_subscriptions::table
            .inner_join(
                subscriptions::table
                    .on(subscriptions::id.eq(api_key_subscriptions::subscription_id)),
            )
            .filter(api_key_subscriptions::api_key_id.eq_any(&ids))
            .order((api_key_subscriptions::api_key_id, subscriptions::model_id))
            .select((
                api_key_subscriptions::api_key_id,
                api_key_subscriptions::subscription_id,
                subscriptions::model_id,
                subscriptions::status,
            ))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let mut links_by_key: HashMap<Uuid, Vec<KeyLinkRow>> = HashMap::new();
        for link in links {
            links_by_key.entry(link.api_key_id).or_default().push(link);
        }
        keys.into_iter()
            .map(|(key, owner)| {
                let links = links_by_key.remove(&key.id).unwrap_or_default();
                Ok(OwnedKey {
                    key: key.into_api_key(&links)?,
                    owner,
                })
            })
            .collect()
    }

    async fn owned_key(&self, id: ApiKeyId) -> Result<Option<OwnedKey>, StoreError> {
        let mut conn = self.conn().await?;
        let Some((key, owner)) = api_keys::table
            .inner_join(users::table.on(users::id.eq(api_keys::user_id)))
            .filter(api_keys::id.eq(id.0))
            .select((ApiKeyRow::as_select(), users::username))
            .first::<(ApiKeyRow, String)>(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
        else {
            return Ok(None);
        };
        let links = links_of_key(&mut conn, id.0).await.map_err(diesel_error)?;
        Ok(Some(OwnedKey {
            key: key.into_api_key(&links)?,
            owner,
        }))
    }
}
