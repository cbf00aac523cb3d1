//! `GET /key/info?key=` (docs/litellm-contract.md#reading-a-key): by hash or raw key; deleted keys from the
//! archive on 1.108.7.

use super::{deleted_info, info};
use crate::auth::{self, Caller};
use crate::config::VersionProfile;
use crate::errors::{Failure, Param};
use crate::handlers::query_param;
use crate::hashing::hash_if_needed;
use crate::state::{now_micros, Shared};
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

fn not_found() -> Failure {
    Failure::proxy(
        404,
        "not_found_error",
        "Key not found in database",
        Param::Field("key".to_owned()),
    )
}

pub async fn handle(req: HttpRequest, shared: Data<Shared>) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let asked = query_param(&req, "key");
    let hash = match (&caller, &asked) {
        (_, Some(key)) => hash_if_needed(key),
        (Caller::Virtual(own), None) => own.hash.clone(),
        // The master key is not a row of the key table.
        (Caller::Master, None) => return Err(not_found()),
    };
    // `_can_user_query_key_info`: a non-admin reads its own key and the keys of its user.
    if let Caller::Virtual(own) = &caller {
        let owner = {
            let store = shared.store();
            store
                .keys
                .get(&hash)
                .map(|k| &k.user_id)
                .or_else(|| store.deleted_by_hash(&hash).map(|d| &d.key.user_id))
                .is_some_and(|owner| owner.is_some() && *owner == own.user_id)
        };
        if own.hash != hash && !owner {
            return Err(Failure::handled_plain(
                403,
                format!(
                    "You are not allowed to access this key's info. Your role={}",
                    auth::caller_role(&shared, own)
                ),
            ));
        }
    }
    let version = shared.config.version;
    let echoed = asked.unwrap_or_else(|| hash.clone());
    let mut store = shared.store();
    store.reset_due_budgets(now_micros());
    if let Some(key) = store.keys.get(&hash) {
        let body = json!({"key": echoed, "info": info(key, version, now_micros())});
        return Ok(HttpResponse::Ok().json(body));
    }
    match store.deleted_by_hash(&hash) {
        Some(deleted) if version == VersionProfile::V1_108 => {
            let body = json!({"key": echoed, "info": deleted_info(deleted, version)});
            Ok(HttpResponse::Ok().json(body))
        }
        _ => Err(not_found()),
    }
}
