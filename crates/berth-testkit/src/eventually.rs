//! Polling a condition until it holds: the replacement for fixed sleeps in tests.

use std::fmt::Debug;
use std::future::Future;
use std::panic::Location;
use std::time::Duration;

use tokio::time::Instant;

/// The result of one look at a condition polled by [`eventually`].
///
/// Implemented for `bool` (`true` means done), `Option<T>` (`Some` means done, with the
/// value) and `Result<T, E>` (`Ok` means done; the last `Err` goes into the timeout message).
pub trait Check {
    /// What [`eventually`] returns once the condition holds.
    type Output;

    /// `Ok(output)` when the condition holds; otherwise `Err` with an optional description
    /// of why not, reported if the deadline passes.
    fn into_outcome(self) -> Result<Self::Output, Option<String>>;
}

impl Check for bool {
    type Output = ();

    fn into_outcome(self) -> Result<(), Option<String>> {
        if self {
            Ok(())
        } else {
            Err(None)
        }
    }
}

impl<T> Check for Option<T> {
    type Output = T;

    fn into_outcome(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Debug> Check for Result<T, E> {
    type Output = T;

    fn into_outcome(self) -> Result<T, Option<String>> {
        self.map_err(|err| Some(format!("{err:?}")))
    }
}

/// Calls `check` every `interval` until it reports success, and returns its value.
///
/// `check` returns `bool`, `Option<T>` or `Result<T, E>` (see [`Check`]). One call that is
/// still running at the deadline counts as a failure too, so a hung check cannot hang the test.
///
/// # Panics
///
/// When `timeout` passes first, naming the caller's file and line and the last `Err` seen.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// let start = std::time::Instant::now();
/// let waited = berth_testkit::eventually(Duration::from_secs(5), Duration::from_millis(5), || async {
///     let elapsed = start.elapsed();
///     (elapsed > Duration::from_millis(20)).then_some(elapsed)
/// })
/// .await;
/// assert!(waited > Duration::from_millis(20));
/// # }
/// ```
#[track_caller]
pub fn eventually<F, Fut, C>(
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> impl Future<Output = C::Output>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
    C: Check,
{
    // `#[track_caller]` does not reach into an `async fn`, so capture the location here and
    // hand back a future.
    let caller = Location::caller();
    async move {
        let deadline = Instant::now() + timeout;
        let mut attempts: u64 = 0;
        let mut last_failure = None;
        loop {
            attempts += 1;
            match tokio::time::timeout_at(deadline, check()).await {
                Ok(outcome) => match outcome.into_outcome() {
                    Ok(value) => return value,
                    Err(failure) => last_failure = failure.or(last_failure),
                },
                Err(_) => panic!(
                    "eventually at {caller}: condition not met within {timeout:?} \
                     (attempt {attempts} was still running at the deadline{})",
                    describe(&last_failure)
                ),
            }
            if Instant::now() + interval >= deadline {
                panic!(
                    "eventually at {caller}: condition not met within {timeout:?} \
                     after {attempts} attempts{}",
                    describe(&last_failure)
                );
            }
            tokio::time::sleep(interval).await;
        }
    }
}

fn describe(last_failure: &Option<String>) -> String {
    match last_failure {
        Some(failure) => format!("; last error: {failure}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const INTERVAL: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn eventually_returns_the_value_once_the_check_yields_some() {
        let calls = AtomicU32::new(0);
        let value = eventually(Duration::from_secs(5), INTERVAL, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            (n >= 3).then_some(n * 10)
        })
        .await;
        assert_eq!(value, 30);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn eventually_accepts_a_bool_check() {
        let calls = AtomicU32::new(0);
        eventually(Duration::from_secs(5), INTERVAL, || async {
            calls.fetch_add(1, Ordering::SeqCst) >= 1
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn eventually_accepts_a_result_check() {
        let calls = AtomicU32::new(0);
        let value = eventually(Duration::from_secs(5), INTERVAL, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err("not yet"),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(value, 1);
    }

    #[tokio::test]
    #[should_panic(expected = "last error: \"still broken\"")]
    async fn eventually_panics_with_the_last_error_at_the_deadline() {
        eventually(Duration::from_millis(30), INTERVAL, || async {
            Err::<(), _>("still broken")
        })
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "condition not met within")]
    async fn eventually_panics_when_the_condition_never_holds() {
        eventually(Duration::from_millis(30), INTERVAL, || async { false }).await;
    }

    #[tokio::test]
    #[should_panic(expected = "still running at the deadline")]
    async fn eventually_panics_when_a_check_hangs_past_the_deadline() {
        eventually(Duration::from_millis(30), INTERVAL, || {
            std::future::pending::<bool>()
        })
        .await;
    }
}
