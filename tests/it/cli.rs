//! The real binary: commands, configuration errors, serving and graceful shutdown.

use crate::support::{Backend, TestDb};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pocket-catalog"));
    cmd.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    cmd
}

#[tokio::test]
async fn token_create_bootstraps_an_admin_and_prints_only_the_token() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = bin()
        .args([
            "--database-url",
            &db.url,
            "token",
            "create",
            "--username",
            "ops",
            "--admin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1);
    assert!(token.starts_with("pcat_") && token.len() >= 37, "{token}");
    let store = db.store().await;
    let user = store.get_user_by_username("ops").await.unwrap().unwrap();
    assert!(user.is_admin);
    let (_, owner) = store
        .find_token(&pocket_catalog::auth::hash_token(token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.id, user.id);

    let missing = bin()
        .args([
            "--database-url",
            &db.url,
            "token",
            "create",
            "--username",
            "ghost",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user named 'ghost'"));
    let created = bin()
        .args([
            "--database-url",
            &db.url,
            "user",
            "create",
            "--username",
            "dev",
            "--email",
            "dev@example.com",
            "--developer",
        ])
        .output()
        .unwrap();
    assert!(created.status.success());
    let dup = bin()
        .args([
            "--database-url",
            &db.url,
            "user",
            "create",
            "--username",
            "dev",
            "--email",
            "x@example.com",
        ])
        .output()
        .unwrap();
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("username already exists"));
}

#[test]
fn bad_configuration_is_one_line_and_exit_code_2() {
    for (env, value) in [
        ("DATABASE_URL", "mysql://nope"),
        ("POCKET_ADDR", "not-an-address"),
        ("POCKET_LOG_FORMAT", "xml"),
        ("POCKET_REQUEST_TIMEOUT_SECS", "0"),
        ("SYNC_SCHEDULE", "not a cron"),
        ("SYNC_TIMEZONE", "Mars/Olympus"),
        ("SYNC_CATCHUP_WINDOW", "soon"),
        ("SYNC_ENABLED", "perhaps"),
    ] {
        let out = bin().arg("serve").env(env, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{env}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error:"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains(value) || stderr.contains(env),
            "the error names the value: {stderr}"
        );
    }
}

#[test]
fn help_names_every_environment_variable() {
    let out = bin().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "POCKET_ADDR",
        "POCKET_LOG_FORMAT",
        "POCKET_CORS_ORIGINS",
    ] {
        assert!(help.contains(var), "{var} in serve --help");
    }
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // No DATABASE_URL: the default SQLite file is created in the working directory.
    let child = bin()
        .current_dir(dir.path())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("POCKET_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(res) = client.get(&url).send().await {
            ready = res.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the server became ready");
    let res = client
        .get(format!("http://127.0.0.1:{port}/models"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    assert!(dir.path().join("pocket-catalog.db").exists());
    unsafe_sigterm(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "graceful exit: {:?}", out.status);
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
    assert!(
        lines.iter().any(|l| l["span"]["request_id"].is_string()),
        "request ids reach the logs"
    );
}

fn unsafe_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn tokens_are_listed_and_revoked_from_the_command_line() {
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |args: &[&str]| {
        bin()
            .args(["--database-url", &db.url])
            .args(args)
            .output()
            .unwrap()
    };
    let created = run(&[
        "token",
        "create",
        "--username",
        "ops",
        "--admin",
        "--name",
        "laptop",
    ]);
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let listed = run(&["token", "list", "--username", "ops"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(text.contains("laptop") && text.contains("active"), "{text}");
    assert!(!text.contains(&token), "a secret is never shown again");
    let id = text.split('\t').next().unwrap().to_string();
    let revoked = run(&["token", "revoke", "--id", &id]);
    assert!(revoked.status.success());
    let said = String::from_utf8(revoked.stderr).unwrap();
    assert!(
        said.trim_end().ends_with(&format!("token {id} revoked")),
        "{said}"
    );
    let text = String::from_utf8(run(&["token", "list", "--username", "ops"]).stdout).unwrap();
    assert!(text.contains("revoked"), "{text}");
    // Revoking it again changes nothing, and says so.
    let again = run(&["token", "revoke", "--id", &id]);
    assert!(again.status.success());
    let said = String::from_utf8(again.stderr).unwrap();
    assert!(
        said.contains(&format!("token {id} was already revoked at ")),
        "{said}"
    );
    let store = db.store().await;
    let (t, _) = store
        .find_token(&pocket_catalog::auth::hash_token(&token))
        .await
        .unwrap()
        .unwrap();
    assert!(t.revoked_at.is_some());
    let missing = run(&["token", "revoke", "--id", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(missing.status.code(), Some(2));
}

/// `inspect` exits as documented (issue #35): 1 for a file it cannot open or that is not a model it
/// reads, 2 for a URL of a scheme it does not read — named as such, not as a missing file.
#[test]
fn inspect_exits_1_on_an_unreadable_file_and_names_an_unsupported_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("notes.tflite");
    std::fs::write(&not_a_model, b"these are not the bytes of a model").unwrap();
    let missing = dir.path().join("missing.tflite");
    for (file, code, said) in [
        (not_a_model.display().to_string(), 1, "notes.tflite: "),
        (missing.display().to_string(), 1, "cannot open "),
        (
            "ftp://example.com/model.tflite".to_string(),
            2,
            "the ftp scheme is not supported",
        ),
    ] {
        let out = bin().args(["inspect", &file]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{file}: {stderr}");
        assert!(stderr.contains(said), "{file}: {stderr}");
    }
}

/// The README's configuration table names every variable `serve` and `sync` read, and nothing else
/// (issue #35: `SYNC_FETCH_READMES` was missing).
#[test]
fn the_readmes_configuration_table_is_the_commands_variables() {
    use clap::CommandFactory;
    use std::collections::BTreeSet;
    let cli = pocket_catalog::config::Cli::command();
    let env_of = |cmd: &clap::Command| -> Vec<String> {
        // Hidden flags are the benchmarks' and the crash suite's, not an operator's.
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().to_string()))
            .collect()
    };
    let mut read: BTreeSet<String> = env_of(&cli).into_iter().collect();
    for name in ["serve", "sync"] {
        read.extend(env_of(cli.find_subcommand(name).unwrap()));
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    // The first cell of each row: one variable or several (`SYNC_INCLUDE`, `SYNC_EXCLUDE`); RUST_LOG
    // is read by the logging, not a flag.
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|v| v != "RUST_LOG")
        .collect();
    let missing: Vec<_> = read.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&read).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "missing from the README: {missing:?}; not read: {unknown:?}"
    );
}

/// The README's offline demo (issue #35): its simulator, started with the flags the README gives and no
/// other, and one `sync` as the README runs it, mirror versions that are verified, pending and missing
/// side by side — the image classifiers and segmenters backed by the simulator's own models, every other
/// file pseudo-random bytes that are no model, each with its reason. `sync --json` prints the run's record.
#[tokio::test]
async fn the_readmes_demo_mirrors_verified_pending_and_missing_versions() {
    let readme = include_str!("../../README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("./target/release/pocket-catalog hubsim "))
        .expect("the README's demo starts the simulator");
    let flags: Vec<&str> = line
        .trim_start_matches("./target/release/pocket-catalog hubsim ")
        .split('&')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(!flags.contains(&"--model-files"), "{line}");
    let mut sim = bin()
        .arg("hubsim")
        .args(&flags)
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its log is read to the end (a full pipe would stop it), the address it listens on passed on.
    let stderr = sim.stderr.take().unwrap();
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url: String = line[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                let _ = said.send(url);
            }
        }
    });
    let endpoint = heard
        .recv_timeout(Duration::from_secs(30))
        .expect("the simulator said where it listens");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let out = bin()
        .args(["--database-url", &url, "sync", "--json"])
        .env("HF_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    sim.kill().unwrap();
    sim.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "success", "{run}");
    assert!(
        run["counts"]["versions_created"].as_i64().unwrap() > 500,
        "{run}"
    );

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM model_versions GROUP BY status ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    let count = |s: &str| {
        by_status
            .iter()
            .find(|(status, _)| status == s)
            .map_or(0, |(_, n)| *n)
    };
    // The README's demo paragraph says what this sync gives; the population is deterministic.
    let (verified, pending, missing) = (count("verified"), count("pending"), count("missing"));
    let said = format!("{verified} verified, {pending} pending and {missing} missing");
    assert!(
        readme.replace('\n', " ").contains(&said),
        "the README's demo does not say {said}"
    );
    for n in [verified, pending, missing] {
        assert!(n >= 20, "{by_status:?}");
    }
    // Every missing version says why: a file that is no model, the app's limits, a gated repo.
    let reasons: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT COALESCE(unsupported_reason, '') FROM model_versions WHERE status = 'missing'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (why,) in &reasons {
        assert!(
            why.contains("not a TFLite model: its FlatBuffers identifier is ")
                || why.contains("not a .litertlm bundle")
                || why.contains("no end-of-central-directory record")
                || why.starts_with("the repo is gated")
                || why.starts_with("uint8 classification scores")
                || why.starts_with("a one-channel mask"),
            "{why}"
        );
    }
    // The verified ones are the simulator's own models, inspected from their bytes.
    let verified: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT json_extract(inspection, '$.pin.etag') FROM model_versions WHERE status = 'verified'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let own: Vec<String> = pocket_catalog::hubsim::OWN_MODELS
        .iter()
        .map(|m| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(m.bytes))
        })
        .collect();
    assert!(!verified.is_empty());
    for (sha,) in &verified {
        assert!(own.contains(sha), "{sha}");
    }
    pool.close().await;
}

/// `sync` on a terminal draws a live progress line — repos listed, rows written, versions, elapsed,
/// rate — and clears it before the summary; into a pipe, or with `--json` on a terminal, it draws none
/// (issue #35). The terminal is `script`'s pseudo-terminal; the simulator is slowed so the run lasts
/// long enough for the line to be drawn.
#[tokio::test]
async fn sync_draws_a_progress_line_on_a_terminal_only() {
    let sim = crate::support::SimHandle::start(300, 0, 31).await;
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (root, url) = (dir.path().to_path_buf(), sim.url.clone());
    let exe = env!("CARGO_BIN_EXE_pocket-catalog");
    let run = move |json: bool, terminal: bool| {
        let db = root.join(format!("p{json}{terminal}.db"));
        let sync = format!(
            "{exe} --database-url sqlite://{} sync --hf-endpoint {} --sync-pull-versions false{}",
            db.display(),
            url,
            if json { " --json" } else { "" }
        );
        let mut cmd = if terminal {
            let mut c = Command::new("script");
            c.args(["-qec", &sync, "/dev/null"]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &sync]);
            c
        };
        let out = cmd
            .env("RUST_LOG", "warn")
            .env("TERM", "xterm")
            .output()
            .unwrap();
        assert!(out.status.success(), "{sync}: {out:?}");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let (shown, piped, json) =
        tokio::task::spawn_blocking(move || (run(false, true), run(false, false), run(true, true)))
            .await
            .unwrap();
    assert!(shown.contains("repos/s"), "{shown}");
    // It moves while the page's READMEs are fetched, before the first batch is written.
    let fetched_details: Vec<(u64, u64)> = shown
        .split("details ")
        .skip(1)
        .filter_map(|rest| {
            let (done, wanted) = rest.split(' ').next()?.split_once('/')?;
            Some((done.parse().ok()?, wanted.parse().ok()?))
        })
        .collect();
    assert!(
        fetched_details
            .iter()
            .any(|&(done, wanted)| done > 0 && done < wanted),
        "{fetched_details:?}"
    );

    assert!(
        shown.contains("run ") && shown.contains(": success in "),
        "{shown}"
    );
    assert!(!piped.contains("repos/s"), "{piped}");
    assert!(!json.contains("repos/s"), "{json}");
}
