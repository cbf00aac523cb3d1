//! The rules the schema itself enforces, broken on purpose with raw SQL.

use crate::common::*;
use diesel::result::DatabaseErrorKind::{CheckViolation, ForeignKeyViolation, UniqueViolation};
use keyport_domain::subscriptions::SubscriptionStatus;
use keyport_domain::subscriptions::SubscriptionStore;
use keyport_testkit::TestDb;

#[tokio::test]
async fn unknown_user_roles_and_statuses_are_refused() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    for (set, constraint) in [
        ("status = 'banned'", "users_status_known"),
        ("roles = '{user,root}'", "users_roles_known"),
        ("roles = ARRAY[NULL]::text[]", "users_roles_known"),
        ("issuer = 'https://idp'", "users_identity_complete"),
    ] {
        assert_refused(
            &db,
            &format!("UPDATE users SET {set} WHERE id = '{}'", alice.id),
            CheckViolation,
            constraint,
        )
        .await;
    }
}

#[tokio::test]
async fn an_oidc_identity_belongs_to_one_user() {
    let db = TestDb::new().await;
    let store = db.store();
    let alice = insert_user(&store, "alice").await;
    let bob = insert_user(&store, "bob").await;
    let set = "issuer = 'https://idp', subject = 'abc'";
    sql(
        &db,
        &format!("UPDATE users SET {set} WHERE id = '{}'", alice.id),
    )
    .await
    .unwrap();
    assert_refused(
        &db,
        &format!("UPDATE users SET {set} WHERE id = '{}'", bob.id),
        UniqueViolation,
        "users_issuer_subject",
    )
    .await;
}

#[tokio::test]
async fn unknown_subscription_key_sync_and_availability_states_are_refused() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let cases = [
        (format!("UPDATE subscriptions SET status = 'paused' WHERE id = '{}'", w.subscription.id), "subscriptions_status_known"),
        (format!("UPDATE api_keys SET status = 'blocked' WHERE id = '{}'", key.id), "api_keys_status_known"),
        (format!("UPDATE api_keys SET sync_state = 'dirty' WHERE id = '{}'", key.id), "api_keys_sync_state_known"),
        (format!("UPDATE api_keys SET blocked_at = now() WHERE id = '{}'", key.id), "api_keys_block_reason_iff_blocked"),
        (format!("UPDATE api_keys SET block_reason = 'why' WHERE id = '{}'", key.id), "api_keys_block_reason_iff_blocked"),
        ("UPDATE models SET availability = 'maybe'".to_owned(), "models_availability_known"),
        (
            format!("INSERT INTO subscription_status_history (subscription_id, to_status) VALUES ('{}', 'gone')", w.subscription.id),
            "subscription_status_history_to_known",
        ),
    ];
    for (statement, constraint) in cases {
        assert_refused(&w.db, &statement, CheckViolation, constraint).await;
    }
}

#[tokio::test]
async fn negative_money_is_refused_everywhere() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let cases = [
        (
            format!(
                "UPDATE subscriptions SET max_budget = -0.01 WHERE id = '{}'",
                w.subscription.id
            ),
            "subscriptions_max_budget_not_negative",
        ),
        (
            format!(
                "UPDATE api_keys SET max_budget = -1 WHERE id = '{}'",
                key.id
            ),
            "api_keys_max_budget_not_negative",
        ),
        (
            format!(
                "UPDATE api_keys SET spend = -1, spend_read_at = now() WHERE id = '{}'",
                key.id
            ),
            "api_keys_spend_not_negative",
        ),
        (
            "UPDATE models SET default_max_budget = -5".to_owned(),
            "models_default_max_budget_not_negative",
        ),
        (
            "UPDATE models SET input_price_per_token = -0.000001".to_owned(),
            "models_prices_not_negative",
        ),
    ];
    for (statement, constraint) in cases {
        assert_refused(&w.db, &statement, CheckViolation, constraint).await;
    }
}

#[tokio::test]
async fn limits_are_refused_when_the_domain_could_not_express_them() {
    let w = world().await;
    let id = w.subscription.id;
    let cases = [
        (
            "budget_duration = '1y'",
            "subscriptions_budget_duration_valid",
        ),
        (
            "budget_duration = '0d'",
            "subscriptions_budget_duration_valid",
        ),
        (
            "max_budget = NULL",
            "subscriptions_budget_duration_needs_budget",
        ),
        ("tpm_limit = 0", "subscriptions_rates_positive"),
        ("rpm_limit = -1", "subscriptions_rates_positive"),
    ];
    for (set, constraint) in cases {
        assert_refused(
            &w.db,
            &format!("UPDATE subscriptions SET {set} WHERE id = '{id}'"),
            CheckViolation,
            constraint,
        )
        .await;
    }
}

#[tokio::test]
async fn revoked_at_is_set_exactly_when_a_key_is_revoked() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    for set in ["status = 'revoked'", "revoked_at = now()"] {
        assert_refused(
            &w.db,
            &format!("UPDATE api_keys SET {set} WHERE id = '{}'", key.id),
            CheckViolation,
            "api_keys_revoked_at_iff_revoked",
        )
        .await;
    }
}

#[tokio::test]
async fn a_key_hash_must_be_lower_case_hex_sha256() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let upper = key.hash.as_str().to_uppercase();
    for bad in [
        upper.as_str(),
        "abc",
        "sk-kp-plaintext-must-never-be-stored",
    ] {
        assert_refused(
            &w.db,
            &format!(
                "UPDATE api_keys SET key_hash = '{bad}' WHERE id = '{}'",
                key.id
            ),
            CheckViolation,
            "api_keys_key_hash_hex",
        )
        .await;
    }
}

#[tokio::test]
async fn a_user_with_keys_cannot_be_deleted_until_the_keys_are_gone() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let delete_user = format!("DELETE FROM users WHERE id = '{}'", w.user.id);

    assert_refused(
        &w.db,
        &delete_user,
        ForeignKeyViolation,
        "api_keys_user_id_fkey",
    )
    .await;

    sql(
        &w.db,
        &format!("DELETE FROM api_keys WHERE id = '{}'", key.id),
    )
    .await
    .unwrap();
    assert_eq!(sql(&w.db, &delete_user).await.unwrap(), 1);
    assert_eq!(
        w.store.get_subscription(w.subscription.id).await.unwrap(),
        None,
        "a user's subscriptions go with the user"
    );
}

#[tokio::test]
async fn deleting_a_key_unbinds_it_but_a_bound_subscription_or_a_subscribed_model_cannot_be_deleted(
) {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let delete_subscription = format!(
        "DELETE FROM subscriptions WHERE id = '{}'",
        w.subscription.id
    );

    assert_refused(
        &w.db,
        &delete_subscription,
        ForeignKeyViolation,
        "api_key_subscriptions_subscription_fkey",
    )
    .await;
    assert_refused(
        &w.db,
        &format!("DELETE FROM models WHERE id = '{}'", w.model),
        ForeignKeyViolation,
        "subscriptions_model_id_fkey",
    )
    .await;

    sql(
        &w.db,
        &format!("DELETE FROM api_keys WHERE id = '{}'", key.id),
    )
    .await
    .unwrap();
    assert_eq!(w.store.count_live_keys(w.subscription.id).await.unwrap(), 0);
    assert_eq!(sql(&w.db, &delete_subscription).await.unwrap(), 1);
}

#[tokio::test]
async fn the_history_outlives_the_admin_who_acted_and_the_audit_log_is_append_only() {
    let w = world().await;
    let admin = insert_user(&w.store, "admin").await;
    let event = keyport_domain::audit::AuditEvent::by(
        &keyport_domain::users::Actor::user(admin.id),
        "subscription.suspend",
        "subscription",
        w.subscription.id,
        at(1),
    );
    w.store
        .change_subscription_status(
            w.subscription.id,
            SubscriptionStatus::Active,
            SubscriptionStatus::Suspended,
            None,
            None,
            at(1),
            &event,
        )
        .await
        .unwrap();

    sql(
        &w.db,
        &format!("DELETE FROM users WHERE id = '{}'", admin.id),
    )
    .await
    .unwrap();
    assert_eq!(
        sql(&w.db, "SELECT 1 FROM subscription_status_history WHERE actor IS NULL AND to_status = 'suspended'")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        sql(
            &w.db,
            &format!("SELECT 1 FROM audit_events WHERE actor = '{}'", admin.id)
        )
        .await
        .unwrap(),
        1,
        "the audit log keeps naming the deleted admin"
    );
    for statement in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
    ] {
        let error = sql(&w.db, statement).await.unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
}

#[tokio::test]
async fn retire_at_is_set_exactly_when_a_key_is_retiring() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    for set in ["status = 'retiring'", "retire_at = now()"] {
        assert_refused(
            &w.db,
            &format!("UPDATE api_keys SET {set} WHERE id = '{}'", key.id),
            CheckViolation,
            "api_keys_retire_at_iff_retiring",
        )
        .await;
    }
    make_retiring(&w.db, key.id, at(60)).await;
    assert_refused(
        &w.db,
        &format!(
            "UPDATE api_keys SET status = 'expired' WHERE id = '{}'",
            key.id
        ),
        CheckViolation,
        "api_keys_retire_at_iff_retiring",
    )
    .await;
}

#[tokio::test]
async fn a_key_may_be_lost_but_not_replaced_by_itself_or_an_unknown_key() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &key).await;
    sql(
        &w.db,
        &format!(
            "UPDATE api_keys SET status = 'lost' WHERE id = '{}'",
            key.id
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        keyport_domain::keys::ApiKeyStore::get_key(&w.store, key.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        keyport_domain::keys::ApiKeyStatus::Lost
    );
    assert_refused(
        &w.db,
        &format!(
            "UPDATE api_keys SET replaced_by = id WHERE id = '{}'",
            key.id
        ),
        CheckViolation,
        "api_keys_not_replaced_by_itself",
    )
    .await;
    assert_refused(
        &w.db,
        &format!(
            "UPDATE api_keys SET replaced_by = gen_random_uuid() WHERE id = '{}'",
            key.id
        ),
        ForeignKeyViolation,
        "api_keys_replaced_by_fkey",
    )
    .await;
}

#[tokio::test]
async fn a_key_has_at_most_one_pending_job_but_any_number_of_others() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let insert = |status: &str| {
        let locked_until = if status == "running" { "now()" } else { "NULL" };
        format!(
            "INSERT INTO jobs (kind, api_key_id, status, run_at, locked_until) \
             VALUES ('converge_key', '{}', '{status}', now(), {locked_until})",
            key.id
        )
    };
    for status in [
        "pending", "running", "running", "done", "done", "dead", "dead",
    ] {
        assert_eq!(sql(&w.db, &insert(status)).await.unwrap(), 1, "{status}");
    }
    assert_refused(
        &w.db,
        &insert("pending"),
        UniqueViolation,
        "jobs_one_pending_per_key",
    )
    .await;
}

#[tokio::test]
async fn unknown_job_kinds_and_statuses_negative_attempts_and_leases_outside_running_are_refused() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    let cases = [
        (
            "'rotate_key', '{key}', 'pending', 0, NULL",
            "jobs_kind_known",
        ),
        (
            "'converge_key', NULL, 'pending', 0, NULL",
            "jobs_converge_key_has_key",
        ),
        (
            "'converge_key', '{key}', 'paused', 0, NULL",
            "jobs_status_known",
        ),
        (
            "'converge_key', '{key}', 'pending', -1, NULL",
            "jobs_attempts_not_negative",
        ),
        (
            "'converge_key', '{key}', 'pending', 0, now()",
            "jobs_locked_until_iff_running",
        ),
        (
            "'converge_key', '{key}', 'running', 1, NULL",
            "jobs_locked_until_iff_running",
        ),
    ];
    for (values, constraint) in cases {
        assert_refused(
            &w.db,
            &format!(
                "INSERT INTO jobs (kind, api_key_id, status, attempts, locked_until, run_at) \
                 VALUES ({}, now())",
                values.replace("{key}", &key.id.to_string())
            ),
            CheckViolation,
            constraint,
        )
        .await;
    }
}

#[tokio::test]
async fn a_keys_jobs_go_with_it_and_its_successor_going_clears_replaced_by() {
    let w = world().await;
    let old = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_active_key(&w.store, &old).await;
    let new = new_key(w.user.id, "next", &[w.subscription.id]);
    insert_key(&w.store, &new).await;
    keyport_domain::keys::ApiKeyStore::complete_rotation(
        &w.store,
        new.id,
        old.id,
        at(60),
        at(10),
        &audit("api_key.rotate", "api_key", old.id),
    )
    .await
    .unwrap();
    keyport_domain::jobs::JobStore::enqueue_converge(&w.store, new.id, at(10))
        .await
        .unwrap();

    sql(
        &w.db,
        &format!("DELETE FROM api_keys WHERE id = '{}'", new.id),
    )
    .await
    .unwrap();

    assert!(jobs_of(&w.db, new.id).await.is_empty());
    assert_eq!(jobs_of(&w.db, old.id).await.len(), 1);
    let old = keyport_domain::keys::ApiKeyStore::get_key(&w.store, old.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.replaced_by, None);
}

#[tokio::test]
async fn a_budget_reset_is_only_known_with_a_spend_reading() {
    let w = world().await;
    let key = new_key(w.user.id, "ci", &[w.subscription.id]);
    insert_key(&w.store, &key).await;
    assert_refused(
        &w.db,
        &format!(
            "UPDATE api_keys SET budget_reset_at = now() WHERE id = '{}'",
            key.id
        ),
        CheckViolation,
        "api_keys_budget_reset_read_with_spend",
    )
    .await;
    sql(
        &w.db,
        &format!(
            "UPDATE api_keys SET spend = 0, spend_read_at = now(), budget_reset_at = now() WHERE id = '{}'",
            key.id
        ),
    )
    .await
    .unwrap();
}
