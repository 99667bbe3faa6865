//! Schemathesis (pinned in the venv `scripts/contract-venv` makes) against the OpenAPI document a real
//! `serve` publishes, with an admin token and the simulator as the Hub: bounded by a fixed seed and a
//! maximum number of examples per operation. No 5xx, every response matches the schema, and every
//! protected operation refuses a request without valid credentials (`ignored_auth`).

use crate::support::{post_sync, run_cli, Backend, Served, SimHandle, TestDb};

/// Examples per operation; with 24 operations and schemathesis's phases, about 1,500 requests.
const MAX_EXAMPLES: &str = "30";
const SEED: &str = "1";
const WEBHOOK_SECRET: &str = "st-webhook-secret";

#[tokio::test]
async fn the_openapi_document_holds_under_schemathesis() {
    let schemathesis = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "SCHEMATHESIS is not set: run ./scripts/test, which creates the venv with schemathesis"
        )
    });
    let sim = SimHandle::start(60, 20, 71).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let admin = run_cli(&db, &["token", "create", "--username", "st", "--admin"]);
    let served = Served::start(
        &db,
        &[
            ("RUST_LOG", "warn"),
            ("HF_ENDPOINT", &sim.url),
            // Generated requests hammer the same client; the failed-auth throttle is tested elsewhere.
            ("POCKET_AUTH_FAILURES_PER_MINUTE", "100000"),
            // With a secret the webhook route is live (without one it answers 404).
            ("HF_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await;
    // A synced catalog, so that generated ids sometimes hit real rows.
    let (status, body) = post_sync(served.base.clone(), admin.clone()).await;
    assert_eq!(status, 200, "{body}");

    let report_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/schemathesis");
    let out = tokio::process::Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{}/openapi.json", served.base))
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--header", &format!("X-Webhook-Secret: {WEBHOOK_SECRET}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,ignored_auth",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--report", "junit", "--report-dir", report_dir])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs = served.stop().await;
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}\nserver log:\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("passed"),
        "schemathesis ran no test:\n{stdout}"
    );
    // The summary, for `cargo test schemathesis -- --nocapture` (RELIABILITY.md quotes it).
    println!("{stdout}");
}
