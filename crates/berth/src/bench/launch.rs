//! Launch overhead: the real `berth run` binary (with its embedded one-agent cluster, as a user
//! runs it) against a plain Engine API create + start (+ wait) of the same container, and
//! against `docker run --rm`. Runs are interleaved, the three ways taking turns going first
//! (berth, engine, docker; engine, docker, berth; ...), after one unmeasured warm-up of each,
//! so drift of the machine and the engine's after-work hit all three alike.
//!
//! `berth run` is timed from spawning the process to the `status update ... TASK_RUNNING` line
//! on its stderr, and to its exit. The engine path is timed to `start` answering (the container
//! runs) and to `wait` answering (it exited); removal follows, untimed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, StartContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::stats::{ms, Summary};
use super::Figure;

/// The target: `berth run` to TASK_RUNNING within this factor of create + start.
pub const TARGET_RATIO: f64 = 1.10;

/// The label on every container the benchmarks make (a crashed run's leftovers can be found).
pub const BENCH_LABEL: &str = "berth.bench";

/// Longest a single run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What to run.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// Measured runs of each way.
    pub runs: u32,
    /// The image (must exist locally).
    pub image: String,
    /// The berth binary to spawn.
    pub berth: PathBuf,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct LaunchReport {
    /// The settings.
    pub config: LaunchConfig,
    /// `berth run` spawn to TASK_RUNNING on stderr.
    pub berth_running: Summary,
    /// `berth run` spawn to exit.
    pub berth_exit: Summary,
    /// Engine API create + start.
    pub engine_started: Summary,
    /// The median over rounds of (berth run to TASK_RUNNING) / (create + start) of the same
    /// round: run back to back, both meet the same state of the machine and the engine.
    pub paired_ratio: f64,
    /// Engine API create + start + wait.
    pub engine_exit: Summary,
    /// `docker run --rm` to exit; `None` without the docker CLI.
    pub docker_run: Option<Summary>,
    /// Why `docker run` was not measured, if it was not.
    pub docker_run_skipped: Option<String>,
}

/// Connects to the local engine and checks that `image` exists.
pub async fn engine(image: &str) -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_local_defaults()
        .context("cannot reach the Docker engine (is dockerd running? `docker info` must work)")?
        .negotiate_version()
        .await
        .context("cannot reach the Docker engine (is dockerd running? `docker info` must work)")?;
    docker.inspect_image(image).await.with_context(|| {
        format!(
            "image {image} is not in the local engine: build it with scripts/make-test-image.sh"
        )
    })?;
    Ok(docker)
}

/// The container the engine-side runs create: the agent's own create body (berth-agent's
/// `run_options::build`) for the same task berth runs — `sh -c true` in `image` with cpus 0.1
/// and mem 32 (CPU shares, memory limit, OOM score, Mesos environment, sandbox bind, host
/// network) — under the name `name` and the bench's label instead of the agent's.
pub fn container_body(
    image: &str,
    sandbox: &Path,
    name: &str,
) -> anyhow::Result<ContainerCreateBody> {
    let task = super::true_task(
        name.to_owned(),
        image,
        mesos_proto::v1::AgentId {
            value: "bench".into(),
        },
        vec![
            mesos_proto::resource::scalar("cpus", 0.1),
            mesos_proto::resource::scalar("mem", 32.0),
        ],
    );
    let labels = std::collections::BTreeMap::from([(BENCH_LABEL.to_owned(), "engine".to_owned())]);
    let ctx = berth_agent::run_options::RunContext {
        container_name: name,
        host_sandbox: sandbox,
        mapped_sandbox: "/mnt/mesos/sandbox",
        labels: &labels,
        host_memory_bytes: berth_agent::docker::host_memory_bytes(),
    };
    berth_agent::run_options::build(&task, &ctx).context("the bench task's create body")
}

/// Create, start, wait for one container through the Engine API, then remove it. Returns the
/// instants `start` and `wait` answered.
pub async fn engine_run(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> anyhow::Result<(Instant, Instant)> {
    let result = async {
        docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_owned()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .context("create")?;
        docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .context("start")?;
        let started = Instant::now();
        let mut wait = docker.wait_container(name, None::<WaitContainerOptions>);
        match wait.next().await {
            Some(Ok(_)) | None => {}
            Some(Err(e)) => return Err(anyhow::Error::new(e).context("wait")),
        }
        Ok((started, Instant::now()))
    }
    .await;
    let _ = docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await;
    result
}

/// One `berth run`: spawn to TASK_RUNNING, spawn to exit.
async fn berth_run(config: &LaunchConfig, name: &str) -> anyhow::Result<(Duration, Duration)> {
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(&config.berth)
        .args([
            "run",
            "--name",
            name,
            "--image",
            &config.image,
            "--command",
            "true",
            "--resources",
            "cpus:0.1;mem:32",
            "--container-label",
            &format!("{BENCH_LABEL}=berth-run"),
            "--log-format",
            "text",
        ])
        // The line we time is an `info` event.
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {}", config.berth.display()))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut running = None;
    let mut tail = Vec::new();
    let outcome = tokio::time::timeout(RUN_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if running.is_none() && line.contains("status update") && line.contains("TASK_RUNNING")
            {
                running = Some(t0.elapsed());
            }
            if tail.len() == 20 {
                tail.remove(0);
            }
            tail.push(line);
        }
        let status = child.wait().await?;
        anyhow::Ok(status)
    })
    .await;
    let exited = t0.elapsed();
    let status = match outcome {
        Ok(status) => status?,
        Err(_) => {
            let _ = child.kill().await;
            anyhow::bail!("berth run did not finish within {RUN_TIMEOUT:?}");
        }
    };
    anyhow::ensure!(
        status.success(),
        "berth run exited with {status}; its last log lines:\n{}",
        tail.join("\n")
    );
    let running = running.with_context(|| {
        format!(
            "berth run printed no TASK_RUNNING status update; its last log lines:\n{}",
            tail.join("\n")
        )
    })?;
    Ok((running, exited))
}

/// One `docker run --rm`.
async fn docker_run(image: &str) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let status = tokio::time::timeout(
        RUN_TIMEOUT,
        tokio::process::Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "host",
                "--label",
                &format!("{BENCH_LABEL}=docker-run"),
                image,
                "/bin/sh",
                "-c",
                "true",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status(),
    )
    .await
    .context("docker run timed out")??;
    anyhow::ensure!(status.success(), "docker run exited with {status}");
    Ok(t0.elapsed())
}

/// Runs the benchmark.
pub async fn run(config: &LaunchConfig) -> anyhow::Result<LaunchReport> {
    let docker = engine(&config.image).await?;
    let sandbox = std::env::temp_dir().join(format!("berth-bench-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&sandbox)?;
    let pid = std::process::id();
    let mut docker_cli = match docker_run(&config.image).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("docker run --rm not measured: {e:#}")),
    };
    // Warm-up (page cache, the engine's image metadata, the berth binary).
    berth_run(config, &format!("bench-launch-{pid}-warmup")).await?;
    let warmup = format!("berth-bench-{pid}-warmup");
    engine_run(
        &docker,
        &warmup,
        container_body(&config.image, &sandbox, &warmup)?,
    )
    .await?;

    let (mut b_run, mut b_exit, mut e_start, mut e_exit, mut d_run) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..config.runs {
        // The three ways take turns going first, so none always follows the same one (and
        // whatever the engine still does after it).
        for way in 0..3 {
            match (way + i) % 3 {
                0 => {
                    let (running, exited) =
                        berth_run(config, &format!("bench-launch-{pid}-{i}")).await?;
                    b_run.push(running);
                    b_exit.push(exited);
                }
                1 => {
                    let t0 = Instant::now();
                    let name = format!("berth-bench-{pid}-{i}");
                    let body = container_body(&config.image, &sandbox, &name)?;
                    let (started, exited) = engine_run(&docker, &name, body).await?;
                    e_start.push(started - t0);
                    e_exit.push(exited - t0);
                }
                _ => {
                    if docker_cli.is_ok() {
                        match docker_run(&config.image).await {
                            Ok(took) => d_run.push(took),
                            Err(e) => docker_cli = Err(format!("docker run --rm failed: {e:#}")),
                        }
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&sandbox);
    let summary = |v: &[Duration]| Summary::of(v).context("no runs");
    let mut ratios: Vec<f64> = b_run
        .iter()
        .zip(&e_start)
        .map(|(b, e)| ms(*b) / ms(*e).max(1e-9))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let paired_ratio = match ratios.len() {
        0 => anyhow::bail!("no runs"),
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    };
    Ok(LaunchReport {
        config: config.clone(),
        berth_running: summary(&b_run)?,
        berth_exit: summary(&b_exit)?,
        engine_started: summary(&e_start)?,
        paired_ratio,
        engine_exit: summary(&e_exit)?,
        docker_run: docker_cli.is_ok().then(|| Summary::of(&d_run)).flatten(),
        docker_run_skipped: docker_cli.err(),
    })
}

impl LaunchReport {
    /// The figures, with the target on the TASK_RUNNING ratio.
    pub fn figures(&self) -> Vec<Figure> {
        let c = &self.config;
        let setup = format!(
            "{}, `sh -c true`, host network, {} runs (interleaved, rotating order, after 1 warm-up)",
            c.image, c.runs
        );
        let pair = |name: &str, s: &Summary| {
            [
                Figure::new(
                    "launch",
                    format!("{name}, median"),
                    ms(s.median),
                    "ms",
                    setup.clone(),
                ),
                Figure::new(
                    "launch",
                    format!("{name}, p95"),
                    ms(s.p95),
                    "ms",
                    setup.clone(),
                ),
            ]
        };
        let mut figures = Vec::new();
        figures.extend(pair("berth run -> TASK_RUNNING", &self.berth_running));
        figures.extend(pair("Engine API create+start", &self.engine_started));
        figures.extend(pair("berth run -> exit", &self.berth_exit));
        figures.extend(pair("Engine API create+start+wait", &self.engine_exit));
        if let Some(d) = &self.docker_run {
            figures.extend(pair("docker run --rm -> exit", d));
        }
        let ratio = ms(self.berth_running.median) / ms(self.engine_started.median).max(1e-9);
        figures.push(
            Figure::new(
                "launch",
                "berth run -> TASK_RUNNING / Engine create+start (medians)",
                ratio,
                "x",
                "berth run includes its process start, embedded master + agent, SUBSCRIBE, offer, ACCEPT, TASK_STARTING ack",
            )
            .at_most(TARGET_RATIO),
        );
        figures.push(Figure::new(
            "launch",
            "berth run -> TASK_RUNNING / Engine create+start (median per round)",
            self.paired_ratio,
            "x",
            "each round's berth run over the same round's create+start: drift of the machine between rounds cancels",
        ));
        figures.push(Figure::new(
            "launch",
            "berth run -> exit / Engine create+start+wait (medians)",
            ms(self.berth_exit.median) / ms(self.engine_exit.median).max(1e-9),
            "x",
            "exit includes the cluster's shutdown",
        ));
        if let Some(d) = &self.docker_run {
            figures.push(Figure::new(
                "launch",
                "berth run -> exit / docker run --rm (medians)",
                ms(self.berth_exit.median) / ms(d.median).max(1e-9),
                "x",
                "both are a whole CLI process",
            ));
        }
        figures
    }

    /// Notes: what was skipped.
    pub fn notes(&self) -> Vec<String> {
        self.docker_run_skipped.iter().cloned().collect()
    }
}
