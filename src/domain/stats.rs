//! How a version runs on people's devices, from the app's telemetry: runs, success rate and inference
//! time (p50/p95 of successful runs, nearest rank), overall and by platform and device model.

use crate::domain::records::InferenceSample;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Runs, success and inference time of a set of events.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunStats {
    pub runs: u64,
    pub successes: u64,
    /// `successes / runs`, 0 without runs.
    pub success_rate: f64,
    /// Median `total_inference_ms` of the successful runs; null without one.
    pub p50_ms: Option<i64>,
    /// 95th percentile of the same.
    pub p95_ms: Option<i64>,
}

/// The same for one platform and device model.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeviceStats {
    pub platform: String,
    pub device_model: String,
    #[serde(flatten)]
    pub stats: RunStats,
}

/// A version's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VersionStats {
    #[serde(flatten)]
    pub overall: RunStats,
    /// Most runs first.
    pub by_device: Vec<DeviceStats>,
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn run_stats<'a>(samples: impl Iterator<Item = &'a InferenceSample>) -> RunStats {
    let (mut runs, mut successes) = (0u64, 0u64);
    let mut times = Vec::new();
    for s in samples {
        runs += 1;
        if s.success {
            successes += 1;
            times.push(s.total_inference_ms);
        }
    }
    times.sort_unstable();
    RunStats {
        runs,
        successes,
        success_rate: if runs == 0 {
            0.0
        } else {
            successes as f64 / runs as f64
        },
        p50_ms: percentile(&times, 50.0),
        p95_ms: percentile(&times, 95.0),
    }
}

impl VersionStats {
    pub fn from_samples(samples: &[InferenceSample]) -> VersionStats {
        let mut groups: BTreeMap<(&str, &str), Vec<&InferenceSample>> = BTreeMap::new();
        for s in samples {
            groups
                .entry((s.platform.as_str(), s.device_model.as_str()))
                .or_default()
                .push(s);
        }
        let mut by_device: Vec<DeviceStats> = groups
            .into_iter()
            .map(|((platform, device_model), group)| DeviceStats {
                platform: platform.to_string(),
                device_model: device_model.to_string(),
                stats: run_stats(group.into_iter()),
            })
            .collect();
        by_device.sort_by_key(|d| std::cmp::Reverse(d.stats.runs));
        VersionStats {
            overall: run_stats(samples.iter()),
            by_device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(platform: &str, device: &str, ms: i64, success: bool) -> InferenceSample {
        InferenceSample {
            platform: platform.into(),
            device_model: device.into(),
            total_inference_ms: ms,
            success,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_over_successful_runs() {
        let mut samples: Vec<InferenceSample> = (1..=100)
            .map(|ms| sample("android", "Pixel 8", ms, true))
            .collect();
        samples.push(sample("android", "Pixel 8", 100_000, false));
        samples.push(sample("ios", "iPhone15,2", 40, true));
        let stats = VersionStats::from_samples(&samples);
        assert_eq!(stats.overall.runs, 102);
        assert_eq!(stats.overall.successes, 101);
        assert_eq!(stats.overall.p50_ms, Some(50));
        assert_eq!(stats.overall.p95_ms, Some(95));
        let pixel = &stats.by_device[0];
        assert_eq!(
            (pixel.platform.as_str(), pixel.device_model.as_str()),
            ("android", "Pixel 8")
        );
        assert_eq!(
            pixel.stats.p50_ms,
            Some(50),
            "the failed run's time is not counted"
        );
        assert!((pixel.stats.success_rate - 100.0 / 101.0).abs() < 1e-9);
        assert_eq!(stats.by_device[1].stats.p95_ms, Some(40));
    }

    #[test]
    fn no_runs_give_zero_and_nulls() {
        let stats = VersionStats::from_samples(&[]);
        assert_eq!(stats.overall.runs, 0);
        assert_eq!(stats.overall.success_rate, 0.0);
        assert_eq!((stats.overall.p50_ms, stats.overall.p95_ms), (None, None));
        assert!(stats.by_device.is_empty());
        let failed = VersionStats::from_samples(&[sample("ios", "x", 5, false)]);
        assert_eq!(failed.overall.p50_ms, None);
    }
}
