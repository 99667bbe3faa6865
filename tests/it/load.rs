//! Load while the sync writes: a real `serve` answers a bounded loopback load on `GET /models` during a
//! full sync (versions included), on both backends, without an error. The latencies are printed
//! (`cargo test load -- --nocapture`); RELIABILITY.md records them.

use crate::both_backends;
use crate::support::{post_sync, run_cli, Backend, Served, SimHandle, TestDb};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

both_backends!(reads_never_fail_while_a_sync_writes);

/// Concurrent readers; each sends its next request as soon as the last is answered.
const READERS: usize = 16;

async fn reads_never_fail_while_a_sync_writes(backend: Backend) {
    let sim = SimHandle::start(1_200, 100, 81).await;
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 5,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let admin = run_cli(&db, &["token", "create", "--username", "ops", "--admin"]);
    let served = Served::start(
        &db,
        &[
            ("RUST_LOG", "warn"),
            ("HF_ENDPOINT", &sim.url),
            ("SYNC_PULL_VERSIONS", "true"),
            // The sync answers when it ends, however slow a loaded CI machine makes it: this test is
            // about reads during a whole sync, not the manual sync's wait limit (api_sync tests that).
            ("POCKET_SYNC_WAIT_SECS", "600"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let sync = tokio::spawn(post_sync(served.base.clone(), admin));
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let (http, base) = (http.clone(), served.base.clone());
            let stop = stop.clone();
            tokio::spawn(async move {
                let urls = [
                    format!("{base}/models?limit=20"),
                    format!("{base}/models?limit=20&sort=downloads"),
                    format!("{base}/models?q=model&limit=20"),
                ];
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut n = i;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match http.get(&urls[n % urls.len()]).send().await {
                        Ok(res) if res.status().is_success() => {
                            let _ = res.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        Ok(res) => errors.push(format!("{} {}", res.status(), urls[n % 3])),
                        Err(e) => errors.push(e.to_string()),
                    }
                    n += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (status, body) = sync.await.unwrap();
    let sync_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for r in readers {
        let (l, e) = r.await.unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    served.stop().await;
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(report["created"].as_i64().unwrap() > 500, "{report}");
    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "{backend:?}: sync {:.1} s; {} reads during it, {:.0}/s, p50 {:?}, p99 {:?}, max {:?}, 0 errors",
        sync_time.as_secs_f64(),
        latencies.len(),
        latencies.len() as f64 / sync_time.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        latencies.last().unwrap()
    );
    assert!(latencies.len() > 100, "the load ran during the sync");
}
