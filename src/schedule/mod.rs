//! The schedule: when the sync runs by itself. A cron expression in an explicit time zone (UTC by
//! default); its state lives in the database so any number of replicas agree: one run per slot (a unique
//! key on the slot), one active run at all (the sync lease), the database's clock as the time, a missed
//! slot caught up once within the catch-up window and older ones recorded as missed, runs whose owner died
//! or shut down resumed, pause and resume shared by all replicas.

use crate::domain::{RunStatus, Trigger};
use crate::store::{Store, StoreError};
use crate::sync::{ClaimError, Syncer};
use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const JOB_ID: &str = "hf_litert_sync";
pub const JOB_NAME: &str = "HuggingFace LiteRT Model Sync";
/// At most this many missed slots are recorded one by one after a long downtime.
const MAX_MISSED_RECORDS: usize = 1000;

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
    tz: chrono_tz::Tz,
}

impl Schedule {
    /// Parses a 5-field crontab expression (an optional leading seconds field is accepted too) and an
    /// IANA zone name; the error names the bad value.
    pub fn parse(expression: &str, timezone: &str) -> Result<Schedule, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| format!("invalid SYNC_SCHEDULE '{expression}': {e}"))?;
        let tz: chrono_tz::Tz = timezone.parse().map_err(|_| {
            format!("invalid SYNC_TIMEZONE '{timezone}': not an IANA time zone name")
        })?;
        Ok(Schedule {
            cron,
            expression: expression.trim().to_string(),
            tz,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> &str {
        self.tz.name()
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The latest slot at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The slots in `(after, until]`, oldest first, at most `cap` of the newest.
    pub fn slots_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        cap: usize,
    ) -> (Vec<DateTime<Utc>>, usize) {
        let mut slots = std::collections::VecDeque::new();
        let mut dropped = 0;
        let mut t = after;
        while let Some(next) = self.next_after(t) {
            if next > until {
                break;
            }
            if slots.len() == cap {
                slots.pop_front();
                dropped += 1;
            }
            slots.push_back(next);
            t = next;
        }
        (slots.into(), dropped)
    }
}

/// How the schedule behaves.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub schedule: Schedule,
    pub enabled: bool,
    pub on_startup: bool,
    /// A missed slot younger than this runs once after a restart; older ones are recorded as missed.
    pub catchup_window: Duration,
    /// How often the loop looks at the schedule's state at most.
    pub tick: Duration,
    /// Added to the database's clock (tests simulate a replica whose view of time is off).
    pub clock_offset: chrono::Duration,
}

/// One replica's scheduler loop.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    syncer: Syncer,
    config: ScheduleConfig,
}

/// What one look at the schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    Idle,
    Ran {
        run_id: uuid::Uuid,
        status: RunStatus,
    },
    Resumed {
        run_id: uuid::Uuid,
        status: RunStatus,
    },
    /// The slot's run is waiting for another active run to end.
    Waiting,
}

impl Scheduler {
    pub fn new(store: Store, syncer: Syncer, config: ScheduleConfig) -> Scheduler {
        Scheduler {
            store,
            syncer,
            config,
        }
    }

    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    pub async fn now(&self) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.store.db_now().await? + self.config.clock_offset)
    }

    /// Runs until `cancel`: the startup run when configured, then a look at the schedule every tick
    /// (sooner when a slot is due).
    pub async fn run(self, cancel: CancellationToken) {
        if !self.config.enabled {
            return;
        }
        tracing::info!(
            job = JOB_ID,
            schedule = self.config.schedule.expression(),
            timezone = self.config.schedule.timezone(),
            "scheduler started"
        );
        if self.config.on_startup {
            match self.syncer.claim(Trigger::Startup, None).await {
                Ok(claimed) => {
                    self.syncer.execute(claimed, cancel.child_token()).await;
                }
                Err(e) => tracing::info!(error = %e, "no startup sync"),
            }
        }
        while !cancel.is_cancelled() {
            let wait = match self.tick(&cancel).await {
                Ok(_) => self.until_next_look().await,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler tick failed");
                    self.config.tick
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("scheduler stopped");
    }

    async fn until_next_look(&self) -> Duration {
        let Ok(now) = self.now().await else {
            return self.config.tick;
        };
        let to_slot = self
            .config
            .schedule
            .next_after(now)
            .and_then(|n| (n - now).to_std().ok())
            .unwrap_or(self.config.tick);
        to_slot.min(self.config.tick).max(Duration::from_millis(10))
    }

    /// One look at the schedule: resume an orphaned run, record missed slots, run a due slot.
    pub async fn tick(&self, cancel: &CancellationToken) -> Result<TickOutcome, StoreError> {
        let now = self.now().await?;
        let (paused, since) = self.store.scheduler_state(JOB_ID, now).await?;
        if !paused {
            if let Some(outcome) = self.resume_orphan(cancel).await? {
                return Ok(outcome);
            }
        }
        let Some(due) = self.config.schedule.latest_at_or_before(now) else {
            return Ok(TickOutcome::Idle);
        };
        let handled = self
            .store
            .last_slot()
            .await?
            .map_or(since, |s| s.max(since));
        if due <= handled {
            return Ok(TickOutcome::Idle);
        }
        let (slots, dropped) = self
            .config
            .schedule
            .slots_between(handled, due, MAX_MISSED_RECORDS);
        let owner = &self.syncer.config().owner;
        if dropped > 0 {
            tracing::warn!(dropped, "more missed slots than are recorded one by one");
        }
        for slot in &slots[..slots.len().saturating_sub(1)] {
            let reason = if paused {
                "missed: the schedule was paused"
            } else {
                "missed: no run was possible at this slot (the service was down or another run was active)"
            };
            if self.store.record_missed(*slot, owner, reason).await? {
                tracing::warn!(slot = %slot, reason, "schedule slot missed");
            }
        }
        if paused {
            self.store
                .record_missed(due, owner, "missed: the schedule was paused")
                .await?;
            return Ok(TickOutcome::Idle);
        }
        let age = (now - due).to_std().unwrap_or_default();
        if age > self.config.catchup_window {
            self.store
                .record_missed(
                    due,
                    owner,
                    "missed: older than the catch-up window when the service came back",
                )
                .await?;
            return Ok(TickOutcome::Idle);
        }
        match self.syncer.claim(Trigger::Schedule, Some(due)).await {
            Ok(claimed) => {
                let run_id = claimed.id();
                if age > Duration::from_secs(60) {
                    tracing::info!(slot = %due, "catching up a missed slot");
                }
                let report = self.syncer.execute(claimed, cancel.child_token()).await;
                Ok(TickOutcome::Ran {
                    run_id,
                    status: report.status,
                })
            }
            Err(ClaimError::Busy { .. }) => Ok(TickOutcome::Waiting),
            Err(ClaimError::SlotTaken) => Ok(TickOutcome::Idle),
            Err(ClaimError::Store(e)) => Err(e),
        }
    }

    /// A run still marked running whose lease nobody holds, or whose owner held the liveness lock (it
    /// may have died; the claim finds out): its owner died or shut down. Resume it.
    async fn resume_orphan(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Option<TickOutcome>, StoreError> {
        let holder = self.store.lease_holder().await?;
        let Some(run_id) = holder
            .run_id
            .filter(|_| !holder.live || holder.owner_locked)
        else {
            return Ok(None);
        };
        let Some(run) = self.store.get_run(run_id).await? else {
            return Ok(None);
        };
        if run.status != RunStatus::Running {
            return Ok(None);
        }
        match self.syncer.claim_resume(run_id).await {
            Ok(claimed) => {
                let report = self.syncer.execute(claimed, cancel.child_token()).await;
                Ok(Some(TickOutcome::Resumed {
                    run_id,
                    status: report.status,
                }))
            }
            Err(ClaimError::Store(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The next slot, unless paused or disabled.
    pub async fn next_run_time(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = self.now().await?;
        let (paused, _) = self.store.scheduler_state(JOB_ID, now).await?;
        Ok((self.config.enabled && !paused)
            .then(|| self.config.schedule.next_after(now))
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn the_default_is_daily_at_two_utc() {
        let s = Schedule::parse("0 2 * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(utc(2026, 11, 27, 9, 0)),
            Some(utc(2026, 11, 28, 2, 0))
        );
        assert_eq!(
            s.next_after(utc(2026, 11, 27, 2, 0)),
            Some(utc(2026, 11, 28, 2, 0)),
            "strictly after"
        );
        assert_eq!(
            s.latest_at_or_before(utc(2026, 11, 27, 2, 0)),
            Some(utc(2026, 11, 27, 2, 0))
        );
        assert_eq!(
            s.latest_at_or_before(utc(2026, 11, 27, 1, 59)),
            Some(utc(2026, 11, 26, 2, 0))
        );
    }

    #[test]
    fn bad_expressions_and_zones_name_the_value() {
        let e = Schedule::parse("61 * * * *", "UTC").unwrap_err();
        assert!(e.contains("61 * * * *"), "{e}");
        let e = Schedule::parse("0 2 * * *", "Mars/Olympus").unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
        assert!(Schedule::parse("", "UTC").is_err());
    }

    /// Pinned DST behaviour in Europe/Berlin (spring forward 2026-03-29 02:00 → 03:00, fall back
    /// 2026-10-25 03:00 → 02:00) for a daily 02:30 job: on the spring day 02:30 does not exist and the
    /// job runs once at 03:00, the first instant after the gap; on the fall-back day 02:30 happens twice
    /// and the job runs once, at the first (summer time) 02:30. It never runs twice in a day nor skips one.
    #[test]
    fn dst_changes_in_a_non_utc_zone_are_pinned() {
        let s = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        // Spring forward: 02:30 does not exist on 2026-03-29.
        let before_spring = utc(2026, 3, 28, 12, 0);
        let next = s.next_after(before_spring).unwrap();
        let next_local = next.with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(next_local.format("%Y-%m-%d %H:%M").to_string(), SPRING_SLOT);
        // Fall back: 02:30 happens twice on 2026-10-25; the job runs once.
        let (slots, _) = s.slots_between(utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0), 10);
        let local: Vec<String> = slots
            .iter()
            .map(|t| {
                t.with_timezone(&chrono_tz::Europe::Berlin)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect();
        assert_eq!(local, FALL_SLOTS);
    }

    const SPRING_SLOT: &str = "2026-03-29 03:00";
    const FALL_SLOTS: &[&str] = &["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"];

    proptest! {
        #[test]
        fn the_next_slot_is_after_now_and_matches(
            minute in 0u32..60, hour in 0u32..24, offset_min in 0i64..(60 * 24 * 400),
            zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]),
        ) {
            let s = Schedule::parse(&format!("{minute} {hour} * * *"), zone).unwrap();
            let now = utc(2026, 1, 1, 0, 0) + chrono::Duration::minutes(offset_min);
            let next = s.next_after(now).unwrap();
            prop_assert!(next > now);
            // It matches — or its wall time does not exist that day (a spring-forward gap), and the
            // slot runs at the first instant after the gap, as `SPRING_SLOT` pins down.
            let local = next.with_timezone(&s.tz);
            let wall = local.date_naive().and_hms_opt(hour, minute, 0).unwrap();
            let in_gap = matches!(
                TimeZone::from_local_datetime(&s.tz, &wall),
                chrono::LocalResult::None
            );
            prop_assert!(s.cron.is_time_matching(&local).unwrap() || in_gap, "{local}");
            let prev = s.latest_at_or_before(now).unwrap();
            prop_assert!(prev <= now && prev < next);
            // Nothing matches strictly between the previous and the next slot.
            prop_assert_eq!(s.next_after(prev), Some(next));
        }
    }
}
