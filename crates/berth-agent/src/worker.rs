//! One task's life on the agent: a worker future the agent spawns per task. It drives the
//! [`Containerizer`] and reports every state change to the agent as a [`WorkerEvent`]; the
//! agent stamps UUIDs, checkpoints and forwards them (it owns all state, the worker none).
//!
//! Launch: sandbox → image (Mesos's PULLING; a kill here ends the task with
//! `REASON_TASK_KILLED_DURING_LAUNCH`) → TASK_STARTING → create + start → TASK_RUNNING → wait,
//! with kills interrupting → terminal update → remove the container after the remove delay.
//! Without URIs to fetch, the sandbox, the image check and the container's create run at once
//! (the create is undone if the launch ends before TASK_STARTING); the updates' order is the
//! same. A recovered task (after an agent restart) joins at "wait".

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt as _;
use mesos_proto::id::{FrameworkId, TaskId};
use mesos_proto::v1::network_info::{IpAddress, Protocol};
use mesos_proto::v1::task_status::{Reason, Source};
use mesos_proto::v1::{ContainerStatus, NetworkInfo, TaskInfo, TaskState, TaskStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::containerizer::{
    ContainerRef, Containerizer, ContainerizerError, LaunchRequest, LogPump, Prepared, Recovered,
    Termination,
};
use crate::docker::tail;
use crate::sandbox;

/// What a worker tells the agent.
#[derive(Debug)]
pub enum WorkerEvent {
    /// A new status for the task (without UUID: the agent's ledger stamps it).
    Update {
        /// The framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The update.
        status: Box<TaskStatus>,
    },
    /// The worker panicked (a bug): its container was stopped and removed as far as
    /// possible; the agent fails the task unless its terminal update was already sent.
    Crashed {
        /// The framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// For the TASK_FAILED update.
        message: String,
    },
    /// The worker is finished (terminal update sent and the container removed, or the agent
    /// is shutting down).
    Done {
        /// The framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
    },
}

/// How a worker starts.
#[derive(Debug)]
pub enum Start {
    /// A new task: launch it.
    Launch,
    /// A task found again after an agent restart.
    Recover {
        /// Its state before the restart.
        state: TaskState,
        /// `Some(grace)` when a kill had been requested: it is carried out again.
        resume_kill: Option<Duration>,
        /// Its container, if it still exists.
        container: Option<Recovered>,
    },
}

/// Everything a worker needs; it owns copies, never references into agent state.
pub struct Worker<C> {
    /// Runs containers.
    pub containerizer: Arc<C>,
    /// Where events go.
    pub events: mpsc::Sender<WorkerEvent>,
    /// Kill requests (grace periods) from the agent.
    pub kills: mpsc::Receiver<Duration>,
    /// The agent is stopping: leave containers as they are and return.
    pub shutdown: CancellationToken,
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// Whether the framework wants TASK_KILLING.
    pub killing_capable: bool,
    /// The task (shared with the agent's entry).
    pub task: Arc<TaskInfo>,
    /// Its container.
    pub container: ContainerRef,
    /// The agent's work dir.
    pub work_dir: PathBuf,
    /// How long fetching all of the task's URIs may take.
    pub fetch_timeout: Duration,
    /// Whether to create the sandbox on disk (false for simulated agents, which write
    /// nothing; the containerizer is then given the sandbox path without it existing).
    pub create_sandbox: bool,
    /// The run directory.
    pub sandbox: PathBuf,
    /// The agent's IP, for updates without a container address.
    pub agent_ip: IpAddr,
    /// The same, as text (rendered once per agent, not for every update).
    pub agent_ip_text: Arc<str>,
    /// Delay before removing the exited container.
    pub remove_delay: Duration,
    /// How long to wait for the log stream to drain after exit.
    pub drain_timeout: Duration,
    /// Lines of stderr quoted in TASK_FAILED.
    pub stderr_tail_lines: usize,
}

/// A future's output, or never when there is no future (for optional `select!` arms).
async fn maybe<F: Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn ip_address(v6: bool, ip: &str) -> IpAddress {
    IpAddress {
        protocol: Some(if v6 { Protocol::IPv6 } else { Protocol::IPv4 } as i32),
        ip_address: Some(ip.to_owned()),
    }
}

fn network_info(addresses: &[(bool, String)], template: Option<&NetworkInfo>) -> NetworkInfo {
    let mut info = template.cloned().unwrap_or_default();
    info.ip_addresses = addresses
        .iter()
        .map(|(v6, ip)| ip_address(*v6, ip))
        .collect();
    info
}

/// What precedes the quoted end of stderr in a TASK_FAILED message.
const STDERR_TAIL_INTRO: &str = "; last lines of stderr:\n";

type StopFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<(), ContainerizerError>> + Send + 'a>>;

impl<C: Containerizer> Worker<C> {
    /// Runs the task to its end, or until the agent shuts down.
    pub async fn run(mut self, start: Start) {
        let shutdown = self.shutdown.clone();
        let framework_id = self.framework_id.clone();
        let task_id = TaskId::generated(self.task.task_id.value.clone());
        let events = self.events.clone();
        let outcome = tokio::select! {
            // The agent is stopping (not the tasks): containers keep running and a restarted
            // agent recovers them.
            () = shutdown.cancelled() => return,
            outcome = std::panic::AssertUnwindSafe(self.drive(start)).catch_unwind() => outcome,
        };
        if let Err(panic) = outcome {
            // A bug, contained: the task fails (as a Mesos task does when its executor dies)
            // instead of staying RUNNING forever, and its container does not outlive it.
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            tracing::error!(task_id = %task_id, panic = %text, "the task's worker panicked; the task fails");
            let _ = self
                .containerizer
                .kill(&self.container, Duration::ZERO)
                .await;
            let _ = self.containerizer.remove(&self.container).await;
            let _ = events
                .send(WorkerEvent::Crashed {
                    framework_id: framework_id.clone(),
                    task_id: task_id.clone(),
                    message: format!(
                        "Executor terminated: the agent's worker for the task failed: {text}"
                    ),
                })
                .await;
        }
        let _ = events
            .send(WorkerEvent::Done {
                framework_id,
                task_id,
            })
            .await;
    }

    async fn drive(&mut self, start: Start) {
        match start {
            Start::Launch => self.launch().await,
            Start::Recover {
                state,
                resume_kill,
                container,
            } => self.recover(state, resume_kill, container).await,
        }
    }

    fn status(&self, state: TaskState, source: Source) -> TaskStatus {
        TaskStatus {
            task_id: self.task.task_id.clone(),
            state: state as i32,
            source: Some(source as i32),
            agent_id: Some(self.container.agent_id.to_proto()),
            executor_id: Some(mesos_proto::v1::ExecutorId::from_str_value(
                self.task.task_id.value.clone(),
            )),
            timestamp: Some(now_seconds()),
            container_status: Some(Box::new(ContainerStatus {
                container_id: Some(self.container.container_id.to_proto()),
                network_infos: vec![NetworkInfo {
                    ip_addresses: vec![ip_address(self.agent_ip.is_ipv6(), &self.agent_ip_text)],
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    async fn emit(&self, status: TaskStatus) {
        tracing::info!(
            framework_id = %self.framework_id,
            task_id = %self.task.task_id.value,
            container_id = %self.container.container_id,
            state = TaskState::try_from(status.state).map_or("?", |s| s.as_str_name()),
            // Not the quoted stderr: task output may hold secrets.
            status_message = status
                .message
                .as_deref()
                .and_then(|m| m.split(STDERR_TAIL_INTRO).next())
                .unwrap_or(""),
            "task status"
        );
        let _ = self
            .events
            .send(WorkerEvent::Update {
                framework_id: self.framework_id.clone(),
                task_id: TaskId::generated(self.task.task_id.value.clone()),
                status: Box::new(status),
            })
            .await;
    }

    async fn fail_launch(&self, state: TaskState, reason: Reason, message: String) {
        let mut status = self.status(state, Source::Agent);
        status.reason = Some(reason as i32);
        status.message = Some(message);
        self.emit(status).await;
    }

    async fn launch(&mut self) {
        let uris = self
            .task
            .command
            .as_ref()
            .map(|c| c.uris.clone())
            .unwrap_or_default();
        let fetching = self.create_sandbox && !uris.is_empty();
        let containerizer = Arc::clone(&self.containerizer);
        let mount = if self.create_sandbox {
            sandbox::mount_path(
                &self.work_dir,
                &self.container.agent_id,
                &self.sandbox,
                &self.container.container_id,
            )
        } else {
            self.sandbox.clone()
        };
        let request = LaunchRequest {
            container: self.container.clone(),
            framework_id: self.framework_id.clone(),
            task: Arc::clone(&self.task),
            sandbox: self.sandbox.clone(),
            sandbox_mount: mount,
        };
        // Without URIs, Mesos's FETCHING phase is empty, and nothing before the start needs
        // the sandbox: making it and creating the container go at once instead of one after
        // the other on every launch's path. A container created ahead is removed when the
        // launch ends before TASK_STARTING.
        let mut ahead = (!fetching).then(|| Box::pin(containerizer.create(&request)));
        let mut ahead_done = None;
        let created = {
            let create = self.create_sandbox.then(|| {
                let (work_dir, agent_id, sandbox, container_id) = (
                    self.work_dir.clone(),
                    self.container.agent_id.clone(),
                    self.sandbox.clone(),
                    self.container.container_id.clone(),
                );
                async move { sandbox::create(&work_dir, &agent_id, &sandbox, &container_id).await }
            });
            let mut create = std::pin::pin!(async {
                match create {
                    Some(create) => create.await,
                    None => Ok(self.sandbox.clone()),
                }
            });
            loop {
                tokio::select! {
                    created = &mut create => break created,
                    made = maybe(&mut ahead), if ahead_done.is_none() => {
                        ahead_done = Some(made);
                    }
                }
            }
        };
        if let Err(err) = created {
            let message = format!(
                "Failed to launch container: cannot create the sandbox {}: {err}",
                self.sandbox.display()
            );
            self.abandon_launch(
                TaskState::TaskFailed,
                Reason::ContainerLaunchFailed,
                message,
                ahead_done,
                ahead,
            )
            .await;
            return;
        }

        // Mesos's FETCHING phase: the task's URIs into the sandbox (real sandboxes only;
        // simulated agents write nothing).
        if fetching {
            let fetched = tokio::select! {
                r = crate::fetcher::fetch_all(&uris, &self.sandbox, self.fetch_timeout) => r,
                Some(_) = self.kills.recv() => {
                    self.fail_launch(
                        TaskState::TaskKilled,
                        Reason::TaskKilledDuringLaunch,
                        "Killed before delivery to the executor".to_owned(),
                    )
                    .await;
                    return;
                }
            };
            if let Err(err) = fetched {
                self.fail_launch(
                    TaskState::TaskFailed,
                    Reason::ContainerLaunchFailed,
                    format!("Failed to launch container: {err}"),
                )
                .await;
                return;
            }
        }

        // Mesos's PULLING phase: the task has not reached an executor yet. A container
        // created ahead proves its image is present (`Containerizer::create`): nothing to
        // pull, and the engine is spared an image check on every launch. Otherwise (no create
        // ahead, or it failed for want of the image, or the backend leaves creating to the
        // launch) the image is checked and pulled as Mesos does.
        let mut prepare = None;
        let killed = loop {
            if prepare.is_none() {
                match &ahead_done {
                    Some(Ok(true)) => break Ok(Ok(Prepared::default())),
                    None if ahead.is_some() => {}
                    Some(_) | None => prepare = Some(Box::pin(containerizer.prepare(&request))),
                }
            }
            tokio::select! {
                prepared = maybe(&mut prepare) => break Ok(prepared),
                Some(_) = self.kills.recv() => break Err(()),
                made = maybe(&mut ahead), if ahead_done.is_none() => {
                    ahead_done = Some(made);
                }
            }
        };
        let prepared = match killed {
            Ok(prepared) => prepared,
            Err(()) => {
                self.abandon_launch(
                    TaskState::TaskKilled,
                    Reason::TaskKilledDuringLaunch,
                    "Killed before delivery to the executor".to_owned(),
                    ahead_done,
                    ahead,
                )
                .await;
                return;
            }
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(err) => {
                let message = format!("Failed to launch container: {}", err.user_message());
                self.abandon_launch(
                    TaskState::TaskFailed,
                    Reason::ContainerLaunchFailed,
                    message,
                    ahead_done,
                    ahead,
                )
                .await;
                return;
            }
        };

        let mut starting = self.status(TaskState::TaskStarting, Source::Executor);
        starting.message = starting_message(&prepared);

        // A create ahead that failed (the image was missing, say) is made again by `launch`,
        // whose errors are then reported as they would have been without it.
        let created = match (ahead_done, ahead) {
            (Some(made), _) => made,
            (None, Some(making)) => making.await,
            (None, None) => Ok(false),
        };
        let created = matches!(created, Ok(true));
        // The launch's first engine request (the start itself, for a container created and
        // attached ahead) is on its way before TASK_STARTING goes up: the update's trip
        // through master and framework then overlaps the engine's work instead of delaying
        // its start.
        let mut launch = std::pin::pin!(containerizer.launch(&request, created));
        let first = futures::FutureExt::now_or_never(launch.as_mut());
        self.emit(starting).await;
        let launched = match first {
            Some(launched) => launched,
            None => launch.await,
        };
        let launched = match launched {
            Ok(launched) => launched,
            Err(ContainerizerError::Options(err)) => {
                let mut failed = self.status(TaskState::TaskFailed, Source::Executor);
                failed.message = Some(format!("Failed to create docker run options: {err}"));
                self.emit(failed).await;
                return;
            }
            Err(err) => {
                let mut failed = self.status(TaskState::TaskFailed, Source::Executor);
                failed.message = Some(format!(
                    "Failed to run docker container: {}",
                    err.user_message()
                ));
                self.emit(failed).await;
                // The container may exist (created, never started).
                self.remove_later().await;
                return;
            }
        };

        let mut running = self.status(TaskState::TaskRunning, Source::Executor);
        running.data = Some(launched.inspect.clone());
        self.set_addresses(&mut running, &launched.addresses);
        self.emit(running).await;

        self.supervise(Some(launched.logs), None).await;
    }

    /// Removes a container created ahead ([`Containerizer::create`]) for a launch that ended
    /// before TASK_STARTING: Mesos would never have created it.
    /// Ends a launch that did not get as far as the container: the update, then the container
    /// created ahead (if any) removed.
    async fn abandon_launch<F>(
        &self,
        state: TaskState,
        reason: Reason,
        message: String,
        done: Option<Result<bool, ContainerizerError>>,
        pending: Option<F>,
    ) where
        F: Future<Output = Result<bool, ContainerizerError>>,
    {
        self.fail_launch(state, reason, message).await;
        self.discard_ahead(done, pending).await;
    }

    async fn discard_ahead<F>(
        &self,
        done: Option<Result<bool, ContainerizerError>>,
        pending: Option<F>,
    ) where
        F: Future<Output = Result<bool, ContainerizerError>>,
    {
        let created = match (done, pending) {
            (Some(made), _) => made,
            (None, Some(making)) => making.await,
            (None, None) => Ok(false),
        };
        if matches!(created, Ok(true)) {
            if let Err(err) = self.containerizer.remove(&self.container).await {
                tracing::warn!(container_id = %self.container.container_id, error = %err, "cannot remove the container");
            }
        }
    }

    async fn recover(
        &mut self,
        state: TaskState,
        resume_kill: Option<Duration>,
        container: Option<Recovered>,
    ) {
        let Some(container) = container else {
            let message = "Container terminated; it was gone when the agent recovered".to_owned();
            self.fail_launch(TaskState::TaskFailed, Reason::ExecutorTerminated, message)
                .await;
            return;
        };
        if !container.started {
            let message = "Container terminated; it never started (the agent stopped during \
                           its launch)"
                .to_owned();
            self.fail_launch(TaskState::TaskFailed, Reason::ExecutorTerminated, message)
                .await;
            self.remove_later().await;
            return;
        }
        // Also for an exited container: what it wrote while no agent ran is fetched, and the
        // stream ends by itself.
        let logs = {
            match self
                .containerizer
                .reattach(&self.container, self.sandbox.clone())
                .await
            {
                Ok(logs) => Some(logs),
                Err(err) => {
                    tracing::warn!(container_id = %self.container.container_id, error = %err, "cannot resume log streaming");
                    None
                }
            }
        };
        if matches!(state, TaskState::TaskStaging | TaskState::TaskStarting) {
            let mut running = self.status(TaskState::TaskRunning, Source::Executor);
            running.data = Some(container.inspect.clone());
            self.set_addresses(&mut running, &container.addresses);
            self.emit(running).await;
        }
        // A kill that was under way before the restart is carried out again.
        self.supervise(logs, resume_kill).await;
    }

    fn set_addresses(&self, status: &mut TaskStatus, addresses: &[(bool, String)]) {
        if addresses.is_empty() {
            // Host networking: the agent's own IP, as Mesos inserts it.
            return;
        }
        let template = self
            .task
            .container
            .as_ref()
            .and_then(|c| c.network_infos.first());
        if let Some(container_status) = status.container_status.as_mut() {
            container_status.network_infos = vec![network_info(addresses, template)];
        }
    }

    /// Waits for the container's exit while handling kills; reports the terminal update and
    /// removes the container.
    async fn supervise(&mut self, logs: Option<LogPump>, resume_kill: Option<Duration>) {
        let containerizer = Arc::clone(&self.containerizer);
        let container = self.container.clone();
        let mut logs = logs;
        let mut wait = Box::pin(containerizer.wait(&container));
        let mut stop: Option<StopFuture<'_>> = None;
        let mut killed = false;
        let mut killing_sent = false;
        // `TaskInfo.max_completion_time`: stopped with no grace when exceeded (§5.9).
        let mut deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = self
            .task
            .max_completion_time
            .as_ref()
            .map(|d| Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0)))
            .map(|limit| Box::pin(tokio::time::sleep(limit)));
        let mut timed_out = false;
        if let Some(grace) = resume_kill {
            killed = true;
            killing_sent = true;
            stop = Some(Box::pin(containerizer.kill(&container, grace)));
        }
        let end = loop {
            tokio::select! {
                end = &mut wait => break end,
                () = maybe(&mut logs) => logs = None,
                Some(grace) = self.kills.recv() => {
                    killed = true;
                    if !killing_sent && self.killing_capable {
                        killing_sent = true;
                        self.emit(self.status(TaskState::TaskKilling, Source::Executor)).await;
                    }
                    tracing::info!(container_id = %container.container_id, ?grace, "stopping container");
                    // A new KILL replaces a pending stop, as a new `docker stop` does in Mesos.
                    stop = Some(Box::pin(containerizer.kill(&container, grace)));
                }
                () = maybe(&mut deadline) => {
                    deadline = None;
                    if !killed {
                        timed_out = true;
                        tracing::info!(container_id = %container.container_id, "max_completion_time reached; stopping container");
                        stop = Some(Box::pin(containerizer.kill(&container, Duration::ZERO)));
                    }
                }
                result = maybe(&mut stop) => {
                    stop = None;
                    if let Err(err) = result {
                        tracing::warn!(container_id = %container.container_id, error = %err, "stopping the container failed");
                    }
                }
            }
        };
        drop(stop);
        if let Some(logs) = logs {
            // The output stream ends right after the exit; give it a moment to drain so the
            // sandbox files (and the stderr tail below) are complete.
            let _ = tokio::time::timeout(self.drain_timeout, logs).await;
        }
        let status = match end {
            Ok(end) => self.terminal(&end, killed, timed_out).await,
            Err(err) => {
                let mut failed = self.status(TaskState::TaskFailed, Source::Executor);
                failed.message = Some(format!("Failed to get exit status of container: {err}"));
                failed
            }
        };
        self.emit(status).await;
        self.remove_later().await;
    }

    async fn terminal(&self, end: &Termination, killed: bool, timed_out: bool) -> TaskStatus {
        let code = end.exit_code;
        let message = format!("Container exited with status {code}");
        if timed_out && !killed {
            let mut status = self.status(TaskState::TaskFailed, Source::Executor);
            status.reason = Some(Reason::MaxCompletionTimeReached as i32);
            status.message = Some(message);
            return status;
        }
        if killed {
            let mut status = self.status(TaskState::TaskKilled, Source::Executor);
            status.message = Some(message);
            return status;
        }
        if code == 0 {
            let mut status = self.status(TaskState::TaskFinished, Source::Executor);
            status.message = Some(message);
            return status;
        }
        // Beyond Mesos: say when the OOM killer struck, and quote the end of stderr.
        let mut status = self.status(TaskState::TaskFailed, Source::Executor);
        let mut message = message;
        if end.oom_killed {
            message.push_str("; the container was killed by the kernel's OOM killer");
            status.reason = Some(Reason::ContainerLimitationMemory as i32);
        }
        let lines = tail(&self.sandbox.join("stderr"), self.stderr_tail_lines).await;
        if !lines.is_empty() {
            message.push_str(STDERR_TAIL_INTRO);
            message.push_str(&lines.join("\n"));
        }
        status.message = Some(message);
        status
    }

    async fn remove_later(&self) {
        if !self.remove_delay.is_zero() {
            tokio::time::sleep(self.remove_delay).await;
        }
        if let Err(err) = self.containerizer.remove(&self.container).await {
            tracing::warn!(container_id = %self.container.container_id, error = %err, "cannot remove the container");
        }
    }
}

/// TASK_STARTING's message: empty as in Mesos, unless an image was pulled, which berth
/// reports there (Mesos agents send no update while pulling).
fn starting_message(prepared: &Prepared) -> Option<String> {
    let pull = prepared.pull.as_ref()?;
    Some(match &pull.digest {
        Some(digest) => format!(
            "Pulled image '{}' ({digest}) in {:.1}s",
            pull.image,
            pull.elapsed.as_secs_f64()
        ),
        None => format!(
            "Pulled image '{}' in {:.1}s",
            pull.image,
            pull.elapsed.as_secs_f64()
        ),
    })
}
