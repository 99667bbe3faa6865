//! The clients' flows end to end against the real `pocket-catalog serve` (a process on a loopback port,
//! SQLite), the Hub simulator behind it, and Supabase access tokens as the portal and the app send
//! them: F1 and F8 (portal browse, dashboard), F5 (publish), F2 (the app browses, follows each download
//! redirect to the file's bytes), F4 (telemetry).

use crate::support::{has_model_file, run_cli, Backend, Served, SimHandle, TestDb};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SECRET: &str = "client-e2e-supabase-secret";

fn supabase_token(sub: uuid::Uuid, email: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub.to_string(), "email": email, "aud": "authenticated", "exp": now + 3600, "iat": now});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// What the app downloads for version `v` (F2): each non-null key of `tflite`, `labels`, `anchors`,
/// `tokenizer`, `vocab` through `download/{key}`, following the 307 as the app's HTTP client does, to a
/// final 200 with the bytes.
pub(crate) async fn app_downloads(
    http: &reqwest::Client,
    api: &str,
    v: &Value,
) -> Vec<(&'static str, Vec<u8>)> {
    let vid = v["id"].as_str().unwrap();
    let mut fetched = Vec::new();
    for key in ["tflite", "labels", "anchors", "tokenizer", "vocab"] {
        if v["assets"][key].is_null() {
            continue;
        }
        let res = http
            .get(format!("{api}/versions/{vid}/download/{key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{key}");
        fetched.push((key, res.bytes().await.unwrap().to_vec()));
    }
    fetched
}

/// The JSON a GET of `url` answers.
pub(crate) async fn get_json(http: &reqwest::Client, url: String) -> Value {
    http.get(url)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// The real service on a new SQLite database, against `sim`, with the extra environment `env`, after
/// one manual sync (as an admin whose token the CLI made).
pub(crate) async fn serve_and_sync(sim: &SimHandle, env: &[(&str, &str)]) -> (TestDb, Served) {
    let db = TestDb::new(Backend::Sqlite).await;
    let admin = run_cli(&db, &["token", "create", "--username", "ops", "--admin"]);
    let mut all = vec![
        ("HF_ENDPOINT", sim.url.as_str()),
        ("SYNC_ENABLED", "false"),
        ("RUST_LOG", "warn"),
    ];
    all.extend_from_slice(env);
    let served = Served::start(&db, &all).await;
    let sync = reqwest::Client::new()
        .post(format!("{}/api/v1/sync/huggingface/litert", served.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sync.status(),
        StatusCode::OK,
        "{}",
        sync.text().await.unwrap()
    );
    (db, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_and_the_app_work_against_the_real_service() {
    let sim = SimHandle::start(30, 0, 97).await;
    let (_db, served) = serve_and_sync(&sim, &[("SUPABASE_JWT_SECRET", SECRET)]).await;
    let api = format!("{}/api/v1", served.base);
    let http = reqwest::Client::new();

    // F5: a portal user (a Supabase session) publishes a private model whose file lives on the Hub.
    let sub = uuid::Uuid::new_v4();
    let portal = supabase_token(sub, "maker@example.com");
    let repo = sim.litert_truth().into_iter().find(has_model_file).unwrap();
    let file_url = format!("{}/{}/resolve/{}/README.md", sim.url, repo.id, repo.sha);
    let model: Value = http
        .post(format!("{api}/models"))
        .bearer_auth(&portal)
        .json(&json!({"name": "Maker's Model", "description": "Made by hand", "category": "utility",
                      "is_public": false, "tags": [], "task": "image-classification", "license_type": "mit"}))
        .send().await.unwrap().json().await.unwrap();
    let mid = model["id"].as_str().unwrap().to_string();
    assert_eq!(
        model["author_id"],
        sub.to_string(),
        "Supabase user ids are user ids"
    );
    let spec = json!({
        "metadata": [{"model_name": "Maker", "model_version": "1.0.0", "model_task": "image_classification"}],
        "inputs": [{"name": "input", "shape": [1, 8, 8, 3], "dtype": "uint8"}],
        "outputs": [{"name": "scores", "shape": [1, 2], "dtype": "float32"}],
        "preprocessing": [{"input_name": "input", "steps": [
            {"step": "resize_image", "params": {"height": 8, "width": 8}},
            {"step": "format", "params": {"target_dtype": "uint8", "color_space": "RGB", "data_layout": "NHWC"}}]}],
        "postprocessing": [{"output_name": "scores", "interpretation": "classification_scores",
            "source_tensors": ["scores"], "steps": [
            {"step": "map_labels", "params": {"labels_url": "labels", "class_tensor": "scores"}}]}]
    });
    let version = http
        .post(format!("{api}/models/{mid}/versions"))
        .bearer_auth(&portal)
        .json(
            &json!({"version_name": "1.0.0", "commit_sha": "12ab34cd", "file_size_bytes": 10,
                      "assets": {"tflite": file_url, "labels": file_url}, "pipeline_spec": spec}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), StatusCode::CREATED);
    // Private: the app (anonymous) does not see it yet; the portal's session does, and a broken
    // token is anonymous rather than refused.
    let list = |token: Option<String>| {
        let mut req = http.get(format!(
            "{api}/models?skip=0&limit=1000&supported_only=true"
        ));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    // (The mirror's models are not runnable here: the simulator serves no bytes for their files.)
    let has = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == mid.as_str())
    };
    let anonymous: Value = list(None).await.json().await.unwrap();
    assert!(!has(&anonymous));
    assert!(anonymous.as_array().unwrap().iter().all(|m| matches!(
        m["best_version_status"].as_str(),
        Some("verified" | "pending")
    )));
    let mine: Value = list(Some(portal.clone())).await.json().await.unwrap();
    assert!(has(&mine));
    let broken = list(Some("eyJhbGciOiJIUzI1NiJ9.bm90IGEgdG9rZW4.c2ln".into())).await;
    assert_eq!(broken.status(), StatusCode::OK);
    // F8: the dashboard's own list.
    let dashboard: Value = http
        .get(format!("{api}/models?author_id={sub}"))
        .bearer_auth(&portal)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dashboard.as_array().unwrap().len(), 1);
    // F1: the whole catalog in one answer, the mirrored models with it.
    let all: Value = http
        .get(format!("{api}/models"))
        .bearer_auth(&portal)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all.as_array().unwrap().len() > 20);

    // A public model of the same user, with the same runnable version: what the app will find.
    let public: Value = http
        .post(format!("{api}/models"))
        .bearer_auth(&portal)
        .json(&json!({"name": "Open Maker", "description": "For everyone"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = public["id"].as_str().unwrap().to_string();
    let created = http
        .post(format!("{api}/models/{pid}/versions"))
        .bearer_auth(&portal)
        .json(
            &json!({"version_name": "1.0.0", "commit_sha": "56ef78ab", "file_size_bytes": 10,
                      "assets": {"tflite": file_url, "labels": file_url}, "pipeline_spec": spec}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // F2: the app, anonymous, exactly as it asks.
    let models: Value = list(None).await.json().await.unwrap();
    let models = models.as_array().unwrap();
    assert_eq!(
        models.len(),
        anonymous.as_array().unwrap().len() + 1,
        "{models:?}"
    );
    let open = models.iter().find(|m| m["id"] == pid.as_str()).unwrap();
    assert_ne!(open["best_version_status"], "missing");
    let versions: Value = http
        .get(format!("{api}/models/{pid}/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usable: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "verified" || v["status"] == "pending")
        .collect();
    assert_eq!(usable.len(), 1);
    let v = usable[0];
    let vid = v["id"].as_str().unwrap();
    let expected = repo.content("README.md").unwrap();
    let fetched = app_downloads(&http, &api, v).await;
    assert_eq!(fetched.len(), 2, "tflite and labels");
    for (key, bytes) in fetched {
        assert_eq!(bytes, expected, "{key}");
    }
    assert!(v["pipeline_spec"]["metadata"][0]["source_repository"].is_string());

    // F4: the app's telemetry, with the signed-in user's Supabase token.
    let app_user = supabase_token(uuid::Uuid::new_v4(), "runner@example.com");
    let res = http
        .post(format!("{api}/telemetry/batch"))
        .bearer_auth(&app_user)
        .json(&json!({"stats": [{"model_version_id": vid, "device_model": "Google Pixel 8", "platform": "android",
                                 "total_inference_ms": 42, "success": true, "task_type": "image_classification",
                                 "top_confidence": 0.9, "num_results": 2}]}))
        .send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"accepted": 1}));
    let stats: Value = http
        .get(format!("{api}/versions/{vid}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats["runs"].clone(), stats["p50_ms"].clone()),
        (json!(1), json!(42))
    );
    let after: Value = http
        .get(format!("{api}/versions/{vid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["download_count"], 1,
        "only the tflite download counts"
    );
    let logs = served.stop().await;
    assert!(!logs.contains(SECRET));
}

/// F2 on a mirrored model (issue #21): the sync reads a classifier's file on the Hub by range, derives
/// its spec and hosts the label file packed in it; the app then finds the model runnable, decodes its
/// version strictly and downloads every asset it names — the model from the Hub's CDN, the labels
/// from this service. Restarted behind its public address, the service links the labels there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_runs_a_mirrored_classifier_with_the_labels_packed_in_its_file() {
    let sim = SimHandle::start(30, 0, 41).await;
    let repo = sim
        .litert_truth()
        .into_iter()
        .find(|r| {
            r.pipeline_tag.as_deref() == Some("image-classification")
                && !r.private
                && r.gated.is_none()
                && !r.disabled
                && r.files.iter().any(|f| f.path.ends_with(".tflite"))
        })
        .expect("the population has an image classifier");
    let labels = crate::packed::labels_text();
    let model_file = crate::packed::pack(
        &crate::inspect::synthetic_model(&crate::inspect::Synthetic {
            metadata: true,
            ..Default::default()
        }),
        &[("labels.txt", &labels)],
        crate::packed::Packing::PythonAppend,
    );
    for f in repo.files.iter().filter(|f| f.path.ends_with(".tflite")) {
        sim.sim
            .put_file(&repo.id, &f.path, model_file.clone())
            .unwrap();
    }
    let (db, served) = serve_and_sync(&sim, &[]).await;
    let api = format!("{}/api/v1", served.base);
    let http = reqwest::Client::new();

    let models = get_json(
        &http,
        format!("{api}/models?skip=0&limit=1000&supported_only=true"),
    )
    .await;
    let model = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["hf_model_id"] == repo.id.as_str())
        .unwrap_or_else(|| panic!("{} is not listed as runnable: {models}", repo.id));
    assert_eq!(model["best_version_status"], "verified");
    let versions = get_json(
        &http,
        format!("{api}/models/{}/versions", model["id"].as_str().unwrap()),
    )
    .await;
    let v = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == "verified")
        .unwrap();
    crate::clients::assert_app_decodes_version(v);
    assert_eq!(
        v["pipeline_spec"]["metadata"][0]["model_task"],
        "image_classification"
    );
    // The labels are linked under the address the service listens on.
    assert!(
        v["assets"]["labels"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/files/", served.base)),
        "{v}"
    );
    let fetched = app_downloads(&http, &api, v).await;
    assert_eq!(fetched[0], ("tflite", model_file));
    assert_eq!(fetched[1], ("labels", labels.clone()));
    served.stop().await;

    // Deployed behind its real address: the hosted links follow POCKET_PUBLIC_URL, the bytes stay.
    let deployed = Served::start(
        &db,
        &[
            ("HF_ENDPOINT", sim.url.as_str()),
            ("SYNC_ENABLED", "false"),
            ("RUST_LOG", "warn"),
            ("POCKET_PUBLIC_URL", "https://catalog.example/"),
        ],
    )
    .await;
    let api = format!("{}/api/v1", deployed.base);
    let versions = get_json(
        &http,
        format!("{api}/models/{}/versions", model["id"].as_str().unwrap()),
    )
    .await;
    let moved = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == v["id"])
        .unwrap();
    let link = moved["assets"]["labels"].as_str().unwrap();
    let sha = link.rsplit('/').nth(1).unwrap();
    assert_eq!(
        link,
        format!("https://catalog.example/files/{sha}/labels.txt")
    );
    assert_eq!(
        moved["assets"]["tflite"], v["assets"]["tflite"],
        "the Hub's links stay"
    );
    assert_eq!(
        app_downloads(&http, &api, moved).await[1],
        ("labels", labels)
    );
    deployed.stop().await;
}

/// F2 for text generation: a mirrored causal language model (one int32 token-id input, logits out) with
/// its `tokenizer.json` and `generation_config.json` is `verified` with the app's text pipeline —
/// `tokenize`, then the autoregressive `generate` loop first in its block, stopping at the config's
/// end-of-sequence id, then `decode_tokens` — and the app downloads the model and the tokenizer; an
/// LLM exported with a KV cache (`prefill`/`decode` signatures) is not listed, and its version says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_runs_a_mirrored_language_model_with_its_tokenizer_and_is_told_why_a_kv_cache_llm_is_not(
) {
    use crate::inspect::{synthetic_model, Synthetic};
    use pocket_catalog::hubsim::population::{generate, PopulationSpec, World};
    use pocket_catalog::inspect::generated::schema::tflite as fb;
    let (mut repos, generator) = generate(PopulationSpec {
        litert: 30,
        other: 0,
        seed: 43,
    });
    let mut text_repos = repos.iter_mut().filter(|r| {
        r.is_litert()
            && !r.private
            && r.gated.is_none()
            && !r.disabled
            && r.files.iter().any(|f| f.path.ends_with(".tflite"))
            && !r
                .files
                .iter()
                .any(|f| f.path.ends_with(".task") || f.path.ends_with(".litertlm"))
    });
    let mut chosen = Vec::new();
    for repo in text_repos.by_ref().take(2) {
        repo.pipeline_tag = Some("text-generation".into());
        chosen.push(repo.clone());
    }
    let [lm_repo, kv_repo] = <[_; 2]>::try_from(chosen).unwrap();
    let sim = SimHandle::with_world(pocket_catalog::hubsim::Sim::new(
        World::new(repos, generator),
        Default::default(),
    ))
    .await;
    let lm = synthetic_model(&Synthetic {
        io: Some([
            ("input_ids", &[1, 64], fb::TensorType::INT32),
            ("logits", &[1, 64, 32000], fb::TensorType::FLOAT32),
        ]),
        ..Default::default()
    });
    let kv = synthetic_model(&Synthetic {
        io: Some([
            ("tokens", &[1, 1], fb::TensorType::INT32),
            ("logits", &[1, 1, 262144], fb::TensorType::FLOAT32),
        ]),
        signatures: vec!["prefill", "decode"],
        ..Default::default()
    });
    let tokenizer =
        br#"{"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}}"#.to_vec();
    for (repo, bytes) in [(&lm_repo, &lm), (&kv_repo, &kv)] {
        for f in repo.files.iter().filter(|f| f.path.ends_with(".tflite")) {
            sim.sim.put_file(&repo.id, &f.path, bytes.clone()).unwrap();
        }
    }
    sim.sim
        .put_file(&lm_repo.id, "tokenizer.json", tokenizer.clone())
        .unwrap();
    // Its end-of-sequence id is in the repo's generation config, as transformers writes it.
    sim.sim
        .put_file(
            &lm_repo.id,
            "generation_config.json",
            br#"{"bos_token_id": 50256, "eos_token_id": [50256, 50257], "_from_model_config": true}"#.to_vec(),
        )
        .unwrap();
    let (_db, served) = serve_and_sync(&sim, &[]).await;
    let api = format!("{}/api/v1", served.base);
    let http = reqwest::Client::new();
    let runnable = get_json(
        &http,
        format!("{api}/models?skip=0&limit=1000&supported_only=true"),
    )
    .await;
    let listed = |id: &str| {
        runnable
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["hf_model_id"] == id)
            .cloned()
    };
    let model = listed(&lm_repo.id)
        .unwrap_or_else(|| panic!("{} is not listed as runnable: {runnable}", lm_repo.id));
    assert!(
        listed(&kv_repo.id).is_none(),
        "the KV-cache LLM is not runnable"
    );
    let versions = get_json(
        &http,
        format!("{api}/models/{}/versions", model["id"].as_str().unwrap()),
    )
    .await;
    let v = versions.as_array().unwrap().last().unwrap();
    crate::clients::assert_app_decodes_version(v);
    assert_eq!(v["status"], "verified", "{v}");
    let spec = &v["pipeline_spec"];
    assert_eq!(spec["metadata"][0]["model_task"], "text_generation");
    assert_eq!(
        spec["inputs"][0],
        json!({"name": "input_ids", "shape": [1, 64], "dtype": "int32"})
    );
    assert_eq!(spec["preprocessing"][0]["expects_type"], "text");
    assert_eq!(spec["preprocessing"][0]["steps"][0]["step"], "tokenize");
    let post = &spec["postprocessing"][0];
    assert_eq!(post["interpretation"], "text_generation");
    assert_eq!(
        post["steps"][0]["step"], "generate",
        "the loop is the block's first step"
    );
    assert_eq!(post["steps"][0]["params"]["mode"], "autoregressive");
    assert_eq!(post["steps"][0]["params"]["eos_token_id"], 50256);
    assert_eq!(post["steps"][1]["step"], "decode_tokens");
    assert_eq!(v["inspection"]["defaults"], json!([]));
    assert_eq!(
        v["inspection"]["eos_token_id"],
        json!({"id": 50256, "file": "generation_config.json"})
    );
    let fetched = app_downloads(&http, &api, v).await;
    // The model and the tokenizer we put there (the repo may ship a vocab beside them).
    assert_eq!(fetched[..2], [("tflite", lm), ("tokenizer", tokenizer)]);

    let all = get_json(&http, format!("{api}/models?skip=0&limit=1000")).await;
    let kv_model = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["hf_model_id"] == kv_repo.id.as_str())
        .unwrap();
    assert_eq!(kv_model["best_version_status"], "missing");
    let versions = get_json(
        &http,
        format!("{api}/models/{}/versions", kv_model["id"].as_str().unwrap()),
    )
    .await;
    let v = versions.as_array().unwrap().last().unwrap();
    assert_eq!(v["status"], "missing");
    assert_eq!(
        v["unsupported_reason"],
        "text generation with 1 input (tokens) and signatures prefill, decode: the app feeds one \
         token-id tensor; it runs such LLMs only as a MediaPipe .task or .litertlm bundle"
    );
    assert_eq!(v["signature"]["outputs"][0]["shape"], json!([1, 1, 262144]));
    served.stop().await;
}
