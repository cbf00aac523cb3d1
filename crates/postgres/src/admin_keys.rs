//! `AdminKeyStore`: everybody's keys, a page at a time, in two queries (the page with its owners, then the
//! links of exactly those keys).

use crate::api_keys::{links_of_key, load_links};
use crate::error::diesel_error;
use crate::rows::ApiKeyRow;
use crate::schema::{api_keys, users};
use crate::PgStore;
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use keyport_domain::ids::ApiKeyId;
use keyport_domain::keys::{AdminKeyStore, KeyQuery, OwnedKey};
use keyport_domain::StoreError;

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
        let (keys, owners): (Vec<ApiKeyRow>, Vec<String>) = keys.into_iter().unzip();
        let keys = load_links(&mut conn, keys).await?;
        Ok(keys
            .into_iter()
            .zip(owners)
            .map(|(key, owner)| OwnedKey { key, owner })
            .collect())
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
