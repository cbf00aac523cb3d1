//! The rows of access tokens: one row, read and inserted alike.

use super::columns::{key_hash, strings};
use crate::schema::access_tokens;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use keyport_domain::identity::AccessToken;
use keyport_domain::secret::KeyPrefix;
use keyport_domain::StoreError;
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AccessTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_prefix: String,
    pub token_hash: String,
    pub scopes: Vec<Option<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<AccessTokenRow> for AccessToken {
    type Error = StoreError;
    fn try_from(row: AccessTokenRow) -> Result<Self, StoreError> {
        Ok(AccessToken {
            id: row.id.into(),
            user_id: row.user_id.into(),
            name: row.name,
            prefix: KeyPrefix::from_stored(row.token_prefix),
            hash: key_hash(&row.token_hash)?,
            scopes: strings(row.scopes, "scope")?,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

impl From<&AccessToken> for AccessTokenRow {
    fn from(token: &AccessToken) -> Self {
        Self {
            id: token.id.0,
            user_id: token.user_id.0,
            name: token.name.clone(),
            token_prefix: token.prefix.as_str().to_owned(),
            token_hash: token.hash.as_str().to_owned(),
            scopes: token.scopes.iter().cloned().map(Some).collect(),
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            created_at: token.created_at,
            revoked_at: token.revoked_at,
        }
    }
}
