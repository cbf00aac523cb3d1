//! `IdentityUsers`: users as an OIDC login finds them, by (issuer, subject) and by nothing else.

use crate::error::{diesel_error, Failure};
use crate::rows::{NewUserRow, UserRow};
use crate::schema::users;
use crate::{audit, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use keyport_domain::audit::AuditEvent;
use keyport_domain::identity::{IdentityUsers, ProfileUpdate};
use keyport_domain::ids::UserId;
use keyport_domain::users::{normalize_roles, User};
use keyport_domain::StoreError;

#[async_trait]
impl IdentityUsers for PgStore {
    async fn find_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.conn().await?;
        users::table
            .filter(users::issuer.eq(issuer))
            .filter(users::subject.eq(subject))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(diesel_error)?
            .map(User::try_from)
            .transpose()
    }

    async fn insert_identity_user(
        &self,
        user: &User,
        issuer: &str,
        subject: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let mut user = user.clone();
        user.roles = normalize_roles(&user.roles);
        conn.transaction::<_, Failure, _>(async |conn| {
            diesel::insert_into(users::table)
                .values((
                    NewUserRow::from(&user),
                    users::issuer.eq(issuer),
                    users::subject.eq(subject),
                ))
                .execute(conn)
                .await?;
            audit::record(conn, audit).await?;
            Ok(())
        })
        .await
        .map_err(StoreError::from)
    }

    async fn update_profile(
        &self,
        id: UserId,
        profile: &ProfileUpdate,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<User, StoreError> {
        let mut conn = self.conn().await?;
        let roles: Option<Vec<Option<&str>>> = profile.roles.as_ref().map(|roles| {
            normalize_roles(roles)
                .into_iter()
                .map(|r| Some(r.as_str()))
                .collect()
        });
        conn.transaction::<_, Failure, _>(async |conn| {
            let target = users::table.find(id.0);
            let changes = (
                users::email.eq(profile.email.as_deref()),
                users::display_name.eq(profile.display_name.as_deref()),
                users::updated_at.eq(at),
            );
            let row = match &roles {
                Some(roles) => {
                    diesel::update(target)
                        .set((changes, users::roles.eq(roles)))
                        .returning(UserRow::as_returning())
                        .get_result(conn)
                        .await
                }
                None => {
                    diesel::update(target)
                        .set(changes)
                        .returning(UserRow::as_returning())
                        .get_result(conn)
                        .await
                }
            }
            .optional()?
            .ok_or(StoreError::NotFound)?;
            audit::record(conn, audit).await?;
            Ok(User::try_from(row)?)
        })
        .await
        .map_err(StoreError::from)
    }
}
