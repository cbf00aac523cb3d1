use crate::common::*;
use keyport_domain::catalog::{Availability, Model};
use keyport_domain::catalog::{CatalogChanges, ModelStore};
use keyport_domain::ids::ModelId;
use keyport_domain::limits::Limits;
use keyport_testkit::TestDb;
use rust_decimal::Decimal;
use std::str::FromStr;

#[tokio::test]
async fn a_new_catalog_model_is_inserted_with_its_id_as_display_name_and_no_quota() {
    let db = TestDb::new().await;
    let store = db.store();
    let entry = catalog_entry("azure/gpt-4o-mini");

    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![entry.clone()],
            vanished: vec![],
            synced_at: at(7),
        })
        .await
        .unwrap();

    assert_eq!(
        store.get_model(&entry.id).await.unwrap(),
        Some(Model {
            id: entry.id.clone(),
            provider: entry.provider.clone(),
            display_name: "azure/gpt-4o-mini".to_owned(),
            description: None,
            capabilities: entry.capabilities.clone(),
            context_window: entry.context_window,
            input_price_per_token: entry.input_price_per_token,
            output_price_per_token: entry.output_price_per_token,
            availability: Availability::Available,
            restricted: false,
            hidden: false,
            default_quota: Limits::UNLIMITED,
            last_synced_at: Some(at(7)),
        })
    );
}

#[tokio::test]
async fn an_unknown_model_is_none() {
    let db = TestDb::new().await;
    assert_eq!(
        db.store()
            .get_model(&ModelId::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_catalog_refresh_updates_litellm_fields_and_keeps_admin_edits() {
    let db = TestDb::new().await;
    let store = db.store();
    let id = insert_model(&store, "openai/gpt-4o").await;
    sql(
        &db,
        "UPDATE models SET display_name = 'GPT-4o', description = 'Fast', restricted = true, \
         hidden = true, default_max_budget = 25.5, default_budget_duration = '1mo', \
         default_tpm_limit = 5000, default_rpm_limit = 50 WHERE id = 'openai/gpt-4o'",
    )
    .await
    .unwrap();
    let mut refreshed = catalog_entry("openai/gpt-4o");
    refreshed.provider = Some("azure".to_owned());
    refreshed.capabilities = vec!["chat".to_owned(), "vision".to_owned()];
    refreshed.context_window = Some(1_000_000);
    refreshed.input_price_per_token = Some(Decimal::from_str("0.000000125").unwrap());
    refreshed.output_price_per_token = None;

    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![refreshed.clone()],
            vanished: vec![],
            synced_at: at(60),
        })
        .await
        .unwrap();

    let model = store.get_model(&id).await.unwrap().unwrap();
    assert_eq!(model.provider.as_deref(), Some("azure"));
    assert_eq!(model.capabilities, ["chat", "vision"]);
    assert_eq!(model.context_window, Some(1_000_000));
    assert_eq!(model.input_price_per_token, refreshed.input_price_per_token);
    assert_eq!(model.output_price_per_token, None);
    assert_eq!(model.last_synced_at, Some(at(60)));
    assert_eq!(model.display_name, "GPT-4o");
    assert_eq!(model.description.as_deref(), Some("Fast"));
    assert!(model.restricted && model.hidden);
    assert_eq!(model.default_quota, limits("25.5", "1mo", 5000, 50));
}

#[tokio::test]
async fn vanished_models_become_unavailable_and_come_back_when_listed_again() {
    let db = TestDb::new().await;
    let store = db.store();
    let kept = insert_model(&store, "a").await;
    let gone = insert_model(&store, "b").await;

    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![catalog_entry("a")],
            vanished: vec![gone.clone()],
            synced_at: at(10),
        })
        .await
        .unwrap();

    let models = store.list_models().await.unwrap();
    assert_eq!(models.len(), 2, "vanished models are kept");
    assert_eq!(models[0].id, kept);
    assert_eq!(models[0].availability, Availability::Available);
    assert_eq!(models[1].availability, Availability::Unavailable);
    assert_eq!(models[1].last_synced_at, Some(at(0)), "not seen since");

    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![catalog_entry("b")],
            vanished: vec![],
            synced_at: at(20),
        })
        .await
        .unwrap();
    assert_eq!(
        store.get_model(&gone).await.unwrap().unwrap().availability,
        Availability::Available
    );
}

#[tokio::test]
async fn models_are_listed_by_id() {
    let db = TestDb::new().await;
    let store = db.store();
    store
        .apply_catalog(&CatalogChanges {
            upserts: ["zeta", "alpha/x", "mid"].map(catalog_entry).to_vec(),
            vanished: vec![],
            synced_at: at(0),
        })
        .await
        .unwrap();
    let ids: Vec<_> = store
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(ids, ["alpha/x", "mid", "zeta"]);
}

#[tokio::test]
async fn an_entry_listed_twice_in_one_sync_is_applied_once_with_the_last_values() {
    let db = TestDb::new().await;
    let store = db.store();
    let first = catalog_entry("m");
    let mut second = catalog_entry("m");
    second.context_window = Some(42);

    store
        .apply_catalog(&CatalogChanges {
            upserts: vec![first, second],
            vanished: vec![],
            synced_at: at(0),
        })
        .await
        .unwrap();

    let models = store.list_models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].context_window, Some(42));
}

#[tokio::test]
async fn a_catalog_sync_that_fails_changes_nothing() {
    let db = TestDb::new().await;
    let store = db.store();
    let kept = insert_model(&store, "kept").await;
    let mut bad = catalog_entry("bad");
    bad.input_price_per_token = Some(Decimal::from(-1));

    let result = store
        .apply_catalog(&CatalogChanges {
            upserts: vec![catalog_entry("new"), bad],
            vanished: vec![kept.clone()],
            synced_at: at(5),
        })
        .await;

    assert!(result.is_err());
    let models = store.list_models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].availability, Availability::Available);
}
