//! `UserStore`.

use crate::error::{diesel_error, Failure};
use crate::jobs::enqueue_converge;
use crate::rows::{AccessTokenRow, NewUserRow, UserRow};
use crate::schema::{access_tokens, api_keys, users};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::identity::AccessToken;
use keyport_domain::ids::UserId;
use keyport_domain::keys::{ApiKeyStatus, SyncState};
use keyport_domain::users::UserStore;
use keyport_domain::users::{normalize_roles, Role, User, UserStatus};
use keyport_domain::StoreError;
use uuid::Uuid;

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user(
        &self,
        user: &User,
        token: Option<AccessToken>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let token = token.as_ref().map(AccessTokenRow::from);
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(users::table)
                .values(NewUserRow::from(user))
                .execute(conn)
                .await?;
            if let Some(token) = &token {
                diesel::insert_into(access_tokens::table)
                    .values(token)
                    .execute(conn)
                    .await?;
            }
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let mut conn = self.conn().await?;
        users::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(User::try_from)
            .transpose()
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.conn().await?;
        users::table
            .filter(users::username.eq(username))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(User::try_from)
            .transpose()
    }

    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        users::table
            .filter(users::id.eq_any(&ids))
            .order(users::id)
            .select(UserRow::as_select())
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(User::try_from)
            .collect()
    }

    async fn change_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let row = diesel::update(users::table.find(id.0))
                .set((users::status.eq(status.as_str()), users::updated_at.eq(at)))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(StoreError::NotFound)?;
            pend_live_keys(conn, id, at).await?;
            audit::record(conn, audit).await?;
            Ok(User::try_from(row)?)
        })
        .await
        .map_err(StoreError::from)
    }

    async fn set_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let roles: Vec<String> = normalize_roles(roles)
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let row = diesel::update(users::table.find(id.0))
                .set((users::roles.eq(&roles), users::updated_at.eq(at)))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(StoreError::NotFound)?;
            audit::record(conn, audit).await?;
            Ok(User::try_from(row)?)
        })
        .await
        .map_err(StoreError::from)
    }
}

/// Marks the user's live keys (active and retiring) pending and queues a converge job for each, due now:
/// the jobs bring LiteLLM in line with the user's new status. Meant to run inside the transaction that
/// changes the status.
pub(crate) async fn pend_live_keys(
    conn: &mut AsyncPgConnection,
    user: UserId,
    at: DateTime<Utc>,
) -> Result<(), DieselError> {
    let keys: Vec<Uuid> = api_keys::table
        .filter(api_keys::user_id.eq(user.0))
        .filter(api_keys::status.eq_any([
            ApiKeyStatus::Active.as_str(),
            ApiKeyStatus::Retiring.as_str(),
        ]))
        .select(api_keys::id)
        .load(conn)
        .await?;
    if !keys.is_empty() {
        diesel::update(api_keys::table.filter(api_keys::id.eq_any(&keys)))
            .set(api_keys::sync_state.eq(SyncState::Pending.as_str()))
            .execute(conn)
            .await?;
        enqueue_converge(conn, &keys, at, at).await?;
    }
    Ok(())
}
