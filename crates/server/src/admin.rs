//! `keyport admin …`: user and token management from the command line. Only the token goes to stdout, so
//! that scripts can capture it; everything else goes to stderr.

use crate::config::{AdminCommand, Common};
use crate::wiring::{OsSecrets, SystemClock, Wiring};
use keyport_domain::usecases::{CreateUser, CreateUserRequest, IssueAccessToken, SetUserStatus};
use keyport_domain::user::UserStatus;
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
    }
    Ok(())
}
