//! Model files outside the Hub (issue #21): the portal's uploads to its storage bucket (CLIENTS.md
//! F5, the simulator standing in for Supabase Storage) are inspected by range like the Hub's, behind
//! the guard against forged requests (`webfile`): private addresses refused unless allowed, no
//! credentials sent, redirects checked and bounded, a server that ignores `Range` never downloaded
//! whole.

use crate::both_backends;
use crate::inspect::{synthetic_model, Synthetic};
use crate::support::{serve_config, Backend, Role, SimHandle, TestApp, TestResponse};
use axum::http::StatusCode;
use pocket_catalog::pipeline::webfile::{WebError, WebFiles};
use serde_json::{json, Value};
use sha2::Digest;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

both_backends!(
    a_portal_upload_is_inspected_by_range_and_becomes_runnable,
    a_portal_file_that_changes_after_it_was_verified_is_not_verified_any_more,
);

/// The leaf classifier (4 MB of weights) with its label file packed, as the metadata populator
/// writes it.
fn classifier() -> Vec<u8> {
    crate::packed::labelled_classifier(4 << 20)
}

/// The portal's F5 submit: a model, then a version of `file` (with the body's other fields).
async fn publish(app: &TestApp, token: &str, file: &str, extra: Value) -> (String, TestResponse) {
    let model = app
        .post(
            "/api/v1/models",
            Some(token),
            json!({"name": "Leaf Classifier", "description": "Tells leaves apart",
                   "category": "utility", "task": "image-classification", "is_public": true}),
        )
        .await
        .body;
    let mid = model["id"].as_str().unwrap().to_string();
    let version = add_version(app, token, &mid, file, extra).await;
    (mid, version)
}

/// The portal's F6 submit: a version of `file` with `extra` (a name, a spec…).
async fn add_version(
    app: &TestApp,
    token: &str,
    mid: &str,
    file: &str,
    extra: Value,
) -> TestResponse {
    let mut body =
        json!({"version_name": "1.0.0", "commit_sha": "1a2b3c4d", "assets": {"tflite": file}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post(&format!("/api/v1/models/{mid}/versions"), Some(token), body)
        .await
}

/// The portal's "Generate": `POST /api/v1/versions/{id}/generate-pipeline` of a created version.
async fn generate(app: &TestApp, token: &str, version: &TestResponse) -> TestResponse {
    let vid = version.body["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/versions/{vid}/generate-pipeline"),
        Some(token),
        json!({}),
    )
    .await
}

/// F5 with an upload, then F6 and F2: the portal uploads the file to its bucket, creates the model
/// and a version without a spec (its pipeline derived at once) and asks for a pipeline; the version
/// is read where it is (a few ranges, no token), verified, and the app downloads what its spec names. A spec a person writes
/// for the same upload is checked against its tensors.
async fn a_portal_upload_is_inspected_by_range_and_becomes_runnable(backend: Backend) {
    let sim = SimHandle::start(5, 0, 3).await;
    let bytes = classifier();
    let object = "model-files/5f0c7a2e-0000-4000-8000-000000000001/1a2b3c4d/leaf.tflite";
    // Another host name than the Hub's (127.0.0.1), as Supabase is another host.
    let upload =
        sim.url.replace("127.0.0.1", "localhost") + &sim.sim.put_upload(object, bytes.clone());
    let mut config = serve_config(&sim);
    config.hub.hf_token = Some("hf_secret_for_the_hub_only".into());
    config.sync.sync_inspect_private_networks = true;
    config.sync.public_url = Some(url::Url::parse("https://catalog.example").unwrap());
    let app = TestApp::with_config(backend, config).await;
    let (_, token) = app.user(Role::User).await;
    let (mid, created) = publish(
        &app,
        &token,
        &upload,
        json!({"is_hosted_by_us": true, "file_size_bytes": bytes.len()}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // Published without a spec, it gets the one its file gives at once (the reference leaves it
    // `missing` until someone asks); "Generate" then derives the same again.
    assert_eq!(created.body["status"], "verified", "{}", created.body);
    let vid = created.body["id"].as_str().unwrap().to_string();
    let res = generate(&app, &token, &created).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v = &res.body;
    assert_eq!(v["pipeline_spec"], created.body["pipeline_spec"]);
    crate::clients::assert_app_decodes_version(v);
    assert_eq!(v["status"], "verified", "{v}");
    assert_eq!(
        v["signature"]["inputs"][0]["shape"],
        json!([1, 224, 224, 3])
    );
    assert_eq!(v["inspection"]["file"], "leaf.tflite");
    assert_eq!(v["inspection"]["size"], bytes.len());
    assert_eq!(
        v["assets"]["tflite"],
        upload.as_str(),
        "the upload stays the model file"
    );
    let spec = &v["pipeline_spec"];
    assert_eq!(spec["metadata"][0]["model_task"], "image_classification");
    let checked = pocket_catalog::pipeline::spec::check(spec, "").unwrap();
    assert_eq!(&checked, spec, "the app's schema, as written");
    // Read by range: the structure and the packed label file, not the weights.
    let read = v["inspection"]["bytes_read"].as_u64().unwrap();
    assert!(read <= 256 << 10, "{read} of {}", bytes.len());
    let served = sim
        .sim
        .bytes_served(&hex::encode(sha2::Sha256::digest(&bytes)));
    assert!(
        served <= 2 * (read + 1),
        "served {served}, read {read} twice — publishing, generating — and the opening byte"
    );
    assert!(v["inspection"]["requests"].as_u64().unwrap() <= 4, "{v}");
    // The app (F2) finds it runnable and downloads every asset its spec names.
    let runnable = app
        .get("/api/v1/models?skip=0&limit=100&supported_only=true", None)
        .await
        .body;
    assert!(runnable
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == mid.as_str()));
    let labels = app
        .raw_get(&format!("/api/v1/versions/{vid}/download/labels"))
        .await;
    assert_eq!(
        (labels.0, labels.1),
        (StatusCode::OK, crate::packed::labels_text())
    );
    // F6, manual: a spec for the same upload with another input size is refused with what differs.
    let mut wrong = spec.clone();
    wrong["inputs"][0]["shape"] = json!([1, 192, 192, 3]);
    let refused = add_version(
        &app,
        &token,
        &mid,
        &upload,
        json!({"version_name": "1.1.0", "pipeline_spec": wrong}),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .detail()
            .starts_with("pipeline_spec.inputs[0].shape is [1, 192, 192, 3]"),
        "{}",
        refused.detail()
    );
    // The root dialect's publishing derives it at once too.
    let root = app
        .post(
            &format!("/models/{mid}/versions"),
            Some(&token),
            json!({"version_string": "3.0.0", "assets": [{"asset_key": "leaf.tflite",
                   "asset_type": "tflite", "source_url": upload, "is_primary": true}]}),
        )
        .await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.body);
    assert_eq!(root.body["signature"], v["signature"]);
    let mut expected = spec.clone();
    expected["metadata"][0]["model_version"] = json!("3.0.0");
    assert_eq!(root.body["pipeline_spec"], expected);
    // The portal's add-version dialog sends `file_size_bytes: 0`: the size the file's reading found
    // is kept instead, without a spec and with one (the app checks free space against it).
    let sized = add_version(
        &app,
        &token,
        &mid,
        &upload,
        json!({"version_name": "4.0.0", "file_size_bytes": 0}),
    )
    .await;
    assert_eq!(sized.status, StatusCode::CREATED, "{}", sized.body);
    assert_eq!(sized.body["file_size_bytes"], bytes.len(), "{}", sized.body);
    let sized = add_version(
        &app,
        &token,
        &mid,
        &upload,
        json!({"version_name": "4.1.0", "file_size_bytes": 0, "pipeline_spec": spec}),
    )
    .await;
    assert_eq!(sized.status, StatusCode::CREATED, "{}", sized.body);
    assert_eq!(sized.body["file_size_bytes"], bytes.len(), "{}", sized.body);
    // An empty `tflite` (the portal's, for a model with no Hub id) is refused with what to send.
    let empty = add_version(&app, &token, &mid, "", json!({"version_name": "4.2.0"})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.detail(), "assets.tflite must be an http(s) URL");
    // An upload deleted from the bucket: recorded as missing, with the storage's answer.
    let gone = upload.replace("leaf.tflite", "deleted.tflite");
    let version = add_version(&app, &token, &mid, &gone, json!({"version_name": "1.2.0"})).await;
    let res = generate(&app, &token, &version).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "missing");
    assert_eq!(
        res.body["unsupported_reason"],
        "localhost does not serve the model file (HTTP 400)"
    );
    // The Hub's token never went to the storage host.
    assert_eq!(sim.sim.stats().cdn_authorized, 0);
}

/// By default a URL at a private address is not read: generate-pipeline says why (422), and a
/// person's spec for such a file is taken unchecked, as the reference takes it.
#[tokio::test]
async fn a_file_at_a_private_address_is_refused_unless_allowed() {
    let sim = SimHandle::start(5, 0, 3).await;
    let object = "model-files/u/00000000/leaf.tflite";
    let upload = sim.url.clone() + &sim.sim.put_upload(object, classifier());
    let app = TestApp::with_config(Backend::Sqlite, serve_config(&sim)).await;
    let (_, token) = app.user(Role::User).await;
    let (mid, version) = publish(&app, &token, &upload, json!({})).await;
    let res = generate(&app, &token, &version).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(
        res.detail(),
        "127.0.0.1 is not a public address: model files are read from public hosts only"
    );
    let spec = crate::portal_flows::spec();
    let published = add_version(
        &app,
        &token,
        &mid,
        &upload,
        json!({"version_name": "1.1.0", "pipeline_spec": spec}),
    )
    .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert!(published.body["signature"].is_null());
    assert_eq!(
        sim.sim.stats().cdn_requests,
        0,
        "nothing was asked of the host"
    );
}

/// The reader sends no credentials, follows a redirect, gives up on a loop, and reads a small file
/// whole from a server that ignores `Range` but never a large one.
#[tokio::test]
async fn the_web_reader_follows_redirects_within_bounds_and_never_downloads_a_large_file_whole() {
    use pocket_catalog::inspect::RangeSource;
    let server = MockServer::start().await;
    let small: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let large = vec![7u8; (pocket_catalog::pipeline::webfile::MAX_WHOLE_BYTES + 1) as usize];
    Mock::given(method("GET"))
        .and(path("/moved/small.bin"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/files/small.bin"))
        .mount(&server)
        .await;
    // wiremock ignores Range: every answer is the whole file with a 200.
    Mock::given(method("GET"))
        .and(path("/files/small.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(small.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/large.bin"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(large))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    let web = WebFiles::new(true, None, None).unwrap();
    let file = web
        .open(&format!("{}/moved/small.bin", server.uri()))
        .await
        .unwrap();
    assert_eq!(file.size, small.len() as u64);
    assert_eq!(file.url().path(), "/files/small.bin");
    assert_eq!(file.read(1000..1010).await.unwrap(), small[1000..1010]);
    let large = web
        .open(&format!("{}/files/large.bin", server.uri()))
        .await
        .unwrap();
    let why = large.read(0..10).await.unwrap_err();
    assert!(why.contains("does not answer range requests"), "{why}");
    match web.open(&format!("{}/loop", server.uri())).await {
        Err(WebError::Refused(why)) => {
            assert!(why.contains("redirects more than 5 times"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let requests: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| json!({"auth": r.headers.contains_key("authorization"), "path": r.url.path()}))
        .collect();
    assert!(requests.iter().all(|r| r["auth"] == false), "{requests:?}");
    let loops = requests.iter().filter(|r| r["path"] == "/loop").count();
    assert_eq!(loops, 1 + pocket_catalog::pipeline::webfile::MAX_REDIRECTS);
}

/// `pocket-catalog inspect URL` reads a model where it is, by range, as the catalog reads an upload:
/// the bytes and requests it took, and the configs and tokenizer beside it (a causal LM's
/// end-of-sequence id from the `config.json` next to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspect_command_reads_a_model_at_a_url_by_range() {
    use pocket_catalog::inspect::generated::schema::tflite as fb;
    let sim = SimHandle::start(1, 0, 3).await;
    let bytes = classifier();
    let url = sim.url.clone()
        + &sim
            .sim
            .put_upload("model-files/u/1/leaf.tflite", bytes.clone());
    let lm = synthetic_model(&Synthetic {
        io: Some([
            ("input_ids", &[1, 32], fb::TensorType::INT32),
            ("logits", &[1, 32, 4096], fb::TensorType::FLOAT32),
        ]),
        ..Default::default()
    });
    let lm_url = sim.url.clone() + &sim.sim.put_upload("model-files/u/2/lm.tflite", lm);
    sim.sim.put_upload(
        "model-files/u/2/config.json",
        br#"{"eos_token_id": 7}"#.to_vec(),
    );
    sim.sim.put_upload(
        "model-files/u/2/tokenizer.json",
        crate::support::BPE_TOKENIZER.to_vec(),
    );
    let run = |url: String, task: &'static str| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
            .args(["inspect", &url, "--task", task])
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), shown)
    };
    let (ok, shown) = run(url.clone(), "image-classification").await;
    assert!(ok, "{shown}");
    assert_eq!(shown["status"], "verified", "{shown}");
    assert_eq!(shown["file"]["size"], bytes.len());
    assert!(shown["inspection"]["bytes_read"].as_u64().unwrap() <= 256 << 10);
    assert_eq!(shown["inspection"]["packed_files"]["labels"]["lines"], 1001);
    let (ok, shown) = run(lm_url.clone(), "text-generation").await;
    assert!(ok, "{shown}");
    assert_eq!(shown["status"], "verified", "{shown}");
    assert_eq!(shown["inspection"]["eos_token_id"]["id"], 7);
    // The tokenizer beside it was read and is one the app parses (R10).
    assert_eq!(
        shown["inspection"]["companions"]["tokenizer"],
        json!({"usable": 1})
    );
    assert_eq!(
        shown["inspection"]["eos_token_id"]["file"],
        lm_url.replace("lm.tflite", "config.json")
    );
    let (ok, _) = run(url.replace("leaf", "gone"), "image-classification").await;
    assert!(!ok, "a file that is not there is an error");
}

/// A portal version whose file changes after it was verified (issue #32): what was read is pinned
/// (`inspection.pin`: size and ETag); each sync opens the files behind people's verified versions —
/// reading nothing — and inspects again those whose bytes changed: a derived spec is derived again
/// from the new file, a person's spec is `pending` again with the reason, never `verified` on bytes
/// nobody checked.
async fn a_portal_file_that_changes_after_it_was_verified_is_not_verified_any_more(
    backend: Backend,
) {
    use pocket_catalog::domain::Trigger;
    let sim = SimHandle::start(5, 0, 3).await;
    let object = "model-files/5f0c7a2e-0000-4000-8000-000000000002/9f8e7d6c/leaf.tflite";
    let upload =
        sim.url.replace("127.0.0.1", "localhost") + &sim.sim.put_upload(object, classifier());
    let mut config = serve_config(&sim);
    config.sync.sync_inspect_private_networks = true;
    let app = TestApp::with_config(backend, config).await;
    let (_, token) = app.user(Role::User).await;
    let (mid, derived) = publish(&app, &token, &upload, json!({})).await;
    assert_eq!(derived.body["status"], "verified", "{}", derived.body);
    assert_eq!(
        derived.body["inspection"]["pin"]["size"],
        classifier().len()
    );
    let spec = derived.body["pipeline_spec"].clone();
    let own = add_version(
        &app,
        &token,
        &mid,
        &upload,
        json!({"version_name": "2.0.0", "pipeline_spec": spec}),
    )
    .await;
    let own_id = own.body["id"].as_str().unwrap().to_string();
    let verified = app
        .patch(
            &format!("/api/v1/versions/{own_id}"),
            Some(&token),
            json!({"status": "verified"}),
        )
        .await;
    assert_eq!(verified.body["status"], "verified", "{}", verified.body);

    // The same URL now serves other bytes: a classifier with integer scores.
    let other = crate::app_models::all()
        .into_iter()
        .find(|m| m.name == "channel_classifier_uint8.tflite")
        .unwrap()
        .bytes;
    sim.sim.put_upload(object, other);
    let sync = || async {
        crate::support::syncer(&app.store, &sim, |c| c.inspect_private_networks = true)
            .run_once(Trigger::Manual, tokio_util::sync::CancellationToken::new())
            .await
            .unwrap()
    };
    let report = sync().await;
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("changed since they were verified")),
        "{:?}",
        report.warnings
    );
    let version = |id: String| {
        let (app, mid) = (&app, mid.clone());
        async move {
            let all = app
                .get(&format!("/api/v1/models/{mid}/versions"), None)
                .await
                .body;
            all.as_array()
                .unwrap()
                .iter()
                .find(|v| v["id"] == id.as_str())
                .unwrap()
                .clone()
        }
    };
    let rederived = version(derived.body["id"].as_str().unwrap().to_string()).await;
    assert_eq!(rederived["status"], "missing", "{rederived}");
    assert!(rederived["unsupported_reason"]
        .as_str()
        .unwrap()
        .contains("uint8 classification scores"));
    assert!(rederived["inspection"]["changed_upstream"]["was"]["size"].is_u64());
    let kept = version(own_id).await;
    assert_eq!(kept["status"], "pending", "{kept}");
    assert_eq!(kept["pipeline_spec"], spec, "the person's spec is kept");
    assert!(kept["unsupported_reason"]
        .as_str()
        .unwrap()
        .starts_with("the model file changed after this version was verified"));
    // Unchanged since: the next run reads nothing again.
    sim.sim.reset_stats();
    let again = sync().await;
    assert!(again.warnings.iter().all(|w| !w.contains("changed since")));
}
