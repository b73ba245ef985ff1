//! Log lines for events a stranger can repeat at will (refused tokens, refused consent
//! answers): the first of a minute is logged with its detail, the rest are counted and
//! summarized in one line when the next minute's first arrives, so a flood cannot flood the
//! log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts one kind of event and logs it at most about once a minute.
#[derive(Debug)]
pub struct Summarized {
    /// What is counted, in words, for the log.
    what: &'static str,
    state: Mutex<(u64, Option<Instant>)>,
}

impl Summarized {
    const INTERVAL: Duration = Duration::from_secs(60);

    /// A counter for `what` (e.g. "refused requests without a valid bearer token (401)").
    pub const fn new(what: &'static str) -> Self {
        Summarized {
            what,
            state: Mutex::new((0, None)),
        }
    }

    /// One event, with `detail` for the log line if this one is logged. Whether it was
    /// logged (the first of its minute) rather than only counted.
    pub fn record(&self, detail: &dyn std::fmt::Debug) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (count, since) = &mut *s;
        match since {
            Some(t) if t.elapsed() < Self::INTERVAL => {
                *count += 1;
                false
            }
            _ => {
                if *count > 0 {
                    tracing::info!(count = *count, "{} in the last minute", self.what);
                }
                tracing::info!(detail = ?detail, "{}: one; further ones are counted and summarized once a minute", self.what);
                *count = 0;
                *since = Some(Instant::now());
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Summarized;

    #[test]
    fn only_the_first_of_a_minute_is_logged() {
        let s = Summarized::new("things");
        assert!(s.record(&"first"));
        for _ in 0..1000 {
            assert!(!s.record(&"again"));
        }
        assert_eq!(s.state.lock().unwrap().0, 1000);
    }
}
