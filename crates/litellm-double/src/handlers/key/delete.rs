//! `POST /key/delete` (docs/litellm-contract.md#deleting-keys): by keys or aliases; deleted rows move to the
//! archive.

use crate::auth::{self, Caller, ADMIN_USER_ID};
use crate::errors::{DetailItem, Failure};
use crate::hashing::hash_if_needed;
use crate::state::{now_micros, DeletedKeyRecord, Shared};
use crate::validate::{self, as_str_list, read, Kind};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

pub async fn handle(
    req: HttpRequest,
    body: Bytes,
    shared: Data<Shared>,
) -> Result<HttpResponse, Failure> {
    let caller = auth::authorize(&req, &shared)?;
    let map = validate::object_body(&body)?;
    validate::check(
        &map,
        &[("keys", Kind::StrList), ("key_aliases", Kind::StrList)],
    )?;
    let keys = read(&map, "keys", as_str_list).value().unwrap_or_default();
    let aliases = read(&map, "key_aliases", as_str_list)
        .value()
        .unwrap_or_default();
    if keys.is_empty() && aliases.is_empty() {
        return Err(Failure::validation(vec![DetailItem::model_value_error(
            "At least one of 'keys' or 'key_aliases' must be provided.",
        )]));
    }
    let changed_by = auth::changed_by(&req);
    let mut store = shared.store();
    let hashes: Vec<String> = if keys.is_empty() {
        store
            .keys
            .values()
            .filter(|k| k.alias.as_ref().is_some_and(|a| aliases.contains(a)))
            .map(|k| k.hash.clone())
            .collect()
    } else {
        keys.iter()
            .map(|k| hash_if_needed(k))
            .filter(|h| store.keys.contains_key(h))
            .collect()
    };
    if hashes.is_empty() {
        return Err(Failure::handled(404, "No keys found"));
    }
    // `can_modify_verification_token`: a non-admin deletes only keys it owns (a team admin also its team's
    // keys); one foreign key refuses the whole call.
    let deleter = match &caller {
        Caller::Master => ADMIN_USER_ID.to_owned(),
        Caller::Virtual(own) => {
            let me = own.user_id.as_deref();
            for hash in &hashes {
                let Some(key) = store.keys.get(hash) else {
                    continue;
                };
                let owner = me.is_some() && key.user_id.as_deref() == me;
                let team_admin = key
                    .team_id
                    .as_deref()
                    .and_then(|t| store.teams.get(t))
                    .is_some_and(|t| {
                        t.members_with_roles.iter().any(|m| {
                            me.is_some() && m.user_id.as_deref() == me && m.role == "admin"
                        })
                    });
                if !owner && !team_admin {
                    return Err(Failure::handled(
                        403,
                        "You are not authorized to delete this key",
                    ));
                }
            }
            own.user_id.clone().unwrap_or_default()
        }
    };
    let now = now_micros();
    for hash in hashes {
        if let Some(key) = store.keys.remove(&hash) {
            store.deleted.push(DeletedKeyRecord {
                key,
                deleted_at: now,
                deleted_by: Some(deleter.clone()),
                litellm_changed_by: changed_by.clone(),
            });
        }
    }
    let sent = if keys.is_empty() { aliases } else { keys };
    Ok(HttpResponse::Ok().json(json!({ "deleted_keys": sent })))
}
