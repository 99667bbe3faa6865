//! `verified` means the phone computes the right answer (issue #31): every spec the catalog derives for
//! a real model file — MediaPipe's released files and the small real models of [`crate::app_models`] — is
//! replayed as the Pocket AI app runs it (`tests/contract/app_replay.py`, the app's model-running path
//! transcribed step by step) on a natural photo, and compared with the same file run with the
//! preprocessing its own metadata declares. A `verified` version must agree: classification top-1 equal,
//! segmentation foreground IoU ≥ 0.9. The replay's own steps are tested on hand-computed cases first.

use crate::app_models;
use crate::inspect::{contract_python, contract_run, contract_script, real_models};
use serde_json::{json, Value};
use std::path::Path;

/// What `pocket-catalog inspect` derives for a local file (as the sync derives it for a Hub file).
fn inspect_file(path: &Path, task: Option<&str>) -> Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"));
    cmd.arg("inspect").arg(path).env("RUST_LOG", "warn");
    if let Some(task) = task {
        cmd.args(["--task", task]);
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "inspect {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The app replay of `spec` on `model` against the model's declared preprocessing; `labels` is the
/// version's downloaded label file (else the one packed in the model).
pub fn replay(model: &Path, spec: &Value, labels: Option<&Path>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("pipeline_spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = contract_script("app_replay.py");
    let mut args = vec![
        script.into_os_string(),
        "compare".into(),
        model.as_os_str().to_owned(),
        spec_path.into_os_string(),
    ];
    if let Some(labels) = labels {
        args.push(labels.as_os_str().to_owned());
    }
    serde_json::from_slice(&contract_run(args)).unwrap()
}

/// The replay's own tests: each transcribed step on a case computed by hand (the `mean_stddev` loop on
/// 7 pixels of 3 channels, the nearest-pixel resize, the format step's dtypes and layouts, softmax on
/// integers, a one-channel mask).
#[test]
fn the_app_replay_reproduces_the_apps_steps_on_hand_computed_cases() {
    let out = std::process::Command::new(contract_python())
        .arg("-m")
        .arg("unittest")
        .arg(contract_script("test_app_replay.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A spec for a verified image version with its `normalize` step replaced by the app's broken
/// per-channel method (what the catalog wrote before issue #31) — the negative control: the replay
/// must tell it from the model's answer.
fn with_mean_stddev(spec: &Value) -> Value {
    let mut spec = spec.clone();
    let steps = spec["preprocessing"][0]["steps"].as_array_mut().unwrap();
    steps.retain(|s| s["step"] != "normalize");
    steps.insert(
        1,
        json!({"step": "normalize", "params": {"method": "mean_stddev", "mean": [0.5, 0.5, 0.5],
            "stddev": [0.5, 0.5, 0.5], "color_space": "RGB"}}),
    );
    spec
}

/// The spec with the other common input range: [-1, 1] (`normalize_uniform` 127.5) where it has
/// none, none (the float32 `format`'s [0, 1]) where it has one — each built model answers otherwise.
fn with_the_other_range(spec: &Value) -> Value {
    let mut spec = spec.clone();
    let steps = spec["preprocessing"][0]["steps"].as_array_mut().unwrap();
    let before = steps.len();
    steps.retain(|s| s["step"] != "normalize");
    if steps.len() == before {
        steps.insert(
            1,
            json!({"step": "normalize", "params": {"method": "normalize_uniform", "mean": 127.5,
                "stddev": 127.5, "color_space": "RGB"}}),
        );
    }
    spec
}

#[test]
fn every_verified_spec_computes_in_the_app_what_its_model_declares() {
    let dir = tempfile::tempdir().unwrap();
    let mut verified = 0;
    for (path, model) in app_models::write_all(dir.path()) {
        let shown = inspect_file(&path, Some(model.task));
        let (status, word) = model.expect;
        assert_eq!(shown["status"], status, "{}: {shown}", model.name);
        let spec = &shown["pipeline_spec"];
        if status == "missing" {
            let reason = shown["unsupported_reason"].as_str().unwrap_or_default();
            assert!(reason.contains(word), "{}: {reason}", model.name);
            continue;
        }
        // A derived spec breaks no rule of the app.
        assert_eq!(shown["app_warnings"], json!([]), "{}", model.name);
        let said = shown["inspection"]["defaults"].to_string();
        assert!(said.contains(word), "{}: {said}", model.name);
        let replayed = replay(&path, spec, None);
        if status == "verified" {
            verified += 1;
            assert_eq!(replayed["agree"], true, "{}: {replayed}", model.name);
            // The catalog's old spec, replayed, is caught: the comparison can fail.
            for broken in [with_mean_stddev(spec), with_the_other_range(spec)] {
                let replayed = replay(&path, &broken, None);
                assert_eq!(replayed["agree"], false, "{}: {replayed}", model.name);
            }
        }
    }
    assert_eq!(
        verified, 2,
        "the [-1, 1] classifier and the [0, 1] segmenter"
    );
    // MediaPipe's released files, whatever task a repo names for them: what the catalog calls
    // verified must agree in the replay too.
    let tasks = [
        None,
        Some("image-classification"),
        Some("image-segmentation"),
    ];
    for path in real_models() {
        for task in tasks {
            let shown = inspect_file(&path, task);
            assert!(
                shown["signature"]["inputs"].is_array(),
                "{}: a signature",
                path.display()
            );
            if shown["status"] == "verified" {
                let replayed = replay(&path, &shown["pipeline_spec"], None);
                assert_eq!(replayed["agree"], true, "{}: {replayed}", path.display());
            }
        }
    }
}

/// End to end, as the app meets them: the simulator publishes the built models in repos that name
/// their task; after a sync every version the clients' dialect calls `verified`, downloaded through
/// `GET /api/v1/versions/{id}/download/{key}` (the model from the Hub's CDN, the labels from this
/// service), passes the replay; the others carry the status and reason the inspection gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sync_every_verified_version_downloaded_as_the_app_does_passes_the_replay() {
    use crate::client_e2e::{app_downloads, get_json, serve_and_sync};
    use crate::support::SimHandle;
    use pocket_catalog::hubsim::population::{generate, PopulationSpec, World};
    let (mut repos, generator) = generate(PopulationSpec {
        litert: 40,
        other: 0,
        seed: 47,
    });
    let models = app_models::all();
    let mut published = Vec::new();
    let eligible = repos.iter_mut().filter(|r| {
        r.is_litert()
            && !r.private
            && r.gated.is_none()
            && !r.disabled
            && r.files.iter().any(|f| f.path.ends_with(".tflite"))
            && !r.files.iter().any(|f| {
                f.path.ends_with(".task")
                    || f.path.ends_with(".litertlm")
                    || f.path.contains("label")
            })
    });
    for (repo, model) in eligible.zip(&models) {
        repo.pipeline_tag = Some(model.task.into());
        published.push((repo.clone(), model));
    }
    assert_eq!(
        published.len(),
        models.len(),
        "enough repos for every model"
    );
    let sim = SimHandle::with_world(pocket_catalog::hubsim::Sim::new(
        World::new(repos, generator),
        Default::default(),
    ))
    .await;
    for (repo, model) in &published {
        for f in repo.files.iter().filter(|f| f.path.ends_with(".tflite")) {
            sim.sim
                .put_file(&repo.id, &f.path, model.bytes.clone())
                .unwrap();
        }
    }
    let (_db, served) = serve_and_sync(&sim, &[]).await;
    let api = format!("{}/api/v1", served.base);
    let http = reqwest::Client::new();
    let listed = get_json(&http, format!("{api}/models?skip=0&limit=1000")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut replayed = 0;
    for (repo, model) in &published {
        let id = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["hf_model_id"] == repo.id.as_str())
            .unwrap_or_else(|| panic!("{} is not listed", repo.id))["id"]
            .clone();
        let versions = get_json(
            &http,
            format!("{api}/models/{}/versions", id.as_str().unwrap()),
        )
        .await;
        let (status, word) = model.expect;
        for v in versions.as_array().unwrap() {
            assert_eq!(v["status"], status, "{}: {v}", model.name);
            if status == "missing" {
                let reason = v["unsupported_reason"].as_str().unwrap_or_default();
                assert!(reason.contains(word), "{}: {reason}", model.name);
            }
            if status != "verified" {
                continue;
            }
            let fetched = app_downloads(&http, &api, v).await;
            let file = |key: &str| {
                let (_, bytes) = fetched.iter().find(|(k, _)| *k == key)?;
                let path = dir.path().join(format!("{}-{key}", replayed));
                std::fs::write(&path, bytes).unwrap();
                Some(path)
            };
            let tflite = file("tflite").expect("the model downloads");
            let labels = file("labels");
            let outcome = replay(&tflite, &v["pipeline_spec"], labels.as_deref());
            assert_eq!(outcome["agree"], true, "{}: {outcome}", model.name);
            replayed += 1;
        }
    }
    assert!(replayed >= 2, "both verified models replayed");
    served.stop().await;
}
