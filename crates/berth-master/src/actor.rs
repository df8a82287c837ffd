//! The master actor: the one owner of all master state (frameworks, agents, offers, tasks, the
//! allocator, the store). HTTP handlers and agent links reach it through [`Command`]s on one
//! bounded channel; it never awaits anyone else (sends to subscribers and agents are
//! `try_send`), so it cannot deadlock with a slow peer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use berth_core::allocator::{refusal_duration, Allocator, AllocatorConfig, OfferGrant, Time};
use berth_core::msg::{AgentToMaster, MasterToAgent, Registration};
use berth_core::resources::Resources;
use berth_core::task as task_sm;
use bytes::Bytes;
use futures::stream::{SelectAll, Stream, StreamExt};
use futures::FutureExt;
use mesos_proto::id::{by_key, AgentId, FrameworkId, IdMap, IdSet, MasterIds, OfferId, TaskId};
use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{
    self, framework_info::capability::Type as Cap, offer, task_status, FrameworkInfo, MasterInfo,
    TaskInfo, TaskState, TaskStatus,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::call::Encoding;
use crate::completed::CompletedTasks;
use crate::config::MasterConfig;
use crate::error::ApiError;
use crate::state_json::{task_entry, AgentJson, StateDoc};
use crate::store::{AgentRecord, FrameworkRecord, Identity, Store};
use crate::validation::{
    framework_roles, has_capability, validate_framework_info, validate_suppressed, validate_task,
    TaskContext,
};

/// Mesos's version string, reported everywhere a version is shown.
pub const MESOS_VERSION: &str = "1.12.0";

/// What handlers and agent links ask of the actor.
#[derive(Debug)]
pub(crate) enum Command {
    /// A validated SUBSCRIBE; the reply is always a stream (refusals arrive inside it).
    Subscribe {
        call: Box<Call>,
        encoding: Encoding,
        reply: oneshot::Sender<SubscribeReply>,
    },
    /// Any other validated call.
    Call {
        call: Box<Call>,
        ty: call::Type,
        stream_id: Option<String>,
        /// None when the handler already answered 202 (see [`Sessions`]); the call is then
        /// checked again here and dropped if its subscription has gone meanwhile.
        reply: Option<oneshot::Sender<Result<CallOutcome, ApiError>>>,
    },
    /// A subscription's response body was dropped (client gone).
    StreamClosed {
        framework_id: FrameworkId,
        stream_id: String,
    },
    /// A new agent link.
    AttachAgent {
        to_agent: mpsc::Sender<MasterToAgent>,
        from_agent: mpsc::Receiver<AgentToMaster>,
    },
    /// Take a `/state` snapshot.
    State { reply: oneshot::Sender<StateDoc> },
}

/// The answer to SUBSCRIBE: the stream ID and the event records.
#[derive(Debug)]
pub(crate) struct SubscribeReply {
    pub stream_id: String,
    pub framework_id: Option<FrameworkId>,
    pub events: EventQueue,
}

/// The receiving end of a subscription: batches of encoded events, and the count of events
/// handed over and not yet taken (the taker decrements it).
#[derive(Debug)]
pub(crate) struct EventQueue {
    pub rx: mpsc::Receiver<Vec<Bytes>>,
    pub in_stream: Arc<AtomicUsize>,
}

/// How a successful call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// 202, empty body.
    Accepted,
    /// 200, empty body (UPDATE_FRAMEWORK).
    Ok,
}

/// The seconds since the epoch, as Mesos timestamps are.
pub(crate) fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An open subscription.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub stream_id: String,
    tx: mpsc::Sender<Vec<Bytes>>,
    /// Events handed to the stream and not yet taken by hyper (shared with the stream).
    in_stream: Arc<AtomicUsize>,
    /// Most events `in_stream` may hold: more and the subscriber is too slow.
    limit: usize,
    encoding: Encoding,
    next_heartbeat: Instant,
    /// Where this subscription is listed in [`Sessions`] once it is its framework's current
    /// one; the entry goes when the subscription does.
    listed: Option<(Sessions, FrameworkId)>,
    /// Events queued during the actor's current turn, handed to the stream together at its
    /// end (one wake-up and one socket write for all of them, instead of one per event).
    pending: Vec<Bytes>,
}

/// Why an event could not be queued.
enum SendFailure {
    /// The client is gone or too slow.
    Disconnect,
}

impl Subscriber {
    /// Queues `ev` and hands everything queued to the stream now.
    fn send(&mut self, ev: &Event) -> Result<(), SendFailure> {
        self.queue(ev);
        self.flush()
    }

    /// Queues `ev` until [`Subscriber::flush`]; true when nothing was queued before.
    fn queue(&mut self, ev: &Event) -> bool {
        let record = self.encoding.encode_event(ev);
        self.queue_record(record)
    }

    /// Queues an UPDATE event carrying `status`; true if it is the first of this turn.
    fn queue_update(&mut self, status: &TaskStatus) -> bool {
        let record = self.encoding.encode_update(status);
        self.queue_record(record)
    }

    fn queue_record(&mut self, record: Bytes) -> bool {
        self.pending.push(record);
        self.pending.len() == 1
    }

    /// Hands the queued events to the stream, in order.
    fn flush(&mut self) -> Result<(), SendFailure> {
        let n = self.pending.len();
        if n == 0 {
            return Ok(());
        }
        // Too slow is a stream still holding more than `limit` events of earlier turns. One
        // turn's batch alone never counts: a reconciliation of more tasks than `limit` is
        // answered whole, as Mesos answers it, and it is the next turn that finds whether the
        // subscriber took it.
        if self.in_stream.load(AtomicOrdering::Acquire) > self.limit {
            self.pending.clear();
            return Err(SendFailure::Disconnect);
        }
        self.in_stream.fetch_add(n, AtomicOrdering::AcqRel);
        self.tx
            .try_send(std::mem::take(&mut self.pending))
            .map_err(|_| SendFailure::Disconnect)
    }
}

impl Drop for Subscriber {
    /// A replaced or closed subscription still delivers what was queued (e.g. the error
    /// event telling it why).
    fn drop(&mut self) {
        let _ = self.flush();
        if let Some((sessions, framework_id)) = self.listed.take() {
            sessions.remove(&framework_id, &self.stream_id);
        }
    }
}

/// A task the master knows.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub info: Arc<TaskInfo>,
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    pub state: TaskState,
    pub resources: Resources,
    pub role: String,
    /// Status history for `/state` (one per distinct consecutive state, no `data`).
    pub statuses: Vec<Arc<TaskStatus>>,
    /// State and UUID of the latest update forwarded towards the scheduler.
    pub status_update_state: Option<TaskState>,
    pub status_update_uuid: Option<Vec<u8>>,
    /// Whether the task's resources are still accounted as used.
    pub holds_resources: bool,
}

/// A framework (active, disconnected or recovered).
#[derive(Debug)]
pub(crate) struct Framework {
    pub id: FrameworkId,
    pub info: Arc<FrameworkInfo>,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub unregistered_time: f64,
    pub conn: Option<Subscriber>,
    pub active: bool,
    /// Known only from an agent's task report after a master restart.
    pub recovered: bool,
    pub failover_deadline: Option<Instant>,
    pub tasks: IdMap<TaskId, Task>,
    /// Their `/state` entries only (see [`CompletedTasks`]).
    pub completed_tasks: CompletedTasks,
    pub offers: IdSet<OfferId>,
}

impl Framework {
    pub fn roles(&self) -> Vec<String> {
        framework_roles(&self.info)
    }

    fn partition_aware(&self) -> bool {
        has_capability(&self.info, Cap::PartitionAware)
    }
}

/// A registered agent.
#[derive(Debug)]
pub(crate) struct Agent {
    pub id: AgentId,
    pub registration: Registration,
    pub total: Resources,
    pub link: Option<u64>,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    /// Its `/state` entry's unchanging parts, rendered on first use.
    pub state_json: AgentJson,
    /// The IP its offers' `url` shows: its hostname when that is an IPv4 address, else the
    /// master's (worked out once, not for every offer).
    pub offer_ip: String,
}

impl Agent {
    pub fn active(&self) -> bool {
        self.link.is_some()
    }
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub(crate) struct OfferRec {
    pub id: OfferId,
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    pub role: String,
    pub resources: Resources,
    pub expires: Option<Instant>,
}

/// Agent link bookkeeping.
#[derive(Debug)]
struct Link {
    /// The agent's own queue: messages go straight in while it has room and nothing waits
    /// in `overflow`.
    to_agent: mpsc::Sender<MasterToAgent>,
    /// Messages that found the agent's queue full, drained in order by the link's pump
    /// (which awaits room; the actor never waits for an agent).
    overflow: mpsc::Sender<MasterToAgent>,
    /// Messages in `overflow` not yet handed to the agent.
    overflowing: Arc<AtomicUsize>,
    agent_id: Option<AgentId>,
}

/// Each subscribed framework's current stream ID, kept by the actor and read by the HTTP
/// handlers: a call whose framework and `Mesos-Stream-Id` match is answered 202 at once and
/// queued, as Mesos answers every such call after those checks alone (what the call asks is
/// done, or refused through events, afterwards). Pipelined calls then need no round trip to
/// the actor each. Anything else goes through the actor for the exact error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions(Arc<std::sync::RwLock<IdMap<FrameworkId, String>>>);

impl Sessions {
    fn insert(&self, framework_id: &FrameworkId, stream_id: &str) {
        if let Ok(mut m) = self.0.write() {
            m.insert(framework_id.clone(), stream_id.to_string());
        }
    }

    fn remove(&self, framework_id: &FrameworkId, stream_id: &str) {
        if let Ok(mut m) = self.0.write() {
            if m.get(framework_id).is_some_and(|s| s == stream_id) {
                m.remove(framework_id);
            }
        }
    }

    /// Whether `stream_id` is `framework_id`'s current subscription.
    pub(crate) fn is_current(&self, framework_id: &str, stream_id: &str) -> bool {
        self.0
            .read()
            .is_ok_and(|m| m.get(framework_id).is_some_and(|s| s.as_str() == stream_id))
    }
}

/// Whether Mesos answers a call of this type 202 once its framework and stream check out,
/// whatever it asks (done, or refused through events, afterwards): such a call on a current
/// subscription is answered by the HTTP handler and queued (see [`Sessions`]). It must agree
/// with [`MasterActor::call`], which answers these types `Accepted` after the same checks;
/// the match is exhaustive so that a new type needs a decision. TEARDOWN is awaited: its 202
/// means the framework is gone.
pub(crate) fn answered_after_stream_check(ty: call::Type) -> bool {
    match ty {
        call::Type::Accept
        | call::Type::Decline
        | call::Type::Acknowledge
        | call::Type::Kill
        | call::Type::Reconcile
        | call::Type::Revive
        | call::Type::Suppress
        | call::Type::Shutdown
        | call::Type::Message
        | call::Type::Request
        | call::Type::AcceptInverseOffers
        | call::Type::DeclineInverseOffers
        | call::Type::AcknowledgeOperationStatus => true,
        call::Type::Unknown
        | call::Type::Subscribe
        | call::Type::Teardown
        | call::Type::ReconcileOperations
        | call::Type::UpdateFramework => false,
    }
}

/// Most commands and agent messages the actor takes in one turn before handing out the
/// events they produced.
const TURN_BUDGET: usize = 256;

/// Longest a turn goes on taking what is waiting: the events of its first command are never
/// held back longer than this (plus the last command's own work) by the ones behind it, and a
/// stream that overflows is found out as soon. Heavy calls (a RECONCILE of thousands of
/// tasks) arriving faster than the actor takes them would otherwise keep every event, and
/// the timers, waiting until 256 of them were done.
const TURN_TIME: Duration = Duration::from_millis(2);

/// The least time between two rounds for frameworks waiting for their first offer: such a
/// round walks every agent, and a framework that can take nothing (no GPUs, say) would
/// otherwise make every turn pay for one.
const WAITING_ROUND_GAP: Duration = Duration::from_millis(10);

/// Every agent link's incoming messages, polled by the actor itself (no task per link):
/// `(link, Some(message))`, then `(link, None)` once when the agent's sender is gone.
type AgentInbox =
    SelectAll<Pin<Box<dyn Stream<Item = (u64, Option<AgentToMaster>)> + Send + 'static>>>;

/// The master's state and its command loop.
pub(crate) struct MasterActor {
    pub config: MasterConfig,
    pub ids: MasterIds,
    pub master_info: MasterInfo,
    pub start_time: f64,
    pub elected_time: f64,
    pub hostname: String,
    pub port: u16,
    store: Store,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
    pub frameworks: IdMap<FrameworkId, Framework>,
    pub completed_frameworks: VecDeque<Framework>,
    /// Removed framework IDs (refused on re-subscribe).
    removed: HashSet<FrameworkId>,
    /// Frameworks known from the store but not (yet) re-subscribed.
    stored: HashMap<FrameworkId, FrameworkRecord>,
    pub agents: IdMap<AgentId, Agent>,
    /// Agents registered before a restart that have not re-registered yet, with the time
    /// after which they are forgotten.
    pub recovering: BTreeMap<AgentId, (AgentRecord, Instant)>,
    /// Explicit reconciliations of unknown tasks waiting for `recovering` agents.
    deferred_reconciliations: Vec<(FrameworkId, call::reconcile::Task)>,
    pub offers: IdMap<OfferId, OfferRec>,
    pub allocator: Allocator,
    links: IdMap<u64, Link>,
    agent_inbox: AgentInbox,
    next_link: u64,
    origin: Instant,
    next_allocation: Instant,
    /// The earliest time of the next round for waiting frameworks.
    next_waiting_round: Instant,
    allocation_pending: bool,
    rx: mpsc::Receiver<Command>,
    /// The current subscriptions, shared with the HTTP handlers.
    sessions: Sessions,
    /// Frameworks with events queued this turn (see [`Subscriber::flush`]).
    unflushed: Vec<FrameworkId>,
    /// Keeps the command channel open while the actor runs: only `shutdown` stops it.
    _self_tx: mpsc::Sender<Command>,
}

fn master_status(
    task_id: &v1::TaskId,
    state: TaskState,
    reason: task_status::Reason,
    message: String,
    agent_id: Option<v1::AgentId>,
) -> TaskStatus {
    TaskStatus {
        task_id: task_id.clone(),
        state: state as i32,
        message: Some(message),
        source: Some(task_status::Source::Master as i32),
        reason: Some(reason as i32),
        agent_id,
        timestamp: Some(epoch_now()),
        ..Default::default()
    }
}

fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.to_string(),
        }),
        ..Default::default()
    }
}

fn heartbeat_event() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

/// `MasterInfo.ip`: the IPv4 `s_addr` (network byte order) read as a little-endian integer.
pub(crate) fn mesos_ip(ip: std::net::Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

impl MasterActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: MasterConfig,
        store: Store,
        identity: Identity,
        records: Vec<FrameworkRecord>,
        agent_records: Vec<AgentRecord>,
        addr: std::net::SocketAddr,
        rx: mpsc::Receiver<Command>,
        self_tx: mpsc::Sender<Command>,
        sessions: Sessions,
    ) -> Self {
        let ip = match addr.ip() {
            std::net::IpAddr::V4(v4) if !v4.is_unspecified() => v4,
            _ => std::net::Ipv4Addr::LOCALHOST,
        };
        let hostname = config.hostname.clone().unwrap_or_else(|| ip.to_string());
        let port = addr.port();
        let ids = MasterIds::new(identity.master_id.clone());
        let master_info = MasterInfo {
            id: identity.master_id.clone(),
            ip: mesos_ip(ip),
            port: u32::from(port),
            pid: Some(format!("master@{ip}:{port}")),
            hostname: Some(hostname.clone()),
            version: Some(MESOS_VERSION.to_string()),
            address: Some(v1::Address {
                hostname: Some(hostname.clone()),
                ip: Some(ip.to_string()),
                port: i32::from(port),
            }),
            domain: None,
            capabilities: [
                v1::master_info::capability::Type::AgentUpdate,
                v1::master_info::capability::Type::AgentDraining,
                v1::master_info::capability::Type::QuotaV2,
            ]
            .into_iter()
            .map(|t| v1::master_info::Capability {
                r#type: Some(t as i32),
            })
            .collect(),
        };
        let mut removed = HashSet::new();
        let mut stored = HashMap::new();
        let mut completed_frameworks = VecDeque::new();
        for rec in records {
            let id = FrameworkId::generated(rec.id.clone());
            if rec.removed {
                removed.insert(id.clone());
                completed_frameworks.push_back(Framework {
                    id: id.clone(),
                    info: Arc::new(rec.info.clone()),
                    registered_time: rec.registered_time,
                    reregistered_time: None,
                    unregistered_time: rec.unregistered_time,
                    conn: None,
                    active: false,
                    recovered: false,
                    failover_deadline: None,
                    tasks: IdMap::default(),
                    completed_tasks: CompletedTasks::default(),
                    offers: IdSet::default(),
                });
            } else {
                stored.insert(id, rec);
            }
        }
        while completed_frameworks.len() > config.max_completed_frameworks {
            completed_frameworks.pop_front();
        }
        let now = Instant::now();
        let start = epoch_now();
        let recovering = agent_records
            .into_iter()
            .map(|r| {
                (
                    AgentId::generated(r.id.clone()),
                    (r, now + config.agent_reregister_timeout),
                )
            })
            .collect();
        MasterActor {
            recovering,
            deferred_reconciliations: Vec::new(),
            allocator: Allocator::new(AllocatorConfig {
                allocation_interval: config.allocation_interval,
            }),
            next_allocation: now + config.allocation_interval,
            next_waiting_round: now,
            config,
            ids,
            master_info,
            start_time: start,
            elected_time: start,
            hostname,
            port,
            store,
            next_framework: identity.next_framework,
            next_agent: identity.next_agent,
            next_offer: identity.next_offer,
            frameworks: IdMap::default(),
            completed_frameworks,
            removed,
            stored,
            agents: IdMap::default(),
            offers: IdMap::default(),
            links: IdMap::default(),
            agent_inbox: SelectAll::new(),
            unflushed: Vec::new(),
            sessions,
            next_link: 0,
            origin: now,
            allocation_pending: false,
            rx,
            _self_tx: self_tx,
        }
    }

    fn clock(&self) -> Time {
        Instant::now().saturating_duration_since(self.origin)
    }

    /// The command loop; returns when `shutdown` fires.
    pub(crate) async fn run(mut self, shutdown: CancellationToken, tracker: TaskTracker) {
        info!(master_id = %self.ids.master_id(), "master started");
        // Made once: fresh ones would register with the token and the timer on every turn.
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let first = self.next_deadline();
        let timers = tokio::time::sleep_until(first);
        // The deadline `timers` waits for, until it fires.
        let mut armed = Some(first);
        tokio::pin!(timers);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let deadline = self.next_deadline();
            if armed != Some(deadline) {
                timers.as_mut().reset(deadline);
                armed = Some(deadline);
            }
            // Unbiased between calls and agent messages: neither starves the other.
            tokio::select! {
                () = &mut cancelled => break,
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd, &tracker, &shutdown),
                    None => break,
                },
                Some((link, msg)) = self.agent_inbox.next(), if !self.agent_inbox.is_empty() => {
                    self.on_inbox(link, msg);
                }
                () = &mut timers => {
                    self.on_timers();
                    // Fired: set again on the next turn, even to the same deadline.
                    armed = None;
                }
            }
            // Whatever else is already waiting joins this turn, so the events it produces
            // reach each subscriber in one batch.
            let mut budget = TURN_BUDGET;
            let turn_started = Instant::now();
            while budget > 0 && turn_started.elapsed() < TURN_TIME {
                let mut progressed = false;
                if let Ok(cmd) = self.rx.try_recv() {
                    self.handle(cmd, &tracker, &shutdown);
                    progressed = true;
                    budget -= 1;
                }
                if !self.agent_inbox.is_empty() {
                    // A no-op waker here is harmless: the `select!` above polls the inbox
                    // again with the real one before the actor sleeps.
                    if let Some(Some((link, msg))) = self.agent_inbox.next().now_or_never() {
                        self.on_inbox(link, msg);
                        progressed = true;
                        budget = budget.saturating_sub(1);
                    }
                }
                if !progressed {
                    break;
                }
            }
            if self.allocation_pending {
                self.allocate();
            } else {
                self.allocate_to_waiting();
            }
            self.flush_events();
        }
        info!("master stopping");
        // Dropping the subscribers' senders ends their streams.
        for fw in self.frameworks.values_mut() {
            fw.conn = None;
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.next_allocation;
        for fw in self.frameworks.values() {
            if let Some(c) = &fw.conn {
                d = d.min(c.next_heartbeat);
            }
            if let Some(f) = fw.failover_deadline {
                d = d.min(f);
            }
        }
        for (_, deadline) in self.recovering.values() {
            d = d.min(*deadline);
        }
        if self.config.offer_timeout.is_some() {
            for o in self.offers.values() {
                if let Some(e) = o.expires {
                    d = d.min(e);
                }
            }
        }
        d
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        // Heartbeats.
        let due: Vec<FrameworkId> = self
            .frameworks
            .values()
            .filter(|f| f.conn.as_ref().is_some_and(|c| c.next_heartbeat <= now))
            .map(|f| f.id.clone())
            .collect();
        for id in due {
            if let Some(c) = self.frameworks.get_mut(&id).and_then(|f| f.conn.as_mut()) {
                c.next_heartbeat = now + self.config.heartbeat_interval;
            }
            self.send_event(&id, &heartbeat_event());
        }
        // Failover timeouts.
        let mut expired: Vec<FrameworkId> = self
            .frameworks
            .values()
            .filter(|f| f.failover_deadline.is_some_and(|d| d <= now))
            .map(|f| f.id.clone())
            .collect();
        expired.sort_unstable();
        for id in expired {
            info!(framework_id = %id, "framework failover timeout expired");
            self.remove_framework(&id);
        }
        // Offer timeouts.
        let stale: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| o.expires.is_some_and(|e| e <= now))
            .map(|o| o.id.clone())
            .collect();
        for id in stale {
            self.rescind_offer(&id, true);
        }
        // Agents that never came back after a restart.
        let gone: Vec<AgentId> = self
            .recovering
            .iter()
            .filter(|(_, (_, d))| *d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let forgot = !gone.is_empty();
        for id in gone {
            warn!(agent_id = %id, "agent did not re-register in time; forgetting it");
            self.recovering.remove(&id);
            if let Err(e) = self.store.remove_agent(id.as_str()) {
                error!(agent_id = %id, error = %e, "cannot persist agent removal");
            }
        }
        if forgot {
            self.retry_deferred_reconciliations();
        }
        if self.next_allocation <= now {
            self.next_allocation = now + self.config.allocation_interval;
            self.allocation_pending = true;
        }
    }

    fn handle(&mut self, cmd: Command, tracker: &TaskTracker, shutdown: &CancellationToken) {
        match cmd {
            Command::Subscribe {
                call,
                encoding,
                reply,
            } => {
                let r = self.subscribe(*call, encoding);
                let _ = reply.send(r);
            }
            Command::Call {
                call,
                ty,
                stream_id,
                reply,
            } => {
                let r = self.call(*call, ty, stream_id);
                match reply {
                    Some(reply) => {
                        let _ = reply.send(r);
                    }
                    None => {
                        if let Err(e) = r {
                            debug!(error = %e, "call answered early, dropped: {}", ty.as_str_name());
                        }
                    }
                }
            }
            Command::StreamClosed {
                framework_id,
                stream_id,
            } => {
                let current = self
                    .frameworks
                    .get(&framework_id)
                    .and_then(|f| f.conn.as_ref())
                    .is_some_and(|c| c.stream_id == stream_id);
                if current {
                    info!(framework_id = %framework_id, stream_id = %stream_id, "subscription closed by the scheduler");
                    self.disconnect(&framework_id);
                }
            }
            Command::AttachAgent {
                to_agent,
                from_agent,
            } => self.attach_agent(to_agent, from_agent, tracker, shutdown),
            Command::State { reply } => {
                let _ = reply.send(crate::state_json::snapshot(self));
            }
        }
    }

    /// Takes on an agent link: its messages join the actor's inbox; messages to it go into
    /// its queue directly, or through the link's pump when the queue is full.
    fn attach_agent(
        &mut self,
        to_agent: mpsc::Sender<MasterToAgent>,
        from_agent: mpsc::Receiver<AgentToMaster>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        let link = self.next_link;
        self.next_link += 1;
        let (overflow, mut out_rx) =
            mpsc::channel::<MasterToAgent>(self.config.agent_buffer.max(1));
        let overflowing = Arc::new(AtomicUsize::new(0));
        self.links.insert(
            link,
            Link {
                to_agent: to_agent.clone(),
                overflow,
                overflowing: Arc::clone(&overflowing),
                agent_id: None,
            },
        );
        let token = shutdown.clone();
        tracker.spawn(async move {
            loop {
                let msg = tokio::select! {
                    _ = token.cancelled() => return,
                    msg = out_rx.recv() => match msg {
                        Some(msg) => msg,
                        None => return,
                    },
                };
                tokio::select! {
                    _ = token.cancelled() => return,
                    sent = to_agent.send(msg) => if sent.is_err() { return },
                }
                // Only now: a message the actor sends directly after this reads 0 lands
                // behind this one.
                overflowing.fetch_sub(1, AtomicOrdering::AcqRel);
            }
        });
        let mut from_agent = Some(from_agent);
        self.agent_inbox
            .push(Box::pin(futures::stream::poll_fn(move |cx| {
                let Some(rx) = from_agent.as_mut() else {
                    return Poll::Ready(None);
                };
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(msg)) => Poll::Ready(Some((link, Some(msg)))),
                    Poll::Ready(None) => {
                        from_agent = None;
                        Poll::Ready(Some((link, None)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            })));
    }

    // ------------------------------------------------------------------ events

    /// Queues `ev` on the framework's stream; a closed or full stream disconnects it.
    fn send_event(&mut self, framework_id: &FrameworkId, ev: &Event) {
        self.queue_on(framework_id, |c| c.queue(ev));
    }

    /// Queues an UPDATE event carrying `status` on the framework's stream.
    fn send_update(&mut self, framework_id: &FrameworkId, status: &TaskStatus) {
        self.queue_on(framework_id, |c| c.queue_update(status));
    }

    fn queue_on(
        &mut self,
        framework_id: &FrameworkId,
        queue: impl FnOnce(&mut Subscriber) -> bool,
    ) {
        let first = match self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.conn.as_mut())
        {
            Some(c) => queue(c),
            None => return,
        };
        if first {
            self.unflushed.push(framework_id.clone());
        }
    }

    /// Hands each subscriber the events queued this turn; a closed or full stream disconnects
    /// its framework.
    fn flush_events(&mut self) {
        while let Some(id) = self.unflushed.pop() {
            let failed = self
                .frameworks
                .get_mut(&id)
                .and_then(|f| f.conn.as_mut())
                .is_some_and(|c| c.flush().is_err());
            if failed {
                warn!(framework_id = %id, "subscriber gone or too slow; disconnecting");
                self.disconnect(&id);
            }
        }
    }

    fn send_to_agent(&mut self, agent_id: &AgentId, msg: MasterToAgent) {
        let Some(link) = self.agents.get(agent_id).and_then(|a| a.link) else {
            debug!(agent_id = %agent_id, "agent not connected; message dropped");
            return;
        };
        if let Some(l) = self.links.get(&link) {
            let msg = if l.overflowing.load(AtomicOrdering::Acquire) == 0 {
                match l.to_agent.try_send(msg) {
                    Ok(()) => return,
                    Err(mpsc::error::TrySendError::Full(msg)) => msg,
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        debug!(agent_id = %agent_id, "agent link closed; message dropped");
                        return;
                    }
                }
            } else {
                msg
            };
            l.overflowing.fetch_add(1, AtomicOrdering::AcqRel);
            if let Err(e) = l.overflow.try_send(msg) {
                l.overflowing.fetch_sub(1, AtomicOrdering::AcqRel);
                error!(agent_id = %agent_id, error = %e, "agent link full or closed; message dropped");
            }
        }
    }

    fn broadcast_to_agents(&mut self, msg: MasterToAgent) {
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            self.send_to_agent(&id, msg.clone());
        }
    }

    // ------------------------------------------------------------------ subscribe

    fn subscribe(&mut self, call: Call, encoding: Encoding) -> SubscribeReply {
        let stream_id = uuid::Uuid::new_v4().to_string();
        let limit = self.config.subscriber_buffer.max(2);
        let (tx, rx) = mpsc::channel(limit + 1);
        let in_stream = Arc::new(AtomicUsize::new(0));
        let mut conn = Subscriber {
            stream_id: stream_id.clone(),
            tx,
            in_stream: Arc::clone(&in_stream),
            limit,
            encoding,
            next_heartbeat: Instant::now() + self.config.heartbeat_interval,
            pending: Vec::new(),
            listed: None,
        };
        let rx = EventQueue { rx, in_stream };
        let Some(sub) = call.subscribe else {
            // Validated by the handler; refuse defensively.
            let _ = conn.send(&error_event("Expecting 'subscribe' to be present"));
            return SubscribeReply {
                stream_id,
                framework_id: None,
                events: rx,
            };
        };
        let mut info = sub.framework_info;
        let refuse = |mut conn: Subscriber, msg: &str, stream_id: String, rx| {
            info!(stream_id = %stream_id, reason = msg, "subscription refused");
            let _ = conn.send(&error_event(msg));
            SubscribeReply {
                stream_id,
                framework_id: None,
                events: rx,
            }
        };
        if let Err(msg) = validate_framework_info(&info) {
            return refuse(conn, &msg, stream_id, rx);
        }
        if let Err(msg) = validate_suppressed(&framework_roles(&info), &sub.suppressed_roles) {
            return refuse(conn, &msg, stream_id, rx);
        }
        let now = epoch_now();
        // A supplied ID means re-registration (failover, or a master restart in between).
        let resubscribing = info.id.is_some();
        let id = match info.id.as_ref() {
            Some(id) => FrameworkId::generated(id.value.clone()),
            None => {
                let id = self.ids.framework(self.next_framework);
                self.next_framework += 1;
                if let Err(e) = self.store.set_next_framework(self.next_framework) {
                    error!(error = %e, "cannot persist framework counter");
                    return refuse(
                        conn,
                        "Master failed to persist the framework",
                        stream_id,
                        rx,
                    );
                }
                info.id = Some(id.to_proto());
                id
            }
        };
        if self.removed.contains(&id) {
            return refuse(conn, "Framework has been removed", stream_id, rx);
        }
        let existing = self.frameworks.contains_key(&id);
        if let Some(fw) = self.frameworks.get(&id) {
            if fw.info.principal != info.principal {
                return refuse(
                    conn,
                    "Changing framework's principal is not allowed.",
                    stream_id,
                    rx,
                );
            }
            // Mesos silently keeps the old user and checkpoint.
            info.user = fw.info.user.clone();
            info.checkpoint = fw.info.checkpoint;
        }
        let registered_time = self
            .frameworks
            .get(&id)
            .map(|f| f.registered_time)
            .or_else(|| self.stored.get(&id).map(|r| r.registered_time))
            .unwrap_or(now);
        let rec = FrameworkRecord {
            id: id.to_string(),
            info: info.clone(),
            failover_timeout: info.failover_timeout.unwrap_or(0.0),
            registered_time,
            removed: false,
            unregistered_time: 0.0,
        };
        if let Err(e) = self.store.put_framework(&rec) {
            error!(framework_id = %id, error = %e, "cannot persist framework");
            return refuse(
                conn,
                "Master failed to persist the framework",
                stream_id,
                rx,
            );
        }
        self.stored.remove(&id);
        let roles = framework_roles(&info);
        if existing {
            // Failover: the old stream is told and closed; offers are discarded silently.
            let old = self.frameworks.get_mut(&id).and_then(|f| f.conn.take());
            if let Some(mut old) = old {
                info!(framework_id = %id, stream_id = %old.stream_id, "framework failed over");
                let _ = old.send(&error_event("Framework failed over"));
            }
            self.discard_offers(&id);
            if let Some(fw) = self.frameworks.get_mut(&id) {
                fw.info = Arc::new(info.clone());
                fw.reregistered_time = Some(now);
                fw.failover_deadline = None;
                fw.active = true;
                fw.recovered = false;
            }
        } else {
            self.frameworks.insert(
                id.clone(),
                Framework {
                    id: id.clone(),
                    info: Arc::new(info.clone()),
                    registered_time,
                    reregistered_time: (registered_time != now).then_some(now),
                    unregistered_time: 0.0,
                    conn: None,
                    active: true,
                    recovered: false,
                    failover_deadline: None,
                    tasks: IdMap::default(),
                    completed_tasks: CompletedTasks::default(),
                    offers: IdSet::default(),
                },
            );
        }
        let suppressed: BTreeSet<String> = sub.suppressed_roles.iter().cloned().collect();
        self.allocator.add_framework(
            id.clone(),
            roles.iter().cloned().collect(),
            suppressed,
            true,
        );
        self.allocator
            .set_gpu_aware(&id, has_capability(&info, Cap::GpuResources));
        info!(framework_id = %id, stream_id = %stream_id, name = %info.name, "framework subscribed");
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: id.to_proto(),
                heartbeat_interval_seconds: Some(self.config.heartbeat_interval.as_secs_f64()),
                master_info: Some(Box::new(self.master_info.clone())),
            }),
            ..Default::default()
        };
        conn.queue(&subscribed);
        let _ = conn.send(&heartbeat_event());
        if let Some(fw) = self.frameworks.get_mut(&id) {
            self.sessions.insert(&id, &conn.stream_id);
            conn.listed = Some((self.sessions.clone(), id.clone()));
            fw.conn = Some(conn);
        }
        if resubscribing {
            // Agents re-send pending status updates of the framework at once.
            self.broadcast_to_agents(MasterToAgent::FrameworkReconnected {
                framework_id: id.clone(),
            });
        }
        self.allocation_pending = true;
        SubscribeReply {
            stream_id,
            framework_id: Some(id),
            events: rx,
        }
    }

    /// The framework's stream is gone: stop offering, drop its offers, start the failover
    /// timer (removal right away with the default timeout 0).
    fn disconnect(&mut self, framework_id: &FrameworkId) {
        let Some(fw) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        fw.conn = None;
        fw.active = false;
        let timeout = fw.info.failover_timeout.unwrap_or(0.0);
        self.allocator.set_active(framework_id, false);
        self.discard_offers(framework_id);
        if timeout > 0.0 {
            let deadline = deadline_after(timeout);
            if let Some(fw) = self.frameworks.get_mut(framework_id) {
                fw.failover_deadline = Some(deadline);
            }
            info!(framework_id = %framework_id, failover_timeout = timeout, "framework disconnected; waiting for failover");
        } else {
            info!(framework_id = %framework_id, "framework disconnected with failover_timeout 0; removing");
            self.remove_framework(framework_id);
        }
    }

    /// TEARDOWN / failover timeout: persist, kill everything, move to completed.
    fn remove_framework(&mut self, framework_id: &FrameworkId) {
        let now = epoch_now();
        if let Err(e) = self.store.mark_removed(framework_id.as_str(), now) {
            error!(framework_id = %framework_id, error = %e, "cannot persist framework removal");
        }
        self.removed.insert(framework_id.clone());
        self.discard_offers(framework_id);
        self.allocator.remove_framework(framework_id);
        let Some(mut fw) = self.frameworks.remove(framework_id) else {
            return;
        };
        fw.conn = None;
        fw.active = false;
        fw.failover_deadline = None;
        fw.unregistered_time = now;
        let mut tasks: Vec<(TaskId, Task)> = std::mem::take(&mut fw.tasks).into_iter().collect();
        tasks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut agents = BTreeSet::new();
        for (_, mut task) in tasks {
            agents.insert(task.agent_id.clone());
            let killed = master_status(
                &task.info.task_id,
                TaskState::TaskKilled,
                task_status::Reason::FrameworkRemoved,
                format!("Framework {framework_id} removed"),
                Some(task.agent_id.to_proto()),
            );
            if !task.state.is_terminal() {
                task.state = TaskState::TaskKilled;
            }
            push_status(&mut task.statuses, Arc::new(killed));
            self.release_task_resources(&mut task);
            fw.completed_tasks.push(
                &task_entry(&task),
                self.config.max_completed_tasks_per_framework,
            );
        }
        for agent_id in self.agents.keys().cloned().collect::<Vec<_>>() {
            self.send_to_agent(
                &agent_id,
                MasterToAgent::ShutdownFramework {
                    framework_id: framework_id.clone(),
                },
            );
        }
        info!(framework_id = %framework_id, "framework removed");
        self.completed_frameworks.push_back(fw);
        while self.completed_frameworks.len() > self.config.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.allocation_pending = true;
    }

    fn release_task_resources(&mut self, task: &mut Task) {
        if task.holds_resources {
            task.holds_resources = false;
            if let Err(e) =
                self.allocator
                    .release_used(&task.agent_id, &task.framework_id, &task.resources)
            {
                debug!(task_id = %task.info.task_id.value, error = %e, "task resources already gone");
            }
        }
    }

    // ------------------------------------------------------------------ offers

    fn allocate(&mut self) {
        self.allocation_pending = false;
        let now = self.clock();
        let grants = self.allocator.allocate(now);
        self.offer_grants(grants, now);
    }

    /// Between the periodic rounds, resources that came back go at once to the frameworks
    /// still waiting for their first offer (see `Allocator::allocate_to_waiting`), at most
    /// every [`WAITING_ROUND_GAP`].
    fn allocate_to_waiting(&mut self) {
        let at = Instant::now();
        if at < self.next_waiting_round || !self.allocator.has_waiting() {
            return;
        }
        self.next_waiting_round = at + WAITING_ROUND_GAP;
        let now = self.clock();
        let grants = self.allocator.allocate_to_waiting(now);
        self.offer_grants(grants, now);
    }

    fn offer_grants(&mut self, grants: Vec<OfferGrant>, now: Time) {
        if grants.is_empty() {
            return;
        }
        let mut per_framework: BTreeMap<FrameworkId, Vec<v1::Offer>> = BTreeMap::new();
        for g in grants {
            match self.make_offer(&g) {
                Some(offer) => per_framework
                    .entry(g.framework_id.clone())
                    .or_default()
                    .push(offer),
                None => {
                    // Nobody to offer to after all: give the resources back.
                    let _ = self.allocator.recover_offered(
                        &g.agent_id,
                        &g.framework_id,
                        &g.role,
                        &g.resources,
                        None,
                        now,
                    );
                }
            }
        }
        for (fw_id, offers) in per_framework {
            debug!(framework_id = %fw_id, count = offers.len(), "sending offers");
            let ev = Event {
                r#type: Some(event::Type::Offers as i32),
                offers: Some(event::Offers { offers }),
                ..Default::default()
            };
            self.send_event(&fw_id, &ev);
        }
    }

    fn make_offer(&mut self, g: &OfferGrant) -> Option<v1::Offer> {
        let agent = self.agents.get(&g.agent_id)?;
        let fw = self.frameworks.get(&g.framework_id)?;
        fw.conn.as_ref()?;
        let n = self.next_offer;
        if let Err(e) = self.store.reserve_offer(n) {
            error!(error = %e, "cannot persist offer counter");
            return None;
        }
        self.next_offer += 1;
        let id = self.ids.offer(n);
        let multi = has_capability(&fw.info, Cap::MultiRole);
        let refinement = has_capability(&fw.info, Cap::ReservationRefinement);
        let mut resources = g.resources.to_proto(!refinement);
        let allocation_info = multi.then(|| v1::resource::AllocationInfo {
            role: Some(g.role.clone()),
        });
        if let Some(ai) = &allocation_info {
            for r in &mut resources {
                r.allocation_info = Some(ai.clone());
            }
        }
        let reg = &agent.registration;
        let agent_ip = agent.offer_ip.clone();
        let offer = v1::Offer {
            id: id.to_proto(),
            framework_id: g.framework_id.to_proto(),
            agent_id: g.agent_id.to_proto(),
            hostname: reg.hostname.clone(),
            url: Some(Box::new(v1::Url {
                scheme: "http".into(),
                address: v1::Address {
                    hostname: Some(reg.hostname.clone()),
                    ip: Some(agent_ip),
                    port: i32::from(reg.port),
                },
                path: Some("/slave(1)".into()),
                query: vec![],
                fragment: None,
            })),
            resources,
            attributes: reg.attributes.clone(),
            allocation_info,
            ..Default::default()
        };
        let expires = self.config.offer_timeout.map(|t| Instant::now() + t);
        self.offers.insert(
            id.clone(),
            OfferRec {
                id: id.clone(),
                framework_id: g.framework_id.clone(),
                agent_id: g.agent_id.clone(),
                role: g.role.clone(),
                resources: g.resources.clone(),
                expires,
            },
        );
        if let Some(fw) = self.frameworks.get_mut(&g.framework_id) {
            fw.offers.insert(id);
        }
        Some(offer)
    }

    /// Removes an offer from the books (not from the allocator).
    fn take_offer(&mut self, id: &OfferId) -> Option<OfferRec> {
        let o = self.offers.remove(id)?;
        if let Some(fw) = self.frameworks.get_mut(&o.framework_id) {
            fw.offers.remove(id);
        }
        // A burst of offers (every agent, several pieces each) grows the table; do not keep
        // it at that size once they are answered. Shrinking at a quarter keeps this amortized.
        if self.offers.capacity() > 1024 && self.offers.len() * 4 < self.offers.capacity() {
            self.offers.shrink_to(self.offers.len() * 2);
        }
        Some(o)
    }

    /// Returns an offer's resources (no filter), telling the framework with RESCIND if `tell`.
    fn rescind_offer(&mut self, id: &OfferId, tell: bool) {
        let Some(o) = self.take_offer(id) else {
            return;
        };
        let now = self.clock();
        let _ = self.allocator.recover_offered(
            &o.agent_id,
            &o.framework_id,
            &o.role,
            &o.resources,
            None,
            now,
        );
        if tell {
            let ev = Event {
                r#type: Some(event::Type::Rescind as i32),
                rescind: Some(event::Rescind {
                    offer_id: id.to_proto(),
                }),
                ..Default::default()
            };
            self.send_event(&o.framework_id, &ev);
        }
        self.allocation_pending = true;
    }

    /// Drops all offers of a framework silently (failover, teardown, disconnection).
    fn discard_offers(&mut self, framework_id: &FrameworkId) {
        let ids: Vec<OfferId> = self
            .frameworks
            .get(framework_id)
            .map(|f| f.offers.iter().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            self.rescind_offer(&id, false);
        }
    }

    // ------------------------------------------------------------------ calls

    fn call(
        &mut self,
        call: Call,
        ty: call::Type,
        stream_id: Option<String>,
    ) -> Result<CallOutcome, ApiError> {
        let fid = call
            .framework_id
            .as_ref()
            .map(|f| FrameworkId::generated(f.value.clone()))
            .ok_or_else(|| {
                ApiError::InvalidCall("Expecting 'framework_id' to be present".into())
            })?;
        // Steps 11, 13, 15, 16.
        let fw = self
            .frameworks
            .get(&fid)
            .ok_or(ApiError::FrameworkNotFound)?;
        let conn = fw.conn.as_ref().ok_or(ApiError::NotSubscribed)?;
        let given = stream_id.ok_or(ApiError::MissingStreamId)?;
        if given != conn.stream_id {
            return Err(ApiError::StreamIdMismatch {
                given,
                framework_id: fid.to_string(),
            });
        }
        debug!(framework_id = %fid, call = ty.as_str_name(), "call");
        match ty {
            call::Type::Unknown => Err(ApiError::NotImplemented),
            call::Type::Subscribe => Err(ApiError::InvalidCall(
                "Expecting 'subscribe' to be present".into(),
            )),
            call::Type::Teardown => {
                info!(framework_id = %fid, "TEARDOWN");
                self.remove_framework(&fid);
                Ok(CallOutcome::Accepted)
            }
            call::Type::Accept => {
                if let Some(a) = call.accept {
                    self.accept(&fid, a);
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Decline => {
                if let Some(d) = call.decline {
                    let refuse = refusal_duration(
                        d.filters.and_then(|f| f.refuse_seconds),
                        self.config.allocation_interval,
                    );
                    for oid in d.offer_ids {
                        self.decline_offer(&fid, &OfferId::generated(oid.value), refuse);
                    }
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Revive => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                if self.roles_ok(&fid, &roles) {
                    self.allocator.revive(&fid, &roles);
                    self.allocation_pending = true;
                } else {
                    warn!(framework_id = %fid, "REVIVE with unknown roles ignored");
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Suppress => {
                let roles = call.suppress.map(|r| r.roles).unwrap_or_default();
                if self.roles_ok(&fid, &roles) {
                    self.allocator.suppress(&fid, &roles);
                } else {
                    warn!(framework_id = %fid, "SUPPRESS with unknown roles ignored");
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Kill => {
                if let Some(k) = call.kill {
                    self.kill(&fid, k);
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Shutdown => {
                // berth agents run command tasks only: there are no custom executors to stop.
                debug!(framework_id = %fid, "SHUTDOWN ignored (no custom executors)");
                Ok(CallOutcome::Accepted)
            }
            call::Type::Acknowledge => {
                if let Some(a) = call.acknowledge {
                    self.acknowledge(&fid, a);
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Reconcile => {
                let tasks = call.reconcile.map(|r| r.tasks).unwrap_or_default();
                self.reconcile(&fid, tasks);
                Ok(CallOutcome::Accepted)
            }
            call::Type::ReconcileOperations => {
                let ops = call
                    .reconcile_operations
                    .map(|r| r.operations)
                    .unwrap_or_default();
                for op in ops {
                    let ev = Event {
                        r#type: Some(event::Type::UpdateOperationStatus as i32),
                        update_operation_status: Some(Box::new(event::UpdateOperationStatus {
                            status: v1::OperationStatus {
                                operation_id: Some(op.operation_id),
                                state: v1::OperationState::OperationUnknown as i32,
                                agent_id: op.agent_id,
                                resource_provider_id: op.resource_provider_id,
                                ..Default::default()
                            },
                        })),
                        ..Default::default()
                    };
                    self.send_event(&fid, &ev);
                }
                Ok(CallOutcome::Accepted)
            }
            call::Type::Message => {
                // No custom executors on berth agents: nothing to deliver to (best effort).
                debug!(framework_id = %fid, "MESSAGE dropped (no custom executors)");
                Ok(CallOutcome::Accepted)
            }
            call::Type::Request
            | call::Type::AcceptInverseOffers
            | call::Type::DeclineInverseOffers
            | call::Type::AcknowledgeOperationStatus => Ok(CallOutcome::Accepted),
            call::Type::UpdateFramework => {
                let u = call.update_framework.ok_or_else(|| {
                    ApiError::InvalidCall("Expecting 'update_framework' to be present".into())
                })?;
                self.update_framework(&fid, *u)?;
                Ok(CallOutcome::Ok)
            }
        }
    }

    fn roles_ok(&self, fid: &FrameworkId, roles: &[String]) -> bool {
        let Some(fw) = self.frameworks.get(fid) else {
            return false;
        };
        let mine = fw.roles();
        roles.iter().all(|r| mine.contains(r))
    }

    fn decline_offer(&mut self, fid: &FrameworkId, oid: &OfferId, refuse: Option<Duration>) {
        match self.offers.get(oid) {
            Some(o) if &o.framework_id == fid => {}
            _ => {
                debug!(framework_id = %fid, offer_id = %oid, "DECLINE of an unknown offer ignored");
                return;
            }
        }
        if let Some(o) = self.take_offer(oid) {
            let now = self.clock();
            let _ = self.allocator.recover_offered(
                &o.agent_id,
                fid,
                &o.role,
                &o.resources,
                refuse,
                now,
            );
        }
    }

    fn send_master_update(&mut self, fid: &FrameworkId, status: TaskStatus) {
        self.send_update(fid, &status);
    }

    fn accept(&mut self, fid: &FrameworkId, accept: call::Accept) {
        let partition_aware = self
            .frameworks
            .get(fid)
            .is_some_and(Framework::partition_aware);
        let refuse = refusal_duration(
            accept.filters.as_ref().and_then(|f| f.refuse_seconds),
            self.config.allocation_interval,
        );
        // 1. Offer validation.
        let offer_ids: Vec<OfferId> = accept
            .offer_ids
            .iter()
            .map(|o| OfferId::generated(o.value.clone()))
            .collect();
        if let Err(msg) = self.validate_offers(fid, &offer_ids) {
            info!(framework_id = %fid, error = %msg, "ACCEPT with invalid offers");
            for oid in &offer_ids {
                if self.offers.get(oid).is_some_and(|o| &o.framework_id == fid) {
                    self.rescind_offer(oid, false);
                }
            }
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for op in &accept.operations {
                for t in operation_tasks(op) {
                    let s = master_status(
                        &t.task_id,
                        state,
                        task_status::Reason::InvalidOffers,
                        format!("Task launched with invalid offers: {msg}"),
                        Some(t.agent_id.clone()),
                    );
                    self.send_master_update(fid, s);
                }
                self.operation_error(fid, op, &format!("Invalid offers: {msg}"));
            }
            return;
        }
        // Take the offers; their resources are what the operations may use.
        let mut remaining = Resources::new();
        let mut agent_id = None;
        let mut role = String::from("*");
        for oid in &offer_ids {
            if let Some(o) = self.take_offer(oid) {
                remaining.add(&o.resources);
                agent_id = Some(o.agent_id.clone());
                role = o.role.clone();
            }
        }
        let Some(agent_id) = agent_id else {
            return;
        };
        let offered_total = remaining.clone();
        let agent_connected = self.agents.get(&agent_id).is_some_and(Agent::active);
        for op in accept.operations {
            let ty = op
                .r#type
                .and_then(|t| offer::operation::Type::try_from(t).ok());
            match ty {
                Some(offer::operation::Type::Launch) => {
                    let tasks = op.launch.map(|l| l.task_infos).unwrap_or_default();
                    if op.id.is_some() {
                        for t in &tasks {
                            let s = master_status(
                                &t.task_id,
                                TaskState::TaskError,
                                task_status::Reason::TaskInvalid,
                                "The `id` field cannot be set on LAUNCH operations".into(),
                                Some(t.agent_id.clone()),
                            );
                            self.send_master_update(fid, s);
                        }
                        continue;
                    }
                    for t in tasks {
                        self.launch_one(
                            fid,
                            &agent_id,
                            &role,
                            t,
                            &mut remaining,
                            agent_connected,
                            partition_aware,
                            None,
                        );
                    }
                }
                Some(offer::operation::Type::LaunchGroup) => {
                    let Some(lg) = op.launch_group else { continue };
                    let mut tasks = lg.task_group.tasks;
                    let reject = |tasks: &[TaskInfo], this: &mut Self, msg: String| {
                        for t in tasks {
                            let s = master_status(
                                &t.task_id,
                                TaskState::TaskError,
                                task_status::Reason::TaskGroupInvalid,
                                msg.clone(),
                                Some(t.agent_id.clone()),
                            );
                            this.send_master_update(fid, s);
                        }
                    };
                    if op.id.is_some() {
                        reject(
                            &tasks,
                            self,
                            "The `id` field cannot be set on LAUNCH operations".into(),
                        );
                        continue;
                    }
                    if lg
                        .executor
                        .container
                        .as_ref()
                        .is_some_and(|c| c.r#type == v1::container_info::Type::Docker as i32)
                    {
                        reject(
                            &tasks,
                            self,
                            "Docker ContainerInfo is not supported on the executor".into(),
                        );
                        continue;
                    }
                    if lg.executor.r#type.is_none() {
                        reject(&tasks, self, "'ExecutorInfo.type' must be set".into());
                        continue;
                    }
                    if tasks.iter().any(|t| {
                        t.container
                            .as_ref()
                            .is_some_and(|c| c.r#type == v1::container_info::Type::Docker as i32)
                    }) {
                        reject(
                            &tasks,
                            self,
                            "Docker ContainerInfo is not supported on the task".into(),
                        );
                        continue;
                    }
                    // Validate the whole group first; the first error fails every task.
                    let mut executor = lg.executor.clone();
                    if executor.framework_id.is_none() {
                        executor.framework_id = Some(fid.to_proto());
                    }
                    let mut avail = remaining.clone();
                    let executor_res =
                        Resources::from_proto(&executor.resources).unwrap_or_default();
                    avail.subtract(&executor_res);
                    let mut first_error = None;
                    for t in &tasks {
                        let mut probe = t.clone();
                        probe.executor = None;
                        if probe.command.is_none() {
                            probe.command = Some(Box::new(v1::CommandInfo::default()));
                        }
                        let dup = self.frameworks.get(fid).is_some_and(|f| {
                            f.tasks
                                .contains_key(&TaskId::generated(t.task_id.value.clone()))
                        });
                        let cx = TaskContext {
                            framework_id: fid.as_str(),
                            agent_id: agent_id.as_str(),
                            is_duplicate: dup,
                            available: &avail,
                            role: &role,
                        };
                        match validate_task(&probe, &cx) {
                            Ok(r) => avail.subtract(&r),
                            Err(e) => {
                                first_error = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = first_error {
                        reject(&tasks, self, e);
                        continue;
                    }
                    // Executor resources are accounted with the first task.
                    let mut first = true;
                    for t in &mut tasks {
                        if t.executor.is_none() {
                            t.executor = Some(Box::new(executor.clone()));
                        }
                    }
                    for t in tasks {
                        let extra = if first {
                            Some(executor_res.clone())
                        } else {
                            None
                        };
                        first = false;
                        self.launch_one(
                            fid,
                            &agent_id,
                            &role,
                            t,
                            &mut remaining,
                            agent_connected,
                            partition_aware,
                            Some(extra.unwrap_or_default()),
                        );
                    }
                }
                Some(_) | None => {
                    // Reservations, volumes and disks are not supported by berth's agents.
                    self.operation_error(fid, &op, "Operation not supported by berth");
                }
            }
        }
        // 7. The rest is declined with the call's filters.
        let now = self.clock();
        if !remaining.is_empty() {
            let _ = self
                .allocator
                .recover_offered(&agent_id, fid, &role, &remaining, refuse, now);
        }
        debug!(framework_id = %fid, agent_id = %agent_id, used = %offered_total.minus(&remaining), "ACCEPT processed");
    }

    #[allow(clippy::too_many_arguments)]
    fn launch_one(
        &mut self,
        fid: &FrameworkId,
        agent_id: &AgentId,
        role: &str,
        t: TaskInfo,
        remaining: &mut Resources,
        agent_connected: bool,
        partition_aware: bool,
        group_executor: Option<Resources>,
    ) {
        let tid = TaskId::generated(t.task_id.value.clone());
        let dup = self
            .frameworks
            .get(fid)
            .is_some_and(|f| f.tasks.contains_key(&tid));
        let validated = match group_executor {
            None => validate_task(
                &t,
                &TaskContext {
                    framework_id: fid.as_str(),
                    agent_id: agent_id.as_str(),
                    is_duplicate: dup,
                    available: remaining,
                    role,
                },
            ),
            Some(extra) => Resources::from_proto(&t.resources)
                .map(|mut r| {
                    r.add(&extra);
                    r
                })
                .map_err(|e| e.to_string()),
        };
        let resources = match validated {
            Ok(r) => r,
            Err(msg) => {
                info!(framework_id = %fid, task_id = %tid, error = %msg, "task invalid");
                let s = master_status(
                    &t.task_id,
                    TaskState::TaskError,
                    task_status::Reason::TaskInvalid,
                    msg,
                    Some(t.agent_id.clone()),
                );
                self.send_master_update(fid, s);
                return;
            }
        };
        if !agent_connected {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            let s = master_status(
                &t.task_id,
                state,
                task_status::Reason::AgentRemoved,
                "Agent removed".into(),
                Some(t.agent_id.clone()),
            );
            self.send_master_update(fid, s);
            return;
        }
        remaining.subtract(&resources);
        if let Err(e) = self.allocator.use_offered(agent_id, &resources) {
            error!(framework_id = %fid, task_id = %tid, error = %e, "allocator refused task resources");
        }
        let framework = self
            .frameworks
            .get(fid)
            .map(|f| f.info.clone())
            .unwrap_or_default();
        // One copy, shared by the master's record and the agent's.
        let t = Arc::new(t);
        let task = Task {
            info: Arc::clone(&t),
            framework_id: fid.clone(),
            agent_id: agent_id.clone(),
            state: TaskState::TaskStaging,
            resources,
            role: role.to_string(),
            statuses: Vec::new(),
            status_update_state: None,
            status_update_uuid: None,
            holds_resources: true,
        };
        if let Some(fw) = self.frameworks.get_mut(fid) {
            fw.tasks.insert(tid.clone(), task);
        }
        info!(framework_id = %fid, task_id = %tid, agent_id = %agent_id, "launching task");
        self.send_to_agent(
            agent_id,
            MasterToAgent::RunTask {
                framework_id: fid.clone(),
                framework,
                task: t,
            },
        );
    }

    fn operation_error(&mut self, fid: &FrameworkId, op: &offer::Operation, msg: &str) {
        if let Some(id) = &op.id {
            let ev = Event {
                r#type: Some(event::Type::UpdateOperationStatus as i32),
                update_operation_status: Some(Box::new(event::UpdateOperationStatus {
                    status: v1::OperationStatus {
                        operation_id: Some(id.clone()),
                        state: v1::OperationState::OperationError as i32,
                        message: Some(msg.to_string()),
                        ..Default::default()
                    },
                })),
                ..Default::default()
            };
            self.send_event(fid, &ev);
        }
    }

    fn validate_offers(&self, fid: &FrameworkId, ids: &[OfferId]) -> Result<(), String> {
        if ids.is_empty() {
            return Err("No offers specified".into());
        }
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(format!("Duplicate offer {id} in offer list"));
            }
        }
        let mut first: Option<&OfferRec> = None;
        for id in ids {
            let o = self
                .offers
                .get(id)
                .ok_or_else(|| format!("Offer {id} is no longer valid"))?;
            if &o.framework_id != fid {
                return Err(format!(
                    "Offer {id} has invalid framework {} while framework {fid} is expected",
                    o.framework_id
                ));
            }
            match first {
                None => first = Some(o),
                Some(f) => {
                    if f.role != o.role {
                        return Err(format!(
                            "Aggregated offers must be allocated to the same role. Offer {} uses role {} and offer {} uses role {}",
                            f.id, f.role, o.id, o.role
                        ));
                    }
                    if f.agent_id != o.agent_id {
                        return Err(format!(
                            "Aggregated offers must belong to one single agent. Offer {} uses agent {} and offer {} uses agent {}",
                            f.id, f.agent_id, o.id, o.agent_id
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn kill(&mut self, fid: &FrameworkId, k: call::Kill) {
        let tid = TaskId::generated(k.task_id.value.clone());
        let task = self
            .frameworks
            .get(fid)
            .and_then(|f| f.tasks.get(&tid))
            .map(|t| t.agent_id.clone());
        match task {
            None => {
                info!(framework_id = %fid, task_id = %tid, "KILL of an unknown task; reconciling");
                self.reconcile(
                    fid,
                    vec![call::reconcile::Task {
                        task_id: k.task_id,
                        agent_id: k.agent_id,
                    }],
                );
            }
            Some(agent_id) => {
                if k.agent_id
                    .as_ref()
                    .is_some_and(|a| a.value != agent_id.as_str())
                {
                    debug!(framework_id = %fid, task_id = %tid, "KILL names another agent; ignored");
                    return;
                }
                info!(framework_id = %fid, task_id = %tid, agent_id = %agent_id, "killing task");
                self.send_to_agent(
                    &agent_id,
                    MasterToAgent::KillTask {
                        framework_id: fid.clone(),
                        task_id: tid,
                        kill_policy: k.kill_policy,
                    },
                );
            }
        }
    }

    fn acknowledge(&mut self, fid: &FrameworkId, a: call::Acknowledge) {
        let agent_id = AgentId::generated(a.agent_id.value);
        if !self.agents.contains_key(&agent_id) {
            debug!(framework_id = %fid, agent_id = %agent_id, "ACKNOWLEDGE for an unknown agent ignored");
            return;
        }
        let tid = TaskId::generated(a.task_id.value);
        let done = self
            .frameworks
            .get(fid)
            .and_then(|f| f.tasks.get(&tid))
            .is_some_and(|t| {
                t.status_update_uuid.as_deref() == Some(a.uuid.as_slice())
                    && t.status_update_state.is_some_and(TaskState::is_terminal)
            });
        if done {
            self.complete_task(fid, &tid);
        }
        self.send_to_agent(
            &agent_id,
            MasterToAgent::Acknowledge {
                framework_id: fid.clone(),
                task_id: tid,
                uuid: a.uuid,
            },
        );
    }

    fn complete_task(&mut self, fid: &FrameworkId, tid: &TaskId) {
        let max = self.config.max_completed_tasks_per_framework;
        let Some(mut task) = self
            .frameworks
            .get_mut(fid)
            .and_then(|f| f.tasks.remove(tid))
        else {
            return;
        };
        self.release_task_resources(&mut task);
        if let Some(fw) = self.frameworks.get_mut(fid) {
            fw.completed_tasks.push(&task_entry(&task), max);
        }
        debug!(framework_id = %fid, task_id = %tid, "task completed");
    }

    fn reconcile(&mut self, fid: &FrameworkId, tasks: Vec<call::reconcile::Task>) {
        let Some(fw) = self.frameworks.get(fid) else {
            return;
        };
        let pa = fw.partition_aware();
        let mut out = Vec::new();
        let mut deferred = Vec::new();
        if tasks.is_empty() {
            // In task ID order (the map is a hash map).
            for (_, t) in by_key(&fw.tasks) {
                out.push(reconciliation_status(t));
            }
        } else {
            for rt in tasks {
                let tid = TaskId::generated(rt.task_id.value.clone());
                match fw.tasks.get(&tid) {
                    Some(t) => out.push(reconciliation_status(t)),
                    None => {
                        // The agent (or, without an agent ID, any agent) may still come back
                        // with the task after a restart: no answer yet, as in Mesos.
                        let still_recovering = match &rt.agent_id {
                            Some(a) => self
                                .recovering
                                .contains_key(&AgentId::generated(a.value.clone())),
                            None => !self.recovering.is_empty(),
                        };
                        if still_recovering {
                            debug!(framework_id = %fid, task_id = %tid, "reconciliation deferred: agents re-registering");
                            deferred.push(rt);
                            continue;
                        }
                        let known_agent = rt.agent_id.as_ref().is_some_and(|a| {
                            self.agents
                                .contains_key(&AgentId::generated(a.value.clone()))
                        });
                        let (state, msg) = if known_agent {
                            (
                                TaskState::TaskGone,
                                "Reconciliation: Task is unknown to the agent",
                            )
                        } else {
                            (TaskState::TaskUnknown, "Reconciliation: Task is unknown")
                        };
                        let state = if pa {
                            state
                        } else {
                            state.for_partition_unaware()
                        };
                        out.push(master_status(
                            &rt.task_id,
                            state,
                            task_status::Reason::Reconciliation,
                            msg.to_string(),
                            rt.agent_id,
                        ));
                    }
                }
            }
        }
        self.deferred_reconciliations
            .extend(deferred.into_iter().map(|rt| (fid.clone(), rt)));
        for s in out {
            self.send_master_update(fid, s);
        }
    }

    /// Answers deferred reconciliations whose agents have re-registered or been forgotten
    /// (Mesos leaves them unanswered for the scheduler to retry; answering once the answer is
    /// known saves schedulers that do not retry). Those still blocked are deferred again.
    fn retry_deferred_reconciliations(&mut self) {
        let pending = std::mem::take(&mut self.deferred_reconciliations);
        for (fid, rt) in pending {
            self.reconcile(&fid, vec![rt]);
        }
    }

    fn update_framework(
        &mut self,
        fid: &FrameworkId,
        u: call::UpdateFramework,
    ) -> Result<(), ApiError> {
        let mut info = u.framework_info;
        validate_framework_info(&info).map_err(|e| {
            ApiError::UpdateFrameworkInvalid(format!("Supplied FrameworkInfo is not valid: {e}"))
        })?;
        let old = self
            .frameworks
            .get(fid)
            .map(|f| f.info.clone())
            .ok_or(ApiError::FrameworkNotFound)?;
        let bad_update = |m: String| {
            ApiError::UpdateFrameworkInvalid(format!("FrameworkInfo update is not valid: {m}"))
        };
        if old.principal != info.principal {
            return Err(bad_update(
                "Changing framework's principal is not allowed.".into(),
            ));
        }
        if old.user != info.user {
            return Err(bad_update(format!(
                "Updating 'FrameworkInfo.user' is unsupported; attempted to update from '{}' to '{}'",
                old.user, info.user
            )));
        }
        if old.checkpoint.unwrap_or(false) != info.checkpoint.unwrap_or(false) {
            return Err(bad_update(format!(
                "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from '{}' to '{}'",
                old.checkpoint.unwrap_or(false),
                info.checkpoint.unwrap_or(false)
            )));
        }
        let roles = framework_roles(&info);
        validate_suppressed(&roles, &u.suppressed_roles).map_err(|e| {
            ApiError::UpdateFrameworkInvalid(format!("'UpdateFramework' call is not valid: {e}"))
        })?;
        info.id = Some(fid.to_proto());
        let registered_time = self
            .frameworks
            .get(fid)
            .map(|f| f.registered_time)
            .unwrap_or(0.0);
        let rec = FrameworkRecord {
            id: fid.to_string(),
            info: info.clone(),
            failover_timeout: info.failover_timeout.unwrap_or(0.0),
            registered_time,
            removed: false,
            unregistered_time: 0.0,
        };
        if let Err(e) = self.store.put_framework(&rec) {
            error!(framework_id = %fid, error = %e, "cannot persist framework update");
        }
        // Offers of roles the framework left are rescinded.
        let gone: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| &o.framework_id == fid && !roles.contains(&o.role))
            .map(|o| o.id.clone())
            .collect();
        for id in gone {
            self.rescind_offer(&id, true);
        }
        self.allocator.update_framework(
            fid,
            roles.into_iter().collect(),
            u.suppressed_roles.into_iter().collect(),
        );
        self.allocator
            .set_gpu_aware(fid, has_capability(&info, Cap::GpuResources));
        if let Some(fw) = self.frameworks.get_mut(fid) {
            fw.info = Arc::new(info);
        }
        self.allocation_pending = true;
        Ok(())
    }

    // ------------------------------------------------------------------ agents

    /// One item of the agents' inbox: a message, or the end of its link.
    fn on_inbox(&mut self, link: u64, msg: Option<AgentToMaster>) {
        match msg {
            Some(msg) => self.on_agent_message(link, msg),
            None => self.agent_link_closed(link),
        }
    }

    fn on_agent_message(&mut self, link: u64, msg: AgentToMaster) {
        match msg {
            AgentToMaster::Register(reg) => self.register_agent(link, reg),
            AgentToMaster::StatusUpdate {
                framework_id,
                status,
                latest_state,
            } => {
                let Some(agent_id) = self.links.get(&link).and_then(|l| l.agent_id.clone()) else {
                    warn!(link, "status update before registration dropped");
                    return;
                };
                self.status_update(&agent_id, &framework_id, status, latest_state);
            }
            AgentToMaster::Unregister { agent_id } => {
                info!(agent_id = %agent_id, "agent unregistered");
                self.remove_agent(&agent_id);
                if let Some(l) = self.links.get_mut(&link) {
                    l.agent_id = None;
                }
            }
        }
    }

    fn register_agent(&mut self, link: u64, reg: Registration) {
        let now = epoch_now();
        let (agent_id, reregistered) = match &reg.previous_id {
            Some(id) => {
                // Never hand this number out again (e.g. the store was replaced).
                let n = id
                    .as_str()
                    .strip_prefix(&format!("{}-S", self.ids.master_id()))
                    .and_then(|n| n.parse::<u64>().ok());
                if let Some(n) = n.filter(|n| *n >= self.next_agent) {
                    self.next_agent = n + 1;
                    if let Err(e) = self.store.set_next_agent(self.next_agent) {
                        error!(error = %e, "cannot persist agent counter");
                    }
                }
                (id.clone(), true)
            }
            None => {
                let id = self.ids.agent(self.next_agent);
                self.next_agent += 1;
                if let Err(e) = self.store.set_next_agent(self.next_agent) {
                    error!(error = %e, "cannot persist agent counter");
                }
                (id, false)
            }
        };
        // A previous incarnation's offers are void.
        let stale: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| o.agent_id == agent_id)
            .map(|o| o.id.clone())
            .collect();
        for id in stale {
            self.rescind_offer(&id, true);
        }
        self.recovering.remove(&agent_id);
        if let Err(e) = self.store.put_agent(&AgentRecord {
            id: agent_id.to_string(),
            hostname: reg.hostname.clone(),
            port: reg.port,
        }) {
            error!(agent_id = %agent_id, error = %e, "cannot persist agent");
        }
        let total = Resources::from_proto_lossy(&reg.resources);
        self.allocator.add_agent(agent_id.clone(), total.clone());
        let registered_time = self
            .agents
            .get(&agent_id)
            .map(|a| a.registered_time)
            .unwrap_or(now);
        if let Some(old_link) = self.agents.get(&agent_id).and_then(|a| a.link) {
            if old_link != link {
                self.links.remove(&old_link);
            }
        }
        let reports = reg.tasks.clone();
        let offer_ip = reg
            .hostname
            .parse::<std::net::Ipv4Addr>()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| {
                self.master_info
                    .address
                    .as_ref()
                    .and_then(|a| a.ip.clone())
                    .unwrap_or_default()
            });
        self.agents.insert(
            agent_id.clone(),
            Agent {
                id: agent_id.clone(),
                registration: reg,
                total,
                link: Some(link),
                registered_time,
                reregistered_time: reregistered.then_some(now),
                state_json: AgentJson::default(),
                offer_ip,
            },
        );
        if let Some(l) = self.links.get_mut(&link) {
            l.agent_id = Some(agent_id.clone());
        }
        info!(agent_id = %agent_id, reregistered, "agent registered");
        self.send_to_agent(
            &agent_id,
            MasterToAgent::Registered {
                agent_id: agent_id.clone(),
            },
        );
        // Rebuild tasks from the agent's report; tasks we had there that it no longer has are
        // lost.
        let reported: HashSet<(FrameworkId, TaskId)> = reports
            .iter()
            .map(|r| {
                (
                    r.framework_id.clone(),
                    TaskId::generated(r.task.task_id.value.clone()),
                )
            })
            .collect();
        let mut lost = Vec::new();
        for fw in self.frameworks.values() {
            for (tid, t) in &fw.tasks {
                if t.agent_id == agent_id && !reported.contains(&(fw.id.clone(), tid.clone())) {
                    lost.push((fw.id.clone(), tid.clone()));
                }
            }
        }
        lost.sort_unstable();
        for (fid, tid) in lost {
            self.agent_lost_task(&fid, &tid, "Task is unknown to the agent");
        }
        for r in reports {
            let fid = r.framework_id.clone();
            if self.removed.contains(&fid) {
                self.send_to_agent(
                    &agent_id,
                    MasterToAgent::ShutdownFramework { framework_id: fid },
                );
                continue;
            }
            if !self.frameworks.contains_key(&fid) {
                // Known from the store (master restart) or not at all: keep it as recovered
                // until the scheduler re-subscribes.
                let (info, registered_time) = match self.stored.get(&fid) {
                    Some(rec) => (rec.info.clone(), rec.registered_time),
                    None => (
                        FrameworkInfo {
                            id: Some(fid.to_proto()),
                            ..Default::default()
                        },
                        now,
                    ),
                };
                let timeout = info.failover_timeout.unwrap_or(0.0);
                self.frameworks.insert(
                    fid.clone(),
                    Framework {
                        id: fid.clone(),
                        info: Arc::new(info),
                        registered_time,
                        reregistered_time: None,
                        unregistered_time: 0.0,
                        conn: None,
                        active: false,
                        recovered: true,
                        failover_deadline: Some(deadline_after(timeout)),
                        tasks: IdMap::default(),
                        completed_tasks: CompletedTasks::default(),
                        offers: IdSet::default(),
                    },
                );
            }
            let tid = TaskId::generated(r.task.task_id.value.clone());
            let resources = Resources::from_proto_lossy(&r.task.resources);
            let holds = !r.state.releases_resources();
            if holds {
                if let Err(e) = self.allocator.add_used(&agent_id, &fid, &resources) {
                    warn!(agent_id = %agent_id, task_id = %tid, error = %e, "reported task does not fit the agent");
                }
            }
            let role = self
                .frameworks
                .get(&fid)
                .and_then(|f| f.roles().into_iter().next())
                .unwrap_or_else(|| "*".into());
            if let Some(fw) = self.frameworks.get_mut(&fid) {
                let entry = fw.tasks.entry(tid.clone()).or_insert_with(|| Task {
                    info: Arc::new(r.task.clone()),
                    framework_id: fid.clone(),
                    agent_id: agent_id.clone(),
                    state: r.state,
                    resources: resources.clone(),
                    role,
                    statuses: Vec::new(),
                    status_update_state: None,
                    status_update_uuid: None,
                    holds_resources: false,
                });
                entry.state = r.state;
                entry.holds_resources = holds;
                entry.resources = resources;
            }
        }
        if !self.deferred_reconciliations.is_empty() {
            self.retry_deferred_reconciliations();
        }
        self.allocation_pending = true;
    }

    /// A task the master had on an agent is gone.
    fn agent_lost_task(&mut self, fid: &FrameworkId, tid: &TaskId, message: &str) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        let pa = fw.partition_aware();
        let Some(t) = fw.tasks.get_mut(tid) else {
            return;
        };
        let state = if pa {
            TaskState::TaskGone
        } else {
            TaskState::TaskLost
        };
        let s = master_status(
            &t.info.task_id,
            state,
            task_status::Reason::AgentRemoved,
            message.to_string(),
            Some(t.agent_id.to_proto()),
        );
        if !t.state.is_terminal() {
            t.state = state;
        }
        push_status(&mut t.statuses, Arc::new(s.clone()));
        self.send_master_update(fid, s);
        // Master-generated terminal updates are not acknowledged: the task is done (and its
        // resources released).
        self.complete_task(fid, tid);
    }

    fn remove_agent(&mut self, agent_id: &AgentId) {
        if let Err(e) = self.store.remove_agent(agent_id.as_str()) {
            error!(agent_id = %agent_id, error = %e, "cannot persist agent removal");
        }
        let stale: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| &o.agent_id == agent_id)
            .map(|o| o.id.clone())
            .collect();
        for id in stale {
            self.rescind_offer(&id, true);
        }
        let mut lost = Vec::new();
        for fw in self.frameworks.values() {
            for (tid, t) in &fw.tasks {
                if &t.agent_id == agent_id {
                    lost.push((fw.id.clone(), tid.clone()));
                }
            }
        }
        lost.sort_unstable();
        for (fid, tid) in lost {
            self.agent_lost_task(&fid, &tid, "Agent removed");
        }
        self.allocator.remove_agent(agent_id);
        self.agents.remove(agent_id);
        let mut fws: Vec<FrameworkId> = self.frameworks.keys().cloned().collect();
        fws.sort_unstable();
        for fid in fws {
            let ev = Event {
                r#type: Some(event::Type::Failure as i32),
                failure: Some(event::Failure {
                    agent_id: Some(agent_id.to_proto()),
                    executor_id: None,
                    status: None,
                }),
                ..Default::default()
            };
            self.send_event(&fid, &ev);
        }
    }

    fn agent_link_closed(&mut self, link: u64) {
        let Some(l) = self.links.remove(&link) else {
            return;
        };
        let Some(agent_id) = l.agent_id else {
            return;
        };
        if self.agents.get(&agent_id).and_then(|a| a.link) != Some(link) {
            return;
        }
        info!(agent_id = %agent_id, "agent disconnected");
        // Its offers are void; tasks stay until it re-registers (with the same ID).
        let stale: Vec<OfferId> = self
            .offers
            .values()
            .filter(|o| o.agent_id == agent_id)
            .map(|o| o.id.clone())
            .collect();
        for id in stale {
            self.rescind_offer(&id, true);
        }
        self.allocator.remove_agent(&agent_id);
        for fw in self.frameworks.values_mut() {
            for t in fw.tasks.values_mut() {
                if t.agent_id == agent_id {
                    t.holds_resources = false;
                }
            }
        }
        if let Some(a) = self.agents.get_mut(&agent_id) {
            a.link = None;
        }
    }

    fn status_update(
        &mut self,
        agent_id: &AgentId,
        fid: &FrameworkId,
        mut status: Arc<TaskStatus>,
        latest_state: TaskState,
    ) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            debug!(framework_id = %fid, agent_id = %agent_id, "status update for an unknown framework dropped");
            if self.removed.contains(fid) {
                self.send_to_agent(
                    agent_id,
                    MasterToAgent::ShutdownFramework {
                        framework_id: fid.clone(),
                    },
                );
            }
            return;
        };
        if status.agent_id.is_none() {
            // Agents set it; copied only for one that does not.
            Arc::make_mut(&mut status).agent_id = Some(agent_id.to_proto());
        }
        let tid = TaskId::generated(status.task_id.value.clone());
        let new_state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown);
        let mut release = None;
        if let Some(t) = fw.tasks.get_mut(&tid) {
            let prev = t.state;
            let next = task_sm::transition(prev, latest_state)
                .or_else(|_| task_sm::transition(prev, new_state))
                .unwrap_or(prev);
            t.state = next;
            t.status_update_state = Some(new_state);
            t.status_update_uuid = status.uuid.clone();
            if task_sm::releases_resources(prev, next) && t.holds_resources {
                release = Some((t.agent_id.clone(), t.resources.clone()));
                t.holds_resources = false;
            }
            debug!(framework_id = %fid, task_id = %tid, state = new_state.as_str_name(), "status update");
        } else {
            debug!(framework_id = %fid, task_id = %tid, "status update for an unknown task forwarded");
        }
        if let Some((agent, res)) = release {
            let _ = self.allocator.release_used(&agent, fid, &res);
        }
        self.send_update(fid, &status);
        // The status goes into the task's history once sent: shared with the agent's ledger,
        // not copied.
        if let Some(t) = self
            .frameworks
            .get_mut(fid)
            .and_then(|fw| fw.tasks.get_mut(&tid))
        {
            push_status(&mut t.statuses, status);
        }
    }
}

/// `now + secs`, saturating at a year for absurd values (`failover_timeout` is a double).
fn deadline_after(secs: f64) -> Instant {
    let year = Duration::from_secs(365 * 24 * 3600);
    let d = Duration::try_from_secs_f64(secs.max(0.0))
        .unwrap_or(year)
        .min(year);
    Instant::now() + d
}

/// Appends a status to a task's history, replacing the last one if it has the same state, and
/// without `data` (as Mesos keeps them).
fn push_status(statuses: &mut Vec<Arc<TaskStatus>>, mut s: Arc<TaskStatus>) {
    if s.data.is_some() {
        Arc::make_mut(&mut s).data = None;
    }
    match statuses.last_mut() {
        Some(last) if last.state == s.state => *last = s,
        _ => statuses.push(s),
    }
}

/// The UPDATE answering reconciliation for a known task.
fn reconciliation_status(t: &Task) -> TaskStatus {
    // The history's last entry is the latest status received (without `data`).
    let latest = t.statuses.last();
    let state = t.status_update_state.unwrap_or(t.state);
    TaskStatus {
        task_id: t.info.task_id.clone(),
        state: state as i32,
        message: Some("Reconciliation: Latest task state".into()),
        source: Some(task_status::Source::Master as i32),
        reason: Some(task_status::Reason::Reconciliation as i32),
        agent_id: Some(t.agent_id.to_proto()),
        executor_id: t.info.executor.as_ref().map(|e| e.executor_id.clone()),
        timestamp: Some(epoch_now()),
        healthy: latest.and_then(|s| s.healthy),
        check_status: latest.and_then(|s| s.check_status),
        container_status: latest.and_then(|s| s.container_status.clone()),
        ..Default::default()
    }
}

/// The tasks of a LAUNCH or LAUNCH_GROUP operation.
fn operation_tasks(op: &offer::Operation) -> Vec<&TaskInfo> {
    let mut out: Vec<&TaskInfo> = Vec::new();
    if let Some(l) = &op.launch {
        out.extend(l.task_infos.iter());
    }
    if let Some(lg) = &op.launch_group {
        out.extend(lg.task_group.tasks.iter());
    }
    out
}
