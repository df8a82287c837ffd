//! [`Agent`]: the one owner of an agent's state. It speaks to the master through the
//! `berth_core::msg` channels, runs one [`Worker`] per task, keeps the status-update
//! [`Ledger`], and checkpoints everything a restart needs.
//!
//! Loop: a `select!` over shutdown, master messages, worker events, the ledger's next retry
//! and room in the channel to the master. Workers never touch agent state: they send events;
//! the agent sends them kills over per-task channels with `try_send`, so it never blocks on a
//! worker. Messages for the master go out at once while its channel has room; the rest wait in
//! an outbox drained by the loop, so the agent keeps reading the master's messages while the
//! master is slow to read its own: two actors blocked on each other's full channels cannot
//! deadlock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use berth_core::ledger::{Ledger, Outgoing};
use berth_core::msg::{AgentToMaster, MasterToAgent, Registration, TaskReport};
use mesos_proto::id::{by_key, AgentId, ContainerId, FrameworkId, IdMap, IdSet, TaskId};
use mesos_proto::v1::framework_info::capability::Type as Capability;
use mesos_proto::v1::task_status::{Reason, Source};
use mesos_proto::v1::{FrameworkInfo, KillPolicy, TaskInfo, TaskState, TaskStatus};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::checkpoint::{self, CheckpointError, TaskRecord};
use crate::config::AgentConfig;
use crate::containerizer::{ContainerRef, Containerizer, ContainerizerError, Recovered};
use crate::sandbox;
use crate::worker::{Start, Worker, WorkerEvent};

/// Why an agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The work dir's checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The containers of a previous run could not be listed.
    #[error("recovering containers: {0}")]
    Recover(#[source] ContainerizerError),
}

/// The agent crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many kill requests may wait for a worker (one is enough; more are dropped).
const KILL_QUEUE: usize = 4;

/// A Mesos agent running tasks through a [`Containerizer`].
pub struct Agent<C> {
    config: AgentConfig,
    containerizer: Arc<C>,
}

/// One task the agent holds.
struct Entry {
    /// Shared with the master's record and the agent's other tasks of the framework.
    framework: Arc<FrameworkInfo>,
    /// Shared with the task's worker and its containerizer request, not copied for them.
    task: Arc<TaskInfo>,
    container_id: ContainerId,
    sandbox: std::path::PathBuf,
    state: TaskState,
    kill_requested: bool,
    kills: Option<mpsc::Sender<Duration>>,
    worker_done: bool,
}

type Key = (FrameworkId, TaskId);

/// A recovered task waiting for the master's `Registered` before its worker starts.
struct PendingRecovery {
    key: Key,
    start: Start,
}

struct State<C> {
    config: AgentConfig,
    containerizer: Arc<C>,
    to_master: mpsc::Sender<AgentToMaster>,
    events_tx: mpsc::Sender<WorkerEvent>,
    workers: TaskTracker,
    workers_shutdown: CancellationToken,
    agent_id: Option<AgentId>,
    /// The ID read from the checkpoint, until the master confirms or replaces it.
    previous_id: Option<AgentId>,
    /// Boxed: an `Entry` is kilobytes (FrameworkInfo, TaskInfo inline), and the map's table
    /// stays allocated when it empties again. Hashed: every update and acknowledgement finds
    /// its task here, and ordered keys would compare the framework ID (41 bytes, most of them
    /// the master's UUID) at every step.
    tasks: IdMap<Key, Box<Entry>>,
    ledger: Ledger,
    removed_frameworks: IdSet<FrameworkId>,
    recovering: Vec<PendingRecovery>,
    /// Messages for the master, oldest first.
    outbox: VecDeque<AgentToMaster>,
    master_gone: bool,
    /// `config.ip` as text, for the workers' updates.
    ip_text: Arc<str>,
}

fn kill_grace(policy: Option<&KillPolicy>) -> Option<Duration> {
    let nanos = policy?.grace_period.as_ref()?.nanoseconds;
    Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

fn has_capability(framework: &FrameworkInfo, capability: Capability) -> bool {
    framework
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(capability as i32))
}

fn key_of(framework_id: &FrameworkId, task: &TaskInfo) -> Key {
    (
        framework_id.clone(),
        TaskId::generated(task.task_id.value.clone()),
    )
}

impl<C: Containerizer> Agent<C> {
    /// An agent with this configuration and backend.
    pub fn new(config: AgentConfig, containerizer: C) -> Self {
        Agent {
            config,
            containerizer: Arc::new(containerizer),
        }
    }

    /// Runs the agent until `shutdown` is cancelled or the master's channel closes: recovers
    /// what a previous run left in the work dir, registers, then serves the master.
    ///
    /// On shutdown the containers keep running (like a Mesos agent stopping); a new agent on
    /// the same work dir recovers them.
    pub async fn run(
        self,
        to_master: mpsc::Sender<AgentToMaster>,
        mut from_master: mpsc::Receiver<MasterToAgent>,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let capacity = self.config.channel_capacity.max(1);
        let (events_tx, mut events_rx) = mpsc::channel(capacity);
        let mut state = State {
            ip_text: self.config.ip.to_string().into(),
            config: self.config,
            containerizer: self.containerizer,
            to_master,
            events_tx,
            workers: TaskTracker::new(),
            workers_shutdown: shutdown.child_token(),
            agent_id: None,
            previous_id: None,
            tasks: IdMap::default(),
            ledger: Ledger::new(),
            removed_frameworks: IdSet::default(),
            recovering: Vec::new(),
            outbox: VecDeque::new(),
            master_gone: false,
        };
        let to_master = state.to_master.clone();
        let result = async {
            // The handlers' futures are boxed: inline, they would make every agent's task
            // (its state machine holds the largest of them) some 20 KB, which counts when a
            // process runs thousands of simulated agents.
            let registration = Box::pin(state.recover()).await?;
            state.send(AgentToMaster::Register(registration));
            // Made once, not on every turn: a fresh `cancelled()` registers with the token and
            // a fresh sleep with the timer on each poll, and an agent turns once per message.
            let cancelled = shutdown.cancelled();
            tokio::pin!(cancelled);
            let retry = tokio::time::sleep_until(Instant::now());
            tokio::pin!(retry);
            // The deadline `retry` is set to, while it has not fired.
            let mut armed: Option<Instant> = None;
            while !state.master_gone {
                // What fits in the master's channel goes now, without a turn of the loop per
                // message; only the rest waits for room below.
                state.flush_outbox(&to_master);
                if state.master_gone {
                    break;
                }
                let retry_at = state.ledger.wake_at().map(Instant::from_std);
                if retry_at != armed {
                    if let Some(at) = retry_at {
                        retry.as_mut().reset(at);
                    }
                    armed = retry_at;
                }
                tokio::select! {
                    biased;
                    () = &mut cancelled => break,
                    permit = to_master.reserve(), if !state.outbox.is_empty() => match permit {
                        Ok(permit) => {
                            if let Some(message) = state.outbox.pop_front() {
                                permit.send(message);
                            }
                        }
                        Err(_) => {
                            tracing::info!("the master's channel is closed; agent stopping");
                            state.master_gone = true;
                        }
                    },
                    message = from_master.recv() => match message {
                        Some(message) => Box::pin(state.handle_master(message)).await,
                        None => {
                            tracing::info!("the master closed the link; agent stopping");
                            break;
                        }
                    },
                    Some(event) = events_rx.recv() => Box::pin(state.handle_event(event)).await,
                    () = &mut retry, if armed.is_some() => {
                        armed = None;
                        state.retry_due();
                    }
                }
            }
            Ok(())
        }
        .await;
        // Stop the workers (not the containers) and wait for them.
        state.workers_shutdown.cancel();
        state.workers.close();
        drop(events_rx);
        state.workers.wait().await;
        result
    }
}

impl<C: Containerizer> State<C> {
    /// Reads the checkpoint, matches it with the containers found, cleans up orphans and
    /// returns the registration to send.
    async fn recover(&mut self) -> Result<Registration> {
        let saved = if !self.checkpoints() {
            // Nothing on disk (a simulated agent, or one whose work dir does not outlive it):
            // every start is a new agent.
            checkpoint::Checkpoint::default()
        } else {
            checkpoint::load(&self.config.work_dir)?
        };
        let mut reports = Vec::new();
        if let Some(previous) = saved.agent_id.clone() {
            let found = self
                .containerizer
                .recover(&previous)
                .await
                .map_err(Error::Recover)?;
            let mut found: HashMap<ContainerId, Recovered> = found
                .into_iter()
                .map(|c| (c.container_id.clone(), c))
                .collect();
            let now = Instant::now().into_std();
            for record in saved.tasks {
                let key = key_of(&record.framework_id, &record.task);
                for status in &record.pending {
                    if let Err(err) = self.ledger.restore(&key.0, status.clone(), now) {
                        tracing::warn!(task_id = %key.1, error = %err, "dropping a checkpointed update");
                    }
                }
                let container = found.remove(&record.container_id);
                let terminal = record.state.is_terminal();
                let latest = self
                    .ledger
                    .latest_state(&key.0, &key.1)
                    .unwrap_or(record.state);
                reports.push(TaskReport {
                    framework_id: record.framework_id.clone(),
                    task: record.task.clone(),
                    state: latest,
                });
                let resume_kill = record.kill_requested.then(|| {
                    kill_grace(record.task.kill_policy.as_ref())
                        .unwrap_or(self.config.executor_shutdown_grace)
                });
                let start = if terminal {
                    None
                } else {
                    Some(Start::Recover {
                        state: record.state,
                        resume_kill,
                        container: container.clone(),
                    })
                };
                tracing::info!(
                    framework_id = %key.0,
                    task_id = %key.1,
                    container_id = %record.container_id,
                    state = record.state.as_str_name(),
                    container_found = container.is_some(),
                    "recovered task"
                );
                if terminal && container.is_some() {
                    // Finished before the restart; only its container is left to remove.
                    self.remove_container(&previous, &record.container_id).await;
                }
                if terminal && record.pending.is_empty() {
                    // Ended and acknowledged: nothing left to hold.
                    reports.pop();
                    continue;
                }
                self.tasks.insert(
                    key.clone(),
                    Box::new(Entry {
                        framework: Arc::new(record.framework),
                        task: Arc::new(record.task),
                        container_id: record.container_id,
                        sandbox: record.sandbox,
                        state: record.state,
                        kill_requested: record.kill_requested,
                        kills: None,
                        worker_done: terminal,
                    }),
                );
                if let Some(start) = start {
                    self.recovering.push(PendingRecovery { key, start });
                }
            }
            for (container_id, _) in found {
                if self.config.kill_orphans {
                    tracing::info!(agent_id = %previous, %container_id, "removing orphan container");
                    self.destroy_container(&previous, &container_id).await;
                } else {
                    tracing::info!(agent_id = %previous, %container_id, "leaving orphan container (kill_orphans is off)");
                }
            }
            self.previous_id = Some(previous);
            self.save_all().await;
        }
        Ok(Registration {
            previous_id: saved.agent_id,
            hostname: self.config.hostname.clone(),
            port: self.config.port,
            resources: self.config.resources.clone(),
            attributes: self.config.attributes.clone(),
            tasks: reports,
            simulated: self.config.simulated,
        })
    }

    async fn remove_container(&self, agent_id: &AgentId, container_id: &ContainerId) {
        let container = ContainerRef {
            agent_id: agent_id.clone(),
            container_id: container_id.clone(),
        };
        if let Err(err) = self.containerizer.remove(&container).await {
            tracing::warn!(%container_id, error = %err, "cannot remove a container");
        }
    }

    /// Stops (with `docker_stop_timeout`) and removes a container.
    async fn destroy_container(&self, agent_id: &AgentId, container_id: &ContainerId) {
        let container = ContainerRef {
            agent_id: agent_id.clone(),
            container_id: container_id.clone(),
        };
        if let Err(err) = self
            .containerizer
            .kill(&container, self.config.docker_stop_timeout)
            .await
        {
            tracing::warn!(%container_id, error = %err, "cannot stop a container");
        }
        self.remove_container(agent_id, container_id).await;
    }

    /// Queues a message for the master. A status update already queued with the same UUID
    /// (a retry of one the master has not even taken yet) is not queued twice.
    fn send(&mut self, message: AgentToMaster) {
        if let AgentToMaster::StatusUpdate { status, .. } = &message {
            let duplicate = self.outbox.iter().any(|queued| {
                matches!(queued, AgentToMaster::StatusUpdate { status: q, .. } if q.uuid == status.uuid)
            });
            if duplicate {
                return;
            }
        }
        self.outbox.push_back(message);
    }

    /// Sends queued messages while the master's channel has room.
    fn flush_outbox(&mut self, to_master: &mpsc::Sender<AgentToMaster>) {
        while !self.outbox.is_empty() {
            match to_master.try_reserve() {
                Ok(permit) => {
                    if let Some(message) = self.outbox.pop_front() {
                        permit.send(message);
                    }
                }
                Err(mpsc::error::TrySendError::Full(())) => return,
                Err(mpsc::error::TrySendError::Closed(())) => {
                    tracing::info!("the master's channel is closed; agent stopping");
                    self.master_gone = true;
                    return;
                }
            }
        }
    }

    fn forward(&mut self, outgoing: Vec<Outgoing>) {
        for out in outgoing {
            self.send(AgentToMaster::StatusUpdate {
                framework_id: out.framework_id,
                status: out.status,
                latest_state: out.latest_state,
            });
        }
    }

    /// Whether this agent keeps checkpoints (simulated agents never do).
    fn checkpoints(&self) -> bool {
        self.config.checkpoint && !self.config.simulated
    }

    fn record(&self, key: &Key) -> Option<TaskRecord> {
        let entry = self.tasks.get(key)?;
        let (framework_id, task_id) = key;
        Some(TaskRecord {
            framework_id: framework_id.clone(),
            framework: FrameworkInfo::clone(&entry.framework),
            task: TaskInfo::clone(&entry.task),
            container_id: entry.container_id.clone(),
            sandbox: entry.sandbox.clone(),
            state: entry.state,
            kill_requested: entry.kill_requested,
            pending: self.ledger.pending(framework_id, task_id),
        })
    }

    /// Checkpoints every task, replacing whatever the work dir held. A failure is logged, not
    /// fatal: the agent keeps serving, but an operator must look (a restart would lose track
    /// of tasks).
    async fn save_all(&self) {
        if !self.checkpoints() {
            return;
        }
        // In key order: the checkpoint reads the same whatever the map's order.
        let records: Vec<TaskRecord> = by_key(&self.tasks)
            .into_iter()
            .filter_map(|(k, _)| self.record(k))
            .collect();
        if let Err(err) = checkpoint::save_tasks(&self.config.work_dir, &records).await {
            tracing::error!(error = %err, "cannot checkpoint the agent's tasks");
        }
    }

    /// Checkpoints one task (only its own record is written).
    async fn save(&self, key: &Key) {
        if !self.checkpoints() {
            return;
        }
        let Some(record) = self.record(key) else {
            return;
        };
        if let Err(err) = checkpoint::save_task(&self.config.work_dir, &record).await {
            tracing::error!(task_id = %key.1, error = %err, "cannot checkpoint the task");
        }
    }

    /// Drops a task's checkpoint once the agent no longer holds the task.
    async fn unsave(&self, key: &Key, container_id: &ContainerId) {
        if !self.checkpoints() {
            return;
        }
        if let Err(err) = checkpoint::remove_task(&self.config.work_dir, container_id).await {
            tracing::error!(task_id = %key.1, error = %err, "cannot remove the task's checkpoint");
        }
    }

    fn retry_due(&mut self) {
        let due = self.ledger.due(Instant::now().into_std());
        for out in &due {
            tracing::debug!(task_id = %out.status.task_id.value, "re-sending unacknowledged status update");
        }
        self.forward(due);
    }

    async fn handle_master(&mut self, message: MasterToAgent) {
        match message {
            MasterToAgent::Registered { agent_id } => self.registered(agent_id).await,
            MasterToAgent::RunTask {
                framework_id,
                framework,
                task,
            } => self.run_task(framework_id, framework, task).await,
            MasterToAgent::KillTask {
                framework_id,
                task_id,
                kill_policy,
            } => self.kill_task(framework_id, task_id, kill_policy).await,
            MasterToAgent::Acknowledge {
                framework_id,
                task_id,
                uuid,
            } => self.acknowledge(framework_id, task_id, uuid).await,
            MasterToAgent::FrameworkReconnected { framework_id } => {
                let now = Instant::now().into_std();
                let outgoing = self.ledger.reconnect(&framework_id, now);
                self.forward(outgoing);
            }
            MasterToAgent::ShutdownFramework { framework_id } => {
                self.shutdown_framework(framework_id).await;
            }
        }
    }

    async fn registered(&mut self, agent_id: AgentId) {
        tracing::info!(%agent_id, "registered with the master");
        if self.checkpoints() {
            if let Err(err) = checkpoint::save_agent_id(&self.config.work_dir, &agent_id) {
                tracing::error!(error = %err, "cannot checkpoint the agent ID");
            }
        }
        let previous = self.previous_id.take();
        if let Some(previous) = previous.filter(|p| p != &agent_id) {
            // The master does not know our old self: what ran under the old ID is gone for it.
            tracing::warn!(%previous, %agent_id, "the master gave a new agent ID; destroying the previous run's containers");
            let entries = std::mem::take(&mut self.tasks);
            self.recovering.clear();
            self.ledger = Ledger::new();
            for entry in entries.values() {
                self.destroy_container(&previous, &entry.container_id).await;
            }
            self.save_all().await;
        }
        self.agent_id = Some(agent_id);
        for pending in std::mem::take(&mut self.recovering) {
            self.spawn_worker(pending.key, pending.start);
        }
        let outgoing = self.ledger.resend_all(Instant::now().into_std());
        self.forward(outgoing);
    }

    async fn run_task(
        &mut self,
        framework_id: FrameworkId,
        framework: Arc<FrameworkInfo>,
        task: Arc<TaskInfo>,
    ) {
        let Some(agent_id) = self.agent_id.clone() else {
            tracing::warn!(task_id = %task.task_id.value, "RunTask before registration; dropped");
            return;
        };
        let key = key_of(&framework_id, &task);
        // The IDs become path components of the sandbox: never trust them blindly (the
        // master validates them too).
        let invalid = mesos_proto::id::validate(key.1.as_str())
            .err()
            .map(|err| format!("Task ID is invalid: {err}"))
            .or_else(|| {
                mesos_proto::id::validate(key.0.as_str())
                    .err()
                    .map(|err| format!("Framework ID is invalid: {err}"))
            });
        if let Some(message) = invalid {
            tracing::warn!(task_id = %key.1, message, "refusing a task");
            let status =
                self.agent_status(&key, TaskState::TaskError, Reason::TaskInvalid, message);
            self.push_agent_status(&key, status);
            return;
        }
        if self.tasks.contains_key(&key) {
            tracing::warn!(framework_id = %key.0, task_id = %key.1, "RunTask for a task the agent already has; ignored");
            return;
        }
        self.removed_frameworks.remove(&framework_id);
        let container_id = ContainerId::random();
        let sandbox = sandbox::run_dir(
            &self.config.work_dir,
            &agent_id,
            &framework_id,
            &task.task_id.value,
            &container_id,
        );
        tracing::info!(framework_id = %key.0, task_id = %key.1, %container_id, "launching task");
        self.tasks.insert(
            key.clone(),
            Box::new(Entry {
                framework,
                task,
                container_id,
                sandbox,
                state: TaskState::TaskStaging,
                kill_requested: false,
                kills: None,
                worker_done: false,
            }),
        );
        // Checkpoint before the container can exist, so a restart always knows it.
        self.save(&key).await;
        self.spawn_worker(key, Start::Launch);
    }

    fn spawn_worker(&mut self, key: Key, mut start: Start) {
        let Some(agent_id) = self.agent_id.clone() else {
            return;
        };
        let default_grace = self.config.executor_shutdown_grace;
        let Some(entry) = self.tasks.get_mut(&key) else {
            return;
        };
        // A kill that arrived while the recovered task waited for registration.
        if let Start::Recover { resume_kill, .. } = &mut start {
            if entry.kill_requested && resume_kill.is_none() {
                *resume_kill =
                    Some(kill_grace(entry.task.kill_policy.as_ref()).unwrap_or(default_grace));
            }
        }
        let (kills_tx, kills_rx) = mpsc::channel(KILL_QUEUE);
        entry.kills = Some(kills_tx);
        entry.worker_done = false;
        let worker = Worker {
            containerizer: Arc::clone(&self.containerizer),
            events: self.events_tx.clone(),
            kills: kills_rx,
            shutdown: self.workers_shutdown.clone(),
            framework_id: key.0.clone(),
            killing_capable: has_capability(&entry.framework, Capability::TaskKillingState),
            task: Arc::clone(&entry.task),
            container: ContainerRef {
                agent_id,
                container_id: entry.container_id.clone(),
            },
            work_dir: self.config.work_dir.clone(),
            create_sandbox: !self.config.simulated,
            fetch_timeout: self.config.pull_timeout,
            sandbox: entry.sandbox.clone(),
            agent_ip: self.config.ip,
            agent_ip_text: Arc::clone(&self.ip_text),
            remove_delay: self.config.docker_remove_delay,
            drain_timeout: self.config.docker_call_timeout,
            stderr_tail_lines: self.config.stderr_tail_lines,
        };
        // Boxed: the worker's future is large, and tokio moves a task's future into its cell
        // on spawn and overwrites it on completion; a box makes those moves a pointer's.
        self.workers.spawn(Box::pin(worker.run(start)));
    }

    async fn kill_task(
        &mut self,
        framework_id: FrameworkId,
        task_id: TaskId,
        policy: Option<KillPolicy>,
    ) {
        let key = (framework_id, task_id);
        let default_grace = self.config.executor_shutdown_grace;
        let Some(entry) = self.tasks.get_mut(&key) else {
            // Mesos: no executor for the task → TASK_LOST "Cannot find executor".
            tracing::info!(framework_id = %key.0, task_id = %key.1, "kill for an unknown task");
            self.unknown_task_killed(&key);
            return;
        };
        if entry.state.is_terminal() {
            tracing::debug!(task_id = %key.1, "kill for a task that already ended; ignored");
            return;
        }
        // KILL's policy, else the task's, else the shutdown grace; the deprecated
        // `--docker_stop_timeout` wins when larger (mesos-v1.md §5.9).
        let grace = kill_grace(policy.as_ref())
            .or_else(|| kill_grace(entry.task.kill_policy.as_ref()))
            .unwrap_or(default_grace)
            .max(self.config.docker_stop_timeout);
        let first = !entry.kill_requested;
        entry.kill_requested = true;
        if let Some(kills) = &entry.kills {
            // Full means kills are already queued; the worker will act on those.
            let _ = kills.try_send(grace);
        }
        if first {
            self.save(&key).await;
        }
    }

    fn unknown_task_killed(&mut self, key: &Key) {
        let status = self.agent_status(
            key,
            TaskState::TaskLost,
            Reason::ExecutorTerminated,
            "Cannot find executor".to_owned(),
        );
        self.push_agent_status(key, status);
    }

    /// An update the agent itself produces for a task it does not run.
    fn agent_status(
        &self,
        key: &Key,
        state: TaskState,
        reason: Reason,
        message: String,
    ) -> TaskStatus {
        TaskStatus {
            task_id: key.1.to_proto(),
            state: state as i32,
            message: Some(message),
            source: Some(Source::Agent as i32),
            reason: Some(reason as i32),
            agent_id: self.agent_id.as_ref().map(AgentId::to_proto),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            ),
            ..Default::default()
        }
    }

    fn push_agent_status(&mut self, key: &Key, status: TaskStatus) {
        match self.ledger.push(&key.0, status, Instant::now().into_std()) {
            Ok((_, outgoing)) => self.forward(outgoing.into_iter().collect()),
            Err(err) => tracing::warn!(task_id = %key.1, error = %err, "cannot report on the task"),
        }
    }

    async fn acknowledge(&mut self, framework_id: FrameworkId, task_id: TaskId, uuid: Vec<u8>) {
        let now = Instant::now().into_std();
        match self.ledger.acknowledge(&framework_id, &task_id, &uuid, now) {
            Ok(next) => {
                let key = (framework_id, task_id);
                match self.forget_if_done(&key) {
                    Some(container_id) => self.unsave(&key, &container_id).await,
                    None => self.save(&key).await,
                }
                self.forward(next.into_iter().collect());
            }
            Err(err) => tracing::warn!(error = %err, "acknowledgement refused"),
        }
    }

    async fn shutdown_framework(&mut self, framework_id: FrameworkId) {
        tracing::info!(%framework_id, "shutting down framework");
        self.removed_frameworks.insert(framework_id.clone());
        let dropped = self.ledger.remove_framework(&framework_id);
        if dropped > 0 {
            tracing::info!(%framework_id, dropped, "dropped pending status updates");
        }
        // Mesos's executor shutdown kills with the shutdown grace less 2 s (kept for cleanup).
        let grace = self
            .config
            .executor_shutdown_grace
            .saturating_sub(Duration::from_secs(2))
            .max(self.config.docker_stop_timeout);
        let mut finished = Vec::new();
        let mut changed = Vec::new();
        for (key, entry) in self.tasks.iter_mut().filter(|(k, _)| k.0 == framework_id) {
            if entry.state.is_terminal() {
                if entry.worker_done {
                    finished.push(key.clone());
                } else {
                    // Its pending updates were dropped.
                    changed.push(key.clone());
                }
                continue;
            }
            entry.kill_requested = true;
            changed.push(key.clone());
            if let Some(kills) = &entry.kills {
                let _ = kills.try_send(grace);
            }
        }
        for key in finished {
            if let Some(entry) = self.tasks.remove(&key) {
                self.unsave(&key, &entry.container_id).await;
            }
        }
        for key in changed {
            self.save(&key).await;
        }
    }

    /// A new status of a task this agent runs: recorded, checkpointed and forwarded.
    async fn task_update(&mut self, key: Key, status: TaskStatus) {
        let Some(entry) = self.tasks.get_mut(&key) else {
            return;
        };
        entry.state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
        if self.removed_frameworks.contains(&key.0) {
            // The framework is gone: its updates are dropped, as Mesos does.
            self.save(&key).await;
            return;
        }
        let now = Instant::now().into_std();
        match self.ledger.push(&key.0, status, now) {
            Ok((_, outgoing)) => {
                // Persist the update before announcing it.
                self.save(&key).await;
                self.forward(outgoing.into_iter().collect());
            }
            Err(err) => tracing::warn!(task_id = %key.1, error = %err, "status update refused"),
        }
    }

    async fn handle_event(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Update {
                framework_id,
                task_id,
                status,
            } => self.task_update((framework_id, task_id), *status).await,
            WorkerEvent::Crashed {
                framework_id,
                task_id,
                message,
            } => {
                let key = (framework_id, task_id);
                // Unless the task already ended: its terminal update stands.
                if self.tasks.get(&key).is_none_or(|e| e.state.is_terminal()) {
                    return;
                }
                let status = self.agent_status(
                    &key,
                    TaskState::TaskFailed,
                    Reason::ExecutorTerminated,
                    message,
                );
                self.task_update(key, status).await;
            }
            WorkerEvent::Done {
                framework_id,
                task_id,
            } => {
                let key = (framework_id, task_id);
                if let Some(entry) = self.tasks.get_mut(&key) {
                    entry.worker_done = true;
                    entry.kills = None;
                }
                if let Some(container_id) = self.forget_if_done(&key) {
                    self.unsave(&key, &container_id).await;
                }
            }
        }
    }

    /// Drops a task whose worker finished and whose updates were all acknowledged (or whose
    /// framework is gone). Returns the dropped task's container.
    fn forget_if_done(&mut self, key: &Key) -> Option<ContainerId> {
        let entry = self.tasks.get(key)?;
        // Cheapest first, each looked up only when still needed: this runs on every
        // acknowledgement, and most find the worker still running or updates still pending.
        let done = entry.worker_done
            && (self.removed_frameworks.contains(&key.0)
                || (entry.state.is_terminal() && !self.ledger.has_pending(&key.0, &key.1)));
        if done {
            let removed = self.tasks.remove(key).map(|entry| entry.container_id);
            if self.tasks.is_empty() {
                // Free the emptied map's table: most agents sit idle between tasks.
                self.tasks = IdMap::default();
            }
            return removed;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use mesos_proto::resource::scalar;
    use mesos_proto::v1::container_info::DockerInfo;
    use mesos_proto::v1::{container_info, CommandInfo, ContainerInfo};
    use tokio::sync::watch;

    use super::*;
    use crate::containerizer::{LaunchRequest, Launched, LogPump, Prepared, Termination};

    /// A containerizer without containers: each "container" runs until killed (exit 137) or
    /// until the test ends it.
    #[derive(Default)]
    struct Fake {
        exits: Mutex<HashMap<ContainerId, watch::Sender<Option<i64>>>>,
        /// What a create ahead does: `None` leaves creating to the launch (the trait's
        /// default), `Some(true)` creates, `Some(false)` fails for want of the image.
        creates: Option<bool>,
        /// Whether waiting for a container panics (a bug in the worker's path).
        panics_in_wait: bool,
        calls: Arc<FakeCalls>,
    }

    /// What the agent asked of a [`Fake`].
    #[derive(Default)]
    struct FakeCalls {
        prepares: std::sync::atomic::AtomicUsize,
        /// The `created` flag of each launch.
        launches: Mutex<Vec<bool>>,
        /// Kills asked for.
        kills: std::sync::atomic::AtomicUsize,
    }

    impl Fake {
        fn exit(&self, container_id: &ContainerId) -> watch::Sender<Option<i64>> {
            self.exits
                .lock()
                .unwrap()
                .entry(container_id.clone())
                .or_insert_with(|| watch::channel(None).0)
                .clone()
        }
    }

    impl Containerizer for Fake {
        async fn prepare(&self, _: &LaunchRequest) -> Result<Prepared, ContainerizerError> {
            self.calls
                .prepares
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Prepared::default())
        }
        async fn create(&self, _: &LaunchRequest) -> Result<bool, ContainerizerError> {
            match self.creates {
                None => Ok(false),
                Some(true) => Ok(true),
                Some(false) => Err(ContainerizerError::NotFound(
                    "No such image: img:latest".into(),
                )),
            }
        }
        async fn launch(
            &self,
            _: &LaunchRequest,
            created: bool,
        ) -> Result<Launched, ContainerizerError> {
            self.calls.launches.lock().unwrap().push(created);
            Ok(Launched {
                inspect: b"[]".to_vec(),
                addresses: vec![(false, "10.0.0.7".into())],
                logs: Box::pin(async {}),
            })
        }
        async fn wait(&self, container: &ContainerRef) -> Result<Termination, ContainerizerError> {
            assert!(!self.panics_in_wait, "the fake's wait panics, as asked");
            let mut exit = self.exit(&container.container_id).subscribe();
            let code = exit
                .wait_for(Option::is_some)
                .await
                .map(|code| code.unwrap_or(0))
                .unwrap_or(0);
            Ok(Termination {
                exit_code: code,
                oom_killed: false,
            })
        }
        async fn kill(
            &self,
            container: &ContainerRef,
            _: Duration,
        ) -> Result<(), ContainerizerError> {
            self.calls
                .kills
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.exit(&container.container_id).send_replace(Some(137));
            Ok(())
        }
        async fn remove(&self, _: &ContainerRef) -> Result<(), ContainerizerError> {
            Ok(())
        }
        async fn recover(&self, _: &AgentId) -> Result<Vec<Recovered>, ContainerizerError> {
            Ok(Vec::new())
        }
        async fn reattach(
            &self,
            _: &ContainerRef,
            _: PathBuf,
        ) -> Result<LogPump, ContainerizerError> {
            Ok(Box::pin(async {}))
        }
    }

    struct Link {
        to_agent: mpsc::Sender<MasterToAgent>,
        from_agent: mpsc::Receiver<AgentToMaster>,
        shutdown: CancellationToken,
        agent: tokio::task::JoinHandle<Result<()>>,
        framework_id: FrameworkId,
    }

    impl Link {
        async fn start(work_dir: &std::path::Path) -> Link {
            Link::start_with(work_dir, Fake::default()).await
        }

        async fn start_with(work_dir: &std::path::Path, fake: Fake) -> Link {
            let mut config = AgentConfig::new(work_dir, "localhost");
            config.docker_remove_delay = Duration::ZERO;
            let (to_master, mut from_agent) = mpsc::channel(8);
            let (to_agent, from_master) = mpsc::channel(8);
            let shutdown = CancellationToken::new();
            let agent = tokio::spawn(Agent::new(config, fake).run(
                to_master,
                from_master,
                shutdown.clone(),
            ));
            assert!(matches!(
                from_agent.recv().await,
                Some(AgentToMaster::Register(_))
            ));
            to_agent
                .send(MasterToAgent::Registered {
                    agent_id: AgentId::generated("m-S0"),
                })
                .await
                .unwrap();
            Link {
                to_agent,
                from_agent,
                shutdown,
                agent,
                framework_id: FrameworkId::generated("m-0000"),
            }
        }

        async fn update(&mut self) -> TaskStatus {
            match self.from_agent.recv().await {
                Some(AgentToMaster::StatusUpdate { status, .. }) => Arc::unwrap_or_clone(status),
                other => panic!("expected an update, got {other:?}"),
            }
        }

        async fn send(&self, message: MasterToAgent) {
            self.to_agent.send(message).await.unwrap();
        }

        /// Sends the launch of [`task`] `id` of the link's framework.
        async fn run_task(&self, id: &str) {
            self.send(MasterToAgent::RunTask {
                framework_id: self.framework_id.clone(),
                framework: Arc::default(),
                task: Arc::new(task(id)),
            })
            .await;
        }

        async fn ack(&self, status: &TaskStatus) {
            self.send(MasterToAgent::Acknowledge {
                framework_id: self.framework_id.clone(),
                task_id: TaskId::generated(status.task_id.value.clone()),
                uuid: status.uuid.clone().unwrap(),
            })
            .await;
        }

        async fn stop(self) {
            self.shutdown.cancel();
            self.agent.await.unwrap().unwrap();
        }
    }

    fn task(id: &str) -> TaskInfo {
        TaskInfo {
            name: id.into(),
            task_id: mesos_proto::v1::TaskId::from_str_value(id),
            agent_id: mesos_proto::v1::AgentId::from_str_value("m-S0"),
            resources: vec![scalar("cpus", 0.1)],
            command: Some(Box::new(CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            })),
            container: Some(Box::new(ContainerInfo {
                r#type: container_info::Type::Docker as i32,
                docker: Some(Box::new(DockerInfo {
                    image: "img".into(),
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unacknowledged_updates_are_resent_after_ten_then_twenty_seconds() {
        let work = tempfile::tempdir().unwrap();
        let mut link = Link::start(work.path()).await;
        link.run_task("t").await;
        let first = link.update().await;
        assert_eq!(first.state, TaskState::TaskStarting as i32);
        let sent = Instant::now();
        let again = link.update().await;
        assert_eq!(again.uuid, first.uuid);
        assert!(
            sent.elapsed() >= Duration::from_secs(10),
            "{:?}",
            sent.elapsed()
        );
        let third = link.update().await;
        assert_eq!(third.uuid, first.uuid);
        assert!(
            sent.elapsed() >= Duration::from_secs(30),
            "{:?}",
            sent.elapsed()
        );

        // Acknowledged: the next update follows at once (RUNNING, with the fake's address).
        link.ack(&first).await;
        let running = link.update().await;
        assert_eq!(running.state, TaskState::TaskRunning as i32);
        let ip = &running.container_status.as_ref().unwrap().network_infos[0].ip_addresses[0];
        assert_eq!(ip.ip_address.as_deref(), Some("10.0.0.7"));
        link.stop().await;
    }

    /// A bug that panics the task's worker fails the task (as a dead executor does in
    /// Mesos), stops its container, and leaves the agent serving; the task is then forgotten
    /// like any other once its update is acknowledged.
    #[tokio::test]
    async fn a_panicking_worker_fails_its_task_instead_of_hanging_it() {
        let work = tempfile::tempdir().unwrap();
        let fake = Fake {
            panics_in_wait: true,
            ..Fake::default()
        };
        let calls = Arc::clone(&fake.calls);
        let mut link = Link::start_with(work.path(), fake).await;
        link.run_task("t").await;
        let starting = link.update().await;
        assert_eq!(starting.state, TaskState::TaskStarting as i32);
        link.ack(&starting).await;
        let running = link.update().await;
        assert_eq!(running.state, TaskState::TaskRunning as i32);
        link.ack(&running).await;
        let failed = link.update().await;
        assert_eq!(failed.state, TaskState::TaskFailed as i32);
        assert_eq!(failed.reason, Some(Reason::ExecutorTerminated as i32));
        assert_eq!(failed.source, Some(Source::Agent as i32));
        let message = failed.message.clone().unwrap_or_default();
        assert!(
            message.contains("the fake's wait panics, as asked"),
            "{message}"
        );
        assert_eq!(calls.kills.load(std::sync::atomic::Ordering::Relaxed), 1);
        link.ack(&failed).await;
        // Still serving: the next task launches.
        link.run_task("u").await;
        let next = link.update().await;
        assert_eq!(next.task_id.value, "u");
        assert_eq!(next.state, TaskState::TaskStarting as i32);
        link.stop().await;
    }

    /// A container created ahead proves its image is there: no image check (PULLING) before
    /// TASK_STARTING, and the launch only starts it. A create that failed (the image is
    /// missing) or was left to the launch still gets the check, and the launch creates.
    #[tokio::test]
    async fn the_image_is_checked_unless_the_container_was_created_ahead() {
        for (creates, prepares, created) in [
            (Some(true), 0, true),
            (Some(false), 1, false),
            (None, 1, false),
        ] {
            let work = tempfile::tempdir().unwrap();
            let fake = Fake {
                creates,
                ..Fake::default()
            };
            let calls = Arc::clone(&fake.calls);
            let mut link = Link::start_with(work.path(), fake).await;
            link.run_task("t").await;
            let starting = link.update().await;
            assert_eq!(
                starting.state,
                TaskState::TaskStarting as i32,
                "{creates:?}"
            );
            link.ack(&starting).await;
            let running = link.update().await;
            assert_eq!(running.state, TaskState::TaskRunning as i32, "{creates:?}");
            assert_eq!(
                calls.prepares.load(std::sync::atomic::Ordering::Relaxed),
                prepares,
                "{creates:?}"
            );
            assert_eq!(
                *calls.launches.lock().unwrap(),
                vec![created],
                "{creates:?}"
            );
            link.stop().await;
        }
    }

    #[tokio::test]
    async fn a_simulated_agent_runs_tasks_through_the_ledger_without_touching_disk() {
        use crate::simulated::{SimulatedConfig, SimulatedContainerizer};
        let work = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::simulated("localhost", vec![scalar("cpus", 4.0)]);
        // Were anything written, it would land here.
        config.work_dir = work.path().join("sim");
        let (to_master, mut from_agent) = mpsc::channel(8);
        let (to_agent, from_master) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let sim = SimulatedContainerizer::new(SimulatedConfig::default());
        let agent =
            tokio::spawn(Agent::new(config, sim).run(to_master, from_master, shutdown.clone()));
        match from_agent.recv().await {
            Some(AgentToMaster::Register(reg)) => assert!(reg.simulated),
            other => panic!("expected Register, got {other:?}"),
        }
        to_agent
            .send(MasterToAgent::Registered {
                agent_id: AgentId::generated("m-S0"),
            })
            .await
            .unwrap();
        let framework_id = FrameworkId::generated("m-0000");
        to_agent
            .send(MasterToAgent::RunTask {
                framework_id: framework_id.clone(),
                framework: Arc::default(),
                task: Arc::new(task("t")),
            })
            .await
            .unwrap();
        for expected in [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished,
        ] {
            let status = match from_agent.recv().await {
                Some(AgentToMaster::StatusUpdate { status, .. }) => Arc::unwrap_or_clone(status),
                other => panic!("expected an update, got {other:?}"),
            };
            assert_eq!(status.state, expected as i32);
            assert_eq!(status.uuid.as_ref().map(Vec::len), Some(16));
            to_agent
                .send(MasterToAgent::Acknowledge {
                    framework_id: framework_id.clone(),
                    task_id: TaskId::generated("t"),
                    uuid: status.uuid.clone().unwrap(),
                })
                .await
                .unwrap();
        }
        shutdown.cancel();
        agent.await.unwrap().unwrap();
        assert!(
            !work.path().join("sim").exists(),
            "a simulated agent wrote to disk"
        );
    }

    #[tokio::test]
    async fn a_task_is_forgotten_once_its_terminal_update_is_acknowledged() {
        let work = tempfile::tempdir().unwrap();
        let mut link = Link::start(work.path()).await;
        link.run_task("t").await;
        // A duplicate launch is ignored.
        link.run_task("t").await;
        for expected in [TaskState::TaskStarting, TaskState::TaskRunning] {
            let status = link.update().await;
            assert_eq!(status.state, expected as i32);
            link.ack(&status).await;
        }
        link.send(MasterToAgent::KillTask {
            framework_id: link.framework_id.clone(),
            task_id: TaskId::generated("t"),
            kill_policy: None,
        })
        .await;
        let killed = link.update().await;
        assert_eq!(
            killed.state,
            TaskState::TaskKilled as i32,
            "no TASK_KILLING without the capability"
        );
        assert_eq!(
            killed.message.as_deref(),
            Some("Container exited with status 137")
        );
        let saved = checkpoint::load(work.path()).unwrap();
        assert_eq!(saved.tasks.len(), 1, "held until acknowledged");
        assert_eq!(saved.tasks[0].pending.len(), 1);
        link.ack(&killed).await;
        let saved = berth_testkit::eventually(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async {
                let saved = checkpoint::load(work.path()).unwrap();
                saved.tasks.is_empty().then_some(saved)
            },
        )
        .await;
        assert_eq!(saved.agent_id, Some(AgentId::generated("m-S0")));
        link.stop().await;
    }
}
