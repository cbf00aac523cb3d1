//! `IdentityUsers` against a real PostgreSQL: users are found by (issuer, subject) only, a first login's
//! insert names the constraint it broke, and a profile refresh commits with its audit event.

use crate::common::*;
use keyport_domain::identity::{IdentityUsers, ProfileUpdate};
use keyport_domain::ids::UserId;
use keyport_domain::users::Role;
use keyport_domain::users::UserStore;
use keyport_domain::{ConflictKind, StoreError};
use keyport_testkit::TestDb;

const ISSUER: &str = "https://idp.example/realms/acme";

#[tokio::test]
async fn a_user_is_found_by_issuer_and_subject_and_by_nothing_else() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = user("alice");
    store
        .insert_identity_user(
            &alice,
            ISSUER,
            "sub-alice",
            &audit("user.create", "user", alice.id),
        )
        .await
        .unwrap();

    assert_eq!(
        store.find_by_identity(ISSUER, "sub-alice").await.unwrap(),
        Some(alice.clone())
    );
    // Same subject at another issuer, or the username or email as subject: nobody.
    assert_eq!(
        store
            .find_by_identity("https://other.example", "sub-alice")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.find_by_identity(ISSUER, "alice").await.unwrap(), None);
    assert_eq!(
        store
            .find_by_identity(ISSUER, "alice@example.org")
            .await
            .unwrap(),
        None
    );
    // A user created without an identity (by an admin) is never found by one.
    let bob = insert_user(&store, "bob").await;
    assert_eq!(store.find_by_identity(ISSUER, "bob").await.unwrap(), None);
    assert_eq!(
        store.get_user(bob.id).await.unwrap().unwrap().username,
        "bob"
    );
    assert_eq!(audit_actions(&db, alice.id).await, ["user.create"]);
}

#[tokio::test]
async fn a_taken_username_and_a_linked_identity_are_named_conflicts_and_write_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    let first = user("alice");
    store
        .insert_identity_user(
            &first,
            ISSUER,
            "s1",
            &audit("user.create", "user", first.id),
        )
        .await
        .unwrap();

    let same_name = user("alice");
    let err = store
        .insert_identity_user(
            &same_name,
            ISSUER,
            "s2",
            &audit("user.create", "user", same_name.id),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(ConflictKind::UsernameTaken));

    let same_identity = user("alice-2");
    let err = store
        .insert_identity_user(
            &same_identity,
            ISSUER,
            "s1",
            &audit("user.create", "user", same_identity.id),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(ConflictKind::IdentityLinked));

    assert_eq!(store.get_user(same_name.id).await.unwrap(), None);
    assert_eq!(store.get_user(same_identity.id).await.unwrap(), None);
    assert!(audit_actions(&db, same_name.id).await.is_empty());
    assert!(audit_actions(&db, same_identity.id).await.is_empty());
}

#[tokio::test]
async fn a_profile_refresh_replaces_email_name_and_roles_with_its_audit_event() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = user("alice");
    store
        .insert_identity_user(
            &alice,
            ISSUER,
            "s1",
            &audit("user.create", "user", alice.id),
        )
        .await
        .unwrap();

    let updated = store
        .update_profile(
            alice.id,
            &ProfileUpdate {
                email: Some("alice@new.example".into()),
                display_name: None,
                roles: Some(vec![Role::Auditor, Role::Admin]),
            },
            at(60),
            &audit("user.refresh_profile", "user", alice.id),
        )
        .await
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("alice@new.example"));
    assert_eq!(updated.display_name, None);
    assert_eq!(
        updated.roles,
        vec![Role::User, Role::Admin, Role::Auditor],
        "stored normalised"
    );
    assert_eq!(
        store.get_user(alice.id).await.unwrap(),
        Some(updated.clone())
    );

    // Without roles, the roles stay.
    let again = store
        .update_profile(
            alice.id,
            &ProfileUpdate {
                email: None,
                display_name: Some("Alice".into()),
                roles: None,
            },
            at(120),
            &audit("user.refresh_profile", "user", alice.id),
        )
        .await
        .unwrap();
    assert_eq!(again.roles, updated.roles);
    assert_eq!(again.display_name.as_deref(), Some("Alice"));
    assert_eq!(
        audit_actions(&db, alice.id).await,
        [
            "user.create",
            "user.refresh_profile",
            "user.refresh_profile"
        ]
    );

    let ghost = UserId::new();
    let err = store
        .update_profile(
            ghost,
            &ProfileUpdate {
                email: None,
                display_name: None,
                roles: None,
            },
            at(0),
            &audit("user.refresh_profile", "user", ghost),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);
    assert!(audit_actions(&db, ghost).await.is_empty());
}
