//! Per-user allowances over a sliding window, kept in memory by each replica: the ad-hoc imports a
//! user may start per hour, and the telemetry events they may send per hour.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What each user spent, oldest first: when, and how much.
type Spent = HashMap<Uuid, VecDeque<(Instant, u64)>>;

/// How much each user used within the last `window`.
#[derive(Clone)]
pub struct WindowLimiter {
    window: Duration,
    used: Arc<Mutex<Spent>>,
}

impl WindowLimiter {
    pub fn new(window: Duration) -> WindowLimiter {
        WindowLimiter {
            window,
            used: Default::default(),
        }
    }

    /// Counts `amount` for `user` when it fits within `max` over the window; otherwise counts nothing
    /// and says how long until it would fit.
    pub fn admit(&self, user: Uuid, amount: u64, max: u64) -> Result<(), Duration> {
        let mut used = self.used.lock().expect("limiter lock");
        let window = self.window;
        used.retain(|_, spent| {
            while spent.front().is_some_and(|(t, _)| t.elapsed() >= window) {
                spent.pop_front();
            }
            !spent.is_empty()
        });
        let spent = used.entry(user).or_default();
        let total: u64 = spent.iter().map(|(_, n)| n).sum();
        if total + amount > max {
            // The oldest spending that must expire for `amount` to fit.
            let mut left = total + amount - max;
            let mut wait = window;
            for (t, n) in spent.iter() {
                wait = window.saturating_sub(t.elapsed());
                left = left.saturating_sub(*n);
                if left == 0 {
                    break;
                }
            }
            return Err(wait);
        }
        spent.push_back((Instant::now(), amount));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_refused_past_the_allowance_and_others_are_not() {
        let limiter = WindowLimiter::new(Duration::from_secs(3600));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(limiter.admit(a, 150, 200).is_ok());
        assert!(limiter.admit(a, 50, 200).is_ok());
        let wait = limiter.admit(a, 1, 200).unwrap_err();
        assert!(wait.as_secs() > 3500, "{wait:?}");
        assert!(limiter.admit(b, 200, 200).is_ok());
        assert!(
            limiter.admit(b, 201, 200).is_err(),
            "never more than the allowance at once"
        );
    }

    #[test]
    fn the_window_frees_what_it_counted() {
        let limiter = WindowLimiter::new(Duration::from_millis(20));
        let a = Uuid::new_v4();
        assert!(limiter.admit(a, 2, 2).is_ok());
        assert!(limiter.admit(a, 1, 2).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.admit(a, 2, 2).is_ok());
    }
}
