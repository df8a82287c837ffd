//! `berth run`: a framework that launches one task, like `mesos-execute`, and follows it to its
//! end: it subscribes, takes the first offer that fits, launches the task (logging the TaskInfo
//! as the seed does), prints each status update, streams the task's `stdout`/`stderr` from its
//! sandbox, and exits with the task's outcome.
//!
//! Exit codes: 0 for TASK_FINISHED; the container's own exit status when a terminal update
//! carries one (`Container exited with status N`, N != 0); 130 after Ctrl-C and 143 after
//! SIGTERM (each kills the task first); 1 otherwise.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use mesos_proto::v1::framework_info::capability::Type as CapabilityType;
use mesos_proto::v1::framework_info::Capability;
use mesos_proto::v1::{FrameworkInfo, Offer, TaskInfo, TaskState, TaskStatus};
use mesos_proto::MesosJson;
use mesos_scheduler::{call, OfferResources, Scheduler, SchedulerConfig, SchedulerEvent};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::embedded::{Embedded, EmbeddedConfig};
use crate::files::FileReader;
use crate::run_args::RunArgs;

/// The exit code after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit code after SIGTERM (128 + SIGTERM): `kill`, `timeout`, a service manager.
pub const EXIT_TERMINATED: i32 = 143;

/// How long the task's output is still followed after its terminal update on a master that is
/// not berth's own.
const REMOTE_LOG_GRACE: Duration = Duration::from_millis(150);

/// Runs the task and returns the process exit code.
pub async fn run(args: RunArgs, template: TaskInfo) -> anyhow::Result<i32> {
    let mut embedded = None;
    let master = match &args.master {
        Some(m) => m.clone(),
        None => {
            let work_dir = std::env::temp_dir().join(format!("berth-run-{}", uuid_like()));
            let mut cfg = EmbeddedConfig::new(([127, 0, 0, 1], 0).into(), work_dir.clone());
            // A one-shot cluster: remove the container as soon as it has exited.
            cfg.docker_remove_delay = Duration::ZERO;
            // Removed at exit, never reopened: nothing needs to survive the process.
            cfg.ephemeral = true;
            cfg.allocation_interval = Duration::from_millis(200);
            cfg.container_labels =
                crate::run_args::parse_labels("--container-label", &args.container_label)?;
            let cluster = Embedded::start(cfg).await?;
            tracing::info!(master = %cluster.url(), work_dir = %work_dir.display(), "embedded cluster started");
            let url = cluster.url();
            embedded = Some((cluster, work_dir));
            url
        }
    };
    let agent_dirs: Vec<PathBuf> = embedded
        .as_ref()
        .map(|(c, _)| c.agent_work_dirs.clone())
        .unwrap_or_default();
    let outcome = drive(&args, template, &master, &agent_dirs, embedded.is_some()).await;
    if let Some((cluster, work_dir)) = embedded {
        cluster.stop().await;
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    outcome
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}", std::process::id())
}

#[allow(deprecated)] // `role` is how a non-MULTI_ROLE framework names its role.
fn framework_info(args: &RunArgs) -> FrameworkInfo {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into());
    FrameworkInfo {
        user,
        name: args.framework_name.clone(),
        failover_timeout: Some(0.0),
        role: (args.role != "*").then(|| args.role.clone()),
        capabilities: vec![Capability {
            r#type: Some(CapabilityType::TaskKillingState as i32),
        }],
        hostname: Some(hostname()),
        ..Default::default()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Where the task is in its life, as `berth run` sees it.
struct Progress {
    launched: Option<TaskInfo>,
    /// The launch offer's agent address (its `url`), for `/files/read` of remote sandboxes.
    agent_addr: Option<std::net::SocketAddr>,
    /// The exit code of the first Ctrl-C or SIGTERM, once one came.
    interrupted: Option<i32>,
    kill_sent: bool,
    tail: Option<Tail>,
    offers_refused: u32,
}

async fn drive(
    args: &RunArgs,
    template: TaskInfo,
    master: &str,
    agent_dirs: &[PathBuf],
    embedded: bool,
) -> anyhow::Result<i32> {
    let mut config = SchedulerConfig::new(master, framework_info(args));
    config.content_type = args.content_type.into();
    let (scheduler, mut events) = Scheduler::new(config).context("--master")?;
    // berth's agent has written the last bytes of the task's output when it reports the
    // terminal state; another master's agent may still be writing them.
    let log_grace = if embedded {
        Duration::ZERO
    } else {
        REMOTE_LOG_GRACE
    };
    let mut progress = Progress {
        launched: None,
        agent_addr: None,
        interrupted: None,
        kill_sent: false,
        tail: None,
        offers_refused: 0,
    };
    let kill_timer =
        tokio::time::sleep(Duration::MAX.min(Duration::from_secs(u64::from(u32::MAX))));
    tokio::pin!(kill_timer);
    let mut kill_armed = false;
    let mut interrupt = Box::pin(interruption());

    let code = loop {
        tokio::select! {
            // A first Ctrl-C or SIGTERM kills the task and waits for TASK_KILLED (so its
            // container goes too); a second one exits now.
            code = &mut interrupt => {
                if progress.interrupted.is_some() || progress.launched.is_none() {
                    tracing::warn!("interrupted");
                    break progress.interrupted.unwrap_or(code);
                }
                progress.interrupted = Some(code);
                tracing::info!("interrupted: killing the task (interrupt again to exit at once)");
                kill(&scheduler, args, &mut progress).await;
                interrupt = Box::pin(interruption());
            }
            () = &mut kill_timer, if kill_armed => {
                kill_armed = false;
                tracing::info!(after = ?args.kill_after, "--kill-after elapsed: killing the task");
                kill(&scheduler, args, &mut progress).await;
            }
            event = events.next() => {
                let Some(event) = event else { break 1 };
                match event {
                    SchedulerEvent::Subscribed { .. } => {}
                    SchedulerEvent::Disconnected { reason, backoff, .. } => {
                        tracing::warn!(error = %reason, ?backoff, "disconnected from the master; retrying");
                    }
                    SchedulerEvent::Error(e) => tracing::warn!(error = %e, "scheduler error"),
                    SchedulerEvent::Closed { reason } => {
                        match reason {
                            Some(e) => tracing::error!(error = %e, "subscription closed"),
                            None => tracing::error!("subscription closed"),
                        }
                        break 1;
                    }
                    SchedulerEvent::Event(ev) => {
                        if let Some(offers) = ev.offers {
                            handle_offers(&scheduler, &template, args, offers.offers, &mut progress).await?;
                            if progress.launched.is_none() && embedded && progress.offers_refused > 0 {
                                let wanted = crate::run_args::describe_resources(&template.resources);
                                anyhow::bail!("no agent can fit the task: it needs {wanted}");
                            }
                        }
                        if let Some(err) = ev.error {
                            tracing::error!(message = %err.message, "the master refused the framework");
                            break 1;
                        }
                        if let Some(update) = ev.update {
                            let status = update.status;
                            let ours = progress.launched.as_ref().is_some_and(|t| t.task_id == status.task_id);
                            if !ours {
                                continue;
                            }
                            report(&status);
                            let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskLost);
                            if state == TaskState::TaskRunning && progress.tail.is_none() {
                                progress.tail = find_sandbox(&status, agent_dirs, &scheduler, progress.agent_addr).map(Tail::start);
                                if let (Some(after), false) = (args.kill_after, kill_armed) {
                                    kill_timer.as_mut().reset(tokio::time::Instant::now() + after);
                                    kill_armed = true;
                                }
                            }
                            if state.is_terminal() {
                                if progress.tail.is_none() {
                                    progress.tail = find_sandbox(&status, agent_dirs, &scheduler, progress.agent_addr).map(Tail::start);
                                }
                                if let Some(tail) = progress.tail.take() {
                                    tail.finish(log_grace).await;
                                }
                                // Acknowledge the terminal update before tearing down, so the
                                // agent's stream for the task is complete.
                                if status.uuid.is_some() {
                                    if let Err(e) = scheduler.acknowledge_update(&status).await {
                                        tracing::debug!(error = %e, "acknowledging the terminal update");
                                    }
                                }
                                break progress
                                    .interrupted
                                    .unwrap_or_else(|| exit_code(&status));
                            }
                        }
                    }
                }
            }
        }
    };
    if let Some(tail) = progress.tail.take() {
        tail.finish(log_grace).await;
    }
    // Not a failover: the framework is done.
    if let Err(e) = scheduler.teardown().await {
        tracing::debug!(error = %e, "teardown");
    }
    scheduler.shutdown();
    Ok(code)
}

async fn kill(scheduler: &Scheduler, args: &RunArgs, progress: &mut Progress) {
    let Some(task) = &progress.launched else {
        return;
    };
    let policy = args.grace_period.map(call::grace_period);
    match scheduler
        .kill(task.task_id.clone(), Some(task.agent_id.clone()), policy)
        .await
    {
        Ok(()) => progress.kill_sent = true,
        Err(e) => tracing::warn!(error = %e, "KILL failed"),
    }
}

async fn handle_offers(
    scheduler: &Scheduler,
    template: &TaskInfo,
    args: &RunArgs,
    offers: Vec<Offer>,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let mut decline = Vec::new();
    for offer in offers {
        let wanted_agent = args
            .agent_id
            .as_ref()
            .is_none_or(|a| *a == offer.agent_id.value);
        if progress.launched.is_some() || !wanted_agent {
            decline.push(offer.id);
            continue;
        }
        let mut pool = OfferResources::new(&offer);
        match pool.take(&template.resources) {
            Ok(_) => {
                // Launch with the resources as the user wrote them (like the seed's framework,
                // which sends `NewScalarResource` without a role), not the offer's copies.
                let mut task = template.clone();
                task.agent_id = offer.agent_id.clone();
                // The seed's framework logs the TaskInfo it launches.
                tracing::info!(task = %task.to_json_string(), "command task");
                scheduler
                    .launch(vec![offer.id.clone()], vec![task.clone()], None)
                    .await
                    .context("ACCEPT (launch)")?;
                progress.launched = Some(task);
                progress.agent_addr = agent_address(&offer).await;
            }
            Err(e) => {
                tracing::info!(agent_id = %offer.agent_id.value, reason = %e, "offer does not fit the task");
                progress.offers_refused += 1;
                decline.push(offer.id);
            }
        }
    }
    if !decline.is_empty() {
        scheduler.decline(decline, None).await.context("DECLINE")?;
    }
    Ok(())
}

fn report(status: &TaskStatus) {
    let state = TaskState::try_from(status.state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN");
    let source = status
        .source
        .and_then(|s| mesos_proto::v1::task_status::Source::try_from(s).ok())
        .map(|s| s.as_str_name());
    let reason = status
        .reason
        .and_then(|r| mesos_proto::v1::task_status::Reason::try_from(r).ok())
        .map(|r| r.as_str_name());
    tracing::info!(
        task_id = %status.task_id.value,
        state,
        source = source.unwrap_or(""),
        reason = reason.unwrap_or(""),
        status_message = status.message.as_deref().unwrap_or(""),
        "status update"
    );
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM and returns the exit code that follows it
/// ([`EXIT_INTERRUPTED`] or [`EXIT_TERMINATED`]). A signal whose handler cannot be installed
/// is never awaited. `berth cluster` stops on the same signals.
pub async fn interruption() -> i32 {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(term) => term.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => EXIT_INTERRUPTED,
        Some(()) = terminated => EXIT_TERMINATED,
        else => std::future::pending().await,
    }
}

/// The process exit code for a terminal status (not interrupted).
pub fn exit_code(status: &TaskStatus) -> i32 {
    if status.state == TaskState::TaskFinished as i32 {
        return 0;
    }
    container_exit_status(status.message.as_deref().unwrap_or(""))
        .filter(|c| *c != 0)
        .unwrap_or(1)
}

/// `N` from a message containing `Container exited with status N`.
pub fn container_exit_status(message: &str) -> Option<i32> {
    let rest = message.split("Container exited with status ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Where a task's sandbox can be read.
#[derive(Debug, Clone)]
enum Sandbox {
    /// On this machine.
    Local(PathBuf),
    /// On an agent elsewhere, through its `/files/read`.
    Remote {
        /// The agent's address.
        agent: std::net::SocketAddr,
        /// The sandbox's absolute path on the agent.
        dir: String,
    },
}

/// The agent address an offer's `url` names.
async fn agent_address(offer: &Offer) -> Option<std::net::SocketAddr> {
    let addr = &offer.url.as_ref()?.address;
    let port = u16::try_from(addr.port).ok()?;
    let host = addr.ip.clone().or_else(|| addr.hostname.clone())?;
    let found = tokio::net::lookup_host(format!("{host}:{port}"))
        .await
        .ok()?
        .next();
    found
}

/// The task's host sandbox: from the `docker inspect` data of TASK_RUNNING (its mount at
/// `/mnt/mesos/sandbox`) when that directory is on this machine, else through the agent's
/// `/files/read`; for the embedded cluster also from the agents' work dirs.
fn find_sandbox(
    status: &TaskStatus,
    agent_dirs: &[PathBuf],
    scheduler: &Scheduler,
    agent_addr: Option<std::net::SocketAddr>,
) -> Option<Sandbox> {
    if let Some(data) = &status.data {
        if let Ok(serde_json::Value::Array(items)) =
            serde_json::from_slice::<serde_json::Value>(data)
        {
            for item in items {
                for m in item["Mounts"].as_array().into_iter().flatten() {
                    if m["Destination"] == "/mnt/mesos/sandbox" {
                        if let Some(src) = m["Source"].as_str() {
                            let p = PathBuf::from(src);
                            if p.is_dir() {
                                return Some(Sandbox::Local(p));
                            }
                            if let Some(agent) = agent_addr {
                                return Some(Sandbox::Remote {
                                    agent,
                                    dir: src.to_string(),
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    let framework = scheduler.framework_id()?;
    let agent = status.agent_id.as_ref()?;
    agent_dirs
        .iter()
        .map(|dir| {
            dir.join("slaves")
                .join(&agent.value)
                .join("frameworks")
                .join(&framework.value)
                .join("executors")
                .join(&status.task_id.value)
                .join("runs")
                .join("latest")
        })
        .find(|p| p.is_dir())
        .map(Sandbox::Local)
}

/// Copies the sandbox's `stdout`/`stderr` to ours while the task runs.
struct Tail {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl Tail {
    fn start(sandbox: Sandbox) -> Tail {
        tracing::debug!(?sandbox, "streaming the task's output");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut out, mut err) = match &sandbox {
                Sandbox::Local(dir) => (
                    Source::Local(Follower::new(dir.join("stdout"))),
                    Source::Local(Follower::new(dir.join("stderr"))),
                ),
                Sandbox::Remote { agent, dir } => (
                    Source::Remote(FileReader::new(*agent, format!("{dir}/stdout"))),
                    Source::Remote(FileReader::new(*agent, format!("{dir}/stderr"))),
                ),
            };
            loop {
                out.pump(Stream::Stdout).await;
                err.pump(Stream::Stderr).await;
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            // The container has exited: whatever is left in the files is the rest of it.
            out.pump(Stream::Stdout).await;
            err.pump(Stream::Stderr).await;
        });
        Tail { stop, handle }
    }

    /// Stops following after a last read; `grace` first lets a writer that lags behind the
    /// terminal update flush.
    async fn finish(self, grace: Duration) {
        if !grace.is_zero() {
            tokio::time::sleep(grace).await;
        }
        self.stop.cancel();
        let _ = self.handle.await;
    }
}

/// One followed file, on this disk or behind an agent's `/files/read`.
enum Source {
    Local(Follower),
    Remote(FileReader),
}

/// Which of our output streams a sandbox file goes to.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn write(self, bytes: &[u8]) {
        use std::io::Write as _;
        match self {
            Stream::Stdout => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(bytes);
                let _ = o.flush();
            }
            Stream::Stderr => {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(bytes);
                let _ = e.flush();
            }
        }
    }
}

impl Source {
    async fn pump(&mut self, to: Stream) {
        match self {
            Source::Local(f) => f.pump(to),
            Source::Remote(r) => loop {
                let chunk = r.next_chunk().await;
                if chunk.is_empty() {
                    break;
                }
                to.write(&chunk);
            },
        }
    }
}

/// Reads whatever was appended to a file since the last call.
struct Follower {
    path: PathBuf,
    offset: u64,
}

impl Follower {
    fn new(path: PathBuf) -> Self {
        Follower { path, offset: 0 }
    }

    fn pump(&mut self, to: Stream) {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if let Ok(n) = f.read_to_end(&mut buf) {
            self.offset += n as u64;
            to.write(&buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_terminal_update() {
        let st = |state: TaskState, msg: &str| TaskStatus {
            state: state as i32,
            message: Some(msg.into()),
            ..Default::default()
        };
        assert_eq!(
            exit_code(&st(
                TaskState::TaskFinished,
                "Container exited with status 0"
            )),
            0
        );
        assert_eq!(
            exit_code(&st(TaskState::TaskFailed, "Container exited with status 3")),
            3
        );
        assert_eq!(
            exit_code(&st(
                TaskState::TaskKilled,
                "Container exited with status 137"
            )),
            137
        );
        assert_eq!(
            exit_code(&st(
                TaskState::TaskFailed,
                "Failed to launch container: no such image"
            )),
            1
        );
        assert_eq!(
            container_exit_status("Container exited with status 42; stderr: x"),
            Some(42)
        );
    }
}
