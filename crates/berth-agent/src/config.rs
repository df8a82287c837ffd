//! [`AgentConfig`]: what an agent is told at start (Mesos's agent flags, the subset berth uses).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_proto::resource;
use mesos_proto::v1::{Attribute, Resource};

/// The container path of the sandbox (Mesos `--sandbox_directory`).
pub const DEFAULT_SANDBOX_DIRECTORY: &str = "/mnt/mesos/sandbox";

/// Mesos's default `--executor_shutdown_grace_period`: the kill grace when neither the KILL
/// call nor the task has a kill policy.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Mesos's default `--docker_remove_delay` (6 hours).
pub const DEFAULT_REMOVE_DELAY: Duration = Duration::from_secs(6 * 3600);

/// The ports an agent offers when its resources do not name any (Mesos's default).
pub const DEFAULT_PORTS: (u64, u64) = (31000, 32000);

/// The label every container an agent creates carries, valued with the agent's ID.
pub const AGENT_ID_LABEL: &str = "berth.agent-id";

/// An agent's configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where sandboxes and checkpoints live (Mesos `--work_dir`).
    pub work_dir: PathBuf,
    /// Hostname offered to frameworks.
    pub hostname: String,
    /// The agent's own IP: reported in `container_status.network_infos` of updates that have no
    /// container address (as Mesos does).
    pub ip: IpAddr,
    /// The agent's HTTP port as shown in offers (Mesos default 5051).
    pub port: u16,
    /// Total resources offered.
    pub resources: Vec<Resource>,
    /// Attributes offered.
    pub attributes: Vec<Attribute>,
    /// Where the sandbox appears inside containers (Mesos `--sandbox_directory`).
    pub sandbox_directory: String,
    /// Kill grace when no kill policy is given (Mesos `--executor_shutdown_grace_period`).
    pub executor_shutdown_grace: Duration,
    /// How long an exited container is kept before `docker rm -v` (Mesos
    /// `--docker_remove_delay`; tests use 0).
    pub docker_remove_delay: Duration,
    /// Grace for stopping orphan containers (Mesos `--docker_stop_timeout`, default 0).
    pub docker_stop_timeout: Duration,
    /// How long an image pull may take.
    pub pull_timeout: Duration,
    /// How long any other single Docker call may take (create, start, inspect, remove, ...).
    /// A stop may take this plus its grace period.
    pub docker_call_timeout: Duration,
    /// Stop and remove containers with this agent's name prefix that it has no record of
    /// (Mesos `--docker_kill_orphans`).
    pub kill_orphans: bool,
    /// Extra labels put on every container this agent creates (besides
    /// `berth.agent-id=<id>`), e.g. a test run's label.
    pub container_labels: BTreeMap<String, String>,
    /// Capacity of the agent's internal channels.
    pub channel_capacity: usize,
    /// How many trailing lines of `stderr` a TASK_FAILED message quotes (0: none).
    pub stderr_tail_lines: usize,
    /// Whether the agent checkpoints its tasks and ID under `<work_dir>/meta` (default), so
    /// that an agent restarted on the same work dir recovers them. Off for a work dir that
    /// does not outlive the process (`berth run`'s embedded cluster): nothing would ever read
    /// it back.
    pub checkpoint: bool,
    /// A simulated agent (see [`crate::simulated`]): it registers with `simulated: true` and
    /// writes nothing to disk, neither sandboxes nor checkpoints, so thousands fit in one
    /// process. Nothing survives its restart.
    pub simulated: bool,
}

/// Why a resource text is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text does not parse.
    #[error("bad --resources: {0}")]
    Resources(#[from] resource::ParseError),
}

impl AgentConfig {
    /// A configuration with Mesos's defaults and resources detected from the machine (see
    /// [`default_resources`]).
    pub fn new(work_dir: impl Into<PathBuf>, hostname: impl Into<String>) -> Self {
        let work_dir = work_dir.into();
        let resources = default_resources(&work_dir);
        Self::base(work_dir, hostname.into(), resources)
    }

    /// A configuration for a simulated agent: no disk (no sandboxes, no checkpoints, nothing
    /// detected from the machine), the given resources, containers removed as soon as they
    /// exit (the simulated containerizer keeps nothing), no stderr quoting.
    pub fn simulated(hostname: impl Into<String>, resources: Vec<Resource>) -> Self {
        AgentConfig {
            docker_remove_delay: Duration::ZERO,
            kill_orphans: false,
            channel_capacity: 64,
            stderr_tail_lines: 0,
            checkpoint: false,
            simulated: true,
            ..Self::base(PathBuf::new(), hostname.into(), resources)
        }
    }

    /// The defaults shared by [`AgentConfig::new`] and [`AgentConfig::simulated`].
    fn base(work_dir: PathBuf, hostname: String, resources: Vec<Resource>) -> Self {
        AgentConfig {
            work_dir,
            hostname,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5051,
            resources,
            attributes: Vec::new(),
            sandbox_directory: DEFAULT_SANDBOX_DIRECTORY.to_owned(),
            executor_shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            docker_remove_delay: DEFAULT_REMOVE_DELAY,
            docker_stop_timeout: Duration::ZERO,
            pull_timeout: Duration::from_secs(600),
            docker_call_timeout: Duration::from_secs(30),
            kill_orphans: true,
            container_labels: BTreeMap::new(),
            channel_capacity: 256,
            stderr_tail_lines: 5,
            checkpoint: true,
            simulated: false,
        }
    }

    /// Sets the resources from Mesos's text form (`cpus:4;mem:8192;disk:10000;ports:[...]`);
    /// any of cpus, mem, disk, ports it does not name keeps the detected default.
    pub fn with_resources_text(mut self, text: &str) -> Result<Self, ConfigError> {
        let given = resource::parse(text)?;
        self.resources = merge_with_defaults(given, &self.resources);
        Ok(self)
    }
}

/// Resources named in `given`, plus every default whose name `given` lacks.
fn merge_with_defaults(mut given: Vec<Resource>, defaults: &[Resource]) -> Vec<Resource> {
    for default in defaults {
        if !given.iter().any(|r| r.name == default.name) {
            given.push(default.clone());
        }
    }
    given
}

/// Mesos's defaults for an agent without `--resources` (`containerizer.cpp`): cpus = the
/// number of cores; mem = total − 1 GB when total ≥ 2 GB, else half; disk = size of the work
/// dir's filesystem − 5 GB when ≥ 10 GB, else half; ports `[31000-32000]`.
pub fn default_resources(work_dir: &Path) -> Vec<Resource> {
    const GB: f64 = 1024.0; // in MB
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mem_total = total_memory_mb().unwrap_or(2.0 * GB);
    let mem = if mem_total >= 2.0 * GB {
        mem_total - GB
    } else {
        mem_total / 2.0
    };
    let disk_total = filesystem_size_mb(work_dir).unwrap_or(10.0 * GB);
    let disk = if disk_total >= 10.0 * GB {
        disk_total - 5.0 * GB
    } else {
        disk_total / 2.0
    };
    #[allow(clippy::cast_precision_loss)] // a core count is small
    let cpus = cpus as f64;
    vec![
        resource::scalar("cpus", cpus),
        resource::scalar("mem", mem.floor()),
        resource::scalar("disk", disk.floor()),
        resource::ports(&[DEFAULT_PORTS]),
    ]
}

/// `MemTotal` of `/proc/meminfo`, in MB.
fn total_memory_mb() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Size of the filesystem holding `path` (or its nearest existing ancestor), in MB.
fn filesystem_size_mb(path: &Path) -> Option<f64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    #[allow(clippy::cast_precision_loss)] // MB precision is plenty
    let bytes = stat.f_blocks as f64 * stat.f_frsize as f64;
    Some(bytes / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::{ranges_of, scalar_sum};

    #[test]
    fn resources_text_overrides_only_what_it_names() {
        let config = AgentConfig::new("/tmp/agent", "localhost")
            .with_resources_text("cpus:4;mem:8192")
            .unwrap();
        assert_eq!(scalar_sum(&config.resources, "cpus"), 4.0);
        assert_eq!(scalar_sum(&config.resources, "mem"), 8192.0);
        assert!(scalar_sum(&config.resources, "disk") > 0.0);
        assert_eq!(ranges_of(&config.resources, "ports"), vec![DEFAULT_PORTS]);
    }

    #[test]
    fn resources_text_reads_the_full_form() {
        let config = AgentConfig::new("/tmp/agent", "localhost")
            .with_resources_text("cpus:4;mem:8192;disk:10000;ports:[31000-31005, 32000-32001]")
            .unwrap();
        assert_eq!(scalar_sum(&config.resources, "disk"), 10000.0);
        assert_eq!(
            ranges_of(&config.resources, "ports"),
            vec![(31000, 31005), (32000, 32001)]
        );
        assert!(AgentConfig::new("/tmp/agent", "h")
            .with_resources_text("cpus:x")
            .is_err());
    }

    #[test]
    fn default_resources_follow_mesos_rules() {
        let resources = default_resources(Path::new("/definitely/not/there"));
        assert!(scalar_sum(&resources, "cpus") >= 1.0);
        assert!(scalar_sum(&resources, "mem") > 0.0);
        assert!(scalar_sum(&resources, "disk") > 0.0);
        assert_eq!(ranges_of(&resources, "ports"), vec![DEFAULT_PORTS]);
    }
}
