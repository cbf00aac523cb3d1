use crate::audit::AuditEvent;
use crate::catalog::ModelStore;
use crate::catalog::{ModelChanges, ModelUpdated, ReleasePending};
use crate::ids::ModelId;
use crate::runtime::Clock;
use crate::subscriptions::ApprovalStore;
use crate::users::Actor;
use crate::{Error, FieldError, StoreError};
use serde_json::Map;
use std::sync::Arc;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 4_000;

/// An administrator changes what keyport says and decides about a model (LiteLLM owns the rest): whether it
/// needs approval, whether it is hidden, its display name and description, and the default quota of new
/// subscriptions. Making a model no longer restricted approves its pending subscriptions in the same
/// transaction, each with a history row and an audit event. Administrators only.
pub struct UpdateModel {
    models: Arc<dyn ModelStore>,
    approvals: Arc<dyn ApprovalStore>,
    clock: Arc<dyn Clock>,
}

impl UpdateModel {
    pub fn new(
        models: Arc<dyn ModelStore>,
        approvals: Arc<dyn ApprovalStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            models,
            approvals,
            clock,
        }
    }

    pub async fn execute(
        &self,
        actor: &Actor,
        id: &str,
        mut changes: ModelChanges,
    ) -> Result<ModelUpdated, Error> {
        actor.require_admin("change models")?;
        let id = ModelId::parse(id).map_err(|_| Error::NotFound { entity: "model" })?;
        let mut errors = Vec::new();
        if let Some(name) = &mut changes.display_name {
            *name = name.trim().to_owned();
            let length = name.chars().count();
            if length == 0 || length > MAX_DISPLAY_NAME_LEN || name.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "display_name",
                    format!("1 to {MAX_DISPLAY_NAME_LEN} characters without control characters"),
                ));
            }
        }
        if let Some(description) = &mut changes.description {
            // An empty description is no description.
            *description = description
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            if description
                .as_ref()
                .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
            {
                errors.push(FieldError::new(
                    "description",
                    format!("at most {MAX_DESCRIPTION_LEN} characters"),
                ));
            }
        }
        if let Some(quota) = &changes.default_quota {
            if let Err(e) = quota.validate() {
                errors.extend(e.into_iter().map(|e| e.nested("default_quota")));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let model = self
            .models
            .get_model(&id)
            .await?
            .ok_or(Error::NotFound { entity: "model" })?;
        let (before, after) = changes.audit_values(&model);
        if after.as_object().is_none_or(Map::is_empty) {
            return Ok(ModelUpdated {
                model,
                approved: Vec::new(),
            });
        }
        let now = self.clock.now();
        let audit = AuditEvent::by(actor, "model.update", "model", id.as_str(), now)
            .with_before(before)
            .with_after(after);
        let release =
            (model.restricted && changes.restricted == Some(false)).then(|| ReleasePending {
                reason: format!("approved: model '{id}' no longer needs approval"),
                audit: AuditEvent::by(actor, "subscription.approve", "subscription", "", now),
            });
        self.approvals
            .update_model(&id, &changes, release, now, &audit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound { entity: "model" },
                other => other.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MockModelStore;
    use crate::fixtures::*;
    use crate::ids::SubscriptionId;
    use crate::limits::Limits;
    use crate::subscriptions::MockApprovalStore;
    use crate::users::Role;
    use serde_json::json;

    fn models(restricted: bool) -> MockModelStore {
        let mut models = MockModelStore::new();
        models.expect_get_model().returning(move |id| {
            Ok((id.as_str() == "secret-model").then(|| model("secret-model", restricted)))
        });
        models
    }

    #[tokio::test]
    async fn unrestricting_a_model_releases_its_pending_subscriptions_in_the_same_change() {
        let approved = vec![SubscriptionId::new(), SubscriptionId::new()];
        let answer = approved.clone();
        let mut approvals = MockApprovalStore::new();
        approvals
            .expect_update_model()
            .times(1)
            .withf(|id, changes, release, _, audit| {
                id.as_str() == "secret-model"
                    && changes.restricted == Some(false)
                    && release.as_ref().is_some_and(|r| {
                        r.audit.action == "subscription.approve"
                            && r.audit.actor == Some(alice().user_id)
                    })
                    && audit.before == Some(json!({"restricted": true}))
                    && audit.after == Some(json!({"restricted": false}))
            })
            .returning(move |_, _, _, _, _| {
                Ok(ModelUpdated {
                    model: model("secret-model", false),
                    approved: answer.clone(),
                })
            });
        let out = UpdateModel::new(Arc::new(models(true)), Arc::new(approvals), fixed_clock())
            .execute(
                &admin(),
                "secret-model",
                ModelChanges {
                    restricted: Some(false),
                    ..ModelChanges::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out.approved, approved);
        assert!(!out.model.restricted);
    }

    #[tokio::test]
    async fn restricting_releases_nothing_and_an_unchanged_model_is_not_written() {
        let mut approvals = MockApprovalStore::new();
        approvals
            .expect_update_model()
            .times(1)
            .withf(|_, _, release, _, audit| {
                release.is_none()
                    && audit.after == Some(json!({"restricted": true, "display_name": "Secret"}))
            })
            .returning(|_, _, _, _, _| {
                Ok(ModelUpdated {
                    model: model("secret-model", true),
                    approved: vec![],
                })
            });
        let uc = UpdateModel::new(Arc::new(models(false)), Arc::new(approvals), fixed_clock());
        uc.execute(
            &admin(),
            "secret-model",
            ModelChanges {
                restricted: Some(true),
                hidden: Some(false),
                display_name: Some(" Secret ".into()),
                ..ModelChanges::default()
            },
        )
        .await
        .unwrap();
        // Only unchanged values: nothing is written (the mock allows one call).
        let out = uc
            .execute(
                &admin(),
                "secret-model",
                ModelChanges {
                    hidden: Some(false),
                    ..ModelChanges::default()
                },
            )
            .await
            .unwrap();
        assert!(out.approved.is_empty());
    }

    #[tokio::test]
    async fn bad_values_are_named_an_unknown_model_is_not_found_and_auditors_cannot_change() {
        let mut approvals = MockApprovalStore::new();
        approvals.expect_update_model().never();
        let uc = UpdateModel::new(Arc::new(models(false)), Arc::new(approvals), fixed_clock());
        let err = uc
            .execute(
                &admin(),
                "secret-model",
                ModelChanges {
                    display_name: Some("  ".into()),
                    default_quota: Some(Limits {
                        rpm_limit: Some(0),
                        ..Limits::default()
                    }),
                    ..ModelChanges::default()
                },
            )
            .await
            .unwrap_err();
        let Error::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["display_name", "default_quota.rpm_limit"]);
        assert_eq!(
            uc.execute(&admin(), "nope", ModelChanges::default())
                .await
                .unwrap_err(),
            Error::NotFound { entity: "model" }
        );
        let mut auditor = bob();
        auditor.roles.push(Role::Auditor);
        assert!(matches!(
            uc.execute(&auditor, "secret-model", ModelChanges::default())
                .await
                .unwrap_err(),
            Error::Forbidden(_)
        ));
    }
}
