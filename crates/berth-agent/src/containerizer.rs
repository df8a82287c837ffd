//! The [`Containerizer`] trait: what the agent needs from whatever runs its tasks (Docker
//! here; a simulated backend can implement the same trait).
//!
//! The agent drives one task through the trait in this order: [`Containerizer::prepare`]
//! (fetch the image: Mesos's PULLING; [`Containerizer::create`] may run meanwhile),
//! [`Containerizer::launch`] (create unless done, and start: RUNNING),
//! [`Containerizer::wait`] (until exit) while [`Containerizer::kill`] may interrupt it, then
//! [`Containerizer::remove`] after the remove delay. After an agent restart,
//! [`Containerizer::recover`] lists the containers this agent made and
//! [`Containerizer::reattach`] resumes log streaming for the ones still running.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use mesos_proto::id::{AgentId, ContainerId, FrameworkId};
use mesos_proto::v1::TaskInfo;

use crate::run_options::RunOptionsError;

/// A future that copies a container's output into its sandbox until the container's output
/// ends; the agent drives it next to [`Containerizer::wait`] and awaits it before reporting
/// the exit, so the sandbox files are complete by then.
pub type LogPump = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Names a container of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// The agent that made it.
    pub agent_id: AgentId,
    /// Its container ID (a UUID).
    pub container_id: ContainerId,
}

impl ContainerRef {
    /// The Docker name: `mesos-<agent id>.<container id>` (Mesos 0.23–1.3 form, the seed's).
    pub fn docker_name(&self) -> String {
        format!("{}{}", name_prefix(&self.agent_id), self.container_id)
    }
}

/// The prefix of every container name an agent makes: `mesos-<agent id>.`.
pub fn name_prefix(agent_id: &AgentId) -> String {
    format!("mesos-{agent_id}.")
}

/// Everything needed to launch one task.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// Which container.
    pub container: ContainerRef,
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The task (shared with the agent's entry).
    pub task: std::sync::Arc<TaskInfo>,
    /// The run's sandbox directory on the host (exists, holds `stdout` and `stderr`).
    pub sandbox: PathBuf,
    /// The host path to bind-mount as the container's sandbox: `sandbox`, or a link to it
    /// when its path cannot be expressed in a bind spec.
    pub sandbox_mount: PathBuf,
}

/// What [`Containerizer::prepare`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// `Some` when an image was pulled: what and how long it took.
    pub pull: Option<PullReport>,
}

/// One image pull.
#[derive(Debug, Clone, PartialEq)]
pub struct PullReport {
    /// The reference pulled.
    pub image: String,
    /// The image's digest or ID after the pull, if the engine reports one.
    pub digest: Option<String>,
    /// How long the pull took.
    pub elapsed: Duration,
}

/// A started container.
pub struct Launched {
    /// The engine's description of the container (for Docker: `docker inspect` output, a JSON
    /// array), sent as TASK_RUNNING's `data`.
    pub inspect: Vec<u8>,
    /// The container's own addresses (`(is_ipv6, address)`), empty with host networking.
    pub addresses: Vec<(bool, String)>,
    /// Copies the container's output into the sandbox.
    pub logs: LogPump,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("inspect_bytes", &self.inspect.len())
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Its exit code (128 + signal when killed by a signal, as Docker reports).
    pub exit_code: i64,
    /// Whether the kernel's OOM killer ended it.
    pub oom_killed: bool,
}

/// A container found by [`Containerizer::recover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Its container ID, parsed from its name.
    pub container_id: ContainerId,
    /// Whether it was ever started (an agent stopped during a launch may leave one that was
    /// only created).
    pub started: bool,
    /// `None` while it runs, else how it ended.
    pub exited: Option<Termination>,
    /// The engine's description (as [`Launched::inspect`]).
    pub inspect: Vec<u8>,
    /// Its addresses (as [`Launched::addresses`]).
    pub addresses: Vec<(bool, String)>,
}

/// Why a containerizer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerizerError {
    /// The task cannot become a container (Mesos: "Failed to create docker run options").
    #[error(transparent)]
    Options(#[from] RunOptionsError),
    /// The image could not be pulled; `message` is the engine's own text.
    #[error("{message}")]
    Pull {
        /// The image.
        image: String,
        /// The engine's error text.
        message: String,
    },
    /// The container does not exist.
    #[error("no such container: {0}")]
    NotFound(String),
    /// The engine refused because of the object's state (HTTP 409), e.g. a name in use.
    #[error("{op}: conflict: {message}")]
    Conflict {
        /// The operation.
        op: &'static str,
        /// The engine's text.
        message: String,
    },
    /// The engine answered with an error.
    #[error("{op}: {message}")]
    Engine {
        /// The operation.
        op: &'static str,
        /// The engine's text.
        message: String,
        /// The HTTP status, if the engine answered at all.
        status: Option<u16>,
    },
    /// An engine call took longer than its configured timeout.
    #[error("{op}: no answer from the container engine within {after:?}")]
    Timeout {
        /// The operation.
        op: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A sandbox file could not be written.
    #[error("sandbox {path}: {source}")]
    Sandbox {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ContainerizerError {
    /// Whether trying again may help (timeouts, engine-side 5xx, lost connections).
    pub fn is_retryable(&self) -> bool {
        match self {
            ContainerizerError::Timeout { .. } => true,
            ContainerizerError::Engine { status, .. } => status.is_none_or(|s| s >= 500),
            ContainerizerError::Options(_)
            | ContainerizerError::Pull { .. }
            | ContainerizerError::NotFound(_)
            | ContainerizerError::Conflict { .. }
            | ContainerizerError::Sandbox { .. } => false,
        }
    }

    /// The text to show a framework: the engine's own words where there are some.
    pub fn user_message(&self) -> String {
        match self {
            ContainerizerError::Engine { message, .. }
            | ContainerizerError::Conflict { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// What runs an agent's containers. Implementations are shared (`Arc`) by the agent's task
/// workers, so every method takes `&self`.
pub trait Containerizer: Send + Sync + 'static {
    /// Makes sure the task's image is available (pulling it when absent, or always with
    /// `force_pull_image`). It may run before the request's sandbox exists (while it is made),
    /// so it must not use `sandbox` or `sandbox_mount`.
    fn prepare(
        &self,
        request: &LaunchRequest,
    ) -> impl Future<Output = Result<Prepared, ContainerizerError>> + Send;

    /// Creates the container, not started, so that [`Containerizer::launch`] has only to start
    /// it. The agent calls it first, while the sandbox is made, to take the engine's create off
    /// the task's way to TASK_RUNNING; it may therefore fail for want of the image, and then
    /// the agent calls [`Containerizer::prepare`] and `launch` creates the container after the
    /// pull. `Ok(true)` when the container was created, which also means its image is present:
    /// the agent then skips `prepare`. `Ok(false)` when the backend leaves creating to `launch`
    /// (the default), or the image must be pulled first whatever is present
    /// (`force_pull_image`).
    fn create(
        &self,
        request: &LaunchRequest,
    ) -> impl Future<Output = Result<bool, ContainerizerError>> + Send {
        let _ = request;
        async { Ok(false) }
    }

    /// Creates (unless [`Containerizer::create`] did: `created`) and starts the container,
    /// with its output going to the sandbox files.
    fn launch(
        &self,
        request: &LaunchRequest,
        created: bool,
    ) -> impl Future<Output = Result<Launched, ContainerizerError>> + Send;

    /// Waits until the container exits.
    fn wait(
        &self,
        container: &ContainerRef,
    ) -> impl Future<Output = Result<Termination, ContainerizerError>> + Send;

    /// Stops the container: SIGTERM (or the image's stop signal), SIGKILL after `grace`.
    /// Returns once the container is stopped.
    fn kill(
        &self,
        container: &ContainerRef,
        grace: Duration,
    ) -> impl Future<Output = Result<(), ContainerizerError>> + Send;

    /// Removes the container and its anonymous volumes (a missing one is fine).
    fn remove(
        &self,
        container: &ContainerRef,
    ) -> impl Future<Output = Result<(), ContainerizerError>> + Send;

    /// Lists the containers this agent made (by name prefix), running or exited.
    fn recover(
        &self,
        agent_id: &AgentId,
    ) -> impl Future<Output = Result<Vec<Recovered>, ContainerizerError>> + Send;

    /// Resumes copying a recovered running container's output into `sandbox`.
    fn reattach(
        &self,
        container: &ContainerRef,
        sandbox: PathBuf,
    ) -> impl Future<Output = Result<LogPump, ContainerizerError>> + Send;
}
