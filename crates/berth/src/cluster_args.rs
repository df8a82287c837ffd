//! `berth cluster`'s flags: the embedded master and its agents, served as a daemon.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::run_args::{parse_duration, LogFormat};

/// `berth cluster`: serve an embedded Mesos-compatible master with in-process Docker agents.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Address the master's HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:5050")]
    pub listen: SocketAddr,
    /// Number of in-process Docker agents.
    #[arg(long, default_value_t = 1)]
    pub agents: u32,
    /// Directory for the master's database and the agents' sandboxes.
    #[arg(long = "work-dir", default_value = "/tmp/berth")]
    pub work_dir: PathBuf,
    /// Each agent's resources, Mesos text format (default: the machine's, as Mesos computes them).
    #[arg(long)]
    pub resources: Option<String>,
    /// Hostname advertised in MasterInfo and offers (default: the listen address's IP).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Interval between HEARTBEAT events.
    #[arg(long = "heartbeat-interval", value_parser = parse_duration, default_value = "15s")]
    pub heartbeat_interval: Duration,
    /// Interval between allocation rounds.
    #[arg(long = "allocation-interval", value_parser = parse_duration, default_value = "1s")]
    pub allocation_interval: Duration,
    /// How long an exited task's container is kept before removal.
    #[arg(long = "docker-remove-delay", value_parser = parse_duration, default_value = "6h")]
    pub docker_remove_delay: Duration,
    /// Label `KEY=VALUE` put on every container the agents create (repeatable).
    #[arg(long = "container-label", value_name = "KEY=VALUE")]
    pub container_label: Vec<String>,
    /// Log format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl ClusterArgs {
    /// Checks values clap cannot: returns an error naming the flag.
    pub fn validate(&self) -> Result<(), crate::run_args::ArgError> {
        use crate::run_args::ArgError;
        if self.agents == 0 {
            return Err(ArgError {
                flag: "--agents",
                message: "'0': at least one agent is needed".into(),
            });
        }
        if let Some(r) = &self.resources {
            mesos_proto::resource::parse(r).map_err(|e| ArgError {
                flag: "--resources",
                message: format!("'{r}': {e}"),
            })?;
        }
        crate::run_args::parse_labels("--container-label", &self.container_label)?;
        if self.heartbeat_interval.is_zero() {
            return Err(ArgError {
                flag: "--heartbeat-interval",
                message: "must be positive".into(),
            });
        }
        if self.allocation_interval.is_zero() {
            return Err(ArgError {
                flag: "--allocation-interval",
                message: "must be positive".into(),
            });
        }
        Ok(())
    }
}
