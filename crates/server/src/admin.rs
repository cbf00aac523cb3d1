//! `keyport admin …`: user and token management from the command line. Only the token goes to stdout, so
//! that scripts can capture it; everything else goes to stderr.

use crate::config::{AdminCommand, Common, KeyCommand, SubscriptionCommand};
use crate::wiring::{OsSecrets, SystemClock, Wiring};
use keyport_domain::ids::{ApiKeyId, SubscriptionId};
use keyport_domain::keys::{AdminKeys, RevokeKey, UpdateKey};
use keyport_domain::limits::{BudgetDuration, Limits, Money};
use keyport_domain::subscriptions::{ControlSubscription, SubscriptionAction};
use keyport_domain::users::UserStore;
use keyport_domain::users::{Actor, UserStatus};
use keyport_domain::users::{CreateUser, CreateUserRequest, IssueAccessToken, SetUserStatus};
use keyport_domain::Error;
use std::sync::Arc;

pub async fn run(common: &Common, command: AdminCommand) -> anyhow::Result<()> {
    let store = Wiring::connect_store(common).await?;
    let clock = Arc::new(SystemClock);
    let secrets = Arc::new(OsSecrets);
    let create_user = CreateUser::new(store.clone(), clock.clone(), secrets.clone());
    match command {
        AdminCommand::SuspendUser { name } => {
            let user = SetUserStatus::new(store.clone(), store.clone(), clock)
                .execute(None, &name, UserStatus::Suspended)
                .await?;
            eprintln!("suspended '{}': their tokens stop working; their keys are being blocked in LiteLLM", user.username);
        }
        AdminCommand::ReactivateUser { name } => {
            let user = SetUserStatus::new(store.clone(), store.clone(), clock)
                .execute(None, &name, UserStatus::Active)
                .await?;
            eprintln!("reactivated '{}': their tokens work again; their keys are being unblocked in LiteLLM", user.username);
        }
        AdminCommand::CreateUser { name, admin, email } => {
            let (user, issued) = create_user
                .execute(CreateUserRequest {
                    username: name,
                    email,
                    admin,
                })
                .await?;
            eprintln!(
                "created user '{}' ({}){}; their personal access token follows (shown once):",
                user.username,
                user.id,
                if admin { " with the admin role" } else { "" }
            );
            println!("{}", issued.secret.expose());
        }
        AdminCommand::CreateToken {
            name,
            create_user: create,
            admin,
            token_name,
        } => {
            if create {
                match create_user
                    .execute(CreateUserRequest {
                        username: name.clone(),
                        email: None,
                        admin,
                    })
                    .await
                {
                    Ok((user, issued)) => {
                        eprintln!("created user '{}' ({}); their personal access token follows (shown once):", user.username, user.id);
                        println!("{}", issued.secret.expose());
                        return Ok(());
                    }
                    Err(Error::Conflict { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            let issued = IssueAccessToken::new(store.clone(), store.clone(), clock, secrets)
                .execute(&name, &token_name)
                .await?;
            eprintln!("new personal access token for '{name}' (shown once):");
            println!("{}", issued.secret.expose());
        }
        AdminCommand::Subscription { action } => subscription(common, action).await?,
        AdminCommand::Key { action } => key(common, action).await?,
    }
    Ok(())
}

/// `keyport admin subscription …`: through the same use case as the API, as the named administrator.
async fn subscription(common: &Common, command: SubscriptionCommand) -> anyhow::Result<()> {
    let wiring = Wiring::connect(common).await?;
    let (id, by, action) = match command {
        SubscriptionCommand::Suspend { id, reason, by } => {
            (id, by, SubscriptionAction::Suspend { reason })
        }
        SubscriptionCommand::Reactivate { id, by } => (id, by, SubscriptionAction::Reactivate),
        SubscriptionCommand::Revoke { id, reason, by } => {
            (id, by, SubscriptionAction::Revoke { reason })
        }
        SubscriptionCommand::Quota {
            id,
            by,
            max_budget,
            budget_duration,
            tpm_limit,
            rpm_limit,
        } => {
            let mut errors = Vec::new();
            let max_budget = max_budget
                .map(Money::budget)
                .transpose()
                .map_err(|e| errors.push(e))
                .ok()
                .flatten();
            let budget_duration = budget_duration
                .as_deref()
                .map(BudgetDuration::parse)
                .transpose()
                .map_err(|e| errors.push(e))
                .ok()
                .flatten();
            if !errors.is_empty() {
                return Err(Error::Invalid(errors).into());
            }
            let quota = Limits {
                max_budget,
                budget_duration,
                tpm_limit,
                rpm_limit,
            };
            (id, by, SubscriptionAction::ChangeQuota(quota))
        }
    };
    let admin = wiring
        .store
        .find_user_by_username(&by)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user named '{by}'"))?;
    let actor = Actor {
        user_id: admin.id,
        roles: admin.roles.clone(),
        request_id: None,
        client_addr: None,
        client_request_id: None,
    };
    let control = ControlSubscription::new(
        wiring.store.clone(),
        wiring.converge_key(wiring.stored_settings()),
        wiring.converge_user(),
        wiring.clock.clone(),
    );
    let subscription = control.execute(&actor, SubscriptionId(id), action).await?;
    eprintln!(
        "subscription {} of user {} to {}: {} (quota: {})",
        subscription.id,
        subscription.user_id,
        subscription.model_id,
        subscription.status.as_str(),
        serde_json::to_string(&subscription.quota).unwrap_or_default(),
    );
    Ok(())
}

/// `keyport admin key …`: the administrators' key actions of the API (block, unblock, revoke; never a
/// secret), through the same use case, as the administrator named by `--by` (the use case checks the role).
async fn key(common: &Common, command: KeyCommand) -> anyhow::Result<()> {
    let wiring = Wiring::connect(common).await?;
    let settings = wiring.stored_settings();
    let converge = wiring.converge_key(settings.clone());
    let keys = AdminKeys::new(
        wiring.store.clone(),
        wiring.store.clone(),
        Arc::new(RevokeKey::new(
            wiring.store.clone(),
            converge.clone(),
            wiring.clock.clone(),
        )),
        Arc::new(UpdateKey::new(
            wiring.store.clone(),
            wiring.store.clone(),
            converge.clone(),
            wiring.clock.clone(),
            settings,
        )),
        converge,
        wiring.clock.clone(),
    );
    let by = match &command {
        KeyCommand::Block { by, .. }
        | KeyCommand::Unblock { by, .. }
        | KeyCommand::Revoke { by, .. } => by.clone(),
    };
    let admin = wiring
        .store
        .find_user_by_username(&by)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user named '{by}'"))?;
    let actor = Actor {
        roles: admin.roles.clone(),
        ..Actor::user(admin.id)
    };
    let (owned, what) = match command {
        KeyCommand::Block { id, reason, .. } => {
            (keys.block(&actor, ApiKeyId(id), &reason).await?, "blocked")
        }
        KeyCommand::Unblock { id, .. } => (keys.unblock(&actor, ApiKeyId(id)).await?, "unblocked"),
        KeyCommand::Revoke { id, reason, .. } => (
            keys.revoke(&actor, ApiKeyId(id), reason.as_deref()).await?,
            "revoked",
        ),
    };
    eprintln!(
        "key {} ({}…) of {}: {what}; status {}, LiteLLM {}",
        owned.key.id,
        owned.key.prefix,
        owned.owner,
        owned.key.status.as_str(),
        owned.key.sync_state.as_str(),
    );
    Ok(())
}
