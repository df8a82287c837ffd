//! [`Scheduler`], the cloneable handle for calls, and [`Subscription`], the stream of
//! [`SchedulerEvent`]s that drives the connection.
//!
//! The subscription is pull-driven: it does its I/O only while polled, so dropping it closes
//! the connection and leaves no task behind. Work the client does on its own (acknowledging an
//! update, reconciling after a re-subscription) happens when the next event is requested,
//! i.e. after the user has seen the event that caused it.
//!
//! The driver owns the [`Connection`] state machine. The handle reads what it needs (the live
//! session, the tracked tasks) from a small mutex-guarded `Shared` that only the driver
//! writes, except for the task tracker, which calls also update (launched tasks) and which is
//! never held across an `await`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use mesos_proto::v1::offer::operation::Type as OperationType;
use mesos_proto::v1::offer::Operation;
use mesos_proto::v1::scheduler::call::Type;
use mesos_proto::v1::scheduler::{call as pb_call, Call, OfferConstraints};
use mesos_proto::v1::{
    AgentId, ExecutorId, Filters, FrameworkId, FrameworkInfo, KillPolicy, OfferId, OperationId,
    Request, ResourceProviderId, TaskId, TaskInfo, TaskStatus,
};
use tokio_util::sync::CancellationToken;

use crate::backoff::jitter_sample;
use crate::call::{self, call_type, with_framework_id};
use crate::config::SchedulerConfig;
use crate::connection::{Connection, ConnectionState, Input, Output, Policy, SchedulerEvent};
use crate::error::{Error, Result};
use crate::pipeline::{Job, Pipeline, Target};
use crate::tracker::{TaskTracker, TrackedTask};
use crate::transport::{EventStream, Silence, SubscribeAnswer, Transport};

/// What a call needs from the live subscription.
#[derive(Debug, Clone)]
struct Session {
    /// The master and stream ID calls go to (shared with the acknowledgement pipeline).
    target: Arc<Target>,
    framework_id: FrameworkId,
    /// [`Connection::subscription`] when this session began.
    subscription: u64,
}

/// State read by the handle.
#[derive(Debug)]
struct Shared {
    /// `Some` while subscribed.
    session: Option<Session>,
    /// The framework id, once known (kept while disconnected).
    framework_id: Option<FrameworkId>,
    /// What the next SUBSCRIBE sends (UPDATE_FRAMEWORK replaces it).
    framework_info: FrameworkInfo,
    suppressed_roles: Vec<String>,
    tasks: TaskTracker,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    shared: Mutex<Shared>,
    shutdown: CancellationToken,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while holding the lock; should it ever, the data is still coherent
        // (every update is a single assignment), so poisoning is ignored.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle for sending calls to the master the [`Subscription`] is connected to. Cheap to
/// clone; every method may be used from any task.
#[derive(Debug, Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// The stream of [`SchedulerEvent`]s. Polling it drives the connection: subscribing,
/// reading events, reconnecting, acknowledging. It ends after [`SchedulerEvent::Closed`].
pub struct Subscription {
    stream: Pin<Box<dyn Stream<Item = SchedulerEvent> + Send>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = SchedulerEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SchedulerEvent>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl Scheduler {
    /// Validates `config` and returns the call handle and the event stream. No I/O happens
    /// until the stream is polled.
    pub fn new(config: SchedulerConfig) -> Result<(Scheduler, Subscription)> {
        let masters = config.validate()?;
        let mut framework_info = config.framework_info.clone();
        if framework_info.failover_timeout.unwrap_or(0.0) <= 0.0 {
            // Mesos' default: the framework and its tasks are torn down as soon as the
            // connection drops, so reconnecting can only ever start a new framework.
            tracing::warn!(
                "FrameworkInfo.failover_timeout is 0: the master removes the framework on any disconnection"
            );
        }
        if let Some(creds) = &config.credentials {
            // Mesos refuses a framework whose principal differs from the authenticated one.
            framework_info
                .principal
                .get_or_insert_with(|| creds.principal.clone());
        }
        let inner = Arc::new(Inner {
            transport: Transport::new(&config)?,
            shared: Mutex::new(Shared {
                session: None,
                framework_id: framework_info.id.clone(),
                framework_info: framework_info.clone(),
                suppressed_roles: config.suppressed_roles.clone(),
                tasks: TaskTracker::default(),
            }),
            shutdown: CancellationToken::new(),
        });
        let driver = Driver {
            conn: Connection::new(masters, framework_info.id.clone(), Policy::from(&config)),
            inner: inner.clone(),
            events: None,
            out: VecDeque::new(),
            actions: VecDeque::new(),
            missed_heartbeats: config.missed_heartbeats,
            subscribe_timeout: config.subscribe_timeout,
            connect_timeout: config.connect_timeout,
            acks: None,
            ack_target: None,
            shutdown: Box::pin(inner.shutdown.clone().cancelled_owned()),
        };
        // Boxed: the driver goes into each event's future and comes back out with the event.
        let stream = futures_util::stream::unfold(Box::new(driver), |mut driver| async move {
            driver.next().await.map(|event| (event, driver))
        });
        Ok((
            Scheduler { inner },
            Subscription {
                stream: Box::pin(stream),
            },
        ))
    }

    /// The framework id, once the master assigned one (kept while reconnecting).
    pub fn framework_id(&self) -> Option<FrameworkId> {
        self.inner.lock().framework_id.clone()
    }

    /// The `Mesos-Stream-Id` of the live subscription.
    pub fn stream_id(&self) -> Option<String> {
        self.inner
            .lock()
            .session
            .as_ref()
            .map(|s| s.target.stream_id.clone())
    }

    /// Whether a subscription is live (calls can be sent).
    pub fn is_subscribed(&self) -> bool {
        self.inner.lock().session.is_some()
    }

    /// The tasks the client believes are alive: learnt from UPDATE events (terminal states
    /// forget a task) and from LAUNCHes accepted through this handle.
    pub fn tracked_tasks(&self) -> Vec<TrackedTask> {
        self.inner.lock().tasks.snapshot()
    }

    /// Adds a task to the tracked set (e.g. restored from the framework's own storage after a
    /// restart), so that it is reconciled after the next SUBSCRIBED.
    pub fn track_task(&self, task_id: TaskId, agent_id: Option<AgentId>) {
        self.inner.lock().tasks.track(task_id, agent_id);
    }

    /// Stops tracking a task.
    pub fn forget_task(&self, task_id: &TaskId) {
        self.inner.lock().tasks.forget(task_id);
    }

    /// Ends the subscription: the stream yields [`SchedulerEvent::Closed`] and finishes. The
    /// framework stays registered with the master until its `failover_timeout` passes.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Sends any call but SUBSCRIBE (which the subscription sends itself), filling in the
    /// framework id. Succeeds on a 2xx answer (202; 200 for UPDATE_FRAMEWORK).
    pub async fn call(&self, call: Call) -> Result<()> {
        let ty = call_type(&call);
        match ty {
            Type::Subscribe => {
                return Err(Error::InvalidCall {
                    reason: "SUBSCRIBE is sent by the subscription stream",
                })
            }
            Type::Unknown => {
                return Err(Error::InvalidCall {
                    reason: "call without a known type",
                })
            }
            _ => {}
        }
        if self.inner.shutdown.is_cancelled() {
            return Err(Error::Shutdown);
        }
        let session = self
            .inner
            .lock()
            .session
            .clone()
            .ok_or(Error::NotSubscribed)?;
        let call = with_framework_id(call, &session.framework_id);
        tracing::debug!(call = ty.as_str_name(), framework_id = %session.framework_id.value, "sending call");
        self.inner
            .transport
            .call(&session.target.uri, &call, &session.target.stream_id)
            .await?;
        self.after_success(ty, call);
        Ok(())
    }

    fn after_success(&self, ty: Type, call: Call) {
        match ty {
            Type::Accept => {
                let mut shared = self.inner.lock();
                for op in call.accept.iter().flat_map(|a| &a.operations) {
                    for task in launched_tasks(op) {
                        shared.tasks.launched(task);
                    }
                }
            }
            Type::UpdateFramework => {
                if let Some(update) = call.update_framework {
                    let mut shared = self.inner.lock();
                    shared.framework_info = update.framework_info;
                    shared.suppressed_roles = update.suppressed_roles;
                }
            }
            // After TEARDOWN the master closes the stream and forgets the framework: a
            // re-subscription would only be refused.
            Type::Teardown => self.inner.shutdown.cancel(),
            Type::Unknown
            | Type::Subscribe
            | Type::Decline
            | Type::AcceptInverseOffers
            | Type::DeclineInverseOffers
            | Type::Revive
            | Type::Kill
            | Type::Shutdown
            | Type::Acknowledge
            | Type::AcknowledgeOperationStatus
            | Type::Reconcile
            | Type::ReconcileOperations
            | Type::Message
            | Type::Request
            | Type::Suppress => {}
        }
    }

    /// ACCEPT offers applying `operations` (LAUNCHed tasks become tracked).
    pub async fn accept(
        &self,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        filters: Option<Filters>,
    ) -> Result<()> {
        self.call(call::accept(offer_ids, operations, filters))
            .await
    }

    /// ACCEPT offers with one LAUNCH of `tasks`.
    pub async fn launch(
        &self,
        offer_ids: Vec<OfferId>,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<()> {
        self.call(call::launch(offer_ids, tasks, filters)).await
    }

    /// DECLINE offers; `filters` (e.g. [`call::refuse_for`]) says for how long.
    pub async fn decline(&self, offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Result<()> {
        self.call(call::decline(offer_ids, filters)).await
    }

    /// ACCEPT_INVERSE_OFFERS.
    pub async fn accept_inverse_offers(
        &self,
        inverse_offer_ids: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<()> {
        self.call(call::accept_inverse_offers(inverse_offer_ids, filters))
            .await
    }

    /// DECLINE_INVERSE_OFFERS.
    pub async fn decline_inverse_offers(
        &self,
        inverse_offer_ids: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<()> {
        self.call(call::decline_inverse_offers(inverse_offer_ids, filters))
            .await
    }

    /// REVIVE offers for `roles` (empty: all roles).
    pub async fn revive(&self, roles: Vec<String>) -> Result<()> {
        self.call(call::revive(roles)).await
    }

    /// SUPPRESS offers for `roles` (empty: all roles).
    pub async fn suppress(&self, roles: Vec<String>) -> Result<()> {
        self.call(call::suppress(roles)).await
    }

    /// KILL a task (agent and kill policy optional; see [`call::grace_period`]).
    pub async fn kill(
        &self,
        task_id: TaskId,
        agent_id: Option<AgentId>,
        kill_policy: Option<KillPolicy>,
    ) -> Result<()> {
        self.call(call::kill(task_id, agent_id, kill_policy)).await
    }

    /// SHUTDOWN an executor.
    pub async fn shutdown_executor(
        &self,
        executor_id: ExecutorId,
        agent_id: AgentId,
    ) -> Result<()> {
        self.call(call::shutdown(executor_id, agent_id)).await
    }

    /// ACKNOWLEDGE a status update by its parts.
    pub async fn acknowledge(
        &self,
        agent_id: AgentId,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) -> Result<()> {
        if uuid.is_empty() {
            return Err(Error::InvalidCall {
                reason: "an ACKNOWLEDGE needs the update's uuid",
            });
        }
        self.call(call::acknowledge(agent_id, task_id, uuid)).await
    }

    /// ACKNOWLEDGE `status` (manual acknowledgement, with `auto_ack` off). Refuses updates
    /// without `uuid`: those are generated by the master and must not be acknowledged.
    pub async fn acknowledge_update(&self, status: &TaskStatus) -> Result<()> {
        let Some(uuid) = status.uuid.clone().filter(|u| !u.is_empty()) else {
            return Err(Error::InvalidCall {
                reason: "updates without uuid (master-generated) must not be acknowledged",
            });
        };
        let Some(agent_id) = status.agent_id.clone() else {
            return Err(Error::InvalidCall {
                reason: "the update has no agent_id to acknowledge to",
            });
        };
        self.acknowledge(agent_id, status.task_id.clone(), uuid)
            .await
    }

    /// ACKNOWLEDGE_OPERATION_STATUS.
    pub async fn acknowledge_operation_status(
        &self,
        agent_id: Option<AgentId>,
        resource_provider_id: Option<ResourceProviderId>,
        uuid: Vec<u8>,
        operation_id: OperationId,
    ) -> Result<()> {
        self.call(call::acknowledge_operation_status(
            agent_id,
            resource_provider_id,
            uuid,
            operation_id,
        ))
        .await
    }

    /// RECONCILE `tasks` (`(task, agent)` pairs; empty: implicit reconciliation of all tasks).
    pub async fn reconcile(&self, tasks: Vec<(TaskId, Option<AgentId>)>) -> Result<()> {
        let tasks = tasks
            .into_iter()
            .map(|(t, a)| call::reconcile_task(t, a))
            .collect();
        self.call(call::reconcile(tasks)).await
    }

    /// Explicitly RECONCILE every tracked task; returns how many. Sends nothing when no task
    /// is tracked (an empty list would ask for implicit reconciliation).
    pub async fn reconcile_tracked(&self) -> Result<usize> {
        let tasks = self.inner.lock().tasks.reconcile_entries();
        if tasks.is_empty() {
            return Ok(0);
        }
        let n = tasks.len();
        self.call(call::reconcile(tasks)).await?;
        Ok(n)
    }

    /// RECONCILE_OPERATIONS (empty: all operations).
    pub async fn reconcile_operations(
        &self,
        operations: Vec<pb_call::reconcile_operations::Operation>,
    ) -> Result<()> {
        self.call(call::reconcile_operations(operations)).await
    }

    /// MESSAGE to an executor.
    pub async fn message(
        &self,
        agent_id: AgentId,
        executor_id: ExecutorId,
        data: Vec<u8>,
    ) -> Result<()> {
        self.call(call::message(agent_id, executor_id, data)).await
    }

    /// REQUEST resources.
    pub async fn request(&self, requests: Vec<Request>) -> Result<()> {
        self.call(call::request(requests)).await
    }

    /// TEARDOWN the framework: the master kills its tasks and forgets it; the subscription
    /// then ends.
    pub async fn teardown(&self) -> Result<()> {
        self.call(call::teardown()).await
    }

    /// UPDATE_FRAMEWORK; on success the new `FrameworkInfo` and suppressed roles are also
    /// used for later re-subscriptions.
    pub async fn update_framework(
        &self,
        framework_info: FrameworkInfo,
        suppressed_roles: Vec<String>,
        offer_constraints: Option<OfferConstraints>,
    ) -> Result<()> {
        self.call(call::update_framework(
            framework_info,
            suppressed_roles,
            offer_constraints,
        ))
        .await
    }
}

fn launched_tasks(op: &Operation) -> Vec<&TaskInfo> {
    let ty = op
        .r#type
        .and_then(|t| OperationType::try_from(t).ok())
        .unwrap_or(OperationType::Unknown);
    match ty {
        OperationType::Launch => op.launch.iter().flat_map(|l| l.task_infos.iter()).collect(),
        OperationType::LaunchGroup => op
            .launch_group
            .iter()
            .flat_map(|g| g.task_group.tasks.iter())
            .collect(),
        _ => Vec::new(),
    }
}

/// Owns the connection; lives inside the [`Subscription`] stream.
struct Driver {
    conn: Connection,
    inner: Arc<Inner>,
    /// The body of the live SUBSCRIBE answer.
    events: Option<EventStream>,
    /// Events to hand out before anything else happens.
    out: VecDeque<SchedulerEvent>,
    /// I/O the state machine asked for, done when the next event is requested.
    actions: VecDeque<Output>,
    missed_heartbeats: u32,
    subscribe_timeout: Duration,
    connect_timeout: Duration,
    /// The client's own acknowledgements, queued and pipelined (started on first use).
    acks: Option<Pipeline>,
    /// Where acknowledgements go: the current session's target, set with the session.
    ack_target: Option<Arc<Target>>,
    /// `inner.shutdown` fired; one future for every read (a fresh one would register with the
    /// token on each).
    shutdown: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Calls must not use a stream id whose connection is gone.
        self.inner.lock().session = None;
    }
}

impl Driver {
    async fn next(&mut self) -> Option<SchedulerEvent> {
        loop {
            if let Some(acks) = self.acks.as_mut() {
                self.out
                    .extend(acks.take_errors().into_iter().map(SchedulerEvent::Error));
            }
            if let Some(event) = self.out.pop_front() {
                return Some(event);
            }
            if let Some(action) = self.actions.pop_front() {
                self.perform(action).await;
                continue;
            }
            let input = match self.conn.state() {
                ConnectionState::Closed => return None,
                ConnectionState::Disconnected {
                    attempt: 0,
                    backoff,
                } if backoff.is_zero() => {
                    // The first attempt: a zero sleep would still wait for the timer's next
                    // tick (up to a millisecond) before subscribing. Retries always sleep.
                    if self.inner.shutdown.is_cancelled() {
                        Input::Shutdown
                    } else {
                        Input::Connect
                    }
                }
                ConnectionState::Disconnected { backoff, .. } => {
                    let backoff = *backoff;
                    // `biased`: a requested shutdown wins over a due reconnection.
                    tokio::select! {
                        biased;
                        () = self.inner.shutdown.cancelled() => Input::Shutdown,
                        () = tokio::time::sleep(backoff) => Input::Connect,
                    }
                }
                ConnectionState::Subscribing {
                    stream_id: Some(_), ..
                } => {
                    self.read(Silence::Subscribing(self.subscribe_timeout))
                        .await
                }
                ConnectionState::Subscribed {
                    heartbeat_interval, ..
                } => {
                    let silence = heartbeat_interval.saturating_mul(self.missed_heartbeats);
                    self.read(Silence::Heartbeat(silence)).await
                }
                ConnectionState::Subscribing {
                    stream_id: None, ..
                } => Input::Failed(Error::Protocol {
                    reason: "subscribing without a SUBSCRIBE in flight".into(),
                }),
            };
            self.apply(input);
        }
    }

    async fn read(&mut self, silence: Silence) -> Input {
        let Some(events) = self.events.as_mut() else {
            return Input::Failed(Error::Protocol {
                reason: "no event stream to read".into(),
            });
        };
        tokio::select! {
            biased;
            () = self.shutdown.as_mut() => Input::Shutdown,
            read = events.next_event(silence) => match read {
                Ok(event) => Input::Event(event),
                Err(error) => Input::Failed(error),
            },
        }
    }

    fn apply(&mut self, input: Input) {
        // A stream closing because of our own TEARDOWN/shutdown is not a disconnection.
        let input = match input {
            Input::Failed(_) if self.inner.shutdown.is_cancelled() => Input::Shutdown,
            other => other,
        };
        let outputs = {
            let mut shared = self.inner.lock();
            let outputs = self.conn.step(input, &mut shared.tasks, jitter_sample());
            // Copied only when changed: most inputs are events on a steady subscription.
            if shared.framework_id.as_ref() != self.conn.framework_id() {
                shared.framework_id = self.conn.framework_id().cloned();
            }
            match self.conn.state() {
                ConnectionState::Subscribed {
                    master,
                    stream_id,
                    framework_id,
                    ..
                } => {
                    // Master, stream and framework ID change only with a new SUBSCRIBED.
                    let subscription = self.conn.subscription();
                    let same = shared
                        .session
                        .as_ref()
                        .is_some_and(|s| s.subscription == subscription);
                    if !same {
                        let target = Arc::new(Target {
                            uri: master.clone(),
                            stream_id: stream_id.clone(),
                        });
                        self.ack_target = Some(Arc::clone(&target));
                        shared.session = Some(Session {
                            target,
                            framework_id: framework_id.clone(),
                            subscription,
                        });
                    }
                }
                ConnectionState::Disconnected { .. }
                | ConnectionState::Subscribing { .. }
                | ConnectionState::Closed => shared.session = None,
            }
            outputs
        };
        for output in outputs {
            match output {
                Output::Emit(event) => self.out.push_back(event),
                Output::CloseStream => self.events = None,
                action @ (Output::Subscribe { .. }
                | Output::Acknowledge { .. }
                | Output::Reconcile(_)) => self.actions.push_back(action),
            }
        }
    }

    async fn perform(&mut self, action: Output) {
        match action {
            Output::Subscribe { master } => {
                let call = {
                    let shared = self.inner.lock();
                    let mut info = shared.framework_info.clone();
                    if let Some(id) = self.conn.framework_id() {
                        info.id = Some(id.clone());
                    }
                    call::subscribe(info, shared.suppressed_roles.clone())
                };
                tracing::debug!(master = %master, "subscribing");
                let input = tokio::select! {
                    biased;
                    () = self.inner.shutdown.cancelled() => Input::Shutdown,
                    answer = self.inner.transport.subscribe(&master, &call) => match answer {
                        Ok(SubscribeAnswer::Stream { stream_id, events }) => {
                            self.events = Some(events);
                            Input::StreamOpened { stream_id }
                        }
                        Ok(SubscribeAnswer::Redirect { location }) => Input::Redirected { location },
                        Err(error) => Input::Failed(error),
                    },
                };
                self.apply(input);
            }
            Output::Acknowledge {
                agent_id,
                task_id,
                uuid,
            } => {
                tracing::debug!(task_id = %task_id.value, agent_id = %agent_id.value, "acknowledging update");
                self.queue_ack(call::acknowledge(agent_id, task_id, uuid));
            }
            Output::Reconcile(tasks) => {
                tracing::info!(tasks = tasks.len(), "reconciling tracked tasks");
                self.send(call::reconcile(tasks)).await;
            }
            // Handled in `apply`; never queued.
            Output::Emit(event) => self.out.push_back(event),
            Output::CloseStream => self.events = None,
        }
    }

    /// Queues an acknowledgement on the live subscription without waiting for the answer (the
    /// event stream goes on meanwhile; see [`crate::pipeline`]); failures become
    /// [`SchedulerEvent::Error`] later.
    fn queue_ack(&mut self, call: Call) {
        let (ConnectionState::Subscribed { framework_id, .. }, Some(target)) =
            (self.conn.state(), &self.ack_target)
        else {
            self.out
                .push_back(SchedulerEvent::Error(Error::NotSubscribed));
            return;
        };
        let call = with_framework_id(call, framework_id);
        let job = Job {
            target: Arc::clone(target),
            body: self.inner.transport.encode(&call),
        };
        let connect_timeout = self.connect_timeout;
        let inner = &self.inner;
        self.acks
            .get_or_insert_with(|| {
                Pipeline::start(
                    inner.transport.pipeline_head(connect_timeout),
                    inner.shutdown.clone(),
                )
            })
            .send(job);
    }

    /// Sends a call of the client's own on the live subscription; failures become
    /// [`SchedulerEvent::Error`].
    async fn send(&mut self, call: Call) {
        let result = match self.conn.state() {
            ConnectionState::Subscribed {
                master,
                stream_id,
                framework_id,
                ..
            } => {
                let call = with_framework_id(call, framework_id);
                self.inner.transport.call(master, &call, stream_id).await
            }
            ConnectionState::Disconnected { .. }
            | ConnectionState::Subscribing { .. }
            | ConnectionState::Closed => Err(Error::NotSubscribed),
        };
        if let Err(error) = result {
            tracing::warn!(error = %error, "call made by the client failed");
            self.out.push_back(SchedulerEvent::Error(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_send<T: Send + 'static>() {}

    #[test]
    fn handle_is_shareable_and_the_subscription_can_be_spawned() {
        assert_send_sync::<Scheduler>();
        assert_send::<Subscription>();
    }

    #[test]
    fn launched_tasks_come_from_launch_and_launch_group() {
        let task = |id: &str| TaskInfo {
            task_id: TaskId { value: id.into() },
            ..Default::default()
        };
        let launch = call::launch_operation(vec![task("a"), task("b")]);
        assert_eq!(launched_tasks(&launch).len(), 2);
        let group = Operation {
            r#type: Some(OperationType::LaunchGroup as i32),
            launch_group: Some(Box::new(mesos_proto::v1::offer::operation::LaunchGroup {
                executor: Default::default(),
                task_group: mesos_proto::v1::TaskGroupInfo {
                    tasks: vec![task("c")],
                },
            })),
            ..Default::default()
        };
        assert_eq!(launched_tasks(&group)[0].task_id.value, "c");
        let reserve = Operation {
            r#type: Some(OperationType::Reserve as i32),
            ..Default::default()
        };
        assert!(launched_tasks(&reserve).is_empty());
    }
}
