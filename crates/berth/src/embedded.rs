//! The embedded cluster: berth's master and N in-process Docker agents, joined by berth-core's
//! message channels. `berth cluster` serves it as a daemon; `berth run` without `--master`
//! starts one in its own process and talks to it over HTTP on 127.0.0.1, exactly as it would to
//! a remote master.
//!
//! Simulated agents ([`EmbeddedConfig::simulated_agents`]) join the same master through the
//! same channels: ordinary [`Agent`]s with a [`SimulatedContainerizer`], which runs nothing and
//! writes nothing to disk. They may be mixed with Docker agents, and Docker is not contacted
//! when there are only simulated ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use berth_agent::{
    Agent, AgentConfig, DockerConfig, DockerContainerizer, SimulatedConfig, SimulatedContainerizer,
};
use berth_master::store::Durability;
use berth_master::{Master, MasterConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

/// What the embedded cluster needs.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Master listen address (`127.0.0.1:0` for an ephemeral port).
    pub listen: SocketAddr,
    /// Work dir: `master/` for the master's database, `agents/<i>/` per agent.
    pub work_dir: PathBuf,
    /// Number of Docker agents.
    pub agents: u32,
    /// Each agent's resources (Mesos text); `None` detects them like Mesos.
    pub resources: Option<String>,
    /// Hostname advertised; `None` uses the listen IP.
    pub hostname: Option<String>,
    /// HEARTBEAT interval.
    pub heartbeat_interval: Duration,
    /// Allocation interval.
    pub allocation_interval: Duration,
    /// Delay before exited containers are removed.
    pub docker_remove_delay: Duration,
    /// Extra labels on every container (tests mark their runs).
    pub container_labels: BTreeMap<String, String>,
    /// Number of simulated agents (no containers, no disk), besides the Docker agents.
    pub simulated_agents: u32,
    /// What the simulated agents' tasks do (duration, failure rate).
    pub simulated: SimulatedConfig,
    /// Each simulated agent's resources (Mesos text); `None` uses
    /// [`DEFAULT_SIMULATED_RESOURCES`].
    pub simulated_resources: Option<String>,
    /// The work dir does not outlive the process (`berth run`): the master keeps its store in
    /// memory ([`Durability::Ephemeral`]) and the agents keep no checkpoints
    /// ([`AgentConfig::checkpoint`]); nothing would ever read them back.
    pub ephemeral: bool,
}

/// A simulated agent's resources unless told otherwise: a typical 8-core machine.
pub const DEFAULT_SIMULATED_RESOURCES: &str = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]";

impl EmbeddedConfig {
    /// Defaults: one agent, Mesos's intervals, containers removed after 6 hours.
    pub fn new(listen: SocketAddr, work_dir: PathBuf) -> Self {
        EmbeddedConfig {
            listen,
            work_dir,
            agents: 1,
            resources: None,
            hostname: None,
            heartbeat_interval: Duration::from_secs(15),
            allocation_interval: Duration::from_secs(1),
            docker_remove_delay: Duration::from_secs(6 * 3600),
            container_labels: BTreeMap::new(),
            simulated_agents: 0,
            simulated: SimulatedConfig::default(),
            simulated_resources: None,
            ephemeral: false,
        }
    }
}

/// A running embedded cluster.
pub struct Embedded {
    /// The master's address.
    pub addr: SocketAddr,
    /// The Docker agents' work dirs, in order (simulated agents have none).
    pub agent_work_dirs: Vec<PathBuf>,
    /// The master's handle (its `/state` without HTTP, more agents).
    pub master: berth_master::MasterHandle,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Embedded {
    /// Opens the master, connects to Docker (when there are Docker agents), starts the agents
    /// (Docker ones first, then simulated ones) and the HTTP server.
    pub async fn start(cfg: EmbeddedConfig) -> anyhow::Result<Embedded> {
        // The engine is reached while the master opens its store: neither waits for the other.
        let docker = (cfg.agents > 0).then(|| {
            let config = DockerConfig::from_agent(&AgentConfig::new(&cfg.work_dir, "localhost"));
            AbortOnDropHandle::new(tokio::spawn(DockerContainerizer::connect(config)))
        });
        // On a single-threaded runtime, let the connection start (its exchange then runs on
        // the blocking pool) before the master's opening below holds the thread.
        tokio::task::yield_now().await;
        let mut mc = MasterConfig::new(cfg.work_dir.join("master"));
        mc.listen = cfg.listen;
        mc.hostname = cfg.hostname.clone();
        mc.heartbeat_interval = cfg.heartbeat_interval;
        mc.allocation_interval = cfg.allocation_interval;
        if cfg.ephemeral {
            mc.durability = Durability::Ephemeral;
        }
        let (master, listener) = Master::bind(mc)
            .await
            .with_context(|| format!("cannot start the master on {}", cfg.listen))?;
        let addr = listener.local_addr().context("listener address")?;
        let docker = match docker {
            Some(connecting) => Some(
                connecting
                    .await
                    .context("connecting to the Docker engine")?
                    .context(
                        "cannot reach the Docker engine (is dockerd running? `docker info` must work)",
                    )?
                    .client()
                    .clone(),
            ),
            None => None,
        };
        let handle = master.handle();
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();

        let hostname = cfg
            .hostname
            .clone()
            .unwrap_or_else(|| addr.ip().to_string());
        let mut agent_work_dirs = Vec::new();
        let mut agents = Vec::new();
        let mut file_servers = Vec::new();
        for i in 0..cfg.agents {
            let dir = cfg.work_dir.join("agents").join(i.to_string());
            let mut ac = AgentConfig::new(&dir, hostname.clone());
            if let Some(text) = &cfg.resources {
                ac = ac.with_resources_text(text).context("--resources")?;
            }
            ac.ip = addr.ip();
            // The agent's address in offers serves its sandboxes (`/files/read`), as a Mesos
            // agent's does; an ephemeral port lets several clusters share a machine.
            let files = tokio::net::TcpListener::bind((addr.ip(), 0))
                .await
                .context("binding the agent's /files endpoint")?;
            ac.port = files.local_addr().context("agent /files address")?.port();
            file_servers.push((files, dir.clone()));
            ac.docker_remove_delay = cfg.docker_remove_delay;
            ac.checkpoint = !cfg.ephemeral;
            ac.container_labels = cfg.container_labels.clone();
            let client = docker
                .clone()
                .expect("the engine is connected whenever there are Docker agents");
            let containerizer =
                DockerContainerizer::with_client(client, DockerConfig::from_agent(&ac));
            agent_work_dirs.push(dir);
            agents.push(Agent::new(ac, containerizer));
        }
        let simulated_text = cfg
            .simulated_resources
            .as_deref()
            .unwrap_or(DEFAULT_SIMULATED_RESOURCES);
        let simulated_resources =
            mesos_proto::resource::parse(simulated_text).context("--simulated-resources")?;
        let mut simulated = Vec::new();
        for i in 0..cfg.simulated_agents {
            let mut ac = AgentConfig::simulated(hostname.clone(), simulated_resources.clone());
            ac.ip = addr.ip();
            // Ports only label agents in offers; they follow the Docker agents' ones.
            let index = u16::try_from(cfg.agents.saturating_add(i)).unwrap_or(u16::MAX);
            ac.port = 5051u16.saturating_add(index);
            // Seeds differ per agent, so failures do not strike every agent in lockstep.
            let mut behaviour = cfg.simulated.clone();
            behaviour.seed = behaviour.seed.wrapping_add(u64::from(i));
            simulated.push(Agent::new(ac, SimulatedContainerizer::new(behaviour)));
        }

        let master_shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = master.run(listener, master_shutdown.clone()).await {
                tracing::error!(error = %e, "master stopped");
                master_shutdown.cancel();
            }
        });
        for (listener, dir) in file_servers {
            tracker.spawn(crate::files::serve(listener, dir, shutdown.clone()));
        }
        for agent in agents {
            attach(&handle, &tracker, &shutdown, agent, 256).await?;
        }
        for agent in simulated {
            // Small links: a simulated agent's traffic is a few updates per task.
            attach(&handle, &tracker, &shutdown, agent, 64).await?;
        }
        tracker.close();
        Ok(Embedded {
            addr,
            agent_work_dirs,
            master: handle,
            shutdown,
            tracker,
        })
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that stops the cluster when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the master and the agents (containers keep running, as with Mesos) and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.wait().await;
    }

    /// Waits until the cluster stops (its token was cancelled elsewhere).
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.tracker.wait().await;
    }
}

/// Links an agent to the master with a pair of channels and runs it on the tracker.
async fn attach<C: berth_agent::Containerizer>(
    handle: &berth_master::MasterHandle,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
    agent: Agent<C>,
    capacity: usize,
) -> anyhow::Result<()> {
    let (to_agent, from_master) = mpsc::channel(capacity);
    let (to_master, from_agent) = mpsc::channel(capacity);
    handle
        .attach_agent(to_agent, from_agent)
        .await
        .map_err(|_| anyhow::anyhow!("the master stopped while starting"))?;
    let agent_shutdown = shutdown.child_token();
    tracker.spawn(async move {
        if let Err(e) = agent.run(to_master, from_master, agent_shutdown).await {
            tracing::error!(error = %e, "agent stopped");
        }
    });
    Ok(())
}
