//! berth's agent: runs the tasks a master sends it as Docker containers, the way a Mesos agent
//! with the Docker containerizer does (mesos-v1.md §5), and reports their status updates with
//! Mesos's reliability rules (§4.5).
//!
//! # Layout
//!
//! * [`agent`]: [`Agent`], the one owner of the agent's state: registration, tasks, the
//!   status-update ledger, checkpoints, recovery after a restart.
//! * [`worker`]: one task's life (launch, wait, kill, terminal update, removal), spawned by
//!   the agent and reporting to it by message.
//! * [`containerizer`]: the [`Containerizer`] trait the agent drives, and its types.
//! * [`fetcher`]: the FETCHING phase: `CommandInfo.uris` into the sandbox.
//! * [`docker`]: [`DockerContainerizer`], the trait on a Docker engine through bollard.
//! * [`simulated`]: [`SimulatedContainerizer`], the trait without containers (tasks that
//!   last a set time and fail at a set rate), for scale tests and benchmarks.
//! * [`run_options`]: pure mapping of a `TaskInfo` to the Engine API's container config
//!   (Mesos's `docker run` flags), with Mesos's error texts.
//! * [`sandbox`]: sandbox directories and the `runs/latest` link.
//! * [`checkpoint`]: what survives a restart (agent ID, one record per task with its
//!   pending updates).
//! * [`config`]: [`AgentConfig`] (also [`AgentConfig::simulated`]: no disk at all;
//!   [`AgentConfig::checkpoint`] off: sandboxes but no checkpoints) and Mesos's default
//!   resources.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use berth_agent::{Agent, AgentConfig, DockerConfig, DockerContainerizer};
//! use tokio::sync::mpsc;
//! use tokio_util::sync::CancellationToken;
//!
//! let config = AgentConfig::new("/var/lib/berth/agent-0", "localhost")
//!     .with_resources_text("cpus:4;mem:8192")?;
//! let docker = DockerContainerizer::connect(DockerConfig::from_agent(&config)).await?;
//! let (to_master, _master_rx) = mpsc::channel(256);
//! let (_master_tx, from_master) = mpsc::channel(256);
//! let shutdown = CancellationToken::new();
//! Agent::new(config, docker).run(to_master, from_master, shutdown).await?;
//! # Ok(())
//! # }
//! ```

pub mod agent;
pub mod checkpoint;
pub mod config;
pub mod containerizer;
pub mod docker;
pub mod fetcher;
pub mod run_options;
pub mod sandbox;
pub mod simulated;
pub mod worker;

pub use agent::{Agent, Error, Result};
pub use config::AgentConfig;
pub use containerizer::{Containerizer, ContainerizerError};
pub use docker::{DockerConfig, DockerContainerizer};
pub use simulated::{SimulatedConfig, SimulatedContainerizer};

impl DockerConfig {
    /// The Docker settings an [`AgentConfig`] implies.
    pub fn from_agent(config: &AgentConfig) -> Self {
        DockerConfig {
            call_timeout: config.docker_call_timeout,
            pull_timeout: config.pull_timeout,
            mapped_sandbox: config.sandbox_directory.clone(),
            labels: config.container_labels.clone(),
        }
    }
}
