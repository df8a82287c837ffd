//! [`DockerContainerizer`]: the [`Containerizer`] on a Docker engine, through bollard.
//!
//! Every engine call has a timeout from [`DockerConfig`]; bollard errors are classified in one
//! place ([`classify`]). Container output reaches the sandbox through an attach made before the
//! start (so nothing is lost), or, after an agent restart, a `logs?follow` stream.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, CreateImageOptions, InspectContainerOptions,
    ListContainersOptions, LogsOptions, RemoveContainerOptions, StopContainerOptions,
    WaitContainerOptions,
};
use bollard::Docker;
use futures::future::{BoxFuture, FutureExt, WeakShared};
use futures::{Stream, StreamExt};
use mesos_proto::id::{AgentId, ContainerId};
use tokio::io::AsyncWriteExt;

use crate::config::AGENT_ID_LABEL;
use crate::containerizer::{
    name_prefix, ContainerRef, Containerizer, ContainerizerError, LaunchRequest, Launched, LogPump,
    Prepared, PullReport, Recovered, Termination,
};
use crate::run_options::{self, RunContext, RunOptionsError};

/// The Docker containerizer's settings (taken from the agent's config).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// Timeout of each engine call (a stop gets its grace on top).
    pub call_timeout: Duration,
    /// Timeout of an image pull.
    pub pull_timeout: Duration,
    /// The sandbox path inside containers.
    pub mapped_sandbox: String,
    /// Labels for every container (besides `berth.agent-id`).
    pub labels: BTreeMap<String, String>,
}

/// Runs tasks as Docker containers (mesos-v1.md §5).
#[derive(Debug, Clone)]
pub struct DockerContainerizer {
    docker: Docker,
    config: DockerConfig,
    host_memory_bytes: Option<u64>,
    image_checks: Arc<Mutex<HashMap<String, WeakShared<ImageCheck>>>>,
    /// Output streams attached right after a create ahead ([`Containerizer::create`]), by
    /// container name, waiting for the launch that starts the container.
    attached: Arc<AttachedStreams>,
}

/// A container's attached output (stdout and stderr, multiplexed).
type Attached = std::pin::Pin<
    Box<dyn Stream<Item = Result<bollard::container::LogOutput, DockerError>> + Send>,
>;

/// The attached streams waiting for their launch; `Debug` lists their containers.
#[derive(Default)]
struct AttachedStreams(Mutex<HashMap<String, Attached>>);

impl std::fmt::Debug for AttachedStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let streams = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_set().entries(streams.keys()).finish()
    }
}

/// An image presence check under way, shared by every launch that needs the same reference
/// meanwhile: a burst of tasks on one image costs the engine one inspect, not one per task.
/// `Err(())` when it failed; each launch then checks for itself, to report its own error.
/// The registry holds it weakly: once no launch waits for it, it is dropped, never answered
/// late to a later launch.
type ImageCheck = BoxFuture<'static, Result<Option<String>, ()>>;

/// Maps a bollard error to ours: 404 → `NotFound`, 409 → `Conflict`, other statuses →
/// `Engine` with the engine's own message.
pub fn classify(op: &'static str, err: DockerError) -> ContainerizerError {
    match err {
        DockerError::DockerResponseServerError {
            status_code: 404,
            message,
        } => ContainerizerError::NotFound(message),
        DockerError::DockerResponseServerError {
            status_code: 409,
            message,
        } => ContainerizerError::Conflict { op, message },
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => ContainerizerError::Engine {
            op,
            message,
            status: Some(status_code),
        },
        DockerError::DockerStreamError { error } => ContainerizerError::Engine {
            op,
            message: error,
            status: None,
        },
        other => ContainerizerError::Engine {
            op,
            message: other.to_string(),
            status: None,
        },
    }
}

/// Runs one engine call under a timeout.
async fn timed<T>(
    op: &'static str,
    after: Duration,
    call: impl Future<Output = Result<T, DockerError>>,
) -> Result<T, ContainerizerError> {
    match tokio::time::timeout(after, call).await {
        Ok(result) => result.map_err(|err| classify(op, err)),
        Err(_) => Err(ContainerizerError::Timeout { op, after }),
    }
}

/// The reference Mesos checks for presence: `image` plus `:latest` when its last `/` part has
/// no tag (and it has no digest).
pub fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Splits a reference into the Engine API's `fromImage` and `tag` (a digest counts as tag).
/// The tag is never empty: an empty one would make the engine pull every tag.
fn split_reference(image: &str) -> (String, String) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name.to_owned(), digest.to_owned());
    }
    let full = with_default_tag(image);
    match full.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_owned(), tag.to_owned()),
        _ => (full, "latest".to_owned()),
    }
}

/// bollard's own per-request timeout in seconds (replaced by [`DockerContainerizer::with_client`]).
const BOLLARD_TIMEOUT_SECS: u64 = 120;

/// The engine's socket, as bollard's `connect_with_local_defaults` picks it: `DOCKER_HOST` when
/// it is a `unix://` URL, else `/var/run/docker.sock`.
fn local_socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".to_owned())
}

/// The engine's API version from the `Api-Version` header of `GET /_ping` (how the docker CLI
/// negotiates). The engine answers a ping at once, where `/version` (bollard's
/// `negotiate_version`) first asks containerd and the kernel: 10-20 ms at every `berth run`.
/// `None` when the engine cannot be reached this way or names no version.
///
/// The exchange is one request on a blocking socket, run on tokio's blocking pool: on a
/// single-threaded runtime (`berth run`) it then proceeds while the caller goes on starting
/// the master, instead of waiting for the caller's thread between its steps.
async fn ping_api_version(socket: &str, timeout: Duration) -> Option<bollard::ClientVersion> {
    let socket = socket.to_owned();
    tokio::task::spawn_blocking(move || ping_blocking(&socket, timeout))
        .await
        .ok()
        .flatten()
}

fn ping_blocking(socket: &str, timeout: Duration) -> Option<bollard::ClientVersion> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    // HTTP/1.0: the engine closes the connection after its answer.
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .ok()?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = std::str::from_utf8(&head).ok()?;
    let mut lines = head.split("\r\n");
    let ok = lines.next()?.split(' ').nth(1) == Some("200");
    if !ok {
        return None;
    }
    lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("api-version"))
        .and_then(|(_, value)| parse_api_version(value))
}

/// `1.41` → version 1.41.
fn parse_api_version(text: &str) -> Option<bollard::ClientVersion> {
    let (major, minor) = text.trim().split_once('.')?;
    Some(bollard::ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// The task's `container.docker`, if it has one.
fn docker_info(request: &LaunchRequest) -> Option<&mesos_proto::v1::container_info::DockerInfo> {
    request.task.container.as_ref()?.docker.as_deref()
}

/// Total memory of the host, for `--oom-score-adj`.
pub fn host_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `docker inspect` output for one container: a JSON array, indented like the CLI's.
fn inspect_json(inspect: &ContainerInspectResponse) -> Vec<u8> {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    match [inspect].serialize(&mut serializer) {
        Ok(()) => out,
        // Serializing plain data into a Vec cannot fail; keep the update going regardless.
        Err(_) => b"[]".to_vec(),
    }
}

/// The container's addresses: the IPv4 (and IPv6) of its network mode's endpoint, else of any
/// endpoint (mesos-v1.md §5.10).
fn addresses(inspect: &ContainerInspectResponse) -> Vec<(bool, String)> {
    let mode = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .unwrap_or_default();
    let Some(networks) = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
    else {
        return Vec::new();
    };
    let endpoint = networks.get(&mode).or_else(|| {
        networks
            .values()
            .find(|e| e.ip_address.as_deref().is_some_and(|ip| !ip.is_empty()))
    });
    let Some(endpoint) = endpoint else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(ip) = endpoint.ip_address.clone().filter(|ip| !ip.is_empty()) {
        out.push((false, ip));
    }
    if let Some(ip) = endpoint
        .global_ipv6_address
        .clone()
        .filter(|ip| !ip.is_empty())
    {
        out.push((true, ip));
    }
    out
}

/// A future's output, or never when there is none (for optional `select!` arms).
async fn maybe<F: Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// How many inspects [`DockerContainerizer::start_and_inspect`] sends during a start.
const EARLY_INSPECTS: u32 = 8;

/// Whether the container was ever started (an inspect taken after its start).
fn has_started(inspect: &ContainerInspectResponse) -> bool {
    !matches!(
        inspect.state.as_ref().and_then(|s| s.status),
        Some(ContainerStateStatusEnum::CREATED) | None
    )
}

fn termination(inspect: &ContainerInspectResponse) -> Option<Termination> {
    let state = inspect.state.as_ref()?;
    let running = state.running.unwrap_or(false)
        || matches!(
            state.status,
            Some(ContainerStateStatusEnum::RUNNING)
                | Some(ContainerStateStatusEnum::RESTARTING)
                | Some(ContainerStateStatusEnum::PAUSED)
        );
    if running {
        return None;
    }
    Some(Termination {
        exit_code: state.exit_code.unwrap_or(0),
        oom_killed: state.oom_killed.unwrap_or(false),
    })
}

/// Seconds since the epoch of a Docker log timestamp (`2026-11-26T09:13:19.123456789Z`).
pub fn parse_log_timestamp(text: &str) -> Option<f64> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if text.len() < 20 || text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = text.get(19..)?;
    let fraction: f64 = match rest.strip_prefix('.') {
        Some(frac) => {
            let digits = frac.trim_end_matches('Z');
            format!("0.{digits}").parse().ok()?
        }
        None => 0.0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    #[allow(clippy::cast_precision_loss)]
    let seconds = (days * 86_400 + hour * 3_600 + minute * 60 + second) as f64;
    Some(seconds + fraction)
}

/// Removes the timestamp Docker put before a log entry; `None` when the entry is older than
/// `after` (already in the sandbox).
fn strip_timestamp(message: &[u8], after: f64) -> Option<&[u8]> {
    let space = message.iter().position(|b| *b == b' ')?;
    let stamp = std::str::from_utf8(&message[..space]).ok()?;
    match parse_log_timestamp(stamp) {
        Some(at) if at <= after => None,
        Some(_) => Some(&message[space + 1..]),
        None => Some(message),
    }
}

/// Copies a container's output stream into the sandbox files `stdout` and `stderr`. With
/// `after`, entries carry Docker timestamps: those not newer than `after` are skipped and the
/// stamps removed.
async fn pump<S>(container: String, mut output: S, sandbox: PathBuf, after: Option<f64>)
where
    S: Stream<Item = Result<bollard::container::LogOutput, DockerError>> + Unpin + Send,
{
    let open = |name: &'static str| {
        let path = sandbox.join(name);
        async move {
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await
                .map_err(|err| (path, err))
        }
    };
    let (mut stdout, mut stderr) = match (open("stdout").await, open("stderr").await) {
        (Ok(out), Ok(err)) => (out, err),
        (Err((path, err)), _) | (_, Err((path, err))) => {
            tracing::error!(container, path = %path.display(), error = %err, "cannot open a sandbox log file; container output is lost");
            return;
        }
    };
    while let Some(item) = output.next().await {
        use bollard::container::LogOutput;
        let (is_stderr, message) = match item {
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => (false, message),
            Ok(LogOutput::StdErr { message }) => (true, message),
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(err) => {
                tracing::warn!(container, error = %err, "container output stream broke");
                break;
            }
        };
        let data = match after {
            Some(after) => match strip_timestamp(&message, after) {
                Some(data) => data,
                None => continue,
            },
            None => &message[..],
        };
        let written = if is_stderr {
            stderr.write_all(data).await
        } else {
            stdout.write_all(data).await
        };
        if let Err(err) = written {
            tracing::error!(container, error = %err, "cannot write container output to the sandbox");
            break;
        }
    }
    let _ = stdout.flush().await;
    let _ = stderr.flush().await;
}

impl DockerContainerizer {
    /// Connects to the local engine (`DOCKER_HOST`, else `/var/run/docker.sock`), negotiating
    /// the API version down to the engine's (Docker 20.10 speaks 1.41).
    pub async fn connect(config: DockerConfig) -> Result<Self, ContainerizerError> {
        let socket = local_socket();
        let pinged = ping_api_version(&socket, config.call_timeout).await;
        let docker = match pinged {
            Some(engine) => {
                let version = if engine < *bollard::API_DEFAULT_VERSION {
                    engine
                } else {
                    *bollard::API_DEFAULT_VERSION
                };
                Docker::connect_with_unix(&socket, BOLLARD_TIMEOUT_SECS, &version)
                    .map_err(|e| classify("connect", e))?
            }
            // No answer to the ping, or one without a version: bollard's own negotiation
            // (`/version`), whose errors say what is wrong.
            None => {
                let docker =
                    Docker::connect_with_local_defaults().map_err(|e| classify("connect", e))?;
                timed(
                    "negotiate version",
                    config.call_timeout,
                    docker.negotiate_version(),
                )
                .await?
            }
        };
        Ok(Self::with_client(docker, config))
    }

    /// Uses an existing client (its API version already negotiated).
    pub fn with_client(docker: Docker, config: DockerConfig) -> Self {
        // Our own per-call timeouts apply; bollard's blanket one would cut long stops short.
        let docker = docker.with_timeout(Duration::from_secs(24 * 3600));
        DockerContainerizer {
            docker,
            config,
            host_memory_bytes: host_memory_bytes(),
            image_checks: Arc::default(),
            attached: Arc::default(),
        }
    }

    /// The bollard client (for tests and diagnostics).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn inspect(&self, name: &str) -> Result<ContainerInspectResponse, ContainerizerError> {
        timed(
            "inspect container",
            self.config.call_timeout,
            self.docker
                .inspect_container(name, None::<InspectContainerOptions>),
        )
        .await
    }

    /// Creates the task's container (`docker create` with the options `docker run` would get).
    async fn create_container(&self, request: &LaunchRequest) -> Result<(), ContainerizerError> {
        let name = request.container.docker_name();
        let mut labels = self.config.labels.clone();
        labels.insert(
            AGENT_ID_LABEL.to_owned(),
            request.container.agent_id.to_string(),
        );
        let body = run_options::build(
            &request.task,
            &RunContext {
                container_name: &name,
                host_sandbox: &request.sandbox_mount,
                mapped_sandbox: &self.config.mapped_sandbox,
                labels: &labels,
                host_memory_bytes: self.host_memory_bytes,
            },
        )?;
        timed(
            "create container",
            self.config.call_timeout,
            self.docker.create_container(
                Some(CreateContainerOptions {
                    name: Some(name),
                    ..Default::default()
                }),
                body,
            ),
        )
        .await
        .map(|_| ())
    }

    /// Attaches to the container's output. Always before the start, as `docker run` does, so
    /// nothing is written before the attach and nothing is lost; and like `docker run`, without
    /// asking for the log history (`logs`): the engine may read that history after the start
    /// (it did, 1 run in 4 of a CI), and then the first lines reached the sandbox twice.
    async fn attach(&self, name: &str) -> Result<Attached, ContainerizerError> {
        let attached = timed(
            "attach container",
            self.config.call_timeout,
            self.docker.attach_container(
                name,
                Some(AttachContainerOptions {
                    stream: true,
                    logs: false,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                }),
            ),
        )
        .await?;
        Ok(attached.output)
    }

    fn attached(&self) -> std::sync::MutexGuard<'_, HashMap<String, Attached>> {
        self.attached
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `start` and returns the container's inspect taken right after it.
    ///
    /// The engine holds a container's lock for the whole of a start, and so does its handling
    /// of the container's exit. An inspect sent once the start has returned therefore waits,
    /// for a container that ends at once, until the engine has processed the exit (tens of ms
    /// with fuse-overlayfs) - on every launch's path to TASK_RUNNING. An inspect sent while
    /// the start is under way queues for the lock ahead of the exit and is answered the moment
    /// the start is done, with the container running, as Mesos's executor reports it. One the
    /// engine answers before the start took the lock shows the container not yet started; it
    /// is sent again, paced, a few times, then the inspect is left to after the start.
    async fn start_and_inspect(
        &self,
        name: &str,
        start: impl Future<Output = Result<(), ContainerizerError>>,
    ) -> Result<ContainerInspectResponse, ContainerizerError> {
        type Inspecting<'a> = std::pin::Pin<
            Box<
                dyn Future<Output = Result<ContainerInspectResponse, ContainerizerError>>
                    + Send
                    + 'a,
            >,
        >;
        let mut start = std::pin::pin!(start);
        let mut attempt: Option<Inspecting<'_>> = None;
        let mut pause = Some(Box::pin(tokio::time::sleep(Duration::ZERO)));
        let mut sent = 0;
        let mut early = None;
        let started = loop {
            tokio::select! {
                // The start first, so its request leaves before the first inspect's.
                biased;
                started = &mut start => break started,
                inspect = maybe(&mut attempt) => {
                    attempt = None;
                    match inspect {
                        Ok(inspect) if has_started(&inspect) => early = Some(inspect),
                        // Answered before the start took the lock: ask again, a little later.
                        Ok(_) if sent < EARLY_INSPECTS => {
                            let wait = Duration::from_millis(1 << sent.min(3));
                            pause = Some(Box::pin(tokio::time::sleep(wait)));
                        }
                        Ok(_) | Err(_) => {}
                    }
                }
                () = maybe(&mut pause) => {
                    pause = None;
                    sent += 1;
                    attempt = Some(Box::pin(self.inspect(name)));
                }
            }
        };
        started?;
        // An inspect still in flight was first in line for the lock: it answers at once.
        if early.is_none() {
            if let Some(inspect) = attempt {
                early = inspect.await.ok().filter(has_started);
            }
        }
        tracing::debug!(
            container = name,
            inspects = sent,
            early = early.is_some(),
            "started"
        );
        match early {
            Some(inspect) => Ok(inspect),
            None => self.inspect(name).await,
        }
    }

    /// [`Self::image_present`], joining a check of the same reference already under way.
    async fn image_present_shared(
        &self,
        reference: &str,
    ) -> Result<Option<String>, ContainerizerError> {
        let check = {
            let mut checks = self
                .image_checks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match checks.get(reference).and_then(WeakShared::upgrade) {
                Some(check) => check,
                None => {
                    let this = self.clone();
                    let key = reference.to_owned();
                    let check = async move {
                        let present = this.image_present(&key).await.map_err(|_| ());
                        // Done: launches from now on check afresh.
                        this.image_checks
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&key);
                        present
                    }
                    .boxed()
                    .shared();
                    if let Some(weak) = check.downgrade() {
                        checks.insert(reference.to_owned(), weak);
                    }
                    check
                }
            }
        };
        match check.await {
            Ok(present) => Ok(present),
            Err(()) => self.image_present(reference).await,
        }
    }

    async fn image_present(&self, reference: &str) -> Result<Option<String>, ContainerizerError> {
        match timed(
            "inspect image",
            self.config.call_timeout,
            self.docker.inspect_image(reference),
        )
        .await
        {
            Ok(image) => Ok(Some(
                image
                    .repo_digests
                    .and_then(|d| d.into_iter().next())
                    .or(image.id)
                    .unwrap_or_default(),
            )),
            Err(ContainerizerError::NotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), ContainerizerError> {
        let (from_image, tag) = split_reference(image);
        let options = CreateImageOptions {
            from_image: Some(from_image),
            tag: Some(tag),
            ..Default::default()
        };
        let mut progress = self.docker.create_image(Some(options), None, None);
        let pull = async {
            let mut last_status = String::new();
            while let Some(item) = progress.next().await {
                let info = item.map_err(|err| ContainerizerError::Pull {
                    image: image.to_owned(),
                    message: match classify("pull", err) {
                        ContainerizerError::NotFound(message) => message,
                        other => other.user_message(),
                    },
                })?;
                if let Some(status) = info.status {
                    if status != last_status {
                        tracing::info!(image, status, "pulling image");
                        last_status = status;
                    } else {
                        tracing::debug!(image, status, progress = ?info.progress_detail, "pulling image");
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.config.pull_timeout, pull).await {
            Ok(result) => result,
            Err(_) => Err(ContainerizerError::Pull {
                image: image.to_owned(),
                message: format!(
                    "pull of '{image}' did not finish within {:?}",
                    self.config.pull_timeout
                ),
            }),
        }
    }
}

impl Containerizer for DockerContainerizer {
    async fn prepare(&self, request: &LaunchRequest) -> Result<Prepared, ContainerizerError> {
        let docker = docker_info(request).ok_or(RunOptionsError::NotDocker)?;
        let image = docker.image.as_str();
        let reference = with_default_tag(image);
        let force = docker.force_pull_image.unwrap_or(false);
        if !force && self.image_present_shared(&reference).await?.is_some() {
            return Ok(Prepared { pull: None });
        }
        let started = Instant::now();
        tracing::info!(container_id = %request.container.container_id, image, force, "pulling image");
        self.pull(if force { image } else { &reference }).await?;
        let digest = self.image_present(&reference).await?;
        if digest.is_none() {
            return Err(ContainerizerError::Pull {
                image: image.to_owned(),
                message: format!("image '{image}' is still missing after the pull"),
            });
        }
        let elapsed = started.elapsed();
        tracing::info!(container_id = %request.container.container_id, image, ?elapsed, digest, "pulled image");
        Ok(Prepared {
            pull: Some(PullReport {
                image: image.to_owned(),
                digest,
                elapsed,
            }),
        })
    }

    async fn create(&self, request: &LaunchRequest) -> Result<bool, ContainerizerError> {
        let force_pull = docker_info(request)
            .and_then(|d| d.force_pull_image)
            .unwrap_or(false);
        if force_pull {
            // The pull may change what the image reference names: create after it.
            return Ok(false);
        }
        self.create_container(request).await?;
        // Attached now, while the launch waits for the create anyway: the start then follows
        // TASK_STARTING at once. The stream waits here for `launch`, or for `remove` when the
        // launch is abandoned. A failed attach is made again (and reported) by `launch`: the
        // container exists either way.
        let name = request.container.docker_name();
        match self.attach(&name).await {
            Ok(output) => drop(self.attached().insert(name, output)),
            Err(err) => tracing::debug!(container = name, error = %err, "attach after create"),
        }
        Ok(true)
    }

    async fn launch(
        &self,
        request: &LaunchRequest,
        created: bool,
    ) -> Result<Launched, ContainerizerError> {
        let name = request.container.docker_name();
        if !created {
            self.create_container(request).await?;
        }
        // Attach before starting, as `docker run` does, so no early output is lost.
        let early = if created {
            self.attached().remove(&name)
        } else {
            None
        };
        let output = match early {
            Some(output) => output,
            None => self.attach(&name).await?,
        };
        let start = timed(
            "start container",
            self.config.call_timeout,
            self.docker.start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            ),
        );
        let inspect = self.start_and_inspect(&name, start).await?;
        let logs: LogPump = Box::pin(pump(name, output, request.sandbox.clone(), None));
        Ok(Launched {
            inspect: inspect_json(&inspect),
            addresses: addresses(&inspect),
            logs,
        })
    }

    async fn wait(&self, container: &ContainerRef) -> Result<Termination, ContainerizerError> {
        let name = container.docker_name();
        // The wait is a long poll; when the connection breaks, fall back to polling inspect.
        let mut waiting = self
            .docker
            .wait_container(&name, None::<WaitContainerOptions>);
        match waiting.next().await {
            // Exit status 0: nothing more to learn (an OOM kill never ends with 0), so no
            // inspect, which is one engine call less per task.
            Some(Ok(response))
                if response.status_code == 0
                    && response
                        .error
                        .as_ref()
                        .and_then(|e| e.message.as_deref())
                        .is_none_or(str::is_empty) =>
            {
                return Ok(Termination {
                    exit_code: 0,
                    oom_killed: false,
                });
            }
            Some(Ok(_)) | Some(Err(DockerError::DockerContainerWaitError { .. })) => {}
            Some(Err(err)) => {
                let err = classify("wait container", err);
                if let ContainerizerError::NotFound(_) = err {
                    return Err(err);
                }
                tracing::warn!(container = name, error = %err, "waiting for the container failed; polling instead");
            }
            None => {}
        }
        loop {
            let inspect = self.inspect(&name).await?;
            if let Some(end) = termination(&inspect) {
                return Ok(end);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn kill(
        &self,
        container: &ContainerRef,
        grace: Duration,
    ) -> Result<(), ContainerizerError> {
        let name = container.docker_name();
        // `docker stop -t` takes whole seconds; round up so a short grace is not zero.
        let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        let t = i32::try_from(secs).unwrap_or(i32::MAX);
        timed(
            "stop container",
            grace + self.config.call_timeout,
            self.docker.stop_container(
                &name,
                Some(StopContainerOptions {
                    t: Some(t),
                    signal: None,
                }),
            ),
        )
        .await
    }

    async fn remove(&self, container: &ContainerRef) -> Result<(), ContainerizerError> {
        let name = container.docker_name();
        // A create ahead whose launch was abandoned: its attached stream ends here.
        drop(self.attached().remove(&name));
        match timed(
            "remove container",
            self.config.call_timeout,
            self.docker.remove_container(
                &name,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            ),
        )
        .await
        {
            Ok(()) | Err(ContainerizerError::NotFound(_)) => Ok(()),
            // 409 "removal already in progress" means it is going away anyway.
            Err(ContainerizerError::Conflict { message, .. })
                if message.contains("already in progress") =>
            {
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn recover(&self, agent_id: &AgentId) -> Result<Vec<Recovered>, ContainerizerError> {
        let prefix = name_prefix(agent_id);
        let filters = HashMap::from([("name".to_owned(), vec![prefix.clone()])]);
        let listed = timed(
            "list containers",
            self.config.call_timeout,
            self.docker.list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            })),
        )
        .await?;
        let mut found = Vec::new();
        for summary in listed {
            // The name filter matches substrings; keep exact prefix matches whose remainder is
            // a UUID (Mesos ignores containers whose id part does not parse).
            let Some(container_id) = summary
                .names
                .iter()
                .flatten()
                .map(|n| n.trim_start_matches('/'))
                .filter_map(|n| n.strip_prefix(&prefix))
                .find_map(ContainerId::parse)
            else {
                continue;
            };
            let name = format!("{prefix}{container_id}");
            let inspect = match self.inspect(&name).await {
                Ok(inspect) => inspect,
                // Removed between the listing and now.
                Err(ContainerizerError::NotFound(_)) => continue,
                Err(err) => return Err(err),
            };
            let started = !matches!(
                inspect.state.as_ref().and_then(|s| s.status),
                Some(ContainerStateStatusEnum::CREATED)
            );
            found.push(Recovered {
                container_id,
                started,
                exited: termination(&inspect),
                addresses: addresses(&inspect),
                inspect: inspect_json(&inspect),
            });
        }
        Ok(found)
    }

    async fn reattach(
        &self,
        container: &ContainerRef,
        sandbox: PathBuf,
    ) -> Result<LogPump, ContainerizerError> {
        let name = container.docker_name();
        // Resume where the previous agent stopped writing: entries newer than the sandbox
        // files' last change (Docker's timestamps have nanoseconds; `since` only seconds).
        let mut last_write = 0.0_f64;
        for file in ["stdout", "stderr"] {
            if let Ok(modified) = tokio::fs::metadata(sandbox.join(file))
                .await
                .and_then(|m| m.modified())
            {
                let at = modified
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                last_write = last_write.max(at);
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let since = last_write.floor().min(f64::from(i32::MAX)) as i32;
        let stream = self.docker.logs(
            &name,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                since,
                timestamps: true,
                ..Default::default()
            }),
        );
        Ok(Box::pin(pump(
            name,
            Box::pin(stream),
            sandbox,
            Some(last_write),
        )))
    }
}

/// Last `lines` lines of a sandbox file (for TASK_FAILED messages); empty when unreadable.
pub async fn tail(path: &Path, lines: usize) -> Vec<String> {
    if lines == 0 {
        return Vec::new();
    }
    let Ok(data) = tokio::fs::read(path).await else {
        return Vec::new();
    };
    // Only the end matters; cap what we decode.
    let start = data.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&data[start..]);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_parse_to_epoch_seconds() {
        assert_eq!(parse_log_timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_log_timestamp("2000-03-01T00:00:01.5Z"),
            Some(951_868_801.5)
        );
        let t = parse_log_timestamp("2026-11-26T09:13:19.123456789Z").unwrap();
        assert!((t - 1_795_684_399.123_457).abs() < 1e-5, "{t}");
        assert_eq!(parse_log_timestamp("garbage"), None);
        assert_eq!(
            strip_timestamp(b"1970-01-01T00:00:02Z hi\n", 1.0),
            Some(&b"hi\n"[..])
        );
        assert_eq!(strip_timestamp(b"1970-01-01T00:00:02Z hi\n", 2.0), None);
    }

    #[test]
    fn default_tag_is_added_like_mesos() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(
            with_default_tag("berth/busybox:latest"),
            "berth/busybox:latest"
        );
        assert_eq!(
            with_default_tag("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            with_default_tag("localhost:5000/app:1"),
            "localhost:5000/app:1"
        );
        assert_eq!(with_default_tag("app@sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn references_split_into_image_and_tag() {
        assert_eq!(
            split_reference("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app:1.2"),
            ("localhost:5000/app".into(), "1.2".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(
            split_reference("app@sha256:abc"),
            ("app".into(), "sha256:abc".into())
        );
    }

    #[test]
    fn classify_maps_statuses() {
        let err = |status_code| DockerError::DockerResponseServerError {
            status_code,
            message: "m".into(),
        };
        assert!(matches!(
            classify("x", err(404)),
            ContainerizerError::NotFound(_)
        ));
        assert!(matches!(
            classify("x", err(409)),
            ContainerizerError::Conflict { .. }
        ));
        let engine = classify("x", err(500));
        assert!(engine.is_retryable());
        assert_eq!(engine.user_message(), "m");
        assert!(!classify("x", err(400)).is_retryable());
    }

    #[tokio::test]
    async fn tail_returns_the_last_non_empty_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stderr");
        tokio::fs::write(&path, "a\nb\n\nc\nd\n").await.unwrap();
        assert_eq!(tail(&path, 2).await, ["c", "d"]);
        assert_eq!(tail(&path, 10).await, ["a", "b", "c", "d"]);
        assert!(tail(&dir.path().join("none"), 3).await.is_empty());
    }
}
