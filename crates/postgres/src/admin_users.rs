//! `UserDirectory`: searching users, a user's counts, and role changes that always leave an active
//! administrator.

use crate::error::{diesel_error, Failure};
use crate::rows::{live_key_statuses, UserRow};
use crate::schema::{api_keys, subscriptions, users};
use crate::users::pend_live_keys;
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::ids::UserId;
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::users::{normalize_roles, Role, User, UserStatus};
use keyport_domain::users::{UserDirectory, UserOverview, UserQuery};
use keyport_domain::{ConflictKind, StoreError};
use uuid::Uuid;

/// A `LIKE` pattern that finds `text` anywhere, with `LIKE`'s wildcards in it taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

#[async_trait]
impl UserDirectory for PgStore {
    async fn search_users(&self, query: &UserQuery) -> Result<Vec<User>, StoreError> {
        let mut select = users::table
            .order(users::username)
            .limit(i64::from(query.limit))
            .select(UserRow::as_select())
            .into_boxed();
        if let Some(text) = &query.text {
            let pattern = contains_pattern(text);
            select = select.filter(
                users::username
                    .ilike(pattern.clone())
                    .or(users::email.ilike(pattern.clone()).assume_not_null())
                    .or(users::display_name.ilike(pattern).assume_not_null()),
            );
        }
        if let Some(role) = query.role {
            select = select.filter(users::roles.contains(vec![Some(role.as_str())]));
        }
        if let Some(status) = query.status {
            select = select.filter(users::status.eq(status.as_str()));
        }
        if let Some(after) = &query.after {
            select = select.filter(users::username.gt(after.clone()));
        }
        let mut conn = self.conn().await?;
        select
            .load(&mut conn)
            .await
            .map_err(diesel_error)?
            .into_iter()
            .map(User::try_from)
            .collect()
    }

    async fn user_overview(&self, id: UserId) -> Result<Option<UserOverview>, StoreError> {
        let mut conn = self.conn().await?;
        let Some(row) = users::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
        else {
            return Ok(None);
        };
        let keys: Vec<(String, i64)> = api_keys::table
            .filter(api_keys::user_id.eq(id.0))
            .group_by(api_keys::status)
            .select((api_keys::status, count_star()))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let subs: Vec<(String, i64)> = subscriptions::table
            .filter(subscriptions::user_id.eq(id.0))
            .group_by(subscriptions::status)
            .select((subscriptions::status, count_star()))
            .load(&mut conn)
            .await
            .map_err(diesel_error)?;
        let live = live_key_statuses();
        let subs_in = |status: SubscriptionStatus| {
            subs.iter()
                .filter(|(s, _)| s == status.as_str())
                .map(|(_, n)| count(*n))
                .sum()
        };
        Ok(Some(UserOverview {
            user: User::try_from(row)?,
            keys: keys.iter().map(|(_, n)| count(*n)).sum(),
            live_keys: keys
                .iter()
                .filter(|(s, _)| live.contains(&s.as_str()))
                .map(|(_, n)| count(*n))
                .sum(),
            subscriptions: subs.iter().map(|(_, n)| count(*n)).sum(),
            active_subscriptions: subs_in(SubscriptionStatus::Active),
            pending_subscriptions: subs_in(SubscriptionStatus::Pending),
        }))
    }

    async fn change_roles(
        &self,
        id: UserId,
        roles: &[Role],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let roles = normalize_roles(roles);
        let stays_admin = roles.contains(&Role::Admin);
        let stored: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            if !stays_admin {
                keep_an_active_admin(conn, id).await?;
            }
            let row = diesel::update(users::table.find(id.0))
                .set((users::roles.eq(&stored), users::updated_at.eq(at)))
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

    async fn suspend_user(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, Failure, _>(async |conn| {
            keep_an_active_admin(conn, id).await?;
            let row = diesel::update(users::table.find(id.0))
                .set((
                    users::status.eq(UserStatus::Suspended.as_str()),
                    users::updated_at.eq(at),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(StoreError::NotFound)?;
            // The owner's live keys are blocked in LiteLLM by the jobs (as `change_user_status` does).
            pend_live_keys(conn, id, at).await?;
            audit::record(conn, audit).await?;
            Ok(User::try_from(row)?)
        })
        .await
        .map_err(StoreError::from)
    }
}

/// Locks every active administrator in id order (a concurrent change of another one waits here, and then
/// sees what that change did) and refuses, with `LastActiveAdmin`, when `losing` is the only one.
async fn keep_an_active_admin(conn: &mut AsyncPgConnection, losing: UserId) -> Result<(), Failure> {
    let admins: Vec<Uuid> = users::table
        .filter(users::status.eq(UserStatus::Active.as_str()))
        .filter(users::roles.contains(vec![Some(Role::Admin.as_str())]))
        .order(users::id)
        .select(users::id)
        .for_update()
        .load(conn)
        .await?;
    if admins.contains(&losing.0) && admins.len() <= 1 {
        return Err(StoreError::Conflict(ConflictKind::LastActiveAdmin).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_in_search_text_are_literal() {
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
