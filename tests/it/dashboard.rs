//! The admin dashboard: embedded, locked to its own origin, and driven end to end in headless Chromium
//! (`tests/e2e/dashboard.mjs`, with Debian's chromium and playwright-core that `scripts/test` installs).

use crate::support::{has_model_file, run_cli, Backend, Served, SimHandle, TestApp, TestDb};
use axum::http::StatusCode;

fn text(res: &crate::support::TestResponse) -> &str {
    res.body.as_str().expect("a text body")
}

#[tokio::test]
async fn the_dashboard_is_embedded_and_allows_no_external_request() {
    let app = TestApp::new(Backend::Sqlite).await;
    let page = app.get("/admin", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(text(&page).contains("/admin/assets/dashboard.js"));
    for (path, kind) in [
        ("/admin/assets/dashboard.js", "text/javascript"),
        ("/admin/assets/dashboard.css", "text/css"),
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(res.header("content-type").unwrap().starts_with(kind));
        // The only absolute URL is the SVG namespace, an identifier that is never fetched.
        let absolute = text(&res)
            .replace("http://www.w3.org/2000/svg", "")
            .contains("://");
        assert!(!absolute, "{path} names an absolute URL");
    }
    assert!(!text(&page).contains("://"));
    assert_eq!(
        app.get("/admin/", None).await.status,
        StatusCode::PERMANENT_REDIRECT
    );
    // The page is public; what it shows is not: the API still wants an admin token.
    assert_eq!(
        app.get("/admin/scheduler/status", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_dashboard_drives_a_sync_and_browses_the_catalog_in_chromium() {
    let e2e = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    assert!(
        std::path::Path::new(e2e)
            .join("node_modules/playwright-core")
            .exists(),
        "playwright-core is missing: run ./scripts/test, which installs it (npm ci in tests/e2e) and chromium"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run ./scripts/test, which installs Debian's chromium"
    );
    let sim = SimHandle::start(120, 20, 91).await;
    // Real bytes behind every .tflite, so the sync inspects them and the model view shows tensors.
    sim.sim
        .serve_model_files(vec![crate::inspect::synthetic_model(&Default::default())]);
    // Slow enough for the page to see the run in progress.
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 60,
        ..Default::default()
    });
    let repos: Vec<String> = sim
        .litert_truth()
        .into_iter()
        .filter(has_model_file)
        .take(10)
        .map(|r| r.id)
        .collect();
    let db = TestDb::new(Backend::Sqlite).await;
    let admin = run_cli(&db, &["token", "create", "--username", "ops", "--admin"]);
    run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "dev",
            "--email",
            "dev@example.com",
        ],
    );
    let user = run_cli(&db, &["token", "create", "--username", "dev"]);
    let served = Served::start(
        &db,
        &[
            ("RUST_LOG", "warn"),
            ("HF_ENDPOINT", &sim.url),
            ("SYNC_PULL_VERSIONS", "true"),
        ],
    )
    .await;
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
    let out = tokio::process::Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(e2e)
        .env("BASE_URL", &served.base)
        .env("SIM_URL", &sim.url)
        .env("ADMIN_TOKEN", &admin)
        .env("USER_TOKEN", &user)
        .env("REPO_IDS", repos.join(","))
        .env("SCREENSHOT_DIR", shots)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("run node");
    let logs = served.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{}\nserver log:\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    // A mirrored .tflite shows its two tensors (the synthetic classifier: one input, one output); an
    // LLM bundle shows none.
    let findings: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    let tensors = findings["tensors"].as_u64().unwrap();
    assert!(
        tensors == 2
            || (tensors == 0 && findings["inspection"].as_str().unwrap().contains("task"))
            || findings["inspection"]
                .as_str()
                .unwrap()
                .contains("litertlm"),
        "{findings}"
    );
    for name in [
        "01-sign-in",
        "03-sync-overview",
        "06-model",
        "07-sync-320px",
    ] {
        assert!(
            std::path::Path::new(shots)
                .join(format!("{name}.png"))
                .exists(),
            "{name}.png"
        );
    }
}
