use crate::common::*;
use chrono::{DateTime, TimeDelta, Utc};
use keyport_domain::audit::AuditEvent;
use keyport_domain::identity::{LoginState, Session, SessionOrigin, SessionStore};
use keyport_domain::secret::SecretKind;
use keyport_domain::testing::seeded_secret;
use keyport_domain::users::User;
use keyport_postgres::PgStore;
use keyport_testkit::TestDb;

fn session(user: &User, seed: u8, now: DateTime<Utc>) -> Session {
    Session {
        hash: seeded_secret(SecretKind::Session, seed).hash(),
        user_id: user.id,
        origin: SessionOrigin::Development,
        created_at: now,
        last_seen_at: now,
        expires_at: now + TimeDelta::hours(12),
        client_addr: Some("127.0.0.1".into()),
        user_agent: None,
        id_token_hint: None,
    }
}

async fn store_with_user() -> (TestDb, PgStore, User) {
    let db = TestDb::new().await;
    let store = db.store();
    let user = insert_user(&store, "alice").await;
    (db, store, user)
}

fn audit(now: DateTime<Utc>) -> AuditEvent {
    AuditEvent::system("session.start", "session", "test", now)
}

#[tokio::test]
async fn a_session_lives_until_idle_absolute_or_ended() {
    let (_db, store, user) = store_with_user().await;
    let now = at(0);
    let idle = TimeDelta::minutes(30);
    let s = session(&user, 1, now);
    store.insert_session(&s, &audit(now)).await.unwrap();

    let (found, who) = store
        .find_live_session(&s.hash, now + TimeDelta::minutes(5), idle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.id, user.id);
    // The use five minutes in is recorded, so the idle clock restarts from there.
    assert_eq!(found.last_seen_at, now + TimeDelta::minutes(5));
    assert!(store
        .find_live_session(&s.hash, now + TimeDelta::minutes(34), idle)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .find_live_session(&s.hash, now + TimeDelta::minutes(34) + idle, idle)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_live_session(&s.hash, now + TimeDelta::hours(13), TimeDelta::days(2))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_live_session(&seeded_secret(SecretKind::Session, 2).hash(), now, idle)
        .await
        .unwrap()
        .is_none());

    let ended = store.end_session(&s.hash, now, &audit(now)).await.unwrap();
    assert_eq!(ended.map(|e| e.hash), Some(s.hash.clone()));
    assert!(store
        .find_live_session(&s.hash, now, idle)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .end_session(&s.hash, now, &audit(now))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_users_sessions_end_together_and_expired_ones_are_purged() {
    let (_db, store, user) = store_with_user().await;
    let now = at(0);
    let idle = TimeDelta::minutes(30);
    for seed in 1..=3 {
        store
            .insert_session(&session(&user, seed, now), &audit(now))
            .await
            .unwrap();
    }
    assert_eq!(store.end_user_sessions(user.id, now).await.unwrap(), 3);
    assert_eq!(store.end_user_sessions(user.id, now).await.unwrap(), 0);
    store
        .insert_session(&session(&user, 4, now), &audit(now))
        .await
        .unwrap();
    // Three ended sessions go; the live one stays.
    assert_eq!(store.purge_expired(now, idle).await.unwrap(), 3);
    assert!(store
        .find_live_session(&seeded_secret(SecretKind::Session, 4).hash(), now, idle)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_login_state_is_taken_once_and_not_after_it_expired() {
    let (_db, store, _user) = store_with_user().await;
    let now = at(0);
    let state = |seed: u8, expires_at| LoginState {
        state_hash: seeded_secret(SecretKind::LoginState, seed).hash(),
        browser_hash: seeded_secret(SecretKind::LoginBinding, seed).hash(),
        nonce: "n".into(),
        pkce_verifier: "v".repeat(43),
        return_to: "/keys".into(),
        created_at: now,
        expires_at,
    };
    let live = state(1, now + TimeDelta::minutes(10));
    store.insert_login_state(&live).await.unwrap();
    let (a, b) = tokio::join!(
        store.take_login_state(&live.state_hash, now),
        store.take_login_state(&live.state_hash, now)
    );
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    // Whole, the browser binding's hash included.
    assert_eq!(taken, vec![live.clone()]);

    let old = state(2, now - TimeDelta::seconds(1));
    store.insert_login_state(&old).await.unwrap();
    assert_eq!(
        store.take_login_state(&old.state_hash, now).await.unwrap(),
        None
    );

    let mut escaping = state(3, now + TimeDelta::minutes(10));
    escaping.return_to = "//evil.example".into();
    assert!(store.insert_login_state(&escaping).await.is_err());
}
