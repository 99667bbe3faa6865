//! Prometheus metrics: names, the one process-wide recorder, and the helpers that record what an operator
//! alerts on — sync runs by trigger and status, their duration, the last success, skipped records and
//! runs that held their removals back, models by upstream
//! status, optional-auth requests served as anonymous, Hub requests / retries / 429s, model-file
//! inspections deferred, HTTP requests by route and status with latency, notifications.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const SYNC_RUNS: &str = "pocket_sync_runs_total";
pub const SYNC_DURATION: &str = "pocket_sync_run_duration_seconds";
pub const SYNC_LAST_SUCCESS: &str = "pocket_sync_last_success_timestamp_seconds";
pub const SYNC_SKIPPED: &str = "pocket_sync_skipped_records_total";
pub const SYNC_REMOVALS_HELD_BACK: &str = "pocket_sync_removals_held_back_total";
pub const MODELS: &str = "pocket_models";
pub const HUB_REQUESTS: &str = "pocket_hub_requests_total";
pub const HUB_RETRIES: &str = "pocket_hub_retries_total";
pub const HUB_RATE_LIMITED: &str = "pocket_hub_rate_limited_total";
/// Model files whose reading failed for a reason that may pass, their inspection deferred (issue #32).
pub const INSPECTIONS_DEFERRED: &str = "pocket_inspections_deferred_total";
pub const HTTP_REQUESTS: &str = "pocket_http_requests_total";
pub const HTTP_DURATION: &str = "pocket_http_request_duration_seconds";
pub const NOTIFICATIONS: &str = "pocket_notifications_total";
pub const WEBHOOK_EVENTS: &str = "pocket_hub_webhook_events_total";
pub const AUTH_DEGRADED: &str = "pocket_auth_degraded_to_anonymous_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (metrics are process-wide by nature); installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_DURATION.into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(SYNC_DURATION.into()),
                    &[0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0],
                )
            })
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a host program); ours then stays local.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn record_run(trigger: &str, status: &str, duration: Duration) {
    handle();
    metrics::counter!(SYNC_RUNS, "trigger" => trigger.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(SYNC_DURATION, "trigger" => trigger.to_string())
        .record(duration.as_secs_f64());
}

/// What a run skipped, and whether it held its removals back: never a status, always a number to watch.
pub fn record_run_outcome(skipped: i64, removals_held_back: bool) {
    handle();
    metrics::counter!(SYNC_SKIPPED).increment(skipped.max(0) as u64);
    metrics::counter!(SYNC_REMOVALS_HELD_BACK).increment(u64::from(removals_held_back));
}

pub fn record_http(method: &str, route: &str, status: u16, duration: Duration) {
    handle();
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method.to_string(), "route" => route.to_string())
        .record(duration.as_secs_f64());
}

pub fn hub_request() {
    handle();
    metrics::counter!(HUB_REQUESTS).increment(1);
}

pub fn hub_retry() {
    handle();
    metrics::counter!(HUB_RETRIES).increment(1);
}

pub fn inspections_deferred(n: u64) {
    handle();
    metrics::counter!(INSPECTIONS_DEFERRED).increment(n);
}

pub fn hub_rate_limited() {
    handle();
    metrics::counter!(HUB_RATE_LIMITED).increment(1);
}

pub fn notification(result: &'static str) {
    handle();
    metrics::counter!(NOTIFICATIONS, "result" => result).increment(1);
}

/// A request on an optional-auth route whose token could not be verified, served as anonymous.
pub fn auth_degraded() {
    handle();
    metrics::counter!(AUTH_DEGRADED).increment(1);
}

pub fn webhook_event(result: &'static str) {
    handle();
    metrics::counter!(WEBHOOK_EVENTS, "result" => result).increment(1);
}

/// Gauges read from the database at scrape time, so every replica reports the shared truth.
pub fn set_catalog_gauges(
    last_success: Option<chrono::DateTime<chrono::Utc>>,
    models: &[(String, String, i64)],
) {
    handle();
    if let Some(t) = last_success {
        metrics::gauge!(SYNC_LAST_SUCCESS).set(t.timestamp_millis() as f64 / 1000.0);
    }
    for (source, status, n) in models {
        metrics::gauge!(MODELS, "source" => source.clone(), "upstream_status" => status.clone())
            .set(*n as f64);
    }
}
