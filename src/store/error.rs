//! The store's own error: callers see what went wrong (a duplicate, a missing record, a lost lease, a
//! database out of reach), never the driver's types.

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated. `constraint` is its name as PostgreSQL names it by default
    /// (`users_username_key`, `model_versions_model_id_version_string_key`, `users_pkey`) on both
    /// backends; [`constraint`] lists the ones callers match.
    #[error("{} already exists", conflict_subject(constraint))]
    Conflict { constraint: String },
    #[error("not found")]
    NotFound,
    /// The sync lease was taken over by another owner; this owner must stop writing.
    #[error("the sync lease was lost to another owner")]
    LeaseLost,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database (or the sync's lock file beside it) cannot be reached or used right now.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else the database or its driver reported.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The unique constraints callers tell apart, by name.
pub mod constraint {
    pub const USERS_ID: &str = "users_pkey";
    pub const USERS_USERNAME: &str = "users_username_key";
    pub const USERS_EMAIL: &str = "users_email_key";
    pub const ML_MODELS_SLUG: &str = "ml_models_slug_key";
    pub const VERSIONS_NAME: &str = "model_versions_model_id_version_string_key";
    pub const VERSIONS_COMMIT: &str = "model_versions_model_id_hf_commit_sha_key";
    pub const SYNC_RUNS_SCHEDULED_FOR: &str = "sync_runs_scheduled_for_key";
    /// At most one background job (trigger `inspection`) runs at a time.
    pub const SYNC_RUNS_ONE_JOB: &str = "sync_runs_trigger_key";
}

impl StoreError {
    /// A violation of the unique constraint `name`.
    pub(crate) fn conflict(name: &str) -> StoreError {
        StoreError::Conflict {
            constraint: name.to_string(),
        }
    }

    /// Whether this is a violation of the unique constraint `name`.
    pub fn is_conflict_on(&self, name: &str) -> bool {
        matches!(self, StoreError::Conflict { constraint } if constraint == name)
    }
}

/// What a person calls the value a constraint keeps unique ("username already exists").
fn conflict_subject(constraint: &str) -> &str {
    const SUBJECTS: &[(&str, &str)] = &[
        ("users_username_key", "username"),
        ("users_email_key", "email"),
        ("api_tokens_token_hash_key", "token_hash"),
        ("ml_models_slug_key", "slug"),
        ("ml_models_hf_model_id_key", "hf_model_id"),
        ("ml_models_hf_object_id_key", "hf_object_id"),
        (
            "model_versions_model_id_version_string_key",
            "version_string",
        ),
        ("model_versions_model_id_hf_commit_sha_key", "hf_commit_sha"),
        ("sync_runs_scheduled_for_key", "scheduled_for"),
        ("sync_runs_trigger_key", "a running job"),
    ];
    if let Some((_, subject)) = SUBJECTS.iter().find(|(c, _)| *c == constraint) {
        return subject;
    }
    if constraint.ends_with("_pkey") {
        return "id";
    }
    constraint
}

/// The name of the unique constraint a database error reports: PostgreSQL names it; SQLite names its
/// columns (`UNIQUE constraint failed: model_versions.model_id, model_versions.version_string`), which
/// give PostgreSQL's default name (`{table}_{columns}_key`, `{table}_pkey` for the primary key `id`).
fn constraint_name(db: &dyn sqlx::error::DatabaseError) -> String {
    if let Some(name) = db.constraint() {
        return name.to_string();
    }
    let message = db.message();
    let Some(list) = message.split_once("constraint failed: ").map(|(_, l)| l) else {
        return "unknown".to_string();
    };
    let columns: Vec<(&str, &str)> = list
        .split(", ")
        .filter_map(|c| c.trim().split_once('.'))
        .collect();
    match columns.as_slice() {
        [] => "unknown".to_string(),
        [(table, "id")] => format!("{table}_pkey"),
        [(table, _), ..] => {
            let names: Vec<&str> = columns.iter().map(|(_, c)| *c).collect();
            format!("{table}_{}_key", names.join("_"))
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                constraint: constraint_name(db.as_ref()),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable(format!("the database is unavailable: {e}"))
            }
            _ => StoreError::Other(Box::new(e)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_name_what_is_duplicated() {
        assert_eq!(
            StoreError::conflict(constraint::USERS_USERNAME).to_string(),
            "username already exists"
        );
        assert_eq!(
            StoreError::conflict("model_versions_model_id_version_string_key").to_string(),
            "version_string already exists"
        );
        assert_eq!(
            StoreError::conflict("users_pkey").to_string(),
            "id already exists"
        );
        assert!(
            StoreError::conflict(constraint::USERS_EMAIL).is_conflict_on(constraint::USERS_EMAIL)
        );
        assert!(!StoreError::NotFound.is_conflict_on(constraint::USERS_EMAIL));
    }
}
