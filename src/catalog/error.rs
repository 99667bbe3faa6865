//! Why a catalog operation refused or failed, in words for the person who asked; each dialect gives
//! each kind its status (`http::error`).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// It does not exist, or the caller may not see it (the same answer, on purpose).
    #[error("{0}")]
    NotFound(String),
    /// The caller may see it but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// What was sent is not acceptable (a field out of bounds, a spec that does not fit its file).
    #[error("{0}")]
    Invalid(String),
    /// A model file or the Hub could not be read to do it.
    #[error("{0}")]
    Upstream(String),
    /// The Hub asks us to slow down: try again shortly.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type CatalogResult<T> = Result<T, CatalogError>;
