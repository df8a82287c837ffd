//! A fake master driving a real agent through its channels, against the real Docker engine.

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_agent::config::AGENT_ID_LABEL;
use berth_agent::{Agent, AgentConfig, DockerConfig, DockerContainerizer};
use berth_core::msg::{AgentToMaster, MasterToAgent, Registration};
use berth_testkit::{test_run_label, unique_name, ContainerGuard};
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;
use mesos_proto::id::{AgentId, FrameworkId, TaskId};
use mesos_proto::resource::scalar;
use mesos_proto::v1::container_info::docker_info::Network;
use mesos_proto::v1::container_info::DockerInfo;
use mesos_proto::v1::framework_info::capability::Type as Capability;
use mesos_proto::v1::framework_info::Capability as FrameworkCapability;
use mesos_proto::v1::{
    container_info, CommandInfo, ContainerInfo, FrameworkInfo, KillPolicy, TaskInfo, TaskState,
    TaskStatus,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The label each test puts on its agent's containers (value unique to the test).
pub const TEST_CASE_LABEL: &str = "berth.test-case";

/// How long a single expected update may take (a cold engine on a busy 2-core box is slow).
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(60);

pub const SEED_COMMAND: &str = "env && while true; do echo command running; sleep 3; done";

/// One agent under test, with the master's ends of its channels.
pub struct Harness {
    pub agent_id: AgentId,
    pub framework_id: FrameworkId,
    pub framework: FrameworkInfo,
    pub work_dir: PathBuf,
    pub case: String,
    pub to_agent: mpsc::Sender<MasterToAgent>,
    pub from_agent: mpsc::Receiver<AgentToMaster>,
    pub registration: Registration,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<berth_agent::Result<()>>>,
}

/// Options for starting an agent.
pub struct Options {
    pub agent_id: AgentId,
    pub work_dir: PathBuf,
    pub case: String,
    pub kill_orphans: bool,
    pub remove_delay: Duration,
    pub grace: Duration,
}

impl Options {
    pub fn new(work_dir: &Path) -> Self {
        Options {
            agent_id: AgentId::generated(format!("{}-S0", unique_name("agent"))),
            work_dir: work_dir.to_path_buf(),
            case: unique_name("case"),
            kill_orphans: true,
            remove_delay: Duration::ZERO,
            grace: Duration::from_secs(5),
        }
    }
}

pub fn config(options: &Options) -> AgentConfig {
    let mut config = AgentConfig::new(&options.work_dir, "localhost")
        .with_resources_text("cpus:4;mem:8192;disk:10000;ports:[31000-32000]")
        .expect("valid resources");
    config.docker_remove_delay = options.remove_delay;
    config.kill_orphans = options.kill_orphans;
    config.executor_shutdown_grace = options.grace;
    config.docker_call_timeout = Duration::from_secs(60);
    config.pull_timeout = Duration::from_secs(120);
    let (key, value) = test_run_label();
    config.container_labels = BTreeMap::from([
        (key.to_owned(), value.to_owned()),
        (TEST_CASE_LABEL.to_owned(), options.case.clone()),
    ]);
    config
}

impl Harness {
    /// Starts an agent, answers its registration with `options.agent_id`.
    pub async fn start(options: Options, guard: &ContainerGuard) -> Harness {
        guard.track_label(TEST_CASE_LABEL, options.case.clone());
        let config = config(&options);
        let containerizer = DockerContainerizer::connect(DockerConfig::from_agent(&config))
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "cannot reach Docker ({err}); {}",
                    berth_testkit::docker::HOW_TO_START_DOCKER
                )
            });
        let (to_master, from_agent) = mpsc::channel(64);
        let (to_agent, from_master) = mpsc::channel(64);
        let shutdown = CancellationToken::new();
        let agent = Agent::new(config, containerizer);
        let handle = tokio::spawn(agent.run(to_master, from_master, shutdown.clone()));
        let mut harness = Harness {
            agent_id: options.agent_id.clone(),
            framework_id: FrameworkId::generated(unique_name("framework")),
            framework: framework_info(),
            work_dir: options.work_dir.clone(),
            case: options.case.clone(),
            to_agent,
            from_agent,
            registration: empty_registration(),
            shutdown,
            handle: Some(handle),
        };
        let registration = match harness.recv().await {
            AgentToMaster::Register(registration) => registration,
            other => panic!("expected Register first, got {other:?}"),
        };
        harness.registration = registration;
        harness
            .send(MasterToAgent::Registered {
                agent_id: options.agent_id,
            })
            .await;
        harness
    }

    pub async fn recv(&mut self) -> AgentToMaster {
        match tokio::time::timeout(UPDATE_TIMEOUT, self.from_agent.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => panic!("the agent closed its channel"),
            Err(_) => panic!("no message from the agent within {UPDATE_TIMEOUT:?}"),
        }
    }

    pub async fn send(&self, message: MasterToAgent) {
        self.to_agent
            .send(message)
            .await
            .expect("the agent is running");
    }

    /// The next status update (any task).
    pub async fn next_update(&mut self) -> TaskStatus {
        match self.recv().await {
            AgentToMaster::StatusUpdate { status, .. } => std::sync::Arc::unwrap_or_clone(status),
            other => panic!("expected a status update, got {other:?}"),
        }
    }

    /// The next status update of `task_id`, setting aside (and returning) others.
    pub async fn next_update_of(
        &mut self,
        task_id: &str,
        others: &mut Vec<TaskStatus>,
    ) -> TaskStatus {
        loop {
            let status = self.next_update().await;
            if status.task_id.value == task_id {
                return status;
            }
            others.push(status);
        }
    }

    pub async fn ack(&self, status: &TaskStatus) {
        self.send(MasterToAgent::Acknowledge {
            framework_id: self.framework_id.clone(),
            task_id: TaskId::generated(status.task_id.value.clone()),
            uuid: status.uuid.clone().expect("agent updates carry a uuid"),
        })
        .await;
    }

    /// Next update of the task, acknowledged.
    pub async fn next_acked(&mut self, task_id: &str) -> TaskStatus {
        let mut others = Vec::new();
        let status = self.next_update_of(task_id, &mut others).await;
        assert!(
            others.is_empty(),
            "unexpected updates of other tasks: {others:?}"
        );
        self.ack(&status).await;
        status
    }

    /// Acknowledges every update of a single task until a terminal one; returns them all.
    pub async fn run_to_end(&mut self, task_id: &str) -> Vec<TaskStatus> {
        let mut seen = Vec::new();
        loop {
            let status = self.next_acked(task_id).await;
            let terminal = state(&status).is_terminal();
            seen.push(status);
            if terminal {
                return seen;
            }
        }
    }

    /// Acknowledges the task's updates until one in `wanted` arrives; returns it.
    pub async fn run_until(&mut self, wanted: TaskState, task_id: &str) -> TaskStatus {
        loop {
            let status = self.next_acked(task_id).await;
            if state(&status) == wanted {
                return status;
            }
            assert!(!state(&status).is_terminal(), "ended early: {status:?}");
        }
    }

    pub async fn launch(&self, task: TaskInfo) {
        self.send(MasterToAgent::RunTask {
            framework_id: self.framework_id.clone(),
            framework: Arc::new(self.framework.clone()),
            task: Arc::new(task),
        })
        .await;
    }

    pub async fn kill(&self, task_id: &str, grace: Option<Duration>) {
        self.send(MasterToAgent::KillTask {
            framework_id: self.framework_id.clone(),
            task_id: TaskId::generated(task_id),
            kill_policy: grace.map(kill_policy),
        })
        .await;
    }

    /// The container name of the task that sent `status`.
    pub fn container_name(&self, status: &TaskStatus) -> String {
        format!("mesos-{}.{}", self.agent_id, container_id(status))
    }

    /// Stops the agent (its containers keep running) and waits for it.
    pub async fn stop(mut self) -> mpsc::Receiver<AgentToMaster> {
        self.shutdown.cancel();
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(Duration::from_secs(30), handle)
                .await
                .expect("the agent stops promptly")
                .expect("the agent task did not panic");
            result.expect("the agent stopped without error");
        }
        std::mem::replace(&mut self.from_agent, mpsc::channel(1).1)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn empty_registration() -> Registration {
    Registration {
        previous_id: None,
        hostname: String::new(),
        port: 0,
        resources: Vec::new(),
        attributes: Vec::new(),
        tasks: Vec::new(),
        simulated: false,
    }
}

pub fn framework_info() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "berth-agent-tests".into(),
        capabilities: vec![FrameworkCapability {
            r#type: Some(Capability::TaskKillingState as i32),
        }],
        ..Default::default()
    }
}

pub fn kill_policy(grace: Duration) -> KillPolicy {
    KillPolicy {
        grace_period: Some(mesos_proto::v1::DurationInfo {
            nanoseconds: i64::try_from(grace.as_nanos()).expect("small"),
        }),
    }
}

/// The seed's task, on the test image.
pub fn seed_task(task_id: &str, agent_id: &AgentId) -> TaskInfo {
    TaskInfo {
        name: task_id.into(),
        task_id: mesos_proto::v1::TaskId::from_str_value(task_id),
        agent_id: agent_id.to_proto(),
        resources: vec![scalar("cpus", 0.5), scalar("mem", 100.0)],
        command: Some(Box::new(CommandInfo {
            value: Some(SEED_COMMAND.into()),
            ..Default::default()
        })),
        container: Some(Box::new(ContainerInfo {
            r#type: container_info::Type::Docker as i32,
            docker: Some(Box::new(DockerInfo {
                image: berth_testkit::TEST_IMAGE.into(),
                network: Some(Network::Bridge as i32),
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A shell task on the test image.
pub fn shell_task(task_id: &str, agent_id: &AgentId, command: &str) -> TaskInfo {
    let mut task = seed_task(task_id, agent_id);
    task.command.as_mut().expect("set").value = Some(command.into());
    task
}

pub fn docker_info(task: &mut TaskInfo) -> &mut DockerInfo {
    task.container
        .as_mut()
        .and_then(|c| c.docker.as_mut())
        .expect("a docker task")
}

pub fn state(status: &TaskStatus) -> TaskState {
    TaskState::try_from(status.state).expect("a known state")
}

pub fn states(statuses: &[TaskStatus]) -> Vec<TaskState> {
    statuses.iter().map(state).collect()
}

pub fn container_id(status: &TaskStatus) -> String {
    status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref())
        .map(|c| c.value.clone())
        .expect("agent updates carry a container id")
}

pub fn ips(status: &TaskStatus) -> Vec<String> {
    status
        .container_status
        .iter()
        .flat_map(|c| c.network_infos.iter())
        .flat_map(|n| n.ip_addresses.iter())
        .filter_map(|a| a.ip_address.clone())
        .collect()
}

pub async fn inspect(docker: &Docker, name: &str) -> ContainerInspectResponse {
    docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
        .unwrap_or_else(|err| panic!("inspecting {name}: {err}"))
}

/// Whether a container exists.
pub async fn exists(docker: &Docker, name: &str) -> bool {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(err) => panic!("inspecting {name}: {err}"),
    }
}

/// The sandbox of a task's run.
pub fn sandbox(harness: &Harness, task_id: &str, status: &TaskStatus) -> PathBuf {
    harness
        .work_dir
        .join("slaves")
        .join(harness.agent_id.as_str())
        .join("frameworks")
        .join(harness.framework_id.as_str())
        .join("executors")
        .join(task_id)
        .join("runs")
        .join(container_id(status))
}

/// The agent-id label is on every container the agent makes.
pub fn agent_label(inspect: &ContainerInspectResponse) -> Option<String> {
    inspect
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(AGENT_ID_LABEL).cloned())
}

/// Removes Docker networks and volumes a test made, when dropped (after the containers'
/// guard, so declare it first).
#[derive(Default)]
pub struct ObjectGuard {
    pub networks: std::sync::Mutex<Vec<String>>,
    pub volumes: std::sync::Mutex<Vec<String>>,
}

impl Drop for ObjectGuard {
    fn drop(&mut self) {
        let networks =
            std::mem::take(&mut *self.networks.lock().unwrap_or_else(|e| e.into_inner()));
        let volumes = std::mem::take(&mut *self.volumes.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(docker) = berth_testkit::docker::try_docker().await else {
                    return;
                };
                for network in networks {
                    if let Err(err) = docker.remove_network(&network).await {
                        eprintln!("removing network {network}: {err}");
                    }
                }
                for volume in volumes {
                    let _ = docker
                        .remove_volume(
                            &volume,
                            None::<bollard::query_parameters::RemoveVolumeOptions>,
                        )
                        .await;
                }
            });
        })
        .join();
    }
}

/// Shared guard type for tests.
pub type Guard = Arc<ContainerGuard>;
