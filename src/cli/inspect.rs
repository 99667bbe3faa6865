//! `pocket-catalog inspect`: a model file read as the catalog reads one — a local file, or one at an
//! http(s) URL read by range — and what would be recorded for it printed as JSON, with the pipeline
//! derived from it.

use super::CliError;
use crate::inspect::packed::MAX_LABEL_BYTES;
use crate::pipeline::app_profile::{self, Companion};

/// Where `inspect` reads a model: a local file, or a URL read by range as the catalog reads uploads
/// (no credentials; private addresses allowed, as the operator's own tool).
enum Place {
    Local(std::path::PathBuf),
    Remote(url::Url, crate::pipeline::webfile::WebFiles),
}

/// A local file read by ranges.
struct FileRanges(std::sync::Mutex<std::fs::File>);

impl crate::inspect::RangeSource for FileRanges {
    async fn read(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self
            .0
            .lock()
            .map_err(|_| "the file lock is poisoned".to_string())?;
        let mut bytes = vec![0; (range.end - range.start) as usize];
        file.seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| e.to_string())?;
        Ok(bytes)
    }
}

impl Place {
    /// Where the file `name` beside the model is, as shown.
    fn beside_shown(&self, name: &str) -> Option<String> {
        match self {
            Place::Local(path) => Some(path.with_file_name(name).display().to_string()),
            Place::Remote(url, _) => url.join(name).ok().map(String::from),
        }
    }

    /// The bytes of the small file `name` beside the model (at most `max`), if any.
    async fn beside(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        use crate::inspect::RangeSource;
        match self {
            Place::Local(path) => {
                let path = path.with_file_name(name);
                (std::fs::metadata(&path).ok()?.len() <= max)
                    .then(|| std::fs::read(path).ok())
                    .flatten()
            }
            Place::Remote(url, web) => {
                let file = web.open(url.join(name).ok()?.as_str()).await.ok()?;
                if file.size > max {
                    return None;
                }
                file.read(0..file.size).await.ok()
            }
        }
    }

    /// The file `name` beside the model judged as the app reads it (`None`: there is none).
    async fn companion(
        &self,
        name: &str,
        max: u64,
        judge: fn(&[u8]) -> Companion,
    ) -> Option<Companion> {
        if !self.has(name).await {
            return None;
        }
        Some(
            self.beside(name, max)
                .await
                .map_or(Companion::Unread, |b| judge(&b)),
        )
    }

    /// Whether a file `name` is beside the model.
    async fn has(&self, name: &str) -> bool {
        match self {
            Place::Local(path) => path.with_file_name(name).is_file(),
            Place::Remote(url, web) => match url.join(name) {
                Ok(u) => web.open(u.as_str()).await.is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// Reads a model file of `size` bytes from `source`, its format told by its first bytes.
async fn read_model<S: crate::inspect::RangeSource + Sync>(
    source: &S,
    size: u64,
    shown: String,
) -> crate::pipeline::derive::FileReading {
    let head = source.read(0..size.min(8)).await.unwrap_or_default();
    let format = if head.starts_with(crate::inspect::litertlm::MAGIC) {
        "litertlm"
    } else if head.starts_with(b"PK\x03\x04") {
        "task"
    } else {
        "tflite"
    };
    crate::pipeline::derive::read_opened(source, size, format, shown).await
}

/// `inspect FILE|URL`: the file read by ranges, as the sync reads a Hub file, and its summary printed.
pub(super) async fn inspect_file(file: &str, task: Option<&str>) -> Result<(), CliError> {
    use crate::pipeline::derive::FileReading;
    // A URL of another scheme is named as such (a one-letter "scheme" is a Windows drive).
    let parsed = url::Url::parse(file).ok().filter(|u| u.scheme().len() > 1);
    if let Some(u) = parsed
        .as_ref()
        .filter(|u| !matches!(u.scheme(), "http" | "https"))
    {
        return Err(CliError::Usage(format!(
            "cannot inspect {file}: the {} scheme is not supported (a local path, or an http:// or \
             https:// URL)",
            u.scheme()
        )));
    }
    let remote = parsed;
    let shown_path = file.to_string();
    let (place, mut reading, size) = match remote {
        Some(url) => {
            let secs = |n| Some(std::time::Duration::from_secs(n));
            let timeouts = (secs(10), secs(60));
            let web = crate::pipeline::webfile::WebFiles::new(true, timeouts.0, timeouts.1)
                .map_err(|e| CliError::Other(anyhow::anyhow!(e)))?;
            let opened = web
                .open(url.as_str())
                .await
                .map_err(|e| CliError::Other(anyhow::anyhow!("cannot open {file}: {e}")))?;
            let reading = read_model(&opened, opened.size, shown_path.clone()).await;
            (Place::Remote(url, web), reading, opened.size)
        }
        None => {
            let path = std::path::PathBuf::from(file);
            let opened = std::fs::File::open(&path)
                .map_err(|e| CliError::Other(anyhow::anyhow!("cannot open {file}: {e}")))?;
            let size = opened
                .metadata()
                .map_err(|e| CliError::Other(anyhow::anyhow!("cannot read {file}: {e}")))?
                .len();
            let source = FileRanges(std::sync::Mutex::new(opened));
            let reading = read_model(&source, size, shown_path.clone()).await;
            (Place::Local(path), reading, size)
        }
    };
    // A causal LM stops at the end-of-sequence id of the config beside it, as in its repo on the Hub.
    if let FileReading::Tflite { outcome, eos, .. } = &mut reading {
        if matches!(outcome.as_ref(), Ok(seen) if crate::pipeline::recipe::generates_tokens(&seen.model))
        {
            for name in ["generation_config.json", "config.json"] {
                let id = place
                    .beside(name, crate::pipeline::derive::MAX_CONFIG_BYTES)
                    .await
                    .and_then(|bytes| crate::pipeline::recipe::eos_token_id(&bytes));
                if let (Some(id), Some(file)) = (id, place.beside_shown(name)) {
                    *eos = Some(crate::pipeline::derive::EosToken { file, id });
                    break;
                }
            }
        }
    }
    let stem = file.rsplit('/').next().unwrap_or(file);
    let stem = stem.split(['?', '#']).next().unwrap_or(stem);
    let name = stem.rsplit_once('.').map_or(stem, |(n, _)| n).to_string();
    // A label file, tokenizer or vocab beside the file counts as the version's, as in its repo, and
    // is read as the sync reads one there.
    let labels = place
        .companion("labels.txt", MAX_LABEL_BYTES, app_profile::labels_file)
        .await;
    let tokenizer = place
        .companion(
            "tokenizer.json",
            app_profile::MAX_TOKENIZER_BYTES,
            app_profile::tokenizer_file,
        )
        .await;
    if let FileReading::Tflite { companions, .. } = &mut reading {
        companions.labels = labels.clone().unwrap_or_default();
        companions.tokenizer = tokenizer.clone().unwrap_or_default();
    }
    let ctx = crate::pipeline::recipe::Context {
        model_name: &name,
        version_name: "local",
        task,
        source_repository: &shown_path,
        has_labels: labels.is_some(),
        has_tokenizer: tokenizer.is_some(),
        has_vocab: place.has("vocab.txt").await,
        ..Default::default()
    };
    let found = crate::pipeline::derive::inspected(&reading, &ctx);
    let pipeline = found.pipeline.as_ref();
    let shown = serde_json::json!({
        "file": {"path": shown_path, "size": size},
        "signature": found.signature,
        "inspection": found.inspection,
        "status": pipeline.map(|p| p.status.as_str()),
        "unsupported_reason": pipeline.and_then(|p| p.reason.as_deref()),
        "pipeline_spec": pipeline.and_then(|p| p.spec.as_ref()),
        "app_warnings": pipeline
            .and_then(|p| p.spec.as_ref())
            .map(app_profile::warnings)
            .unwrap_or_default(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&shown).expect("JSON values serialise")
    );
    // Exit 1, as documented: the file is not a model this reads (2 is for a wrong command line).
    match found.inspection["error"].as_str() {
        Some(why) => Err(CliError::Other(anyhow::anyhow!("{file}: {why}"))),
        None => Ok(()),
    }
}
