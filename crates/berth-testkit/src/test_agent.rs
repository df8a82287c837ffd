//! An in-process agent for master tests: it speaks `berth_core::msg` over a pair of channels and
//! plays each task through a scripted sequence of states, behaving towards the master the way
//! spec §4.5 says agents do: every update carries a fresh 16-byte UUID, only the head of a
//! task's update stream is in flight and it is re-sent until acknowledged, and all heads of a
//! framework are re-sent at once when the master reports the framework re-subscribed.
//!
//! ```no_run
//! # async fn demo(handle: impl std::any::Any) {
//! use berth_testkit::test_agent::{TestAgent, TestAgentConfig};
//! let (agent, to_agent, from_agent) = TestAgent::start(TestAgentConfig::new("cpus:2;mem:1024"));
//! // master_handle.attach_agent(to_agent, from_agent).await
//! # let _ = (agent, to_agent, from_agent);
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use berth_core::msg::{AgentToMaster, MasterToAgent, Registration, TaskReport};
use mesos_proto::id::{AgentId, FrameworkId, TaskId};
use mesos_proto::v1::{
    framework_info::capability::Type as Cap, network_info, task_status, ContainerId,
    ContainerStatus, NetworkInfo, Resource, TaskInfo, TaskState, TaskStatus,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a task does after launch.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskScript {
    /// `TASK_STARTING`, `TASK_RUNNING`, then runs until killed.
    RunUntilKilled,
    /// `TASK_STARTING`, `TASK_RUNNING`, `TASK_FINISHED` ("Container exited with status 0").
    Finish,
    /// `TASK_STARTING`, `TASK_RUNNING`, `TASK_FAILED` ("Container exited with status 1").
    Fail,
    /// These states (with optional messages), in order; if the last is not terminal the task
    /// then runs until killed.
    Steps(Vec<(TaskState, Option<String>)>),
}

impl TaskScript {
    fn steps(&self) -> Vec<(TaskState, Option<String>)> {
        match self {
            TaskScript::RunUntilKilled => vec![
                (TaskState::TaskStarting, None),
                (TaskState::TaskRunning, None),
            ],
            TaskScript::Finish => vec![
                (TaskState::TaskStarting, None),
                (TaskState::TaskRunning, None),
                (
                    TaskState::TaskFinished,
                    Some("Container exited with status 0".into()),
                ),
            ],
            TaskScript::Fail => vec![
                (TaskState::TaskStarting, None),
                (TaskState::TaskRunning, None),
                (
                    TaskState::TaskFailed,
                    Some("Container exited with status 1".into()),
                ),
            ],
            TaskScript::Steps(s) => s.clone(),
        }
    }
}

/// Chooses a script per task.
pub type ScriptFn = Arc<dyn Fn(&TaskInfo) -> TaskScript + Send + Sync>;

/// How the test agent presents itself and behaves.
#[derive(Clone)]
pub struct TestAgentConfig {
    /// Hostname in offers.
    pub hostname: String,
    /// Port in offers.
    pub port: u16,
    /// Total resources.
    pub resources: Vec<Resource>,
    /// The ID from a previous registration (re-registration).
    pub previous_id: Option<AgentId>,
    /// Tasks reported at (re-)registration.
    pub tasks: Vec<TaskReport>,
    /// First retry interval of an unacknowledged update (doubles up to 8x).
    pub retry_interval: Duration,
    /// The script of each launched task.
    pub script: ScriptFn,
    /// Register as simulated.
    pub simulated: bool,
}

impl std::fmt::Debug for TestAgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAgentConfig")
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("previous_id", &self.previous_id)
            .finish_non_exhaustive()
    }
}

impl TestAgentConfig {
    /// An agent on 127.0.0.1:5051 with resources in Mesos's text form
    /// (`cpus:2;mem:1024;ports:[31000-32000]`), every task running until killed.
    ///
    /// # Panics
    ///
    /// If the resource text does not parse.
    pub fn new(resources: &str) -> Self {
        TestAgentConfig {
            hostname: "127.0.0.1".into(),
            port: 5051,
            resources: mesos_proto::resource::parse(resources)
                .unwrap_or_else(|e| panic!("test agent resources {resources:?}: {e}")),
            previous_id: None,
            tasks: Vec::new(),
            retry_interval: Duration::from_millis(200),
            script: Arc::new(|_| TaskScript::RunUntilKilled),
            simulated: false,
        }
    }

    /// Every task follows `script`.
    pub fn with_script(mut self, script: TaskScript) -> Self {
        self.script = Arc::new(move |_| script.clone());
        self
    }
}

/// What the test agent has seen and done, for assertions.
#[derive(Debug, Default, Clone)]
pub struct AgentRecord {
    /// The ID the master gave.
    pub agent_id: Option<AgentId>,
    /// Every message from the master, in order.
    pub received: Vec<MasterToAgent>,
    /// Every status update sent (including retries).
    pub sent: Vec<TaskStatus>,
    /// Latest state of each task.
    pub tasks: BTreeMap<(FrameworkId, TaskId), TaskState>,
}

enum Control {
    /// Move a running task to a state (e.g. it finished on its own).
    Transition {
        framework_id: FrameworkId,
        task_id: TaskId,
        state: TaskState,
        message: Option<String>,
    },
    /// Send `Unregister`.
    Unregister,
    /// Stop.
    Stop(oneshot::Sender<()>),
}

/// A running test agent.
#[derive(Debug)]
pub struct TestAgent {
    record: Arc<Mutex<AgentRecord>>,
    control: mpsc::Sender<Control>,
    join: JoinHandle<()>,
}

struct UpdateStream {
    framework_id: FrameworkId,
    queue: VecDeque<TaskStatus>,
    /// When the head is due again (None: not sent yet).
    next_retry: Option<Instant>,
    interval: Duration,
}

struct AgentTask {
    info: TaskInfo,
    state: TaskState,
    killing_capable: bool,
    container_id: String,
}

impl TestAgent {
    /// Starts an agent. Returns it with the two channel ends the master needs
    /// (`MasterHandle::attach_agent(to_agent, from_agent)`).
    pub fn start(
        config: TestAgentConfig,
    ) -> (
        TestAgent,
        mpsc::Sender<MasterToAgent>,
        mpsc::Receiver<AgentToMaster>,
    ) {
        let (to_agent, from_master) = mpsc::channel(256);
        let (to_master, from_agent) = mpsc::channel(256);
        let (control, control_rx) = mpsc::channel(16);
        let record = Arc::new(Mutex::new(AgentRecord::default()));
        let join = tokio::spawn(run(
            config,
            to_master,
            from_master,
            control_rx,
            record.clone(),
        ));
        (
            TestAgent {
                record,
                control,
                join,
            },
            to_agent,
            from_agent,
        )
    }

    fn lock(&self) -> MutexGuard<'_, AgentRecord> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of what the agent has seen and done.
    pub fn record(&self) -> AgentRecord {
        self.lock().clone()
    }

    /// The ID the master assigned, once registered.
    pub fn agent_id(&self) -> Option<AgentId> {
        self.lock().agent_id.clone()
    }

    /// The latest state of a task on this agent.
    pub fn task_state(&self, framework_id: &FrameworkId, task_id: &str) -> Option<TaskState> {
        self.lock()
            .tasks
            .get(&(framework_id.clone(), TaskId::generated(task_id)))
            .copied()
    }

    /// Moves a task to `state` (queued behind unacknowledged updates, like a real agent).
    pub async fn transition(
        &self,
        framework_id: &FrameworkId,
        task_id: &str,
        state: TaskState,
        message: Option<&str>,
    ) {
        let _ = self
            .control
            .send(Control::Transition {
                framework_id: framework_id.clone(),
                task_id: TaskId::generated(task_id),
                state,
                message: message.map(str::to_string),
            })
            .await;
    }

    /// Tells the master the agent is leaving for good.
    pub async fn unregister(&self) {
        let _ = self.control.send(Control::Unregister).await;
    }

    /// Stops the agent; its channels close, so the master sees the link go.
    pub async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.join.await;
    }
}

fn status_for(
    agent_id: &Option<AgentId>,
    task: &AgentTask,
    state: TaskState,
    message: Option<String>,
) -> TaskStatus {
    TaskStatus {
        task_id: task.info.task_id.clone(),
        state: state as i32,
        message,
        source: Some(task_status::Source::Executor as i32),
        agent_id: agent_id.as_ref().map(AgentId::to_proto),
        executor_id: Some(mesos_proto::v1::ExecutorId {
            value: task.info.task_id.value.clone(),
        }),
        timestamp: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        ),
        uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
        container_status: Some(Box::new(ContainerStatus {
            container_id: Some(ContainerId {
                value: task.container_id.clone(),
                parent: None,
            }),
            network_infos: vec![NetworkInfo {
                ip_addresses: vec![network_info::IpAddress {
                    protocol: Some(network_info::Protocol::IPv4 as i32),
                    ip_address: Some("127.0.0.1".into()),
                }],
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    }
}

struct AgentLoop {
    config: TestAgentConfig,
    to_master: mpsc::Sender<AgentToMaster>,
    record: Arc<Mutex<AgentRecord>>,
    agent_id: Option<AgentId>,
    tasks: BTreeMap<(FrameworkId, TaskId), AgentTask>,
    streams: BTreeMap<(FrameworkId, TaskId), UpdateStream>,
}

impl AgentLoop {
    fn lock(&self) -> MutexGuard<'_, AgentRecord> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(
        &mut self,
        fid: &FrameworkId,
        tid: &TaskId,
        state: TaskState,
        message: Option<String>,
    ) {
        let key = (fid.clone(), tid.clone());
        let Some(task) = self.tasks.get_mut(&key) else {
            return;
        };
        if task.state.is_terminal() {
            return;
        }
        task.state = state;
        let status = status_for(&self.agent_id, task, state, message);
        self.lock().tasks.insert(key.clone(), state);
        let s = self.streams.entry(key).or_insert_with(|| UpdateStream {
            framework_id: fid.clone(),
            queue: VecDeque::new(),
            next_retry: None,
            interval: self.config.retry_interval,
        });
        s.queue.push_back(status);
    }

    /// Sends every head that is new or due.
    async fn flush(&mut self, force_framework: Option<&FrameworkId>) {
        let now = Instant::now();
        let mut out = Vec::new();
        for (key, s) in self.streams.iter_mut() {
            let Some(head) = s.queue.front() else {
                continue;
            };
            let due = match s.next_retry {
                None => true,
                Some(t) => t <= now || force_framework == Some(&s.framework_id),
            };
            if !due {
                continue;
            }
            if s.next_retry.is_some() && force_framework != Some(&s.framework_id) {
                s.interval = (s.interval * 2).min(self.config.retry_interval * 8);
            }
            s.next_retry = Some(now + s.interval);
            let latest = self
                .tasks
                .get(key)
                .map(|t| t.state)
                .unwrap_or(TaskState::TaskUnknown);
            out.push(AgentToMaster::StatusUpdate {
                framework_id: s.framework_id.clone(),
                status: std::sync::Arc::new(head.clone()),
                latest_state: latest,
            });
        }
        for msg in out {
            if let AgentToMaster::StatusUpdate { status, .. } = &msg {
                self.lock().sent.push((**status).clone());
            }
            if self.to_master.send(msg).await.is_err() {
                return;
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        self.streams
            .values()
            .filter(|s| !s.queue.is_empty())
            .filter_map(|s| s.next_retry)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    fn on_master(&mut self, msg: MasterToAgent) {
        self.lock().received.push(msg.clone());
        match msg {
            MasterToAgent::Registered { agent_id } => {
                self.lock().agent_id = Some(agent_id.clone());
                self.agent_id = Some(agent_id);
            }
            MasterToAgent::RunTask {
                framework_id,
                framework,
                task,
            } => {
                let tid = TaskId::generated(task.task_id.value.clone());
                let script = (self.config.script)(&task);
                let killing_capable = framework
                    .capabilities
                    .iter()
                    .any(|c| c.r#type == Some(Cap::TaskKillingState as i32));
                self.tasks.insert(
                    (framework_id.clone(), tid.clone()),
                    AgentTask {
                        info: Arc::unwrap_or_clone(task),
                        state: TaskState::TaskStaging,
                        killing_capable,
                        container_id: uuid::Uuid::new_v4().to_string(),
                    },
                );
                self.lock()
                    .tasks
                    .insert((framework_id.clone(), tid.clone()), TaskState::TaskStaging);
                for (state, message) in script.steps() {
                    self.enqueue(&framework_id, &tid, state, message);
                }
            }
            MasterToAgent::KillTask {
                framework_id,
                task_id,
                ..
            } => {
                let key = (framework_id.clone(), task_id.clone());
                let Some(t) = self.tasks.get(&key) else {
                    return;
                };
                if t.state.is_terminal() {
                    return;
                }
                if t.killing_capable && t.state != TaskState::TaskKilling {
                    self.enqueue(&framework_id, &task_id, TaskState::TaskKilling, None);
                }
                self.enqueue(
                    &framework_id,
                    &task_id,
                    TaskState::TaskKilled,
                    Some("Container exited with status 137".into()),
                );
            }
            MasterToAgent::Acknowledge {
                framework_id,
                task_id,
                uuid,
            } => {
                let key = (framework_id, task_id);
                if let Some(s) = self.streams.get_mut(&key) {
                    if s.queue.front().and_then(|h| h.uuid.as_ref()) == Some(&uuid) {
                        s.queue.pop_front();
                        s.next_retry = None;
                        s.interval = self.config.retry_interval;
                    }
                    if s.queue.is_empty() {
                        self.streams.remove(&key);
                    }
                }
            }
            MasterToAgent::FrameworkReconnected { .. } => {
                // Handled by the caller (flush with force).
            }
            MasterToAgent::ShutdownFramework { framework_id } => {
                self.streams.retain(|(f, _), _| f != &framework_id);
                let gone: Vec<_> = self
                    .tasks
                    .keys()
                    .filter(|(f, _)| f == &framework_id)
                    .cloned()
                    .collect();
                for key in gone {
                    self.tasks.remove(&key);
                    self.lock().tasks.insert(key, TaskState::TaskKilled);
                }
            }
        }
    }
}

async fn run(
    config: TestAgentConfig,
    to_master: mpsc::Sender<AgentToMaster>,
    mut from_master: mpsc::Receiver<MasterToAgent>,
    mut control: mpsc::Receiver<Control>,
    record: Arc<Mutex<AgentRecord>>,
) {
    let reg = Registration {
        previous_id: config.previous_id.clone(),
        hostname: config.hostname.clone(),
        port: config.port,
        resources: config.resources.clone(),
        attributes: Vec::new(),
        tasks: config.tasks.clone(),
        simulated: config.simulated,
    };
    let mut agent = AgentLoop {
        agent_id: config.previous_id.clone(),
        tasks: BTreeMap::new(),
        streams: BTreeMap::new(),
        config,
        to_master,
        record,
    };
    for r in &agent.config.tasks {
        agent.tasks.insert(
            (
                r.framework_id.clone(),
                TaskId::generated(r.task.task_id.value.clone()),
            ),
            AgentTask {
                info: r.task.clone(),
                state: r.state,
                killing_capable: false,
                container_id: uuid::Uuid::new_v4().to_string(),
            },
        );
    }
    if agent
        .to_master
        .send(AgentToMaster::Register(reg))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let deadline = agent.next_deadline();
        tokio::select! {
            msg = from_master.recv() => {
                let Some(msg) = msg else { return };
                let reconnect = match &msg {
                    MasterToAgent::FrameworkReconnected { framework_id } => Some(framework_id.clone()),
                    _ => None,
                };
                agent.on_master(msg);
                agent.flush(reconnect.as_ref()).await;
            }
            c = control.recv() => match c {
                None => return,
                Some(Control::Stop(done)) => {
                    let _ = done.send(());
                    return;
                }
                Some(Control::Unregister) => {
                    if let Some(id) = agent.agent_id.clone() {
                        let _ = agent.to_master.send(AgentToMaster::Unregister { agent_id: id }).await;
                    }
                }
                Some(Control::Transition { framework_id, task_id, state, message }) => {
                    agent.enqueue(&framework_id, &task_id, state, message);
                    agent.flush(None).await;
                }
            },
            _ = tokio::time::sleep_until(deadline) => agent.flush(None).await,
        }
    }
}
