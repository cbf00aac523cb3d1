//! What the role the store connects as may do to the audit log, so that `keyport serve` can say at start
//! whether the audit log survives its own credentials (docs/security.md#database-roles).

use crate::error::diesel_error;
use crate::PgStore;
use diesel::sql_types::{Bool, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use keyport_domain::StoreError;

/// The connected role's powers over `audit_events` and `audit_chain`.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct AuditExposure {
    /// The role the store is connected as.
    #[diesel(sql_type = Text)]
    pub role: String,
    /// A superuser: can do anything, triggers or not.
    #[diesel(sql_type = Bool)]
    pub superuser: bool,
    /// Owns an audit table (or is a member of its owner): can drop or disable its triggers, alter it.
    #[diesel(sql_type = Bool)]
    pub owner: bool,
    /// Holds UPDATE, DELETE, TRUNCATE or TRIGGER on an audit table (the triggers still refuse the first
    /// three; TRIGGER lets it add its own).
    #[diesel(sql_type = Bool)]
    pub beyond_append: bool,
}

impl AuditExposure {
    /// Whether the role can only read and append to the audit log.
    pub fn append_only(&self) -> bool {
        !(self.superuser || self.owner || self.beyond_append)
    }
}

const EXPOSURE: &str = "\
    SELECT current_user::text AS role, \
           coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser, \
           coalesce(bool_or(pg_has_role(c.relowner, 'USAGE')), false) AS owner, \
           coalesce(bool_or(has_table_privilege(c.oid, 'UPDATE, DELETE, TRUNCATE, TRIGGER')), false) \
               AS beyond_append \
    FROM pg_class c \
    WHERE c.oid IN ('audit_events'::regclass, 'audit_chain'::regclass)";

impl PgStore {
    /// What the connected role may do to the audit tables.
    pub async fn audit_exposure(&self) -> Result<AuditExposure, StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query(EXPOSURE)
            .get_result(&mut conn)
            .await
            .map_err(diesel_error)
    }
}
