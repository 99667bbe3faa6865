//! A version's inspection as a step of its own (issue #32): not yet (no inspector version), done (the
//! inspector version that read it), or deferred — the model file could not be read for a reason that
//! may pass (the storage answered 5xx, a read ran out of its time, the Hub could not resolve it). A
//! deferred version is written all the same, `missing` with a reason that says it will be retried, the
//! number of attempts and when; later runs retry it with exponential backoff and a cap. Failures that
//! will not pass (not a model file, too large, a gated repo) are an inspection done, final until the
//! file or the inspector changes.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// How a deferred version's reason starts (the clients see it as `unsupported_reason`).
pub const INSPECTION_DEFERRED: &str = "the model file could not be read yet";

/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// An inspection put off: why, how many attempts failed, and when the next may be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferral {
    pub why: String,
    pub attempts: u32,
    pub retry_at: DateTime<Utc>,
}

impl Deferral {
    /// The deferral after `attempts` failed attempts (the last for `why`) at `now`, waiting `base`
    /// doubled for each attempt after the first, at most [`MAX_RETRY_DELAY`].
    pub fn after(
        why: impl Into<String>,
        attempts: u32,
        now: DateTime<Utc>,
        base: Duration,
    ) -> Self {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        let wait = base.saturating_mul(factor).min(MAX_RETRY_DELAY);
        Deferral {
            why: why.into(),
            attempts,
            retry_at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()),
        }
    }

    /// The version's `unsupported_reason` while deferred.
    pub fn reason(&self) -> String {
        format!(
            "{INSPECTION_DEFERRED} ({}); it will be retried after {} (attempt {})",
            self.why,
            self.retry_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.attempts
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let now = crate::domain::now();
        let base = Duration::from_secs(3600);
        let wait =
            |attempts| (Deferral::after("503", attempts, now, base).retry_at - now).num_hours();
        assert_eq!([wait(1), wait(2), wait(3), wait(4)], [1, 2, 4, 8]);
        assert_eq!(wait(40), 7 * 24, "capped");
        let d = Deferral::after("the Hub answered 503", 2, now, base);
        assert!(d.reason().starts_with(INSPECTION_DEFERRED));
        assert!(d.reason().contains("the Hub answered 503") && d.reason().contains("attempt 2"));
    }
}
