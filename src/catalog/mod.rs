//! The catalog's service layer, under both HTTP dialects: what a person may do to the catalog and how,
//! written once. Each dialect parses its own request shapes, calls an operation here and shapes the
//! answer its clients expect; dialect differences are options of the operation (`SpecRule`), never a
//! second copy.
//!
//! - [`visibility`]: who sees a model and everything under it, the rule every read applies;
//! - [`browse`]: a listing's filters as one query, under that rule;
//! - [`checks`]: the bounds of what a person may write;
//! - [`publish`]: creating and editing models and versions, a version's pipeline set, cleared or
//!   deleted — each person's spec checked once, on write;
//! - [`import`]: one Hub repo mirrored now, for an admin or a signed-in user;
//! - [`search`]: the Hub searched for repos to import;
//! - [`pipelines`]: a published version's pipeline derived from its file, generate-pipeline, and the
//!   background jobs over many versions.

pub mod browse;
pub mod checks;
pub mod error;
pub mod import;
pub mod pipelines;
pub mod publish;
pub mod ratings;
pub mod search;
pub mod visibility;

pub use error::{CatalogError, CatalogResult};
pub use publish::{Deletion, ModelDraft, SpecRule, VersionDraft};
pub use visibility::{Access, Looker};

use crate::store::Store;
use crate::sync::Syncer;

/// The catalog's operations: its store, the mirror's sources (without the operator's token) for what
/// a person causes, and the publishing rule. Built once by the composition root; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    store: Store,
    syncer: Syncer,
    publish_requires_developer: bool,
}

impl Catalog {
    pub fn new(store: Store, syncer: Syncer, publish_requires_developer: bool) -> Catalog {
        Catalog {
            store,
            syncer,
            publish_requires_developer,
        }
    }

    /// Reads by id as `looker` may see them.
    pub fn access<'a>(&'a self, looker: Looker<'a>) -> Access<'a> {
        Access::new(&self.store, looker)
    }
}
