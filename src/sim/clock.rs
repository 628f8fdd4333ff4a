//! The simulator's clock: the only source of time for sessions, messages and timestamps.
//!
//! A manual clock stands still until a test moves it, so lifecycle tests need no sleeps and
//! give the same answer on a slow machine. A real-time clock follows the system clock, for
//! demos. Time is kept in milliseconds so that short demo timings stay exact; the API shows
//! epoch seconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether sim time moves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Time moves only through `Simulator::advance` (or `POST /_sim/advance`).
    Manual,
    /// Time follows the system clock.
    Realtime,
}

/// Where a manual clock starts: 2026-01-01T00:00:00Z, in milliseconds. A fixed start keeps
/// test output stable from one run to the next.
const MANUAL_EPOCH_MS: i64 = 1_767_225_600_000;

/// The clock itself.
#[derive(Debug)]
pub(crate) enum Clock {
    Manual { now_ms: AtomicI64 },
    Realtime,
}

/// The clock follows the system clock and cannot be moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotManual;

impl Clock {
    pub(crate) fn new(mode: ClockMode) -> Self {
        match mode {
            ClockMode::Manual => Self::Manual {
                now_ms: AtomicI64::new(MANUAL_EPOCH_MS),
            },
            ClockMode::Realtime => Self::Realtime,
        }
    }

    /// Current sim time in epoch milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        match self {
            Self::Manual { now_ms } => now_ms.load(Ordering::SeqCst),
            Self::Realtime => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock forward by `by`, saturating far in the future.
    pub(crate) fn advance(&self, by: Duration) -> Result<(), NotManual> {
        match self {
            Self::Manual { now_ms } => {
                let step = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
                let _ = now_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                    Some(now.saturating_add(step))
                });
                Ok(())
            }
            Self::Realtime => Err(NotManual),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::new(ClockMode::Manual);
        let start = clock.now_ms();
        assert_eq!(clock.now_ms(), start);
        assert_eq!(clock.advance(Duration::from_millis(1500)), Ok(()));
        assert_eq!(clock.now_ms(), start + 1500);
    }

    #[test]
    fn realtime_clock_refuses_to_advance() {
        let clock = Clock::new(ClockMode::Realtime);
        assert_eq!(clock.advance(Duration::from_secs(1)), Err(NotManual));
        assert!(clock.now_ms() > MANUAL_EPOCH_MS);
    }
}
