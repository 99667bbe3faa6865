//! The everyday operations on a local database, without the HTTP API or a token: the runs' history,
//! the schedule, the users.

use super::CliError;
use crate::config::{RunsCommand, ScheduleCommand};
use crate::domain::records::{RunResponse, SyncRun, User};
use crate::schedule::JOB_ID;
use crate::store::Store;
use chrono::Utc;

/// `runs list` and `runs show`.
pub(super) async fn run_runs(store: &Store, command: RunsCommand) -> Result<(), CliError> {
    match command {
        RunsCommand::List { limit, json } => {
            let runs = store.list_runs(limit, None).await?;
            if json {
                let records: Vec<RunResponse> = runs.into_iter().map(Into::into).collect();
                println!("{}", to_json(&records));
            } else {
                for run in runs {
                    println!("{}", run_line(&run));
                }
            }
        }
        RunsCommand::Show { id, json } => {
            let run = store
                .get_run(id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no run with id {id}")))?;
            if json {
                println!("{}", to_json(&RunResponse::from(run)));
            } else {
                print_run(&RunResponse::from(run));
            }
        }
    }
    Ok(())
}

pub(super) fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("records serialise")
}

/// A run on one line, tab-separated: id, trigger, status, start, duration, counts, message.
fn run_line(run: &SyncRun) -> String {
    let c = &run.counts;
    let duration = run
        .finished_at
        .map(|f| {
            format!(
                "{:.1} s",
                (f - run.started_at).num_milliseconds() as f64 / 1000.0
            )
        })
        .unwrap_or_else(|| "running".into());
    format!(
        "{}\t{}\t{}\t{}\t{duration}\tfetched {} created {} updated {} removed {} skipped {}\t{}",
        run.id,
        run.trigger.as_str(),
        run.status.as_str(),
        run.started_at.to_rfc3339(),
        c.fetched,
        c.created,
        c.updated,
        c.removed,
        c.skipped,
        run.message
    )
}

fn print_run(run: &RunResponse) {
    println!(
        "run {} ({}, {})",
        run.id,
        run.trigger.as_str(),
        run.status.as_str()
    );
    println!("owner: {}", run.owner);
    println!("started: {}", run.started_at.to_rfc3339());
    if let Some(f) = run.finished_at {
        println!(
            "finished: {} ({} ms)",
            f.to_rfc3339(),
            run.duration_ms.unwrap_or(0)
        );
    }
    let c = &run.counts;
    println!(
        "counts: fetched {}, created {}, updated {}, unchanged {}, removed {}, renamed {}, restored {}, skipped {}, filtered {}, versions {}",
        c.fetched, c.created, c.updated, c.unchanged, c.removed, c.renamed, c.restored, c.skipped,
        c.filtered, c.versions_created
    );
    println!("listing complete: {}", run.listing_complete);
    if run.removals_held_back {
        println!("removals held back: yes");
    }
    println!("message: {}", run.message);
    for w in &run.warnings {
        println!("warning: {w}");
    }
    if let Some(e) = &run.error {
        println!("error: {e}");
    }
}

/// `schedule status`, `schedule pause` and `schedule resume`.
pub(super) async fn run_schedule(store: &Store, command: ScheduleCommand) -> Result<(), CliError> {
    match command {
        ScheduleCommand::Pause => {
            store.set_paused(JOB_ID, true).await?;
            eprintln!("the schedule is paused on every replica (manual syncs still run)");
        }
        ScheduleCommand::Resume => {
            store.set_paused(JOB_ID, false).await?;
            eprintln!("the schedule is resumed");
        }
        ScheduleCommand::Status { json } => {
            let (paused, since) = store.scheduler_state(JOB_ID, Utc::now()).await?;
            let last_run: Option<RunResponse> = store
                .list_runs(1, None)
                .await?
                .into_iter()
                .next()
                .map(Into::into);
            let last_success_at = store.last_success_at().await?;
            let holder = store.lease_holder().await?;
            let active_run_id = holder.run_id.filter(|_| holder.live);
            if json {
                let status = serde_json::json!({
                    "job": JOB_ID, "paused": paused, "since": since, "active_run_id": active_run_id,
                    "last_run": last_run, "last_success_at": last_success_at,
                });
                println!("{}", to_json(&status));
            } else {
                println!(
                    "schedule {JOB_ID}: {} since {}",
                    if paused { "paused" } else { "active" },
                    since.to_rfc3339()
                );
                match active_run_id {
                    Some(id) => println!("running now: {id}"),
                    None => println!("running now: nothing"),
                }
                match last_run {
                    Some(r) => println!(
                        "last run: {} {} at {}: {}",
                        r.id,
                        r.status.as_str(),
                        r.started_at.to_rfc3339(),
                        r.message
                    ),
                    None => println!("last run: none"),
                }
                match last_success_at {
                    Some(t) => println!("last success: {}", t.to_rfc3339()),
                    None => println!("last success: none"),
                }
            }
        }
    }
    Ok(())
}

/// `user list`: every user, a line each (or a JSON array).
pub(super) async fn list_users(store: &Store, json: bool) -> Result<(), CliError> {
    let users = store.list_users().await?;
    if json {
        let shown: Vec<_> = users.iter().map(user_json).collect();
        println!("{}", to_json(&shown));
    } else {
        for u in users {
            println!(
                "{}\t{}\t{}\t{}",
                u.username,
                u.email,
                roles(&u),
                u.created_at.to_rfc3339()
            );
        }
    }
    Ok(())
}

/// `user demote`: takes the named roles away from `username`.
pub(super) async fn demote(
    store: &Store,
    username: &str,
    developer: bool,
    admin: bool,
) -> Result<(), CliError> {
    if !developer && !admin {
        return Err(CliError::Usage(
            "name a role to take away: --developer, --admin or both".into(),
        ));
    }
    let user = store
        .get_user_by_username(username)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no user named '{username}'")))?;
    let user = store
        .set_user_roles(user.id, developer.then_some(false), admin.then_some(false))
        .await?;
    eprintln!("{}: {}", user.username, roles(&user));
    Ok(())
}

fn roles(u: &User) -> String {
    match (u.is_admin, u.is_developer) {
        (true, true) => "admin, developer".into(),
        (true, false) => "admin".into(),
        (false, true) => "developer".into(),
        (false, false) => "no role".into(),
    }
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id, "username": u.username, "email": u.email, "is_developer": u.is_developer,
        "is_admin": u.is_admin, "created_at": u.created_at,
    })
}
