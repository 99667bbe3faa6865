//! The simulator's own model files: six small real LiteRT models the project built
//! (`tests/it/app_models.rs`; `models/README.md` says how), carried in the binary. `hubsim` serves them
//! for the population's image classifiers and segmenters by default, so a demo mirrors versions that
//! are verified, pending and missing side by side; every other LFS file is served as pseudo-random
//! bytes of its declared size (`cdn.rs`), as the Hub serves every file it lists.

use super::*;
use sha2::{Digest, Sha256};

/// One of the simulator's own model files.
#[derive(Debug)]
pub struct OwnModel {
    pub name: &'static str,
    /// The Hub task (`pipeline_tag`) of the repos whose `.tflite` files it backs.
    pub task: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! own {
    ($name:literal, $task:literal) => {
        OwnModel {
            name: $name,
            task: $task,
            bytes: include_bytes!(concat!("models/", $name)),
        }
    };
}

/// The simulator's own models, in the order `tests/it/app_models.rs` builds them.
pub const OWN_MODELS: &[OwnModel] = &[
    own!("colour_classifier_neg1_1.tflite", "image-classification"),
    own!("colour_classifier_imagenet.tflite", "image-classification"),
    own!(
        "colour_classifier_undeclared.tflite",
        "image-classification"
    ),
    own!("bright_segmenter_0_1.tflite", "image-segmentation"),
    own!("channel_classifier_uint8.tflite", "image-classification"),
    own!("sigmoid_mask_segmenter.tflite", "image-segmentation"),
];

impl Sim {
    /// Backs every `.tflite` file of a repo whose task one of [`OWN_MODELS`] serves with one of those
    /// (chosen by repo id and path, the same every time). Returns how many files are backed.
    pub fn serve_own_models(&self) -> usize {
        let models = OWN_MODELS
            .iter()
            .map(|m| (Some(m.task), m.bytes.to_vec()))
            .collect();
        self.back_tflite_files(models)
    }

    /// Backs every `.tflite` file of the population with one of `models` (chosen by repo id and path,
    /// the same every time): the files take the model's size and SHA-256, and the CDN serves its bytes.
    /// Returns how many files are backed.
    pub fn serve_model_files(&self, models: Vec<Vec<u8>>) -> usize {
        self.back_tflite_files(models.into_iter().map(|b| (None, b)).collect())
    }

    /// Backs each `.tflite` file with one of the `models` made for its repo's task (`None`: any task).
    fn back_tflite_files(&self, models: Vec<(Option<&str>, Vec<u8>)>) -> usize {
        let models: Vec<Backing> = models
            .into_iter()
            .map(|(task, b)| (task, hex::encode(Sha256::digest(&b)), Arc::new(b)))
            .collect();
        let mut backed = 0;
        {
            let mut world = self.world.write().expect("world lock");
            for repo in world.repos.values_mut() {
                let fits: Vec<_> = models
                    .iter()
                    .filter(|(task, ..)| task.is_none() || *task == repo.pipeline_tag.as_deref())
                    .collect();
                if fits.is_empty() {
                    continue;
                }
                let id = repo.id.clone();
                for file in repo
                    .files
                    .iter_mut()
                    .filter(|f| f.path.ends_with(".tflite"))
                {
                    let pick = fnv1a(format!("{id}/{}", file.path).as_bytes());
                    let (_, sha, bytes) = fits[(pick % fits.len() as u64) as usize];
                    file.size = bytes.len() as i64;
                    file.lfs_sha256 = Some(sha.clone());
                    file.blob_id = population::git_blob_id(format!("oid sha256:{sha}").as_bytes());
                    backed += 1;
                }
            }
        }
        let mut blobs = self.blobs.write().expect("blobs lock");
        for (_, sha, bytes) in models {
            blobs.insert(sha, cdn::Blob::Bytes(bytes));
        }
        drop(blobs);
        self.invalidate();
        backed
    }
}

/// A model backing files: the task it is for (`None`: any), its SHA-256 and its bytes.
type Backing<'a> = (Option<&'a str>, String, Arc<Vec<u8>>);

/// FNV-1a of `bytes`: a stable pick that does not change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}
