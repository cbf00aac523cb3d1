//! `AccessTokenStore`: on the path of every API request, so the lookup is one indexed select and the
//! `last_used_at` write happens at most once a minute per token.

use crate::error::{diesel_error, Failure};
use crate::rows::{AccessTokenRow, UserRow};
use crate::schema::{access_tokens, users};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::identity::{AccessToken, AccessTokenStore};
use keyport_domain::ids::{AccessTokenId, UserId};
use keyport_domain::secret::KeyHash;
use keyport_domain::users::User;
use keyport_domain::StoreError;

/// How stale `last_used_at` may get before a use is written down.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::seconds(60);

#[async_trait]
impl AccessTokenStore for PgStore {
    async fn insert_access_token(
        &self,
        token: &AccessToken,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let row = AccessTokenRow::from(token);
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(access_tokens::table)
                .values(&row)
                .execute(conn)
                .await?;
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn find_live_access_token(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
    ) -> Result<Option<(AccessToken, User)>, StoreError> {
        let mut conn = self.conn().await?;
        let found = access_tokens::table
            .inner_join(users::table)
            .filter(access_tokens::token_hash.eq(hash.as_str()))
            .filter(access_tokens::revoked_at.is_null())
            .filter(
                access_tokens::expires_at
                    .is_null()
                    .or(access_tokens::expires_at.gt(now)),
            )
            .select((AccessTokenRow::as_select(), UserRow::as_select()))
            .first::<(AccessTokenRow, UserRow)>(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        let Some((token, user)) = found else {
            return Ok(None);
        };
        let mut token = AccessToken::try_from(token)?;
        let user = User::try_from(user)?;
        let stale_before = now - LAST_USED_RESOLUTION;
        if token.last_used_at.is_none_or(|used| used < stale_before) {
            // Conditional, so that concurrent requests with the same token write once. Recording the use
            // is bookkeeping: a failure is logged, not allowed to fail the request.
            let touched = diesel::update(access_tokens::table.find(token.id.0))
                .filter(
                    access_tokens::last_used_at
                        .is_null()
                        .or(access_tokens::last_used_at.lt(stale_before)),
                )
                .set(access_tokens::last_used_at.eq(now))
                .execute(&mut conn)
                .await;
            match touched {
                Ok(_) => token.last_used_at = Some(now),
                Err(error) => tracing::warn!(
                    token_id = %token.id,
                    error = %diesel_error(error),
                    "could not record an access token's use"
                ),
            }
        }
        Ok(Some((token, user)))
    }

    async fn list_access_tokens(&self, user: UserId) -> Result<Vec<AccessToken>, StoreError> {
        let mut conn = self.conn().await?;
        access_tokens::table
            .filter(access_tokens::user_id.eq(user.0))
            .order((access_tokens::created_at.desc(), access_tokens::id.desc()))
            .select(AccessTokenRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(AccessToken::try_from)
            .collect()
    }

    async fn revoke_access_token(
        &self,
        id: AccessTokenId,
        user: UserId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<AccessToken, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let row = diesel::update(
                access_tokens::table
                    .find(id.0)
                    .filter(access_tokens::user_id.eq(user.0))
                    .filter(access_tokens::revoked_at.is_null()),
            )
            .set(access_tokens::revoked_at.eq(at))
            .returning(AccessTokenRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(StoreError::NotFound)?;
            audit::record(conn, audit).await?;
            Ok(AccessToken::try_from(row)?)
        })
        .await
        .map_err(StoreError::from)
    }
}
