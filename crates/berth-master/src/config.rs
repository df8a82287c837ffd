//! [`MasterConfig`]: everything an embedding binary or a test can set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::store::Durability;

/// The master's settings. [`MasterConfig::new`] gives Mesos's defaults; tests shrink the
/// intervals.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Where [`Master::bind`](crate::Master::bind) listens (Mesos's default port is 5050).
    pub listen: SocketAddr,
    /// Hostname shown in `MasterInfo`, `/state` and `pid`; `None` uses the listener's IP.
    pub hostname: Option<String>,
    /// Directory of `master.db` (created if missing).
    pub work_dir: PathBuf,
    /// Interval between HEARTBEAT events (Mesos: 15 s, fixed).
    pub heartbeat_interval: Duration,
    /// Mesos's `--allocation_interval` (default 1 s).
    pub allocation_interval: Duration,
    /// Mesos's `--offer_timeout`: unused offers are rescinded after this (default: never).
    pub offer_timeout: Option<Duration>,
    /// Mesos's `--agent_reregister_timeout` (default 10 min): how long agents known from before
    /// a restart may take to re-register; meanwhile reconciliation of unknown tasks is not
    /// answered (their tasks may still be running).
    pub agent_reregister_timeout: Duration,
    /// Events of earlier turns a subscriber may leave untaken before it counts as too slow and
    /// is disconnected. What one turn of the master produces is always handed over whole (an
    /// implicit reconciliation sends an event per task at once, however many there are).
    pub subscriber_buffer: usize,
    /// Messages buffered per agent link before the master drops (and logs) one.
    pub agent_buffer: usize,
    /// Messages buffered on the master's command channel.
    pub command_buffer: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Mesos's `--max_completed_frameworks` (default 50).
    pub max_completed_frameworks: usize,
    /// Mesos's `--max_completed_tasks_per_framework` (default 1000).
    pub max_completed_tasks_per_framework: usize,
    /// How `master.db` is written: durable by default; ephemeral for a master whose work dir
    /// does not outlive its process.
    pub durability: Durability,
}

impl MasterConfig {
    /// Mesos's defaults, persisting under `work_dir`.
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        MasterConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 5050)),
            hostname: None,
            work_dir: work_dir.into(),
            heartbeat_interval: Duration::from_secs(15),
            allocation_interval: Duration::from_secs(1),
            offer_timeout: None,
            agent_reregister_timeout: Duration::from_secs(600),
            subscriber_buffer: 65_536,
            agent_buffer: 16_384,
            command_buffer: 1024,
            max_body_bytes: 16 * 1024 * 1024,
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            durability: Durability::Durable,
        }
    }
}
