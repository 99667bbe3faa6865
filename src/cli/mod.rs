//! What each subcommand does. Errors that are the user's (a bad value, a missing user) print one line
//! and exit with code 2; anything else exits with 1.

mod inspect;
mod ops;
mod progress;

use crate::auth::{generate_token, hash_token};
use crate::config::{Cli, Command, HubsimArgs, SyncCommandArgs, TokenCommand, UserCommand};
use crate::domain::records::NewUser;
use crate::store::{Store, StoreError, Workload};
use std::process::ExitCode;

/// A failure reported to the user with an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Other(_) => ExitCode::from(1),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Conflict { .. } => CliError::Usage(e.to_string()),
            other => CliError::Other(other.into()),
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let url = cli.global.database_url.clone();
    let connect_for = |workload| {
        let url = url.clone();
        async move {
            Store::connect_for(url.expose(), workload)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))
        }
    };
    let connect = || connect_for(Workload::Batch);
    match cli.command {
        Command::Serve(args) => {
            let addr = args.addr;
            let checked = crate::app::check(args).map_err(CliError::Usage)?;
            let store = connect_for(Workload::Serving).await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
            crate::app::run(store, checked, listener, crate::app::shutdown_signal()).await?;
        }
        Command::Hubsim(args) => run_hubsim(args).await?,
        Command::Inspect(args) => inspect::inspect_file(&args.file, args.task.as_deref()).await?,
        Command::Sync(args) => {
            let store = connect().await?;
            let result = run_sync(&store, args).await;
            store.close().await;
            result?;
        }
        Command::Migrate => {
            let store = connect().await?;
            store.close().await;
            eprintln!("migrations applied to {url}");
        }
        Command::User(command) => run_user(&connect().await?, command).await?,
        Command::Runs(command) => ops::run_runs(&connect().await?, command).await?,
        Command::Schedule(command) => ops::run_schedule(&connect().await?, command).await?,
        Command::Token(command) => run_token(&connect().await?, command).await?,
    }
    Ok(())
}

/// `user create` and `user promote`.
async fn run_user(store: &Store, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Create {
            username,
            email,
            developer,
            admin,
        } => {
            let user = store
                .create_user(&NewUser {
                    username: check_username(&username)?,
                    email: check_email(&email)?,
                    is_developer: developer,
                    is_admin: admin,
                })
                .await?;
            println!("{}", user.id);
        }
        UserCommand::Promote {
            username,
            developer,
            admin,
        } => {
            let user = store
                .get_user_by_username(&username)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no user named '{username}'")))?;
            let user = store
                .set_user_roles(user.id, developer.then_some(true), admin.then_some(true))
                .await?;
            eprintln!(
                "{}: developer={} admin={}",
                user.username, user.is_developer, user.is_admin
            );
        }
        UserCommand::List { json } => ops::list_users(store, json).await?,
        UserCommand::Demote {
            username,
            developer,
            admin,
        } => ops::demote(store, &username, developer, admin).await?,
    }
    Ok(())
}

/// `token create`, `token list` and `token revoke`.
async fn run_token(store: &Store, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create {
            username,
            name,
            expires_days,
            admin,
        } => {
            let user = match store.get_user_by_username(&username).await? {
                Some(user) if admin && !user.is_admin => {
                    store.set_user_roles(user.id, None, Some(true)).await?
                }
                Some(user) => user,
                None if admin => {
                    let username = check_username(&username)?;
                    store
                        .create_user(&NewUser {
                            email: format!("{username}@pocket-ai.local"),
                            username,
                            is_developer: true,
                            is_admin: true,
                        })
                        .await?
                }
                None => {
                    return Err(CliError::Usage(format!(
                        "no user named '{username}' (pass --admin to create an admin)"
                    )))
                }
            };
            let token = generate_token();
            let expires_at =
                expires_days.map(|d| crate::domain::now() + chrono::Duration::days(i64::from(d)));
            store
                .create_token(user.id, &name, &hash_token(&token), expires_at)
                .await?;
            println!("{token}");
        }
        TokenCommand::List { username } => {
            let user = store
                .get_user_by_username(&username)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no user named '{username}'")))?;
            let now = crate::domain::now();
            let when = |d: Option<chrono::DateTime<chrono::Utc>>| {
                d.map_or("-".to_string(), |d| d.to_rfc3339())
            };
            for t in store.list_tokens(user.id).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if !t.is_usable(now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{state}\tcreated {}\tlast used {}\texpires {}",
                    t.id,
                    t.name,
                    t.created_at.to_rfc3339(),
                    when(t.last_used_at),
                    when(t.expires_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let before =
                store
                    .revoke_token(id, crate::domain::now())
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound => CliError::Usage(format!("no token with id {id}")),
                        other => other.into(),
                    })?;
            match before {
                None => eprintln!("token {id} revoked"),
                Some(at) => eprintln!("token {id} was already revoked at {}", at.to_rfc3339()),
            }
        }
    }
    Ok(())
}

fn check_username(u: &str) -> Result<String, CliError> {
    let ok = (1..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then(|| u.to_string()).ok_or_else(|| {
        CliError::Usage("username must be 1 to 64 letters, digits, '-', '_' or '.'".into())
    })
}

fn check_email(e: &str) -> Result<String, CliError> {
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
    ok.then(|| e.to_string())
        .ok_or_else(|| CliError::Usage(format!("'{e}' is not an email address")))
}

async fn run_hubsim(args: HubsimArgs) -> Result<(), CliError> {
    use crate::hubsim::{population, Faults, Sim};
    let (repos, generator) = match &args.repos {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            let repos = population::read_jsonl(&text)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            (repos, population::Generator::new(args.seed))
        }
        None => population::generate(population::PopulationSpec {
            litert: args.litert,
            other: args.other,
            seed: args.seed,
        }),
    };
    let mut world = population::World::new(repos, generator);
    for _ in 0..args.epoch {
        world.mutate();
    }
    let faults = Faults {
        fail_every: args.fail_every,
        fail_status: Some(args.fail_status),
        latency_ms: args.latency_ms,
        malformed_entries: args.malformed_entries,
        truncate_every: args.truncate_every,
        rate_limit_quota: args.rate_limit_quota,
        rate_limit_window_secs: Some(args.rate_limit_window_secs),
        retry_after: args.retry_after,
        broken_objects_pct: args.broken_objects_pct,
        resolve_fails: false,
        commit_details_fail: false,
    };
    let count = world.repos.len();
    let sim = Sim::new(world, faults);
    if let Some(dir) = &args.model_files {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tflite"))
            .collect();
        files.sort();
        let bytes = files
            .iter()
            .map(std::fs::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::Usage(format!("cannot read a model file: {e}")))?;
        if bytes.is_empty() {
            return Err(CliError::Usage(format!(
                "no .tflite file in {}",
                dir.display()
            )));
        }
        let n = sim.serve_model_files(bytes);
        tracing::info!(
            files = n,
            "population .tflite files backed by real model bytes"
        );
    } else {
        let n = sim.serve_own_models();
        tracing::info!(
            files = n,
            "image classifiers' and segmenters' .tflite files backed by the simulator's own models"
        );
    }
    if args.prerender {
        let mut keys = vec!["_id", "id"];
        keys.extend_from_slice(crate::sync::LISTING_EXPAND);
        let n = sim.prerender(&keys);
        tracing::info!(entries = n, "listing entries rendered ahead");
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let addr = listener.local_addr().map_err(anyhow::Error::from)?;
    tracing::info!(%addr, repos = count, "Hub simulator serving; point HF_ENDPOINT at http://{addr}");
    crate::hubsim::serve(sim, listener, crate::app::shutdown_signal())
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// One sync with the service's configuration. Exit code 0 when the run completed (`success`, whatever it
/// skipped), 1 when it failed or another live run holds the sync (unless `--wait`).
async fn run_sync(store: &Store, args: SyncCommandArgs) -> Result<(), CliError> {
    use crate::domain::RunStatus;
    let config = args.sync.sync_config().map_err(CliError::Usage)?;
    let syncer = crate::app::mirror(store.clone(), &args.hub, config)
        .map_err(|e| CliError::Other(anyhow::anyhow!(e)))?
        .with_notifier(args.sync.notifier());
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        crate::app::shutdown_signal().await;
        on_signal.cancel();
    });
    // A live progress line on a terminal; never in JSON mode or into a pipe or a file.
    let show_progress = !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = claim_and_run(store, &syncer, args.wait, show_progress, cancel).await;
    signals.abort();
    syncer
        .flush_notifications(std::time::Duration::from_secs(30))
        .await;
    let report = match report {
        Ok(r) => r,
        Err(crate::sync::ClaimError::Busy { holder, .. }) => {
            return Err(CliError::Other(anyhow::anyhow!(
                "{}; `pocket-catalog sync --wait` waits for it to end, then runs",
                busy_text(store, holder.as_ref()).await
            )))
        }
        Err(e) => return Err(CliError::Other(e.into())),
    };
    if args.json {
        // The run record, as `GET /sync/runs/{id}` and `runs show --json` give it.
        let run = store
            .get_run(report.run_id)
            .await
            .map_err(|e| CliError::Other(e.into()))?
            .ok_or_else(|| {
                CliError::Other(anyhow::anyhow!("run {} is not recorded", report.run_id))
            })?;
        println!(
            "{}",
            ops::to_json(&crate::domain::runs::RunResponse::from(run))
        );
    } else {
        let c = report.counts;
        println!("{}", report.message);
        println!(
            "run {}: {} in {} ms — fetched {}, created {}, updated {}, unchanged {}, removed {}, renamed {}, restored {}, skipped {}, filtered {}, versions {} ({} model files deferred), {} Hub requests",
            report.run_id, report.status, report.duration_ms, c.fetched, c.created, c.updated, c.unchanged,
            c.removed, c.renamed, c.restored, c.skipped, c.filtered, c.versions_created,
            c.inspections_deferred, c.hub_requests
        );
    }
    if !args.json && report.status == RunStatus::Success {
        for warning in &report.warnings {
            println!("warning: {warning}");
        }
    }
    if matches!(report.status, RunStatus::Failed | RunStatus::Running) {
        // The reason is in the run's message, printed above (or in its JSON): not a third time.
        return Err(CliError::Other(anyhow::anyhow!(
            "the sync failed (run {}); `pocket-catalog runs show {}` shows it again",
            report.run_id,
            report.run_id
        )));
    }
    Ok(())
}

/// Claims and executes a manual run; with `wait`, a run held by another live owner is waited for (polled
/// every second, told once) instead of answered `Busy`.
async fn claim_and_run(
    store: &Store,
    syncer: &crate::sync::Syncer,
    wait: bool,
    show_progress: bool,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<crate::sync::RunReport, crate::sync::ClaimError> {
    use crate::sync::ClaimError;
    let mut told = false;
    loop {
        match syncer.claim(crate::domain::Trigger::Manual, None).await {
            Ok(claimed) => {
                let shown = show_progress
                    .then(|| progress::show(store.clone(), claimed.id(), syncer.live()));
                let report = syncer.execute(claimed, cancel).await;
                if let Some(p) = shown {
                    p.finish().await;
                }
                return Ok(report);
            }
            Err(ClaimError::Busy { holder, .. }) if wait => {
                if !told {
                    eprintln!(
                        "{}; waiting for it to end",
                        busy_text(store, holder.as_ref()).await
                    );
                    told = true;
                }
                tokio::select! {
                    _ = cancel.cancelled() => {
                        return Err(ClaimError::Busy { run_id: holder.as_ref().and_then(|h| h.run_id), holder });
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// "a sync is already running: run …, owner host … pid …, started …, its lease expires …".
async fn busy_text(store: &Store, holder: Option<&crate::domain::records::LeaseHolder>) -> String {
    let Some(holder) = holder else {
        return "a sync is already running".into();
    };
    let mut parts = Vec::new();
    if let Some(run_id) = holder.run_id {
        parts.push(format!("run {run_id}"));
        if let Ok(Some(run)) = store.get_run(run_id).await {
            parts.push(format!(
                "started {}",
                run.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
    }
    if let Some(owner) = holder.owner.as_deref() {
        parts.push(match crate::sync::owner_host_pid(owner) {
            Some((host, pid)) => format!("owner {owner} (host {host}, pid {pid})"),
            None => format!("owner {owner}"),
        });
    }
    let expires = chrono::Utc::now() + chrono::Duration::milliseconds(holder.remaining_ms);
    parts.push(format!(
        "its lease expires {} (in {} s){}",
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (holder.remaining_ms.max(0) + 999) / 1000,
        if holder.owner_locked {
            "; its process is alive"
        } else {
            ""
        }
    ));
    format!("a sync is already running: {}", parts.join(", "))
}
