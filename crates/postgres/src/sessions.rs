//! `SessionStore`: browser sessions and OIDC logins in progress. The session lookup is on the path of every
//! browser request, so it is one indexed select joined with the user, and `last_seen_at` is written at most
//! once per [`LAST_SEEN_RESOLUTION`].

use crate::error::{diesel_error, Failure};
use crate::rows::UserRow;
use crate::schema::{login_states, sessions, users};
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::identity::{
    LoginState, Session, SessionOrigin, SessionStore, LAST_SEEN_RESOLUTION,
};
use keyport_domain::ids::UserId;
use keyport_domain::secret::KeyHash;
use keyport_domain::users::User;
use keyport_domain::StoreError;
use uuid::Uuid;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    id_hash: String,
    user_id: Uuid,
    origin: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    client_addr: Option<String>,
    user_agent: Option<String>,
    id_token_hint: Option<String>,
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        Self {
            id_hash: s.hash.as_str().to_owned(),
            user_id: s.user_id.0,
            origin: s.origin.as_str().to_owned(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            client_addr: s.client_addr.clone(),
            user_agent: s.user_agent.clone(),
            id_token_hint: s.id_token_hint.clone(),
        }
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            hash: KeyHash::parse(&row.id_hash)
                .map_err(|e| StoreError::Unexpected(format!("sessions.id_hash: {e}")))?,
            user_id: UserId(row.user_id),
            origin: SessionOrigin::parse(&row.origin).ok_or_else(|| {
                StoreError::Unexpected(format!("unknown session origin '{}'", row.origin))
            })?,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            client_addr: row.client_addr,
            user_agent: row.user_agent,
            id_token_hint: row.id_token_hint,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_states, check_for_backend(diesel::pg::Pg))]
struct LoginStateRow {
    state_hash: String,
    browser_hash: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(
        &self,
        session: &Session,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let row = SessionRow::from(session);
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(conn)
                .await?;
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn find_live_session(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
        idle: TimeDelta,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let mut conn = self.conn().await?;
        let found = sessions::table
            .inner_join(users::table)
            .filter(sessions::id_hash.eq(hash.as_str()))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(now - idle))
            .select((SessionRow::as_select(), UserRow::as_select()))
            .first::<(SessionRow, UserRow)>(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        let Some((session, user)) = found else {
            return Ok(None);
        };
        let mut session = Session::try_from(session)?;
        let user = User::try_from(user)?;
        let stale_before = now - LAST_SEEN_RESOLUTION;
        if session.last_seen_at < stale_before {
            // Conditional, so that concurrent requests write once; bookkeeping failures are logged only.
            let touched = diesel::update(sessions::table.find(hash.as_str()))
                .filter(sessions::last_seen_at.lt(stale_before))
                .set(sessions::last_seen_at.eq(now))
                .execute(&mut conn)
                .await;
            match touched {
                Ok(_) => session.last_seen_at = now,
                Err(error) => tracing::warn!(
                    user_id = %session.user_id,
                    error = %diesel_error(error),
                    "could not record a session's use"
                ),
            }
        }
        Ok(Some((session, user)))
    }

    async fn end_session(
        &self,
        hash: &KeyHash,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            let row = diesel::update(
                sessions::table
                    .find(hash.as_str())
                    .filter(sessions::ended_at.is_null()),
            )
            .set(sessions::ended_at.eq(at))
            .returning(SessionRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(row) = row else {
                return Ok(None);
            };
            audit::record(conn, audit).await?;
            Ok(Some(Session::try_from(row)?))
        })
        .await
        .map_err(StoreError::from)
    }

    async fn end_user_sessions(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let ended = diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user.0))
                .filter(sessions::ended_at.is_null()),
        )
        .set(sessions::ended_at.eq(at))
        .execute(&mut conn)
        .await
        .map_err(diesel_error)?;
        Ok(ended as u64)
    }

    async fn insert_login_state(&self, state: &LoginState) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(login_states::table)
            .values(LoginStateRow {
                state_hash: state.state_hash.as_str().to_owned(),
                browser_hash: state.browser_hash.as_str().to_owned(),
                nonce: state.nonce.clone(),
                pkce_verifier: state.pkce_verifier.clone(),
                return_to: state.return_to.clone(),
                created_at: state.created_at,
                expires_at: state.expires_at,
            })
            .execute(&mut conn)
            .await
            .map_err(diesel_error)?;
        Ok(())
    }

    async fn take_login_state(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError> {
        let mut conn = self.conn().await?;
        // DELETE … RETURNING: of two concurrent takes, exactly one gets the row.
        let row = diesel::delete(login_states::table.find(hash.as_str()))
            .returning(LoginStateRow::as_returning())
            .get_result::<LoginStateRow>(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?;
        let Some(row) = row.filter(|r| r.expires_at > now) else {
            return Ok(None);
        };
        Ok(Some(LoginState {
            state_hash: KeyHash::parse(&row.state_hash)
                .map_err(|e| StoreError::Unexpected(format!("login_states.state_hash: {e}")))?,
            browser_hash: KeyHash::parse(&row.browser_hash)
                .map_err(|e| StoreError::Unexpected(format!("login_states.browser_hash: {e}")))?,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            return_to: row.return_to,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }))
    }

    async fn purge_expired(&self, now: DateTime<Utc>, idle: TimeDelta) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let sessions_gone = diesel::delete(
            sessions::table.filter(
                sessions::ended_at
                    .is_not_null()
                    .or(sessions::expires_at.le(now))
                    .or(sessions::last_seen_at.le(now - idle)),
            ),
        )
        .execute(&mut conn)
        .await
        .map_err(diesel_error)?;
        let states_gone =
            diesel::delete(login_states::table.filter(login_states::expires_at.le(now)))
                .execute(&mut conn)
                .await
                .map_err(diesel_error)?;
        Ok((sessions_gone + states_gone) as u64)
    }
}
