//! The administrators' stores against a real PostgreSQL: the user directory and its last-admin guard,
//! everybody's keys and subscriptions, approvals (history, concurrency), the model change that approves
//! pending subscriptions, and the self-service settings with their constraints and cache.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use crate::common::*;
use diesel::result::DatabaseErrorKind::{CheckViolation, UniqueViolation};
use keyport_domain::access::InferenceRoutes;
use keyport_domain::audit::AuditEvent;
use keyport_domain::catalog::{ModelChanges, ReleasePending};
use keyport_domain::ids::UserId;
use keyport_domain::keys::ApiKeyStatus;
use keyport_domain::keys::{AdminKeyStore, KeyQuery};
use keyport_domain::limits::Limits;
use keyport_domain::settings::{SelfServiceSettings, SettingsStore};
use keyport_domain::subscriptions::SubscriptionStatus::{self, *};
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_domain::subscriptions::{ApprovalStore, SubscriptionQuery};
use keyport_domain::users::UserStore;
use keyport_domain::users::{Actor, Role, User, UserStatus};
use keyport_domain::users::{UserDirectory, UserQuery};
use keyport_domain::{ConflictKind, StoreError};
use keyport_postgres::{CachedSettings, PgStore};
use keyport_testkit::TestDb;
use std::time::Duration;

fn admin_actor(id: UserId) -> Actor {
    Actor {
        user_id: id,
        roles: vec![Role::User, Role::Admin],
        request_id: Some("req-1".into()),
        client_addr: None,
        client_request_id: None,
    }
}

async fn insert(store: &PgStore, name: &str, roles: Vec<Role>, status: UserStatus) -> User {
    let mut u = user(name);
    u.roles = roles;
    u.status = status;
    store
        .insert_user(&u, None, &audit("user.create", "user", u.id))
        .await
        .unwrap();
    u
}

fn query(limit: u32) -> UserQuery {
    UserQuery {
        limit,
        ..UserQuery::default()
    }
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

#[tokio::test]
async fn users_are_searched_by_name_email_or_display_name_filtered_and_paged_by_username() {
    let db = TestDb::new().await;
    let store = db.store();
    insert(&store, "alice", vec![Role::User], UserStatus::Active).await;
    insert(
        &store,
        "bob",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    insert(&store, "carol", vec![Role::User], UserStatus::Suspended).await;
    insert(
        &store,
        "al_x",
        vec![Role::User, Role::Auditor],
        UserStatus::Active,
    )
    .await;

    let all = store.search_users(&query(10)).await.unwrap();
    assert_eq!(names(&all), ["al_x", "alice", "bob", "carol"]);
    let found = store
        .search_users(&UserQuery {
            text: Some("ALI".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(
        names(&found),
        ["alice"],
        "case-insensitive, in the username"
    );
    let by_email = store
        .search_users(&UserQuery {
            text: Some("carol@example".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(names(&by_email), ["carol"]);
    let by_display = store
        .search_users(&UserQuery {
            text: Some("BO".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(names(&by_display), ["bob"]);
    let literal = store
        .search_users(&UserQuery {
            text: Some("l_".into()),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(names(&literal), ["al_x"], "'_' is not a wildcard");
    let admins = store
        .search_users(&UserQuery {
            role: Some(Role::Admin),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(names(&admins), ["bob"]);
    let suspended = store
        .search_users(&UserQuery {
            status: Some(UserStatus::Suspended),
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(names(&suspended), ["carol"]);
    let first = store.search_users(&query(2)).await.unwrap();
    let second = store
        .search_users(&UserQuery {
            after: Some(first[1].username.clone()),
            ..query(2)
        })
        .await
        .unwrap();
    assert_eq!(
        (names(&first), names(&second)),
        (vec!["al_x", "alice"], vec!["bob", "carol"])
    );
}

#[tokio::test]
async fn a_users_overview_counts_their_keys_and_subscriptions_by_status() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let pending = subscription(w.user.id, &claude, Pending);
    w.store
        .insert_subscription(
            &pending,
            &audit("subscription.create", "subscription", pending.id),
        )
        .await
        .unwrap();
    let live = new_key(w.user.id, "live", &[w.subscription.id]);
    insert_active_key(&w.store, &live).await;
    let failed = new_key(w.user.id, "failed", &[w.subscription.id]);
    insert_key(&w.store, &failed).await;
    use keyport_domain::keys::ApiKeyStore;
    w.store
        .fail_key(
            failed.id,
            "refused",
            at(2),
            &audit("api_key.fail", "api_key", failed.id),
        )
        .await
        .unwrap();

    let overview = w.store.user_overview(w.user.id).await.unwrap().unwrap();
    assert_eq!(overview.user, w.user);
    assert_eq!((overview.keys, overview.live_keys), (2, 1));
    assert_eq!(
        (
            overview.subscriptions,
            overview.active_subscriptions,
            overview.pending_subscriptions
        ),
        (2, 1, 1)
    );
    assert!(w
        .store
        .user_overview(UserId::new())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn roles_change_with_their_audit_event_but_the_last_active_admin_stays() {
    let db = TestDb::new().await;
    let store = db.store();
    let root = insert(
        &store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    // A suspended admin does not count as the remaining one.
    insert(
        &store,
        "away",
        vec![Role::User, Role::Admin],
        UserStatus::Suspended,
    )
    .await;
    let bob = insert(&store, "bob", vec![Role::User], UserStatus::Active).await;
    let by = AuditEvent::by(&admin_actor(root.id), "user.roles", "user", bob.id, at(1));

    let changed = store
        .change_roles(bob.id, &[Role::Auditor, Role::Admin], at(1), &by)
        .await
        .unwrap();
    assert_eq!(changed.roles, [Role::User, Role::Admin, Role::Auditor]);
    assert_eq!(
        audit_actions(&db, bob.id).await,
        ["user.create", "user.roles"]
    );

    // Two active admins: one may go.
    store
        .change_roles(root.id, &[Role::User], at(2), &by)
        .await
        .unwrap();
    // Now bob is the last active one.
    let refused = store.change_roles(bob.id, &[Role::User], at(3), &by).await;
    assert_eq!(
        refused,
        Err(StoreError::Conflict(ConflictKind::LastActiveAdmin))
    );
    assert!(store.get_user(bob.id).await.unwrap().unwrap().is_admin());
    assert_eq!(
        store
            .change_roles(UserId::new(), &[Role::Admin], at(3), &by)
            .await,
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn two_admins_removing_each_others_admin_role_at_once_leave_one_admin() {
    let db = TestDb::new().await;
    let store = db.store();
    let a = insert(
        &store,
        "a",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let b = insert(
        &store,
        "b",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    for round in 0..5 {
        let ev_a = AuditEvent::by(&admin_actor(b.id), "user.roles", "user", a.id, at(round));
        let ev_b = AuditEvent::by(&admin_actor(a.id), "user.roles", "user", b.id, at(round));
        let (s1, s2) = (store.clone(), store.clone());
        let (r1, r2) = tokio::join!(
            async move { s1.change_roles(a.id, &[Role::User], at(round), &ev_a).await },
            async move { s2.change_roles(b.id, &[Role::User], at(round), &ev_b).await },
        );
        assert_eq!(
            usize::from(r1.is_ok()) + usize::from(r2.is_ok()),
            1,
            "exactly one wins: {r1:?} {r2:?}"
        );
        let admins = store
            .search_users(&UserQuery {
                role: Some(Role::Admin),
                ..query(10)
            })
            .await
            .unwrap();
        assert_eq!(admins.len(), 1);
        // Make both admins again for the next round.
        let restore = AuditEvent::by(&admin_actor(a.id), "user.roles", "user", a.id, at(round));
        for id in [a.id, b.id] {
            store
                .change_roles(id, &[Role::Admin], at(round), &restore)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn everybodys_keys_are_listed_newest_first_with_their_owner_filtered_and_paged() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bob_sub = subscribe(&w.store, bob.id, &w.model).await;
    let k1 = new_key(w.user.id, "one", &[w.subscription.id]);
    insert_active_key(&w.store, &k1).await;
    let k2 = new_key(bob.id, "two", &[bob_sub.id]);
    insert_key(&w.store, &k2).await;
    let k3 = new_key(bob.id, "three", &[bob_sub.id]);
    insert_active_key(&w.store, &k3).await;

    let all = w
        .store
        .list_all_keys(&KeyQuery {
            limit: 10,
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    let listed: Vec<_> = all
        .iter()
        .map(|k| (k.key.name.as_str(), k.owner.as_str()))
        .collect();
    assert_eq!(listed, [("three", "bob"), ("two", "bob"), ("one", "alice")]);
    assert_eq!(
        all[0].key.models,
        std::slice::from_ref(&w.model),
        "with the models of its subscriptions"
    );

    let bobs_active = w
        .store
        .list_all_keys(&KeyQuery {
            user_id: Some(bob.id),
            status: Some(ApiKeyStatus::Active),
            limit: 10,
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(bobs_active.len(), 1);
    assert_eq!(bobs_active[0].key.id, k3.id);

    let page = w
        .store
        .list_all_keys(&KeyQuery {
            after: Some(k2.id),
            limit: 10,
            ..KeyQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].key.id, k1.id);
}

#[tokio::test]
async fn one_key_of_anybody_comes_with_its_owner_and_its_subscriptions() {
    let w = world().await;
    let bob = insert_user(&w.store, "bob").await;
    let bob_sub = subscribe(&w.store, bob.id, &w.model).await;
    let key = new_key(bob.id, "bobs", &[bob_sub.id]);
    insert_active_key(&w.store, &key).await;

    let owned = w.store.owned_key(key.id).await.unwrap().unwrap();
    assert_eq!(owned.owner, "bob");
    assert_eq!(owned.key.user_id, bob.id);
    assert_eq!(owned.key.subscription_ids, [bob_sub.id]);
    assert_eq!(owned.key.models, std::slice::from_ref(&w.model));
    assert_eq!(
        w.store
            .owned_key(keyport_domain::ids::ApiKeyId::new())
            .await
            .unwrap(),
        None
    );
}

/// A restricted model and a pending subscription to it for a new user.
async fn pending_request(
    w: &World,
    username: &str,
    model: &keyport_domain::ids::ModelId,
) -> keyport_domain::subscriptions::Subscription {
    let u = insert_user(&w.store, username).await;
    let pending = subscription(u.id, model, Pending);
    w.store
        .insert_subscription(
            &pending,
            &AuditEvent::by(
                &Actor::user(u.id),
                "subscription.create",
                "subscription",
                pending.id,
                at(0),
            ),
        )
        .await
        .unwrap();
    pending
}

#[tokio::test]
async fn approving_and_rejecting_keeps_the_history_with_the_actor_and_a_rejected_user_may_ask_again(
) {
    let w = world().await;
    let admin = insert(
        &w.store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let secret = insert_model(&w.store, "secret").await;
    let p1 = pending_request(&w, "bob", &secret).await;
    let p2 = pending_request(&w, "carol", &secret).await;

    let pending = w
        .store
        .list_all_subscriptions(&SubscriptionQuery {
            status: Some(Pending),
            model_id: Some(secret.clone()),
            limit: 10,
            ..SubscriptionQuery::default()
        })
        .await
        .unwrap();
    let listed: Vec<_> = pending
        .iter()
        .map(|s| (s.subscription.id, s.owner.as_str()))
        .collect();
    assert_eq!(listed, [(p2.id, "carol"), (p1.id, "bob")]);

    let by = |action: &str, id| {
        AuditEvent::by(&admin_actor(admin.id), action, "subscription", id, at(5))
    };
    w.store
        .change_subscription_status(
            p1.id,
            Pending,
            Active,
            None,
            None,
            at(5),
            &by("subscription.approve", p1.id),
        )
        .await
        .unwrap();
    w.store
        .change_subscription_status(
            p2.id,
            Pending,
            Rejected,
            Some("not for this project".into()),
            None,
            at(6),
            &by("subscription.reject", p2.id),
        )
        .await
        .unwrap();
    // The rejected user asks again.
    w.store
        .change_subscription_status(
            p2.id,
            Rejected,
            Pending,
            None,
            None,
            at(7),
            &AuditEvent::by(
                &Actor::user(p2.user_id),
                "subscription.request",
                "subscription",
                p2.id,
                at(7),
            ),
        )
        .await
        .unwrap();

    let history = w.store.subscription_history(p2.id).await.unwrap().unwrap();
    let rows: Vec<_> = history
        .iter()
        .map(|h| (h.from, h.to, h.reason.as_deref(), h.actor))
        .collect();
    assert_eq!(
        rows,
        [
            (None, Pending, None, Some(p2.user_id)),
            (
                Some(Pending),
                Rejected,
                Some("not for this project"),
                Some(admin.id)
            ),
            (Some(Rejected), Pending, None, Some(p2.user_id)),
        ]
    );
    assert_eq!(
        audit_actions(&w.db, p2.id).await,
        [
            "subscription.create",
            "subscription.reject",
            "subscription.request"
        ]
    );
    let approved = w.store.subscription_history(p1.id).await.unwrap().unwrap();
    assert_eq!(
        approved.last().map(|h| (h.to, h.actor)),
        Some((Active, Some(admin.id)))
    );
    assert!(w
        .store
        .subscription_history(keyport_domain::ids::SubscriptionId::new())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn two_admins_approving_the_same_subscription_at_once_approve_it_once() {
    let w = world().await;
    let admin = insert(
        &w.store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let secret = insert_model(&w.store, "secret").await;
    for round in 0..5 {
        let p = pending_request(&w, &format!("u{round}"), &secret).await;
        let event = AuditEvent::by(
            &admin_actor(admin.id),
            "subscription.approve",
            "subscription",
            p.id,
            at(5),
        );
        let (s1, s2, e1, e2) = (w.store.clone(), w.store.clone(), event.clone(), event);
        let (r1, r2) = tokio::join!(
            async move {
                s1.change_subscription_status(p.id, Pending, Active, None, None, at(5), &e1)
                    .await
            },
            async move {
                s2.change_subscription_status(p.id, Pending, Active, None, None, at(5), &e2)
                    .await
            },
        );
        let outcomes = [r1.is_ok(), r2.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "{r1:?} {r2:?}"
        );
        assert!(matches!(
            (r1, r2),
            (Err(StoreError::NotFound), Ok(_)) | (Ok(_), Err(StoreError::NotFound))
        ));
        assert_eq!(
            history(&w.db, p.id).await.len(),
            2,
            "one creation row, one approval row"
        );
        assert_eq!(
            audit_actions(&w.db, p.id).await,
            ["subscription.create", "subscription.approve"]
        );
    }
}

#[tokio::test]
async fn making_a_model_open_approves_its_pending_subscriptions_in_the_same_change() {
    let w = world().await;
    let admin = insert(
        &w.store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let secret = insert_model(&w.store, "secret").await;
    let actor = admin_actor(admin.id);
    // The caller's before/after are stale on purpose: the store writes what the locked row says.
    let model_event = |at_s| {
        AuditEvent::by(&actor, "model.update", "model", "secret", at(at_s))
            .with_before(serde_json::json!({"stale": true}))
    };
    let restricted = w
        .store
        .update_model(
            &secret,
            &ModelChanges {
                restricted: Some(true),
                display_name: Some("Secret".into()),
                description: Some(Some("internal".into())),
                default_quota: Some(limits("5", "7d", 100, 10)),
                ..ModelChanges::default()
            },
            None,
            at(1),
            &model_event(1),
        )
        .await
        .unwrap();
    assert!(restricted.model.restricted && restricted.approved.is_empty());
    assert_eq!(restricted.model.display_name, "Secret");
    assert_eq!(restricted.model.default_quota, limits("5", "7d", 100, 10));

    let p1 = pending_request(&w, "bob", &secret).await;
    let p2 = pending_request(&w, "carol", &secret).await;
    let rejected = pending_request(&w, "dave", &secret).await;
    w.store
        .change_subscription_status(
            rejected.id,
            Pending,
            Rejected,
            Some("no".into()),
            None,
            at(2),
            &audit("subscription.reject", "subscription", rejected.id),
        )
        .await
        .unwrap();
    let other_pending = pending_request(&w, "erin", &w.model).await;

    let release = ReleasePending {
        reason: "model no longer restricted".into(),
        audit: AuditEvent::by(&actor, "subscription.approve", "subscription", "", at(3)),
    };
    let opened = w
        .store
        .update_model(
            &secret,
            &ModelChanges {
                restricted: Some(false),
                description: Some(None),
                default_quota: Some(Limits::UNLIMITED),
                ..ModelChanges::default()
            },
            Some(release.clone()),
            at(3),
            &model_event(3),
        )
        .await
        .unwrap();
    let mut expected = vec![p1.id, p2.id];
    expected.sort();
    assert_eq!(opened.approved, expected);
    assert!(!opened.model.restricted);
    assert_eq!(opened.model.description, None);
    assert_eq!(opened.model.default_quota, Limits::UNLIMITED);
    for p in [p1.id, p2.id] {
        let sub = w.store.get_subscription(p).await.unwrap().unwrap();
        assert_eq!(sub.status, Active);
        let last = w
            .store
            .subscription_history(p)
            .await
            .unwrap()
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            (last.from, last.to, last.reason.as_deref(), last.actor),
            (
                Some(Pending),
                Active,
                Some("model no longer restricted"),
                Some(admin.id)
            )
        );
        let events = audit_events_of(&w.db, p).await;
        let (action, by, _, after) = events.last().unwrap();
        assert_eq!(
            (action.as_str(), *by),
            ("subscription.approve", Some(admin.id.0))
        );
        assert_eq!(after.as_ref().unwrap()["status"], "active");
    }
    assert_eq!(
        w.store
            .get_subscription(rejected.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Rejected,
        "a rejected request stays rejected"
    );
    assert_eq!(
        w.store
            .get_subscription(other_pending.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Pending,
        "another model's request is untouched"
    );
    assert_eq!(
        audit_actions(&w.db, "secret").await,
        ["model.update", "model.update"]
    );
    let events = audit_events_of(&w.db, "secret").await;
    assert_eq!(
        events[1].2,
        Some(serde_json::json!({
            "restricted": true,
            "description": "internal",
            "default_quota": limits("5", "7d", 100, 10),
        })),
        "before: the locked row, only the fields that change"
    );
    assert_eq!(
        events[1].3,
        Some(serde_json::json!({
            "restricted": false,
            "description": null,
            "default_quota": Limits::UNLIMITED,
        }))
    );

    // Opening an open model again approves nothing, even with a release.
    let late = pending_request(&w, "frank", &secret).await;
    let again = w
        .store
        .update_model(
            &secret,
            &ModelChanges {
                restricted: Some(false),
                ..ModelChanges::default()
            },
            Some(release),
            at(4),
            &model_event(4),
        )
        .await
        .unwrap();
    assert!(again.approved.is_empty());
    assert_eq!(
        w.store
            .get_subscription(late.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Pending
    );
    assert_eq!(
        w.store
            .update_model(
                &keyport_domain::ids::ModelId::parse("nope").unwrap(),
                &ModelChanges::default(),
                None,
                at(5),
                &model_event(5),
            )
            .await,
        Err(StoreError::NotFound)
    );
}

fn settings() -> SelfServiceSettings {
    SelfServiceSettings {
        subscription_max_quota: limits("100", "30d", 100_000, 600),
        key_default_limits: Limits {
            max_budget: Some(money("5")),
            rpm_limit: Some(10),
            ..Limits::default()
        },
        key_max_limits: limits("50", "30d", 50_000, 100),
        key_default_lifetime_days: Some(30),
        key_max_lifetime_days: Some(365),
        allowed_routes: InferenceRoutes::parse(vec![
            "/v1/chat/completions".to_owned(),
            "/v1/embeddings".to_owned(),
        ])
        .unwrap(),
        max_live_keys_per_user: 5,
        token_max_lifetime_days: Some(90),
    }
}

#[tokio::test]
async fn settings_round_trip_and_their_audit_event_has_the_stored_before() {
    let db = TestDb::new().await;
    let store = db.store();
    let admin = insert(
        &store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    assert_eq!(store.get_settings().await.unwrap(), None);
    let event = |at_s| {
        AuditEvent::by(
            &admin_actor(admin.id),
            "settings.update",
            "settings",
            "self-service",
            at(at_s),
        )
        .with_before(serde_json::json!({"from": "configuration"}))
    };
    let first = settings();
    assert_eq!(
        store.put_settings(&first, at(1), &event(1)).await.unwrap(),
        first
    );
    assert_eq!(store.get_settings().await.unwrap(), Some(first.clone()));
    let second = SelfServiceSettings::default();
    assert_eq!(
        store.put_settings(&second, at(2), &event(2)).await.unwrap(),
        second
    );
    assert_eq!(store.get_settings().await.unwrap(), Some(second));

    let events = audit_events_of(&db, "self-service").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].2,
        Some(serde_json::json!({"from": "configuration"})),
        "no stored settings: the caller's before"
    );
    assert_eq!(
        events[1].2,
        Some(serde_json::to_value(&first).unwrap()),
        "stored settings: read in the transaction"
    );
}

#[tokio::test]
async fn settings_stored_without_routes_or_a_key_cap_read_back_with_the_defaults() {
    let db = TestDb::new().await;
    let store = db.store();
    let admin = insert(
        &store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let event = AuditEvent::by(
        &admin_actor(admin.id),
        "settings.update",
        "settings",
        "self-service",
        at(1),
    );
    store
        .put_settings(&settings(), at(1), &event)
        .await
        .unwrap();
    // As the schema before quota_pools left the row.
    sql(
        &db,
        "UPDATE self_service_settings SET allowed_routes = NULL, max_live_keys_per_user = NULL",
    )
    .await
    .unwrap();

    let read = store.get_settings().await.unwrap().unwrap();

    assert_eq!(read.allowed_routes, InferenceRoutes::default());
    assert_eq!(read.max_live_keys_per_user, 20);
    assert_eq!(
        read,
        SelfServiceSettings {
            allowed_routes: InferenceRoutes::default(),
            max_live_keys_per_user: 20,
            ..settings()
        },
        "the other settings are kept"
    );
}

#[tokio::test]
async fn settings_constraints_refuse_what_the_domain_would() {
    let db = TestDb::new().await;
    let store = db.store();
    let admin = insert(
        &store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    store
        .put_settings(
            &settings(),
            at(1),
            &AuditEvent::by(
                &admin_actor(admin.id),
                "settings.update",
                "settings",
                "self-service",
                at(1),
            ),
        )
        .await
        .unwrap();
    assert_refused(
        &db,
        "INSERT INTO self_service_settings (id) VALUES (true)",
        UniqueViolation,
        "self_service_settings_pkey",
    )
    .await;
    assert_refused(
        &db,
        "INSERT INTO self_service_settings (id) VALUES (false)",
        CheckViolation,
        "self_service_settings_single_row",
    )
    .await;
    for (set, constraint) in [
        (
            "subscription_max_budget = -1",
            "self_service_settings_budgets_not_negative",
        ),
        (
            "subscription_budget_duration = '1y'",
            "self_service_settings_budget_durations_valid",
        ),
        (
            "key_default_max_budget = NULL, key_default_budget_duration = '1d'",
            "self_service_settings_budget_durations_need_budget",
        ),
        (
            "subscription_rpm_limit = 0",
            "self_service_settings_rates_positive",
        ),
        (
            "key_default_rpm_limit = 101",
            "self_service_settings_key_defaults_within_maximums",
        ),
        (
            "key_default_lifetime_days = 0",
            "self_service_settings_lifetimes_in_range",
        ),
        (
            "key_default_lifetime_days = 366",
            "self_service_settings_default_lifetime_within_maximum",
        ),
        (
            "allowed_routes = '{}'",
            "self_service_settings_allowed_routes_not_empty",
        ),
        (
            "max_live_keys_per_user = 0",
            "self_service_settings_max_live_keys_in_range",
        ),
        (
            "max_live_keys_per_user = 1001",
            "self_service_settings_max_live_keys_in_range",
        ),
    ] {
        assert_refused(
            &db,
            &format!("UPDATE self_service_settings SET {set}"),
            CheckViolation,
            constraint,
        )
        .await;
    }
}

#[tokio::test]
async fn cached_settings_are_read_once_per_ttl_and_saving_through_the_cache_applies_at_once() {
    let db = TestDb::new().await;
    let store = db.store();
    let admin = insert(
        &store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let cached = CachedSettings::new(store.clone(), Duration::from_secs(3600));
    assert_eq!(cached.get_settings().await.unwrap(), None);
    let event = AuditEvent::by(
        &admin_actor(admin.id),
        "settings.update",
        "settings",
        "self-service",
        at(1),
    );
    // Saved behind the cache's back (another replica): not seen until the entry expires.
    store
        .put_settings(&settings(), at(1), &event)
        .await
        .unwrap();
    assert_eq!(cached.get_settings().await.unwrap(), None);
    // Saved through it: seen at once.
    let mine = SelfServiceSettings {
        key_max_lifetime_days: Some(7),
        ..SelfServiceSettings::default()
    };
    cached.put_settings(&mine, at(2), &event).await.unwrap();
    assert_eq!(cached.get_settings().await.unwrap(), Some(mine.clone()));
    let short = CachedSettings::new(store.clone(), Duration::from_millis(1));
    assert_eq!(short.get_settings().await.unwrap(), Some(mine));
    store
        .put_settings(&settings(), at(3), &event)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        short.get_settings().await.unwrap(),
        Some(settings()),
        "expired: read again"
    );
}

#[tokio::test]
async fn subscriptions_are_listed_by_user_and_status_and_paged() {
    let w = world().await;
    let claude = insert_model(&w.store, "anthropic/claude").await;
    let second = subscribe(&w.store, w.user.id, &claude).await;
    let bob = insert_user(&w.store, "bob").await;
    subscribe(&w.store, bob.id, &w.model).await;
    let alices = w
        .store
        .list_all_subscriptions(&SubscriptionQuery {
            user_id: Some(w.user.id),
            status: Some(SubscriptionStatus::Active),
            limit: 1,
            ..SubscriptionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0].subscription.id, second.id, "newest first");
    let next = w
        .store
        .list_all_subscriptions(&SubscriptionQuery {
            user_id: Some(w.user.id),
            after: Some(second.id),
            limit: 10,
            ..SubscriptionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].subscription.id, w.subscription.id);
    assert_eq!(next[0].owner, "alice");
}

#[tokio::test]
async fn suspending_queues_a_job_per_live_key_but_never_the_last_active_admin() {
    let w = world().await;
    let root = insert(
        &w.store,
        "root",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let key = new_key(w.user.id, "live", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    let by = |target: UserId| {
        AuditEvent::by(&admin_actor(root.id), "user.suspend", "user", target, at(5))
    };

    let suspended = w
        .store
        .suspend_user(w.user.id, at(5), &by(w.user.id))
        .await
        .unwrap();
    assert_eq!(suspended.status, UserStatus::Suspended);
    assert_eq!(pending_jobs_of(&w.db, key.id).await, [at(5)]);
    assert_eq!(
        audit_actions(&w.db, w.user.id).await,
        ["user.create", "user.suspend"]
    );

    assert_eq!(
        w.store.suspend_user(root.id, at(6), &by(root.id)).await,
        Err(StoreError::Conflict(ConflictKind::LastActiveAdmin))
    );
    assert_eq!(
        w.store.get_user(root.id).await.unwrap().unwrap().status,
        UserStatus::Active
    );
    assert_eq!(
        w.store
            .suspend_user(UserId::new(), at(6), &by(root.id))
            .await,
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn demoting_one_admin_while_suspending_the_other_leaves_one_active_admin() {
    let db = TestDb::new().await;
    let store = db.store();
    let a = insert(
        &store,
        "a",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    let b = insert(
        &store,
        "b",
        vec![Role::User, Role::Admin],
        UserStatus::Active,
    )
    .await;
    for round in 0..5 {
        let demote = AuditEvent::by(&admin_actor(b.id), "user.roles", "user", a.id, at(round));
        let suspend = AuditEvent::by(&admin_actor(a.id), "user.suspend", "user", b.id, at(round));
        let (s1, s2) = (store.clone(), store.clone());
        let (r1, r2) = tokio::join!(
            async move {
                s1.change_roles(a.id, &[Role::User], at(round), &demote)
                    .await
            },
            async move { s2.suspend_user(b.id, at(round), &suspend).await },
        );
        assert_eq!(
            usize::from(r1.is_ok()) + usize::from(r2.is_ok()),
            1,
            "exactly one wins: {r1:?} {r2:?}"
        );
        let active_admins = store
            .search_users(&UserQuery {
                role: Some(Role::Admin),
                status: Some(UserStatus::Active),
                ..query(10)
            })
            .await
            .unwrap();
        assert_eq!(active_admins.len(), 1);
        // Both active admins again for the next round.
        let restore = AuditEvent::by(&admin_actor(a.id), "user.restore", "user", a.id, at(round));
        store
            .change_roles(a.id, &[Role::Admin], at(round), &restore)
            .await
            .unwrap();
        store
            .change_user_status(b.id, UserStatus::Active, at(round), &restore)
            .await
            .unwrap();
    }
}
