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
    /// Interval between allocation rounds (as Mesos's `--allocation_interval`). Between rounds,
    /// resources given back go at once to frameworks not yet offered anything since they
    /// subscribed or revived.
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
    /// Number of simulated agents besides the Docker ones: they run no containers and write
    /// nothing to disk; each task goes TASK_STARTING, TASK_RUNNING, then TASK_FINISHED (or
    /// TASK_FAILED at --simulated-failure-rate) through the master like a real one.
    #[arg(long = "simulated-agents", default_value_t = 0)]
    pub simulated_agents: u32,
    /// How long each simulated task runs (default 0s: it finishes as soon as it runs).
    #[arg(long = "simulated-task-duration", value_parser = parse_duration)]
    pub simulated_task_duration: Option<Duration>,
    /// Fraction of simulated tasks that end TASK_FAILED, between 0 and 1 (default 0).
    #[arg(long = "simulated-failure-rate")]
    pub simulated_failure_rate: Option<f64>,
    /// Each simulated agent's resources, Mesos text format (default
    /// `cpus:8;mem:16384;disk:100000;ports:[31000-32000]`).
    #[arg(long = "simulated-resources")]
    pub simulated_resources: Option<String>,
}

impl ClusterArgs {
    /// Checks values clap cannot: returns an error naming the flag.
    pub fn validate(&self) -> Result<(), crate::run_args::ArgError> {
        use crate::run_args::ArgError;
        if self.agents == 0 && self.simulated_agents == 0 {
            return Err(ArgError {
                flag: "--agents",
                message: "'0': at least one agent is needed (or --simulated-agents)".into(),
            });
        }
        if self.simulated_agents == 0 {
            let stray = [
                (
                    "--simulated-task-duration",
                    self.simulated_task_duration.is_some(),
                ),
                (
                    "--simulated-failure-rate",
                    self.simulated_failure_rate.is_some(),
                ),
                ("--simulated-resources", self.simulated_resources.is_some()),
            ];
            if let Some((flag, _)) = stray.into_iter().find(|(_, given)| *given) {
                return Err(ArgError {
                    flag,
                    message: "only applies with --simulated-agents".into(),
                });
            }
        }
        if let Some(rate) = self.simulated_failure_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ArgError {
                    flag: "--simulated-failure-rate",
                    message: format!("'{rate}': must be between 0 and 1"),
                });
            }
        }
        if let Some(r) = &self.simulated_resources {
            let parsed = mesos_proto::resource::parse(r).map_err(|e| ArgError {
                flag: "--simulated-resources",
                message: format!("'{r}': {e}"),
            })?;
            if parsed.is_empty() {
                return Err(ArgError {
                    flag: "--simulated-resources",
                    message: format!("'{r}': names no resources"),
                });
            }
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

    /// The simulated agents' behaviour these flags ask for.
    pub fn simulated_config(&self) -> berth_agent::SimulatedConfig {
        berth_agent::SimulatedConfig {
            task_duration: self.simulated_task_duration.unwrap_or_default(),
            failure_rate: self.simulated_failure_rate.unwrap_or(0.0),
            seed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ClusterArgs,
    }

    fn parse(args: &[&str]) -> ClusterArgs {
        let mut all = vec!["cluster"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("flags parse").args
    }

    #[test]
    fn simulated_agents_may_replace_docker_agents() {
        let args = parse(&["--agents", "0", "--simulated-agents", "5"]);
        assert!(args.validate().is_ok());
        let err = parse(&["--agents", "0"]).validate().unwrap_err();
        assert_eq!(err.flag, "--agents");
    }

    #[test]
    fn simulated_flags_are_validated_naming_the_flag() {
        let err = parse(&["--simulated-agents", "2", "--simulated-failure-rate", "1.5"])
            .validate()
            .unwrap_err();
        assert_eq!(err.flag, "--simulated-failure-rate");
        let err = parse(&["--simulated-agents", "2", "--simulated-resources", "cpus:x"])
            .validate()
            .unwrap_err();
        assert_eq!(err.flag, "--simulated-resources");
        let err = parse(&["--simulated-task-duration", "1s"])
            .validate()
            .unwrap_err();
        assert_eq!(err.flag, "--simulated-task-duration");
        let ok = parse(&[
            "--simulated-agents",
            "2",
            "--simulated-task-duration",
            "250ms",
            "--simulated-failure-rate",
            "0.1",
            "--simulated-resources",
            "cpus:2;mem:1024",
        ]);
        assert!(ok.validate().is_ok());
        let sim = ok.simulated_config();
        assert_eq!(sim.task_duration, Duration::from_millis(250));
        assert_eq!(sim.failure_rate, 0.1);
    }
}
