//! Test support: a fresh database per test on either backend, the app in-process, users with tokens,
//! and requests through the router.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use pocket_catalog::auth::{generate_token, hash_token};
use pocket_catalog::config::ServeArgs;
use pocket_catalog::domain::records::{NewUser, User};
use pocket_catalog::http::{app, AppState};
use pocket_catalog::store::Store;
use serde_json::Value;
use sqlx::Connection;
use tower::ServiceExt;

/// A `tokenizer.json` the app parses: a Hugging Face BPE model whose merges are `"a b"` strings (R10).
pub const BPE_TOKENIZER: &[u8] =
    br#"{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend, as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::support::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::support::Backend::Postgres).await } )*
        }
    };
}

/// The PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database that exists for one test: a SQLite file in a temporary directory, or a PostgreSQL
/// database dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("pc_test_{}", uuid::Uuid::new_v4().simple());
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin} is needed for this test: {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("admin url");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("connect and migrate")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The application in-process over a fresh database.
pub struct TestApp {
    pub store: Store,
    pub router: axum::Router,
    pub state: AppState,
    pub _db: TestDb,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn detail(&self) -> &str {
        self.body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail in {}", self.body))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Role {
    User,
    Developer,
    Admin,
}

/// A Hub address nothing listens on (the discard port): connections are refused at once.
pub const DEAD_HUB: &str = "http://127.0.0.1:9/";

impl TestApp {
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    pub async fn new(backend: Backend) -> TestApp {
        Self::with_config(backend, ServeArgs::default()).await
    }

    /// The app on `config`; a test that names no Hub gets a dead local one, not retried (nothing
    /// here reaches the real huggingface.co — its file URLs are read through the configured Hub —,
    /// and a stray Hub request fails at once instead of waiting on the network).
    pub async fn with_config(backend: Backend, mut config: ServeArgs) -> TestApp {
        if config.hub.hf_endpoint == url::Url::parse(pocket_catalog::hub::DEFAULT_ENDPOINT).unwrap()
        {
            config.hub.hf_endpoint = url::Url::parse(DEAD_HUB).unwrap();
            config.hub.hub_max_retries = 0;
        }
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let state = pocket_catalog::app::build(
            store.clone(),
            pocket_catalog::app::check(config).expect("valid configuration"),
        )
        .expect("a Hub client");
        let router = app(state.clone());
        TestApp {
            store,
            router,
            state,
            _db: db,
        }
    }

    /// A new user with `role` and a token for it.
    pub async fn user(&self, role: Role) -> (User, String) {
        let name = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let user = self
            .store
            .create_user(&NewUser {
                email: format!("{name}@example.com"),
                username: name,
                is_developer: matches!(role, Role::Developer | Role::Admin),
                is_admin: matches!(role, Role::Admin),
            })
            .await
            .unwrap();
        let token = generate_token();
        self.store
            .create_token(user.id, "test", &hash_token(&token), None)
            .await
            .unwrap();
        (user, token)
    }

    pub async fn token(&self, role: Role) -> String {
        self.user(role).await.1
    }

    pub async fn raw(&self, req: Request<Body>) -> TestResponse {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.raw(req.unwrap()).await
    }

    /// A manual full sync through the API, as `admin`; it must succeed.
    pub async fn full_sync(&self, admin: &str) -> TestResponse {
        let res = self
            .post(
                "/sync/huggingface/litert",
                Some(admin),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res
    }

    /// An anonymous GET whose body is kept as bytes.
    pub async fn raw_get(&self, uri: &str) -> (StatusCode, Vec<u8>) {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.call(Method::PATCH, uri, token, Some(body)).await
    }
}

/// The Hub simulator on a real loopback port, in-process.
pub struct SimHandle {
    pub url: String,
    pub sim: std::sync::Arc<pocket_catalog::hubsim::Sim>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl SimHandle {
    pub async fn start(litert: usize, other: usize, seed: u64) -> SimHandle {
        use pocket_catalog::hubsim::{population, Faults, Sim};
        let (repos, generator) = population::generate(population::PopulationSpec {
            litert,
            other,
            seed,
        });
        Self::with_world(Sim::new(
            population::World::new(repos, generator),
            Faults::default(),
        ))
        .await
    }

    pub async fn with_world(sim: std::sync::Arc<pocket_catalog::hubsim::Sim>) -> SimHandle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(pocket_catalog::hubsim::serve(
            sim.clone(),
            listener,
            async {
                let _ = stopped.await;
            },
        ));
        SimHandle {
            url,
            sim,
            _stop: stop,
        }
    }

    /// The public LiteRT repos a complete discovery must find.
    pub fn litert_truth(&self) -> Vec<pocket_catalog::hubsim::population::SimRepo> {
        self.sim
            .repos()
            .into_iter()
            .filter(|r| r.is_litert() && !r.private)
            .collect()
    }

    pub fn client(&self, token: Option<&str>) -> pocket_catalog::hub::HubClient {
        let mut config = pocket_catalog::hub::HubConfig::new(
            url::Url::parse(&self.url).unwrap(),
            token.map(|t| secrecy::SecretString::from(t.to_string())),
        );
        config.min_backoff = std::time::Duration::from_millis(10);
        config.max_backoff = std::time::Duration::from_millis(50);
        pocket_catalog::hub::HubClient::new(config).unwrap()
    }
}

/// A syncer for `store` reading `sim`, with quick retries; `tweak` adjusts its configuration.
pub fn syncer(
    store: &Store,
    sim: &SimHandle,
    tweak: impl FnOnce(&mut pocket_catalog::sync::SyncConfig),
) -> pocket_catalog::sync::Syncer {
    let mut config = pocket_catalog::sync::SyncConfig::new(
        pocket_catalog::sync::rules::Rules::new(Default::default()).unwrap(),
    );
    config.pull_versions = false;
    config.require_model_file = false;
    tweak(&mut config);
    pocket_catalog::app::syncer(store.clone(), sim.client(None), config).unwrap()
}

/// Serve configuration pointing at the simulator.
pub fn serve_config(sim: &SimHandle) -> ServeArgs {
    let mut config = ServeArgs::default();
    config.hub.hf_endpoint = url::Url::parse(&sim.url).unwrap();
    config.sync.sync_pull_versions = false;
    config.sync.sync_require_model_file = false;
    config
}

/// Every synced model, removed ones included, in id order.
pub async fn all_synced(store: &Store) -> Vec<pocket_catalog::domain::records::Model> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_models(&pocket_catalog::store::ModelQuery {
                include_removed: true,
                limit: 1000,
                after: after.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        out.extend(page.items.into_iter().filter(|m| m.is_synced()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.sort_by_key(|m| m.id);
    out
}

/// The upstream object ids of the models active upstream in the catalog.
pub async fn active_object_ids(store: &Store) -> std::collections::BTreeSet<String> {
    all_synced(store)
        .await
        .into_iter()
        .filter_map(|m| m.upstream)
        .filter(|u| u.status == Some(pocket_catalog::domain::UpstreamStatus::Active))
        .map(|u| u.object_id)
        .collect()
}

/// The models active upstream in the catalog are exactly the simulator's public LiteRT repos.
pub async fn assert_catalog_equals_truth(store: &Store, sim: &SimHandle) {
    let truth: std::collections::BTreeSet<String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| r.object_id)
        .collect();
    assert_eq!(active_object_ids(store).await, truth);
}

/// Whether a simulated repo holds a model file (`.tflite`, `.litertlm`, `.task`).
pub fn has_model_file(r: &pocket_catalog::hubsim::population::SimRepo) -> bool {
    r.files.iter().any(|f| {
        f.path.ends_with(".tflite") || f.path.ends_with(".litertlm") || f.path.ends_with(".task")
    })
}

/// Runs the real binary with `args` against `db` and returns its stdout, trimmed; panics on failure.
pub fn run_cli(db: &TestDb, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args(["--database-url", &db.url])
        .args(args)
        .output()
        .expect("run pocket-catalog");
    assert!(
        out.status.success(),
        "pocket-catalog {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A real `pocket-catalog serve` on a free loopback port, its logs in a file (a pipe nobody reads would
/// fill up and stall it). Killed when dropped.
pub struct Served {
    pub base: String,
    pub child: tokio::process::Child,
    pub log_path: std::path::PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Served {
    /// Starts `serve` on `db` with the extra environment `env` and waits until it is ready.
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("serve.log");
        let log_file = std::fs::File::create(&log_path).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
            .args(["--database-url", &db.url, "serve", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn pocket-catalog serve");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(res) = http.get(format!("{base}/readyz")).send().await {
                if res.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Served {
            base,
            child,
            log_path,
            _log_dir: log_dir,
        }
    }

    /// Stops the server with SIGTERM and asserts it exits cleanly; returns its logs.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().expect("running");
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(self.child.wait().await.unwrap().success());
        std::fs::read_to_string(&self.log_path).unwrap()
    }
}

/// A manual full sync through a served API at `base`, as `admin`: the answer's status and body.
pub async fn post_sync(base: String, admin: String) -> (StatusCode, String) {
    let res = reqwest::Client::new()
        .post(format!("{base}/sync/huggingface/litert"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("POST /sync/huggingface/litert");
    (res.status(), res.text().await.unwrap())
}

/// Runs one statement on the test database directly (what the store offers no method for).
pub async fn execute_raw(db: &TestDb, sql: &str) {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// One integer a query on the test database directly gives.
pub async fn scalar_raw(db: &TestDb, sql: &str) -> i64 {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// Records an inspection of `version` that extracted the label file `bytes` named `name` (hosted by
/// the service, as a model's packed labels are), beside `assets`; the file's SHA-256.
pub async fn host_labels(
    store: &Store,
    version: uuid::Uuid,
    assets: Vec<pocket_catalog::domain::records::Asset>,
    name: &str,
    bytes: Vec<u8>,
) -> String {
    use pocket_catalog::domain::records::{HostedFile, Inspected};
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let hosted = HostedFile {
        key: "labels",
        name: name.into(),
        sha256: sha.clone(),
        bytes,
    };
    let mut assets = assets;
    assets.push(hosted.asset());
    store
        .record_inspection(
            version,
            &Inspected {
                signature: None,
                inspection: serde_json::json!({"inspector_version": 1}),
                inspector_version: 1,
                pipeline: None,
                hosted: vec![hosted],
                assets: Some(assets),
            },
        )
        .await
        .unwrap()
        .expect("the version exists");
    sha
}

/// A version `by` publishes on `model` (no spec, no inspection): the row a person's upload makes.
pub fn published_version(
    model: uuid::Uuid,
    by: uuid::Uuid,
    name: &str,
    assets: Vec<pocket_catalog::domain::records::Asset>,
) -> pocket_catalog::domain::records::NewVersion {
    pocket_catalog::domain::records::NewVersion {
        model_id: model,
        version_string: name.into(),
        changelog: None,
        hf_commit_sha: None,
        pipeline_spec: None,
        assets,
        published_at: pocket_catalog::domain::now(),
        created_by: Some(by),
        license_type: None,
        inspected: None,
        refusal: None,
        deferred: None,
    }
}
