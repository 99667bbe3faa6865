//! The Hub's rate-limit signals — `RateLimit: "api";r=<remaining>;t=<seconds>`, `RateLimit-Policy`,
//! `Retry-After` — and the pacer that spreads the remaining requests of a window over the time left, so a
//! long sync slows down before it is refused rather than after.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// What a `RateLimit` header says: requests left in the window and seconds until it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub remaining: u64,
    pub reset_secs: u64,
}

/// Parses `"api";r=12;t=40` (parameters in any order, other items ignored). `None` when either number
/// is missing or not a number.
pub fn parse_ratelimit(value: &str) -> Option<RateLimit> {
    let mut remaining = None;
    let mut reset = None;
    for part in value.split([';', ',']) {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim() {
            "r" => remaining = v.parse().ok(),
            "t" => reset = v.parse().ok(),
            _ => {}
        }
    }
    Some(RateLimit {
        remaining: remaining?,
        reset_secs: reset?,
    })
}

/// Parses the quota `q` of `"fixed window";"api";q=1000;w=300`.
pub fn parse_policy_quota(value: &str) -> Option<u64> {
    value.split(';').find_map(|p| {
        p.trim()
            .strip_prefix("q=")
            .and_then(|q| q.trim().parse().ok())
    })
}

/// Parses `Retry-After` in its seconds form, or as an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    let secs = (when.with_timezone(&chrono::Utc) - now)
        .num_seconds()
        .clamp(0, 24 * 3600);
    Some(Duration::from_secs(secs as u64))
}

/// Spreads requests when the window runs low. Below `low_water` remaining requests, each request waits
/// `time left / remaining`; with none left it waits for the reset.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<Option<(RateLimit, Instant)>>,
    low_water: u64,
}

impl Pacer {
    pub fn new(low_water: u64) -> Pacer {
        Pacer {
            state: Mutex::new(None),
            low_water,
        }
    }

    pub fn observe(&self, limit: RateLimit) {
        *self.state.lock().expect("pacer lock") = Some((limit, Instant::now()));
    }

    /// How long to wait before the next request; counts that request against the window.
    pub fn delay(&self) -> Duration {
        let mut guard = self.state.lock().expect("pacer lock");
        let Some((limit, seen)) = guard.as_mut() else {
            return Duration::ZERO;
        };
        let elapsed = seen.elapsed();
        let window_left = Duration::from_secs(limit.reset_secs).saturating_sub(elapsed);
        if window_left.is_zero() {
            *guard = None;
            return Duration::ZERO;
        }
        if limit.remaining >= self.low_water {
            limit.remaining -= 1;
            return Duration::ZERO;
        }
        if limit.remaining == 0 {
            return window_left + Duration::from_secs(1);
        }
        let wait = window_left / (limit.remaining as u32 + 1);
        limit.remaining -= 1;
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ratelimit_headers_parse() {
        assert_eq!(
            parse_ratelimit("\"api\";r=12;t=40"),
            Some(RateLimit {
                remaining: 12,
                reset_secs: 40
            })
        );
        assert_eq!(
            parse_ratelimit("\"api\"; t=5; r=0"),
            Some(RateLimit {
                remaining: 0,
                reset_secs: 5
            })
        );
        assert_eq!(parse_ratelimit("\"api\";r=x;t=1"), None);
        assert_eq!(parse_ratelimit(""), None);
        assert_eq!(
            parse_policy_quota("\"fixed window\";\"api\";q=1000;w=300"),
            Some(1000)
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let date =
            chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(30)).to_rfc2822();
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spreads_the_last_requests_over_the_window() {
        let pacer = Pacer::new(10);
        assert_eq!(pacer.delay(), Duration::ZERO, "nothing known yet");
        pacer.observe(RateLimit {
            remaining: 100,
            reset_secs: 60,
        });
        assert_eq!(pacer.delay(), Duration::ZERO);
        pacer.observe(RateLimit {
            remaining: 3,
            reset_secs: 60,
        });
        assert_eq!(pacer.delay(), Duration::from_secs(15));
        pacer.observe(RateLimit {
            remaining: 0,
            reset_secs: 20,
        });
        assert_eq!(pacer.delay(), Duration::from_secs(21));
    }

    proptest! {
        #[test]
        fn header_parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_ratelimit(&s);
            let _ = parse_policy_quota(&s);
            let _ = parse_retry_after(&s, std::time::SystemTime::now());
        }

        #[test]
        fn well_formed_ratelimits_round_trip(r in 0u64..1_000_000, t in 0u64..100_000) {
            prop_assert_eq!(parse_ratelimit(&format!("\"api\";r={r};t={t}")), Some(RateLimit { remaining: r, reset_secs: t }));
        }
    }
}
