//! [`SimulatedContainerizer`]: a [`Containerizer`] that runs nothing. Each "container" lives for
//! a configured duration and then exits with status 0, or with status 1 at a configured rate
//! (the agent turns that into TASK_FAILED); a kill ends it at once with status 137.
//!
//! Plugged into the ordinary [`Agent`](crate::Agent) with an
//! [`AgentConfig::simulated`](crate::AgentConfig::simulated) configuration, it exercises the
//! very same master paths as a Docker agent (registration, RunTask, status updates with UUIDs,
//! acknowledgements, kills), without Docker and without touching the disk, so that one process
//! can hold thousands of agents for control-plane benchmarks and scale tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mesos_proto::id::{AgentId, ContainerId, IdMap};
use tokio::sync::Notify;

use crate::containerizer::{
    ContainerRef, Containerizer, ContainerizerError, LaunchRequest, Launched, LogPump, Prepared,
    Recovered, Termination,
};

/// Exit status of a simulated task that fails.
pub const FAILED_EXIT_CODE: i64 = 1;

/// Exit status of a killed simulated task (SIGKILL, as Docker reports it).
pub const KILLED_EXIT_CODE: i64 = 137;

/// What a simulated task does.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedConfig {
    /// How long each task runs before it exits (zero: it exits as soon as it is running).
    pub task_duration: Duration,
    /// The fraction of tasks, in `[0, 1]`, that exit with status 1 instead of 0.
    pub failure_rate: f64,
    /// Seed of the failure draws, so a run is reproducible.
    pub seed: u64,
}

impl Default for SimulatedConfig {
    /// Tasks that finish at once and never fail.
    fn default() -> Self {
        SimulatedConfig {
            task_duration: Duration::ZERO,
            failure_rate: 0.0,
            seed: 0,
        }
    }
}

/// A containerizer without containers (see the module docs). Cheap: an empty map and a counter
/// until tasks run.
#[derive(Debug, Default)]
pub struct SimulatedContainerizer {
    config: SimulatedConfig,
    draws: AtomicU64,
    /// The running "containers": each one's kill signal.
    running: Mutex<IdMap<ContainerId, Arc<Notify>>>,
}

/// SplitMix64: a tiny, well-mixed hash of a counter, for the failure draws.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl SimulatedContainerizer {
    /// A simulated containerizer with this behaviour.
    pub fn new(config: SimulatedConfig) -> Self {
        SimulatedContainerizer {
            config,
            draws: AtomicU64::new(0),
            running: Mutex::new(IdMap::default()),
        }
    }

    /// The kill signal of a container, made on first use (a kill may come before `wait`).
    fn signal(&self, container_id: &ContainerId) -> Arc<Notify> {
        // Nothing panics while the lock is held; a poisoned map is still coherent.
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(running.entry(container_id.clone()).or_default())
    }

    /// Whether the next task fails: a uniform draw in `[0, 1)` below the failure rate.
    fn draw_failure(&self) -> bool {
        if self.config.failure_rate <= 0.0 {
            return false;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let bits = splitmix64(self.config.seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407)) >> 11;
        #[allow(clippy::cast_precision_loss)] // 53 bits: exact in an f64
        let sample = bits as f64 / (1u64 << 53) as f64;
        sample < self.config.failure_rate
    }

    /// How many containers are "running" (started and not yet removed).
    pub fn running(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Containerizer for SimulatedContainerizer {
    async fn prepare(&self, _: &LaunchRequest) -> Result<Prepared, ContainerizerError> {
        Ok(Prepared::default())
    }

    async fn launch(
        &self,
        request: &LaunchRequest,
        _created: bool,
    ) -> Result<Launched, ContainerizerError> {
        // Register the container now, so a kill between launch and wait is not lost.
        self.signal(&request.container.container_id);
        Ok(Launched {
            inspect: b"[]".to_vec(),
            addresses: Vec::new(),
            logs: Box::pin(async {}),
        })
    }

    async fn wait(&self, container: &ContainerRef) -> Result<Termination, ContainerizerError> {
        let killed = self.signal(&container.container_id);
        let exit_code = if self.config.task_duration.is_zero() {
            // A pending kill still wins; otherwise exit right away (no timer round trip).
            let notified = killed.notified();
            tokio::pin!(notified);
            if futures::FutureExt::now_or_never(notified.as_mut()).is_some() {
                KILLED_EXIT_CODE
            } else {
                0
            }
        } else {
            tokio::select! {
                biased;
                () = killed.notified() => KILLED_EXIT_CODE,
                () = tokio::time::sleep(self.config.task_duration) => 0,
            }
        };
        let exit_code = if exit_code == 0 && self.draw_failure() {
            FAILED_EXIT_CODE
        } else {
            exit_code
        };
        Ok(Termination {
            exit_code,
            oom_killed: false,
        })
    }

    async fn kill(&self, container: &ContainerRef, _: Duration) -> Result<(), ContainerizerError> {
        // `notify_one` keeps a permit when nobody waits yet, so an early kill is not lost.
        self.signal(&container.container_id).notify_one();
        Ok(())
    }

    async fn remove(&self, container: &ContainerRef) -> Result<(), ContainerizerError> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&container.container_id);
        Ok(())
    }

    async fn recover(&self, _: &AgentId) -> Result<Vec<Recovered>, ContainerizerError> {
        // Nothing outlives a simulated agent.
        Ok(Vec::new())
    }

    async fn reattach(&self, _: &ContainerRef, _: PathBuf) -> Result<LogPump, ContainerizerError> {
        Ok(Box::pin(async {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> ContainerRef {
        ContainerRef {
            agent_id: AgentId::generated("m-S0"),
            container_id: ContainerId::random(),
        }
    }

    #[tokio::test]
    async fn a_task_without_duration_exits_at_once_with_status_zero() {
        let sim = SimulatedContainerizer::new(SimulatedConfig::default());
        let c = container();
        let end = sim.wait(&c).await.unwrap();
        assert_eq!(end.exit_code, 0);
        assert_eq!(sim.running(), 1);
        sim.remove(&c).await.unwrap();
        assert_eq!(sim.running(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kill_ends_a_long_task_with_status_137() {
        let sim = Arc::new(SimulatedContainerizer::new(SimulatedConfig {
            task_duration: Duration::from_secs(3600),
            ..SimulatedConfig::default()
        }));
        let c = container();
        sim.kill(&c, Duration::ZERO).await.unwrap();
        let end = sim.wait(&c).await.unwrap();
        assert_eq!(end.exit_code, KILLED_EXIT_CODE);
    }

    #[test]
    fn the_failure_rate_is_honoured_roughly() {
        let sim = SimulatedContainerizer::new(SimulatedConfig {
            failure_rate: 0.25,
            seed: 7,
            ..SimulatedConfig::default()
        });
        let failures = (0..10_000).filter(|_| sim.draw_failure()).count();
        assert!((2_000..3_000).contains(&failures), "{failures}");
        let never = SimulatedContainerizer::new(SimulatedConfig::default());
        assert!(!(0..1000).any(|_| never.draw_failure()));
    }
}
