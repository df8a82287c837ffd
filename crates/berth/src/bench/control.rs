//! The control plane at scale: an embedded master with `agents` simulated agents (berth-agent's
//! [`Agent`](berth_agent::Agent) with the simulated containerizer, in this process) and
//! `frameworks` frameworks written with berth's own scheduler library, talking JSON over real
//! HTTP on 127.0.0.1, launching `tasks` tasks in all. Every task goes through the same master
//! paths as a Docker task: ACCEPT, RunTask, TASK_STARTING / TASK_RUNNING / TASK_FINISHED
//! updates with UUIDs, ACKNOWLEDGE calls, acknowledgements back to the agent.
//!
//! Measured, in order:
//! 1. registration: start until `/state` counts every agent (and RSS per agent);
//! 2. offer round: a probe framework subscribes alone; time from its SUBSCRIBED to offers
//!    for every agent having arrived (one allocation over the whole cluster, encoded, sent
//!    and decoded); it then tears down;
//! 3. throughput: all frameworks subscribe at once and launch their share; tasks launched
//!    (ACCEPT answered) and tasks terminal per second, from the first SUBSCRIBE to the last
//!    terminal update;
//! 4. memory per tracked task: RSS growth across step 3 over the tasks the master keeps;
//! 5. `/state` over HTTP at the end, with every task tracked.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use mesos_proto::resource::scalar;
use mesos_proto::v1::{
    scheduler::Event, FrameworkInfo, Offer, OfferId, Resource, TaskInfo, TaskState,
};
use mesos_scheduler::{
    call, ContentType, OfferResources, Scheduler, SchedulerConfig, SchedulerEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::stats::{cpu_time, ms, rss_kib, Summary};
use super::Figure;
use crate::embedded::{Embedded, EmbeddedConfig};

/// The issue's target: tasks launched and finished per second.
pub const TARGET_TASKS_PER_S: f64 = 20_000.0;

/// The name of the figure the runs are ranked by.
const THROUGHPUT: &str = "tasks launched+finished per second";
/// The name of the CPU cost figure.
const CPU_PER_TASK: &str = "CPU per task (process user+sys / tasks ended)";

/// The issue's target: memory per tracked task, KiB.
pub const TARGET_KIB_PER_TASK: f64 = 2.0;

/// The issue's target: `/state` latency at 10,000 agents and 100,000 tasks, ms.
pub const TARGET_STATE_MS: f64 = 300.0;

/// ACCEPT calls one framework may have in flight.
const ACCEPTS_IN_FLIGHT: usize = 4;

/// How long the cluster idles after the last task before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// How often registration is polled.
const POLL: Duration = Duration::from_millis(100);

/// Sizes and timing.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Simulated agents.
    pub agents: u32,
    /// Frameworks.
    pub frameworks: u32,
    /// Tasks in all (split evenly; the first frameworks take the remainder).
    pub tasks: u64,
    /// Most tasks launched on one offer.
    pub tasks_per_offer: u32,
    /// How long each simulated task runs.
    pub task_duration: Duration,
    /// The master's allocation interval.
    pub allocation_interval: Duration,
    /// How long to wait for registration, the probe's offers, and the tasks (each).
    pub timeout: Duration,
    /// The master's work dir (its SQLite file); simulated agents write nothing.
    pub work_dir: PathBuf,
    /// The frameworks' encoding.
    pub content_type: ContentType,
    /// Most tasks one framework has launched and not yet seen end.
    pub max_in_flight: u64,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct ControlReport {
    /// The sizes.
    pub config: ControlConfig,
    /// From starting the cluster to every agent registered.
    pub registration: Duration,
    /// RSS before the cluster, after registration, once idle after the tasks (KiB; `None`
    /// off Linux).
    pub rss_kib: [Option<u64>; 3],
    /// RSS right after the last terminal update (KiB): with the run's transient buffers.
    pub rss_busy_kib: Option<u64>,
    /// The probe's SUBSCRIBED to offers for every agent.
    pub offer_round: Duration,
    /// Distinct agents the probe was offered.
    pub offer_round_agents: usize,
    /// Tasks whose ACCEPT was answered 202.
    pub launched: u64,
    /// Tasks that ended TASK_FINISHED.
    pub finished: u64,
    /// Tasks that ended TASK_FAILED.
    pub failed: u64,
    /// Tasks that ended otherwise (lost, dropped, error, killed).
    pub other_terminal: u64,
    /// ACCEPT / DECLINE calls that failed.
    pub call_errors: u64,
    /// What the frameworks saw and did: OFFERS events, offers in them, offers declined,
    /// UPDATE events (re-sent ones included).
    pub traffic: [u64; 4],
    /// First SUBSCRIBE to the last ACCEPT answered.
    pub launch_elapsed: Duration,
    /// First SUBSCRIBE to the first ACCEPT answered (subscriptions and the first offers).
    pub first_launch: Option<Duration>,
    /// First SUBSCRIBE to 90% of the tasks ended.
    pub ninety_ended: Option<Duration>,
    /// First SUBSCRIBE to the last terminal update (or to the timeout).
    pub elapsed: Duration,
    /// CPU time (user + system) the whole process used over `elapsed`, if it could be read.
    pub cpu: Option<Duration>,
    /// Whether the tasks did not all end in time.
    pub timed_out: bool,
    /// Tasks the master keeps at the end (live, plus completed up to its per-framework cap).
    pub tracked: u64,
    /// `/state` over HTTP after the run.
    pub state: Summary,
    /// Size of the `/state` document.
    pub state_bytes: usize,
}

/// Shared tallies of the frameworks.
#[derive(Debug, Default)]
struct Counters {
    launched: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    other: AtomicU64,
    call_errors: AtomicU64,
    terminal: AtomicU64,
    offer_events: AtomicU64,
    offers: AtomicU64,
    declined: AtomicU64,
    updates: AtomicU64,
    first_launch: Mutex<Option<Instant>>,
    /// 90% of the run's tasks, and when that many had ended.
    ninety: AtomicU64,
    ninety_at: Mutex<Option<Instant>>,
    last_launch: Mutex<Option<Instant>>,
    changed: Notify,
}

impl Counters {
    /// `n` more of a framework's tasks (`quota` in all) ended; the run's loop is woken once
    /// the framework's last one has (not on every task: that was 100,000 wake-ups).
    fn ended(&self, framework_ended: &AtomicU64, n: u64, quota: u64) {
        let before = self.terminal.fetch_add(n, Ordering::Relaxed);
        let ninety = self.ninety.load(Ordering::Relaxed);
        if before < ninety && before + n >= ninety {
            *self
                .ninety_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
        if framework_ended.fetch_add(n, Ordering::Relaxed) + n >= quota {
            self.changed.notify_one();
        }
    }

    fn launched(&self, n: u64) {
        if self.launched.fetch_add(n, Ordering::Relaxed) == 0 {
            self.first_launch
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(Instant::now);
        }
        *self
            .last_launch
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
}

/// Runs the benchmark.
pub async fn run(config: &ControlConfig) -> anyhow::Result<ControlReport> {
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("creating {}", config.work_dir.display()))?;
    let rss_base = rss_kib();
    let mut cfg = EmbeddedConfig::new(([127, 0, 0, 1], 0).into(), config.work_dir.clone());
    cfg.agents = 0;
    cfg.simulated_agents = config.agents;
    cfg.simulated.task_duration = config.task_duration;
    cfg.allocation_interval = config.allocation_interval;
    let started = Instant::now();
    let cluster = Embedded::start(cfg).await?;
    let result = measure(config, &cluster, started, rss_base).await;
    cluster.stop().await;
    result
}

async fn measure(
    config: &ControlConfig,
    cluster: &Embedded,
    started: Instant,
    rss_base: Option<u64>,
) -> anyhow::Result<ControlReport> {
    // 1. Registration.
    let want = f64::from(config.agents);
    loop {
        let state = cluster
            .master
            .state_json()
            .await
            .map_err(|_| anyhow::anyhow!("the master stopped"))?;
        if json_number(&state, "activated_slaves").is_some_and(|n| n >= want) {
            break;
        }
        if started.elapsed() > config.timeout {
            anyhow::bail!(
                "only {:?} of {} agents registered within {:?}",
                json_number(&state, "activated_slaves"),
                config.agents,
                config.timeout
            );
        }
        tokio::time::sleep(POLL).await;
    }
    let registration = started.elapsed();

    // 2. One offer round over the whole cluster.
    let (offer_round, offer_round_agents) = probe_offer_round(config, &cluster.url()).await?;
    let rss_agents = rss_kib();

    // 3. The workload.
    let counters = Arc::new(Counters::default());
    counters.ninety.store(
        config.tasks.saturating_mul(9).div_ceil(10),
        Ordering::Relaxed,
    );
    let stop = CancellationToken::new();
    let mut frameworks = JoinSet::new();
    let wanted = vec![scalar("cpus", 0.1), scalar("mem", 32.0)];
    let t0 = Instant::now();
    let cpu0 = cpu_time();
    let base = config.tasks / u64::from(config.frameworks);
    let extra = config.tasks % u64::from(config.frameworks);
    for i in 0..config.frameworks {
        let quota = base + u64::from(u64::from(i) < extra);
        let work = Workload {
            index: i,
            master: cluster.url(),
            quota,
            per_offer: config.tasks_per_offer,
            max_in_flight: config.max_in_flight,
            wanted: wanted.clone(),
            content_type: config.content_type,
        };
        frameworks.spawn(framework(work, Arc::clone(&counters), stop.clone()));
    }
    let deadline = tokio::time::Instant::now() + config.timeout;
    let mut timed_out = false;
    let mut framework_errors = Vec::new();
    loop {
        let changed = counters.changed.notified();
        if counters.terminal.load(Ordering::Relaxed) >= config.tasks {
            break;
        }
        tokio::select! {
            () = changed => {}
            Some(joined) = frameworks.join_next() => {
                // A framework ended before its tasks did: remember why, carry on.
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => framework_errors.push(format!("{e:#}")),
                    Err(e) => framework_errors.push(e.to_string()),
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break;
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu = cpu_time()
        .zip(cpu0)
        .map(|(end, start)| end.saturating_sub(start));
    let first_launch = counters
        .first_launch
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .map(|t| t.saturating_duration_since(t0));
    let ninety_ended = counters
        .ninety_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .map(|t| t.saturating_duration_since(t0));
    let launch_elapsed = counters
        .last_launch
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .map_or(elapsed, |t| t.saturating_duration_since(t0));
    let rss_busy = rss_kib();
    // Memory per tracked task is read once the cluster is idle: the last acknowledgements
    // have landed and the allocator has returned the run's freed buffers (jemalloc purges
    // freed pages after about a second, see .cargo/config.toml).
    tokio::time::sleep(SETTLE).await;
    let rss_end = rss_kib();

    // 5. /state with everything tracked.
    let mut latencies = Vec::new();
    let mut state_bytes = 0;
    for _ in 0..5 {
        let (took, bytes) = http_get(cluster.addr, "/state").await?;
        latencies.push(took);
        state_bytes = bytes;
    }
    let state = Summary::of(&latencies).context("no /state samples")?;

    stop.cancel();
    while let Some(joined) = frameworks.join_next().await {
        if let Ok(Err(e)) = joined {
            framework_errors.push(format!("{e:#}"));
        }
    }
    if !framework_errors.is_empty() && counters.terminal.load(Ordering::Relaxed) == 0 {
        anyhow::bail!("frameworks failed: {}", framework_errors.join("; "));
    }

    let cap = u64::try_from(
        berth_master::MasterConfig::new(&config.work_dir).max_completed_tasks_per_framework,
    )
    .unwrap_or(u64::MAX);
    let terminal = counters.terminal.load(Ordering::Relaxed);
    let per_framework = config.tasks / u64::from(config.frameworks);
    let tracked = (terminal.min(per_framework.min(cap) * u64::from(config.frameworks)))
        .max(u64::from(terminal > 0));
    Ok(ControlReport {
        config: config.clone(),
        registration,
        rss_kib: [rss_base, rss_agents, rss_end],
        rss_busy_kib: rss_busy,
        offer_round,
        offer_round_agents,
        launched: counters.launched.load(Ordering::Relaxed),
        traffic: [
            counters.offer_events.load(Ordering::Relaxed),
            counters.offers.load(Ordering::Relaxed),
            counters.declined.load(Ordering::Relaxed),
            counters.updates.load(Ordering::Relaxed),
        ],
        finished: counters.finished.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        other_terminal: counters.other.load(Ordering::Relaxed),
        call_errors: counters.call_errors.load(Ordering::Relaxed)
            + u64::try_from(framework_errors.len()).unwrap_or(0),
        launch_elapsed,
        first_launch,
        ninety_ended,
        elapsed,
        cpu,
        timed_out,
        tracked,
        state,
        state_bytes,
    })
}

/// The number after `"key":` in a JSON text (a cheap look-up in a large document).
fn json_number(text: &str, key: &str) -> Option<f64> {
    let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn framework_info(name: String) -> FrameworkInfo {
    FrameworkInfo {
        user: "bench".into(),
        name,
        // Long: a framework that loses its connection for a moment keeps its tasks.
        failover_timeout: Some(3600.0),
        ..Default::default()
    }
}

fn scheduler_config(
    master: &str,
    info: FrameworkInfo,
    content_type: ContentType,
) -> SchedulerConfig {
    let mut config = SchedulerConfig::new(master, info);
    config.content_type = content_type;
    // A loaded master may take a while; a timeout here would only add reconnect noise.
    config.request_timeout = Duration::from_secs(60);
    config.subscribe_timeout = Duration::from_secs(60);
    config
}

/// A lone framework's SUBSCRIBED to offers covering every agent.
async fn probe_offer_round(
    config: &ControlConfig,
    master: &str,
) -> anyhow::Result<(Duration, usize)> {
    let (scheduler, mut events) = Scheduler::new(scheduler_config(
        master,
        framework_info("bench-probe".into()),
        config.content_type,
    ))?;
    let want = usize::try_from(config.agents).unwrap_or(usize::MAX);
    let mut subscribed: Option<Instant> = None;
    let mut agents = HashSet::new();
    let outcome = tokio::time::timeout(config.timeout, async {
        while let Some(event) = events.next().await {
            match event {
                SchedulerEvent::Subscribed { .. } => subscribed = Some(Instant::now()),
                SchedulerEvent::Event(ev) => {
                    if let Some(offers) = ev.offers {
                        agents.extend(offers.offers.into_iter().map(|o| o.agent_id.value));
                        if agents.len() >= want {
                            return Ok(());
                        }
                    }
                }
                SchedulerEvent::Closed { reason } => {
                    anyhow::bail!("the probe's subscription closed: {reason:?}")
                }
                SchedulerEvent::Disconnected { .. } | SchedulerEvent::Error(_) => {}
            }
        }
        anyhow::bail!("the probe's subscription ended")
    })
    .await;
    let took = subscribed.map_or(Duration::ZERO, |t| t.elapsed());
    // Gone, so its offers go back to the pool (and it takes no part in the workload).
    let _ = scheduler.teardown().await;
    drop(events);
    match outcome {
        Ok(Ok(())) => Ok((took, agents.len())),
        Ok(Err(e)) => Err(e),
        Err(_) => anyhow::bail!(
            "the probe was offered {} of {} agents within {:?}",
            agents.len(),
            config.agents,
            config.timeout
        ),
    }
}

fn bench_task(framework: u32, n: u64, offer: &Offer, resources: Vec<Resource>) -> TaskInfo {
    super::true_task(
        format!("bench-{framework}-{n}"),
        "berth/busybox:latest",
        offer.agent_id.clone(),
        resources,
    )
}

/// What one framework is asked to do.
#[derive(Debug, Clone)]
struct Workload {
    index: u32,
    master: String,
    quota: u64,
    per_offer: u32,
    max_in_flight: u64,
    wanted: Vec<Resource>,
    content_type: ContentType,
}

/// One framework: holds its offers and launches its `quota` tasks on them (`per_offer` per
/// offer, once that many fit under `max_in_flight` launched and not yet ended), counts their
/// terminal updates (acknowledged by the library), declines offers it cannot use and, once
/// everything is launched, declines the rest for long and suppresses. Runs until `stop`.
///
/// The in-flight cap is what a real scheduler has too: without it, launches outrun the
/// master's update path, acknowledgements take longer than the agents' 10 s retry, and the
/// retried updates (duplicates to acknowledge again) snowball.
async fn framework(
    work: Workload,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let index = work.index;
    let (scheduler, mut events) = Scheduler::new(scheduler_config(
        &work.master,
        framework_info(format!("bench-{index}")),
        work.content_type,
    ))?;
    let accepts = Arc::new(Semaphore::new(ACCEPTS_IN_FLIGHT));
    // Tasks of this framework that ended, or whose launch failed.
    let ended_count = Arc::new(AtomicU64::new(0));
    let mut calls = JoinSet::new();
    let mut held: VecDeque<Offer> = VecDeque::new();
    let mut launched = 0u64;
    let mut suppressed = false;
    // One bit per task (tasks are `bench-<framework>-<n>`): a re-sent terminal update is not
    // counted twice, and the bookkeeping adds next to nothing to the memory measured.
    let mut ended = vec![0u64; usize::try_from(work.quota.div_ceil(64)).unwrap_or(0)];
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = events.next() => event,
        };
        // Reap finished calls as we go, so the set stays small.
        while calls.try_join_next().is_some() {}
        let Some(event) = event else { break };
        let ev: Box<Event> = match event {
            SchedulerEvent::Event(ev) => ev,
            SchedulerEvent::Closed { reason } => {
                anyhow::bail!("framework {index}: subscription closed: {reason:?}")
            }
            SchedulerEvent::Subscribed { .. }
            | SchedulerEvent::Disconnected { .. }
            | SchedulerEvent::Error(_) => continue,
        };
        if let Some(offers) = ev.offers {
            counters.offer_events.fetch_add(1, Ordering::Relaxed);
            counters
                .offers
                .fetch_add(offers.offers.len() as u64, Ordering::Relaxed);
            held.extend(offers.offers);
        }
        if let Some(rescind) = ev.rescind {
            held.retain(|o| o.id != rescind.offer_id);
        }
        if let Some(update) = ev.update {
            counters.updates.fetch_add(1, Ordering::Relaxed);
            let status = update.status;
            let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
            let first_end = state.is_terminal()
                && task_number(&status.task_id.value)
                    .and_then(|n| {
                        let word = ended.get_mut(usize::try_from(n / 64).ok()?)?;
                        let bit = 1u64 << (n % 64);
                        let first = *word & bit == 0;
                        *word |= bit;
                        Some(first)
                    })
                    .unwrap_or(false);
            if first_end {
                let counter = match state {
                    TaskState::TaskFinished => &counters.finished,
                    TaskState::TaskFailed => &counters.failed,
                    _ => &counters.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                counters.ended(&ended_count, 1, work.quota);
            }
        }

        // Launch on held offers while there is room for a whole batch: an ACCEPT per task as
        // soon as one ends would spend an offer (and a call, and the remainder's re-offer)
        // on each task; batching is what a throughput-minded scheduler does.
        let mut declined: Vec<OfferId> = Vec::new();
        loop {
            let in_flight = launched.saturating_sub(ended_count.load(Ordering::Relaxed));
            let batch = u64::from(work.per_offer)
                .min(work.quota - launched)
                .min(work.max_in_flight);
            let room = work.max_in_flight.saturating_sub(in_flight).min(batch);
            if room == 0 || room < batch {
                break;
            }
            let Some(offer) = held.pop_front() else {
                break;
            };
            let mut pool = OfferResources::new(&offer);
            let mut tasks = Vec::new();
            while (tasks.len() as u64) < room {
                let Ok(resources) = pool.take(&work.wanted) else {
                    break;
                };
                tasks.push(bench_task(index, launched, &offer, resources));
                launched += 1;
            }
            if tasks.is_empty() {
                declined.push(offer.id);
                continue;
            }
            let n = tasks.len() as u64;
            let scheduler = scheduler.clone();
            let counters = Arc::clone(&counters);
            let permits = Arc::clone(&accepts);
            let ended_count = Arc::clone(&ended_count);
            let quota = work.quota;
            calls.spawn(async move {
                let _permit = permits.acquire_owned().await;
                // refuse_seconds 0: what is left of the agent is offered again at once.
                let filters = call::refuse_for(Duration::ZERO);
                match scheduler.launch(vec![offer.id], tasks, Some(filters)).await {
                    Ok(()) => counters.launched(n),
                    Err(e) => {
                        tracing::warn!(error = %e, "bench ACCEPT failed");
                        counters.call_errors.fetch_add(1, Ordering::Relaxed);
                        // Its tasks will never end: count them as ended, or the run waits
                        // for the timeout.
                        counters.other.fetch_add(n, Ordering::Relaxed);
                        counters.ended(&ended_count, n, quota);
                    }
                }
            });
        }
        let done = launched >= work.quota;
        if done {
            // Taken, not drained: the queue's capacity (hundreds of offers) goes with it.
            declined.extend(std::mem::take(&mut held).into_iter().map(|o| o.id));
        } else {
            // Offers beyond what the rest of the quota can fill go back at once, for the
            // other frameworks: the first framework to subscribe is offered every agent.
            let usable = (work.quota - launched).div_ceil(u64::from(work.per_offer.max(1)));
            let usable = usize::try_from(usable).unwrap_or(usize::MAX);
            if held.len() > usable {
                declined.extend(held.drain(usable..).map(|o| o.id));
            }
        }
        if !declined.is_empty() || (done && !suppressed) {
            let scheduler = scheduler.clone();
            let counters = Arc::clone(&counters);
            let first_done = done && !suppressed;
            suppressed |= done;
            counters
                .declined
                .fetch_add(declined.len() as u64, Ordering::Relaxed);
            calls.spawn(async move {
                if !declined.is_empty() {
                    // Done: keep these agents away for long; else Mesos's default 5 s.
                    let refuse = if done { 3600 } else { 5 };
                    let filters = call::refuse_for(Duration::from_secs(refuse));
                    if let Err(e) = scheduler.decline(declined, Some(filters)).await {
                        tracing::warn!(error = %e, "bench DECLINE failed");
                        counters.call_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if first_done {
                    let _ = scheduler.suppress(Vec::new()).await;
                }
            });
        }
    }
    calls.shutdown().await;
    let _ = scheduler.teardown().await;
    Ok(())
}

/// `n` of a task ID `bench-<framework>-<n>`.
fn task_number(task_id: &str) -> Option<u64> {
    task_id.rsplit('-').next()?.parse().ok()
}

/// A plain HTTP/1.1 GET; returns the time to the last byte and the body size.
async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let took = started.elapsed();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header in the answer")?;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path}: {}",
        head.lines().next().unwrap_or("")
    );
    Ok((took, answer.len() - head_end - 4))
}

impl ControlReport {
    /// Tasks ended per second over the run.
    pub fn tasks_per_s(&self) -> f64 {
        let ended = self.finished + self.failed + self.other_terminal;
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let ended = ended as f64;
        ended / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// KiB of RSS growth per tracked task, if RSS could be read.
    pub fn kib_per_task(&self) -> Option<f64> {
        let [_, Some(before), Some(after)] = self.rss_kib else {
            return None;
        };
        #[allow(clippy::cast_precision_loss)]
        Some(after.saturating_sub(before) as f64 / self.tracked.max(1) as f64)
    }

    /// KiB of RSS per simulated agent, if RSS could be read.
    pub fn kib_per_agent(&self) -> Option<f64> {
        let [Some(before), Some(after), _] = self.rss_kib else {
            return None;
        };
        #[allow(clippy::cast_precision_loss)]
        Some(after.saturating_sub(before) as f64 / f64::from(self.config.agents.max(1)))
    }

    /// The figures with the issue's targets.
    pub fn figures(&self) -> Vec<Figure> {
        let c = &self.config;
        let size = format!(
            "{} simulated agents, {} frameworks ({} over HTTP), {} tasks, <= {} tasks/offer, <= {} in flight/framework, task duration {:?}",
            c.agents,
            c.frameworks,
            match c.content_type {
                ContentType::Json => "JSON",
                ContentType::Protobuf => "protobuf",
            },
            c.tasks,
            c.tasks_per_offer,
            c.max_in_flight,
            c.task_duration
        );
        #[allow(clippy::cast_precision_loss)]
        let launched_per_s = self.launched as f64 / self.launch_elapsed.as_secs_f64().max(1e-9);
        let ended = self.finished + self.failed + self.other_terminal;
        let mut figures = vec![
            Figure::new(
                "control-plane",
                THROUGHPUT,
                self.tasks_per_s(),
                "tasks/s",
                format!(
                    "{size}; {ended} ended in {:.1} s{}",
                    self.elapsed.as_secs_f64(),
                    if self.timed_out { " (TIMED OUT)" } else { "" }
                ),
            )
            .at_least(TARGET_TASKS_PER_S),
            Figure::new(
                "control-plane",
                "tasks launched per second (ACCEPT answered)",
                launched_per_s,
                "tasks/s",
                format!(
                    "{size}; {} launched in {:.1} s",
                    self.launched,
                    self.launch_elapsed.as_secs_f64()
                ),
            ),
        ];
        if let Some(cpu) = self.cpu {
            #[allow(clippy::cast_precision_loss)]
            let per_task = cpu.as_secs_f64() * 1e6 / ended.max(1) as f64;
            figures.push(Figure::new(
                "control-plane",
                CPU_PER_TASK,
                per_task,
                "us",
                format!(
                    "{:.1} s of CPU over the {:.1} s run ({:.2} cores busy); all of master, agents and frameworks",
                    cpu.as_secs_f64(),
                    self.elapsed.as_secs_f64(),
                    cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
                ),
            ));
        }
        figures.extend([
            Figure::new(
                "control-plane",
                "offer round (SUBSCRIBED -> offers for all agents)",
                ms(self.offer_round),
                "ms",
                format!(
                    "{} agents, 1 framework; {} agents offered",
                    c.agents, self.offer_round_agents
                ),
            ),
            Figure::new(
                "control-plane",
                "agent registration",
                ms(self.registration),
                "ms",
                format!(
                    "{} simulated agents, start to /state activated_slaves",
                    c.agents
                ),
            ),
            Figure::new(
                "control-plane",
                "/state latency, median",
                ms(self.state.median),
                "ms",
                format!(
                    "GET /state over HTTP x{}, {} agents, {} tracked tasks, {} bytes",
                    self.state.n, c.agents, self.tracked, self.state_bytes
                ),
            )
            .below(TARGET_STATE_MS),
            Figure::new(
                "control-plane",
                "/state latency, max",
                ms(self.state.max),
                "ms",
                format!("GET /state x{}", self.state.n),
            ),
        ]);
        if let Some(kib) = self.kib_per_task() {
            figures.push(
                Figure::new(
                    "control-plane",
                    "memory per tracked task (RSS growth / tasks)",
                    kib,
                    "KiB",
                    format!(
                        "VmRSS {} -> {} KiB over the run, read {:?} after the last task ended; {} tracked tasks; whole process (master, agents, schedulers)",
                        self.rss_kib[1].unwrap_or(0),
                        self.rss_kib[2].unwrap_or(0),
                        SETTLE,
                        self.tracked
                    ),
                )
                .below(TARGET_KIB_PER_TASK),
            );
        }
        if let (Some(before), Some(busy)) = (self.rss_kib[1], self.rss_busy_kib) {
            #[allow(clippy::cast_precision_loss)]
            let kib = busy.saturating_sub(before) as f64 / self.tracked.max(1) as f64;
            figures.push(Figure::new(
                "control-plane",
                "RSS growth / tasks at the last task's end",
                kib,
                "KiB",
                format!(
                    "VmRSS {before} -> {busy} KiB, read at once (the run's transient buffers included)"
                ),
            ));
        }
        if let Some(kib) = self.kib_per_agent() {
            figures.push(Figure::new(
                "control-plane",
                "memory per simulated agent (RSS growth / agents)",
                kib,
                "KiB",
                format!(
                    "VmRSS {} -> {} KiB, {} agents registered (master + agent side)",
                    self.rss_kib[0].unwrap_or(0),
                    self.rss_kib[1].unwrap_or(0),
                    c.agents
                ),
            ));
        }
        figures
    }

    /// What the figures need to be read correctly.
    pub fn notes(&self) -> Vec<String> {
        let [offer_events, offers, declined, updates] = self.traffic;
        let mut notes = vec![
            format!(
                "control-plane tasks: {} launched, {} finished, {} failed, {} other terminal, {} call errors",
                self.launched, self.finished, self.failed, self.other_terminal, self.call_errors
            ),
            format!(
                "control-plane traffic: {offer_events} OFFERS events with {offers} offers ({declined} declined), {updates} UPDATE events"
            ),
        ];
        if let Some(first) = self.first_launch {
            notes.push(format!(
                "control-plane: first ACCEPT answered {:.0} ms after the frameworks started (subscriptions and first offers)",
                ms(first)
            ));
        }
        if let Some(ninety) = self.ninety_ended {
            notes.push(format!(
                "control-plane: 90% of the tasks had ended after {:.2} s, the last 10% took {:.2} s more (frameworks reach their quotas at different times; fewer tasks are then in flight)",
                ninety.as_secs_f64(),
                self.elapsed.saturating_sub(ninety).as_secs_f64()
            ));
        }
        if self.timed_out {
            notes.push(format!(
                "control-plane: not every task ended within {:?}; rates are over what did",
                self.config.timeout
            ));
        }
        notes
    }
}

/// `args.control_runs` runs of the benchmark, each in a fresh `berth bench` process (a run in
/// this one would meet the previous one's aftermath: gigabytes being returned to the OS,
/// thousands of closed sockets). Returns the figures of the run with the median throughput,
/// all from that one run, and its notes, after one listing every run.
pub async fn repeated(
    args: &super::BenchArgs,
    work_dir: &std::path::Path,
) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    let exe = std::env::current_exe().context("the berth binary's path")?;
    let secs = |d: Duration| d.as_secs_f64().to_string();
    let mut runs: Vec<(Vec<Figure>, Vec<String>)> = Vec::new();
    for i in 1..=args.control_runs {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args([
            "bench",
            "--only",
            "control-plane",
            "--json",
            "--control-runs",
            "1",
        ])
        .args(["--agents", &args.agents.to_string()])
        .args(["--frameworks", &args.frameworks.to_string()])
        .args(["--tasks", &args.tasks.to_string()])
        .args(["--tasks-per-offer", &args.tasks_per_offer.to_string()])
        .args(["--max-in-flight", &args.max_in_flight.to_string()])
        .args(["--task-duration", &secs(args.task_duration)])
        .args(["--content-type", args.content_type.arg()])
        .args(["--allocation-interval", &secs(args.allocation_interval)])
        .args(["--control-timeout", &secs(args.control_timeout)])
        .arg("--work-dir")
        .arg(work_dir.join(format!("control-plane-run-{i}")))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        let out = cmd
            .output()
            .await
            .with_context(|| format!("spawning {}", exe.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "control-plane run {i} printed no JSON (exit {}); its stderr: {}",
                out.status,
                stderr.trim()
            )
        })?;
        runs.push(
            super::outcome_from_json(super::BenchName::ControlPlane, &doc["benches"][0])
                .with_context(|| format!("control-plane run {i}"))?,
        );
    }
    let value = |figures: &[Figure], name: &str| {
        figures
            .iter()
            .find(|f| f.name == name)
            .map_or(f64::NAN, |f| f.value)
    };
    let throughput = |figures: &[Figure]| value(figures, THROUGHPUT);
    let listing: Vec<String> = runs
        .iter()
        .map(|(f, _)| {
            format!(
                "{} tasks/s ({} us CPU per task)",
                super::fmt_value(throughput(f)),
                super::fmt_value(value(f, CPU_PER_TASK))
            )
        })
        .collect();
    let n = runs.len();
    runs.sort_by(|a, b| throughput(&a.0).total_cmp(&throughput(&b.0)));
    let (mut figures, notes) = runs.swap_remove(n / 2);
    for f in &mut figures {
        if f.name == THROUGHPUT {
            f.setup = format!("{}; the median of {n} runs", f.setup);
        }
    }
    let mut all_notes = vec![format!(
        "control-plane: {n} runs, each in a fresh process, in order: {}; the figures are the median run's",
        listing.join(", ")
    )];
    all_notes.extend(notes);
    Ok((figures, all_notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_numbers_come_from_the_id() {
        assert_eq!(task_number("bench-12-345"), Some(345));
        assert_eq!(task_number("other"), None);
    }

    #[test]
    fn json_number_reads_a_top_level_count() {
        let text = r#"{"version":"1.12.0","activated_slaves":10000.0,"x":1}"#;
        assert_eq!(json_number(text, "activated_slaves"), Some(10000.0));
        assert_eq!(json_number(r#"{"a": 3}"#, "a"), Some(3.0));
        assert_eq!(json_number(text, "missing"), None);
    }
}
