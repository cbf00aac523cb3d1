//! Per-test PostgreSQL databases. The migrations are applied once, to a template database named after
//! their fingerprint; each [`TestDb`] is a copy of it (`CREATE DATABASE … TEMPLATE …`, a file copy that
//! takes milliseconds) and is dropped with the value, so tests run in parallel, in as many processes as the
//! runner likes, and leave nothing behind.
//!
//! The server comes from `KEYPORT_TEST_DATABASE_URL`, else `DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`; the role needs `CREATEDB`.

use keyport_postgres::{PgStore, MIGRATIONS_FINGERPRINT};
use std::fmt;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};
use url::Url;

const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Serialises template creation across test processes (the value spells "kp-tmpl").
const TEMPLATE_LOCK: i64 = 0x006b_702d_746d_706c;
/// Connections in each test database's pool.
const POOL_SIZE: usize = 4;
/// Serialises creating the serve role across test processes (the value spells "kp-role").
const ROLE_LOCK: i64 = 0x006b_702d_726f_6c65;
/// The LOGIN role tests serve as: a member of `keyport_app` that owns nothing. Roles are cluster-wide, so it
/// has one fixed name, is created once (idempotently, under [`ROLE_LOCK`]) and is never dropped.
pub const SERVE_ROLE: &str = "keyport_test_serve";
/// Its password, for servers that do not trust local connections (a test server only).
const SERVE_PASSWORD: &str = "keyport-test-serve";
/// How often to retry a clone while another session still holds the template.
const CLONE_ATTEMPTS: u32 = 100;
const CLONE_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Why a test database could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDbError(String);

impl fmt::Display for TestDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestDbError {}

fn fail(context: &str, error: impl fmt::Display) -> TestDbError {
    TestDbError(format!("{context}: {error}"))
}

/// A fresh, migrated database of its own, dropped (connections and all) when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    server_url: String,
    store: PgStore,
}

impl TestDb {
    /// A fresh database with every migration applied.
    ///
    /// # Panics
    /// When the PostgreSQL server cannot be reached or the database cannot be created: a test without its
    /// database cannot run, and the message says why.
    #[expect(
        clippy::panic,
        reason = "test support: failing to set up must fail the test loudly"
    )]
    pub async fn new() -> Self {
        match Self::try_new().await {
            Ok(db) => db,
            Err(error) => panic!("cannot prepare a test database: {error}"),
        }
    }

    /// Like [`TestDb::new`], answering the failure instead of panicking.
    pub async fn try_new() -> Result<Self, TestDbError> {
        let server_url = server_url();
        let admin = admin_client(&server_url).await?;
        let template = ensure_template(&admin, &server_url).await?;
        let name = format!("keyport_test_{}", uuid::Uuid::new_v4().simple());
        clone_template(&admin, &template, &name).await?;
        drop(admin);
        let url = database_url(&server_url, &name)?;
        // From here on the value exists, so that its Drop removes the database whatever happens next.
        match keyport_postgres::connect(&url, POOL_SIZE).await {
            Ok(store) => Ok(Self {
                name,
                url,
                server_url,
                store,
            }),
            Err(error) => {
                drop_database(&server_url, &name);
                Err(fail("cannot connect to the test database", error))
            }
        }
    }

    /// The database's connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's URL as [`SERVE_ROLE`]: a member of `keyport_app`, which the migrations granted
    /// exactly what `keyport serve` needs (no ownership, only INSERT and SELECT on the audit tables). Creates
    /// the role when it is missing; fails when the server's role may not (no CREATEROLE) or `keyport_app`
    /// does not exist (the template was migrated by a role that could not create it).
    pub async fn serve_url(&self) -> Result<String, TestDbError> {
        ensure_serve_role(&self.server_url).await?;
        let mut url = Url::parse(&self.url).map_err(|e| fail("invalid database URL", e))?;
        url.set_username(SERVE_ROLE)
            .and_then(|()| url.set_password(Some(SERVE_PASSWORD)))
            .map_err(|()| TestDbError("cannot put the serve role into the database URL".into()))?;
        Ok(url.into())
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A store over the database (clones share one small pool).
    pub fn store(&self) -> PgStore {
        self.store.clone()
    }

    /// The store's connection pool, for tests that run their own SQL.
    pub fn pool(&self) -> &keyport_postgres::PgPool {
        self.store.pool()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.store.pool().close();
        drop_database(&self.server_url, &self.name);
    }
}

/// `KEYPORT_TEST_DATABASE_URL`, else `DATABASE_URL`, else the local server.
pub fn server_url() -> String {
    ["KEYPORT_TEST_DATABASE_URL", "DATABASE_URL"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
}

/// The name of the template that holds exactly the embedded migrations.
pub fn template_name() -> String {
    format!("keyport_tmpl_{MIGRATIONS_FINGERPRINT}")
}

fn database_url(server_url: &str, database: &str) -> Result<String, TestDbError> {
    let mut url = Url::parse(server_url).map_err(|e| fail("invalid database server URL", e))?;
    url.set_path(&format!("/{database}"));
    Ok(url.into())
}

/// Quotes an identifier for SQL (our names are plain, but never trust that).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn admin_client(server_url: &str) -> Result<Client, TestDbError> {
    let (client, connection) = tokio_postgres::connect(server_url, NoTls)
        .await
        .map_err(|e| fail(&format!("cannot connect to PostgreSQL at {server_url}"), e))?;
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here surfaces as a failed statement instead.
        let _ = connection.await;
    });
    Ok(client)
}

/// Creates [`SERVE_ROLE`] as a member of `keyport_app` unless it is one already.
async fn ensure_serve_role(server_url: &str) -> Result<(), TestDbError> {
    let admin = admin_client(server_url).await?;
    let statement = format!(
        "DO $$ BEGIN \
            PERFORM pg_advisory_xact_lock({ROLE_LOCK}); \
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyport_app') THEN \
                RAISE EXCEPTION 'role keyport_app does not exist: the migrations could not create it'; \
            END IF; \
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SERVE_ROLE}') THEN \
                CREATE ROLE {SERVE_ROLE} LOGIN PASSWORD '{SERVE_PASSWORD}'; \
            END IF; \
            IF NOT pg_has_role('{SERVE_ROLE}', 'keyport_app', 'MEMBER') THEN \
                GRANT keyport_app TO {SERVE_ROLE}; \
            END IF; \
        END $$"
    );
    admin
        .batch_execute(&statement)
        .await
        .map_err(|e| fail(&format!("cannot create the serve role {SERVE_ROLE}"), e))
}

async fn template_ready(admin: &Client, template: &str) -> Result<Option<bool>, TestDbError> {
    let row = admin
        .query_opt(
            "SELECT datistemplate FROM pg_database WHERE datname = $1",
            &[&template],
        )
        .await
        .map_err(|e| fail("cannot look up the template database", e))?;
    Ok(row.map(|r| r.get::<_, bool>(0)))
}

/// Makes sure the template for the current migrations exists, creating and migrating it if needed under an
/// advisory lock, so that concurrent test processes build it once. A template is marked `IS_TEMPLATE` only
/// once fully migrated; an unmarked one is the leftover of an interrupted run and is rebuilt.
async fn ensure_template(admin: &Client, server_url: &str) -> Result<String, TestDbError> {
    let template = template_name();
    if template_ready(admin, &template).await? == Some(true) {
        return Ok(template);
    }
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .map_err(|e| fail("cannot take the template lock", e))?;
    let built = build_template(admin, server_url, &template).await;
    // Dropping the session would release the lock too; the admin connection is still needed for the clone.
    let unlocked = admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .map_err(|e| fail("cannot release the template lock", e));
    built?;
    unlocked?;
    Ok(template)
}

async fn build_template(
    admin: &Client,
    server_url: &str,
    template: &str,
) -> Result<(), TestDbError> {
    match template_ready(admin, template).await? {
        Some(true) => return Ok(()),
        Some(false) => {
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    ident(template)
                ))
                .await
                .map_err(|e| fail("cannot drop an unfinished template", e))?;
        }
        None => {}
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(template)))
        .await
        .map_err(|e| fail("cannot create the template database", e))?;
    let url = database_url(server_url, template)?;
    keyport_postgres::run_migrations(&url)
        .await
        .map_err(|e| fail("cannot migrate the template database", e))?;
    // No connections from now on: nobody can change it, and clones never find it "being accessed".
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            ident(template)
        ))
        .await
        .map_err(|e| fail("cannot mark the template database", e))
}

/// Copies the template, retrying while another session is still connected to it (the migration session
/// may take a moment to end, and PostgreSQL refuses to copy a database in use).
async fn clone_template(admin: &Client, template: &str, name: &str) -> Result<(), TestDbError> {
    let statement = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        ident(name),
        ident(template)
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        match admin.batch_execute(&statement).await {
            Ok(()) => return Ok(()),
            Err(error)
                if attempt < CLONE_ATTEMPTS && error.code() == Some(&SqlState::OBJECT_IN_USE) =>
            {
                tokio::time::sleep(CLONE_RETRY_DELAY).await;
            }
            Err(error) => {
                return Err(fail(
                    &format!("cannot create {name} from {template}"),
                    error,
                ))
            }
        }
    }
}

/// Drops the database, terminating its connections. `Drop` is synchronous and may run inside (or outside)
/// a runtime, so this runs on a short-lived thread with a runtime of its own and waits for it. Failures
/// are reported on stderr: they must not turn a passing test into a panic while unwinding.
fn drop_database(server_url: &str, name: &str) {
    let server_url = server_url.to_owned();
    let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name));
    let name = name.to_owned();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail("cannot start a runtime", e))?;
        runtime.block_on(async {
            let admin = admin_client(&server_url).await?;
            admin
                .batch_execute(&statement)
                .await
                .map_err(|e| fail("cannot drop the database", e))
        })
    })
    .join();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            eprintln!("keyport-testkit: test database {name} was not dropped: {error}")
        }
        Err(_) => eprintln!("keyport-testkit: dropping test database {name} panicked"),
    }
}
