//! The connection life cycle as an explicit state machine.
//!
//! [`Connection::step`] is pure: it takes an [`Input`] (something the driver observed) and a
//! jitter sample, changes the [`ConnectionState`], and returns [`Output`]s: requests for I/O
//! (subscribe, acknowledge, reconcile, drop the stream) and [`SchedulerEvent`]s for the user.
//! The driver in [`client`](crate::client) performs the I/O and feeds the results back.
//!
//! ```text
//!            Connect                 200 + SUBSCRIBED
//! Disconnected ──────► Subscribing ─────────────────► Subscribed
//!      ▲                 │  ▲ 307: follow Location         │
//!      │ failure         │  └──────┘                       │ stream ended, silence,
//!      └─────────────────┴─────────────────────────────────┘ ERROR, bad data
//! any state ── Shutdown / fatal error ──► Closed
//! ```

use std::time::Duration;

use http::Uri;
use mesos_proto::v1::scheduler::event::Type as EventType;
use mesos_proto::v1::scheduler::{call, Event};
use mesos_proto::v1::{AgentId, FrameworkId, TaskId};

use crate::backoff::BackoffConfig;
use crate::config::{ErrorEventPolicy, SchedulerConfig};
use crate::error::{Error, FRAMEWORK_REMOVED};
use crate::tracker::TaskTracker;

/// What the subscription stream yields.
#[derive(Debug)]
pub enum SchedulerEvent {
    /// A subscription is established (the SUBSCRIBED event follows as [`SchedulerEvent::Event`]).
    Subscribed {
        /// The framework's id (assigned by the master on the first subscription).
        framework_id: FrameworkId,
        /// The `Mesos-Stream-Id` sent with every call of this subscription.
        stream_id: String,
        /// The master answering (after redirects).
        master: String,
        /// The heartbeat interval announced by the master.
        heartbeat_interval: Duration,
        /// Whether this re-subscribed a framework id already known.
        resubscribed: bool,
    },
    /// An event from the master, exactly as decoded (SUBSCRIBED and HEARTBEAT included).
    Event(Box<Event>),
    /// The connection was lost or could not be made; the next attempt follows after `backoff`.
    Disconnected {
        /// Why.
        reason: Error,
        /// Consecutive failed attempts so far (0 after losing a working subscription).
        attempt: u32,
        /// The delay before the next attempt.
        backoff: Duration,
    },
    /// A failure of something the client did on its own (an automatic ACKNOWLEDGE or RECONCILE,
    /// an UPDATE that cannot be acknowledged); the subscription carries on.
    Error(Error),
    /// The last item: the subscription ended, after a fatal error or on shutdown (`None`).
    Closed {
        /// The fatal error, `None` for a requested shutdown.
        reason: Option<Error>,
    },
}

/// The connection's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// No connection; the next attempt is made after `backoff`.
    Disconnected {
        /// Consecutive failed attempts.
        attempt: u32,
        /// The delay before the next attempt.
        backoff: Duration,
    },
    /// SUBSCRIBE sent to `master`; `stream_id` is set once the 200 answer arrived and the
    /// SUBSCRIBED event is awaited.
    Subscribing {
        /// The URL subscribed to.
        master: Uri,
        /// Consecutive failed attempts before this one.
        attempt: u32,
        /// Redirects followed in this attempt.
        redirects: u32,
        /// The stream id from the 200 answer.
        stream_id: Option<String>,
    },
    /// SUBSCRIBED received.
    Subscribed {
        /// The master's URL.
        master: Uri,
        /// The `Mesos-Stream-Id`.
        stream_id: String,
        /// The framework's id.
        framework_id: FrameworkId,
        /// From SUBSCRIBED (or the configured default).
        heartbeat_interval: Duration,
    },
    /// Finished; nothing more happens.
    Closed,
}

/// Something the driver observed.
#[derive(Debug)]
pub enum Input {
    /// Time to (re)connect: the start, or the backoff delay passed.
    Connect,
    /// SUBSCRIBE answered 200 with this `Mesos-Stream-Id`.
    StreamOpened {
        /// The header's value.
        stream_id: String,
    },
    /// SUBSCRIBE answered 307 with this `Location` (if any).
    Redirected {
        /// The header's value.
        location: Option<String>,
    },
    /// An event arrived.
    Event(Box<Event>),
    /// The attempt or the stream failed.
    Failed(Error),
    /// The user asked to stop.
    Shutdown,
}

/// What the driver must do, or hand to the user.
#[derive(Debug)]
pub enum Output {
    /// Send SUBSCRIBE to this URL (with the framework id, when known).
    Subscribe {
        /// The URL.
        master: Uri,
    },
    /// Drop the current event stream (its connection).
    CloseStream,
    /// ACKNOWLEDGE a status update.
    Acknowledge {
        /// The update's agent.
        agent_id: AgentId,
        /// The update's task.
        task_id: TaskId,
        /// The update's uuid.
        uuid: Vec<u8>,
    },
    /// RECONCILE these tasks explicitly.
    Reconcile(Vec<call::reconcile::Task>),
    /// Yield this to the user.
    Emit(SchedulerEvent),
}

/// The parts of [`SchedulerConfig`] the state machine decides with.
#[derive(Debug, Clone)]
pub struct Policy {
    /// See [`SchedulerConfig::auto_ack`].
    pub auto_ack: bool,
    /// See [`SchedulerConfig::reconcile_on_subscribe`].
    pub reconcile_on_subscribe: bool,
    /// See [`SchedulerConfig::default_heartbeat_interval`].
    pub default_heartbeat_interval: Duration,
    /// See [`SchedulerConfig::max_redirects`].
    pub max_redirects: u32,
    /// See [`SchedulerConfig::backoff`].
    pub backoff: BackoffConfig,
    /// See [`SchedulerConfig::on_error_event`].
    pub on_error_event: ErrorEventPolicy,
}

impl From<&SchedulerConfig> for Policy {
    fn from(c: &SchedulerConfig) -> Self {
        Policy {
            auto_ack: c.auto_ack,
            reconcile_on_subscribe: c.reconcile_on_subscribe,
            default_heartbeat_interval: c.default_heartbeat_interval,
            max_redirects: c.max_redirects,
            backoff: c.backoff,
            on_error_event: c.on_error_event,
        }
    }
}

/// The state machine: current state, the framework id learnt, and where to connect next.
#[derive(Debug, Clone)]
pub struct Connection {
    state: ConnectionState,
    masters: Vec<Uri>,
    next_master: usize,
    framework_id: Option<FrameworkId>,
    policy: Policy,
    /// How many subscriptions have succeeded: names the current one, so a caller can tell a
    /// new subscription from the same one without comparing its master and stream ID.
    subscriptions: u64,
}

impl Connection {
    /// A connection that will subscribe to `masters` (in turn), starting `Disconnected` with no
    /// delay. `framework_id` is the id to re-subscribe with, if any.
    pub fn new(masters: Vec<Uri>, framework_id: Option<FrameworkId>, policy: Policy) -> Self {
        Connection {
            state: ConnectionState::Disconnected {
                attempt: 0,
                backoff: Duration::ZERO,
            },
            masters,
            next_master: 0,
            framework_id,
            policy,
            subscriptions: 0,
        }
    }

    /// The number of the current (or last) subscription: it changes with each SUBSCRIBED.
    pub fn subscription(&self) -> u64 {
        self.subscriptions
    }

    /// The current state.
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// The framework id, once known.
    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework_id.as_ref()
    }

    /// Advances the machine. `tracker` is updated from UPDATE events and read for
    /// reconciliation; `jitter` is a uniform sample in `[0, 1)` for the backoff.
    pub fn step(&mut self, input: Input, tracker: &mut TaskTracker, jitter: f64) -> Vec<Output> {
        let mut out = Vec::new();
        let state = std::mem::replace(&mut self.state, ConnectionState::Closed);
        self.state = match (state, input) {
            (ConnectionState::Closed, _) => ConnectionState::Closed,
            (_, Input::Shutdown) => {
                out.push(Output::CloseStream);
                out.push(Output::Emit(SchedulerEvent::Closed { reason: None }));
                ConnectionState::Closed
            }
            (ConnectionState::Disconnected { attempt, .. }, Input::Connect) => {
                let master = self.current_master();
                out.push(Output::Subscribe {
                    master: master.clone(),
                });
                ConnectionState::Subscribing {
                    master,
                    attempt,
                    redirects: 0,
                    stream_id: None,
                }
            }
            (
                ConnectionState::Subscribing {
                    master,
                    attempt,
                    redirects,
                    stream_id: None,
                },
                Input::StreamOpened { stream_id },
            ) => ConnectionState::Subscribing {
                master,
                attempt,
                redirects,
                stream_id: Some(stream_id),
            },
            (
                ConnectionState::Subscribing {
                    master,
                    attempt,
                    redirects,
                    stream_id: None,
                },
                Input::Redirected { location },
            ) => {
                let target = location
                    .as_deref()
                    .and_then(|l| resolve_location(&master, l));
                match target {
                    None => self.fail(
                        attempt + 1,
                        Error::BadRedirect { location },
                        jitter,
                        &mut out,
                    ),
                    Some(_) if redirects >= self.policy.max_redirects => self.fail(
                        attempt + 1,
                        Error::TooManyRedirects {
                            count: redirects + 1,
                        },
                        jitter,
                        &mut out,
                    ),
                    Some(target) => {
                        tracing::info!(from = %master, to = %target, "following redirect to the leading master");
                        out.push(Output::Subscribe {
                            master: target.clone(),
                        });
                        ConnectionState::Subscribing {
                            master: target,
                            attempt,
                            redirects: redirects + 1,
                            stream_id: None,
                        }
                    }
                }
            }
            (
                ConnectionState::Subscribing {
                    master,
                    attempt,
                    stream_id: Some(stream_id),
                    ..
                },
                Input::Event(event),
            ) => match event_type(&event) {
                EventType::Subscribed => {
                    let attempt = attempt + 1;
                    self.subscribed(
                        master,
                        stream_id,
                        event,
                        tracker,
                        (attempt, jitter),
                        &mut out,
                    )
                }
                EventType::Error => self.error_event(attempt + 1, event, jitter, &mut out),
                other => self.fail(
                    attempt + 1,
                    Error::Protocol {
                        reason: format!("first event was {}, not SUBSCRIBED", other.as_str_name()),
                    },
                    jitter,
                    &mut out,
                ),
            },
            (state @ ConnectionState::Subscribed { .. }, Input::Event(event)) => {
                self.on_event(state, event, tracker, jitter, &mut out)
            }
            (ConnectionState::Subscribing { attempt, .. }, Input::Failed(error)) => {
                // The configured master did not work out: try the next one.
                self.next_master = self.next_master.wrapping_add(1);
                self.fail(attempt + 1, error, jitter, &mut out)
            }
            (ConnectionState::Subscribed { .. }, Input::Failed(error)) => {
                // A subscription that worked: retry promptly, from the first delay.
                self.fail(0, error, jitter, &mut out)
            }
            (ConnectionState::Disconnected { attempt, .. }, Input::Failed(error)) => {
                self.fail(attempt + 1, error, jitter, &mut out)
            }
            // Inputs that do not fit the state are the driver's bug, never the master's; they
            // are reported, not ignored, and the state is kept.
            (
                state @ (ConnectionState::Disconnected { .. }
                | ConnectionState::Subscribing { .. }
                | ConnectionState::Subscribed { .. }),
                input @ (Input::Connect
                | Input::StreamOpened { .. }
                | Input::Redirected { .. }
                | Input::Event(_)),
            ) => {
                out.push(Output::Emit(SchedulerEvent::Error(Error::Protocol {
                    reason: format!(
                        "input {} in state {}",
                        input_name(&input),
                        state_name(&state)
                    ),
                })));
                state
            }
        };
        out
    }

    fn current_master(&self) -> Uri {
        let n = self.masters.len().max(1);
        self.masters
            .get(self.next_master % n)
            .cloned()
            .unwrap_or_else(|| Uri::from_static("http://127.0.0.1:5050/api/v1/scheduler"))
    }

    fn fail(
        &mut self,
        attempt: u32,
        error: Error,
        jitter: f64,
        out: &mut Vec<Output>,
    ) -> ConnectionState {
        out.push(Output::CloseStream);
        if !error.is_retryable() {
            tracing::error!(error = %error, "subscription failed for good");
            out.push(Output::Emit(SchedulerEvent::Closed {
                reason: Some(error),
            }));
            return ConnectionState::Closed;
        }
        let backoff = self.policy.backoff.delay(attempt, jitter);
        tracing::warn!(error = %error, attempt, ?backoff, "disconnected from the master");
        out.push(Output::Emit(SchedulerEvent::Disconnected {
            reason: error,
            attempt,
            backoff,
        }));
        ConnectionState::Disconnected { attempt, backoff }
    }

    fn subscribed(
        &mut self,
        master: Uri,
        stream_id: String,
        event: Box<Event>,
        tracker: &mut TaskTracker,
        (attempt_if_broken, jitter): (u32, f64),
        out: &mut Vec<Output>,
    ) -> ConnectionState {
        let Some(sub) = event.subscribed.as_ref() else {
            // A SUBSCRIBED without its body is a broken master: count it as a failed attempt.
            return self.fail(
                attempt_if_broken,
                Error::Protocol {
                    reason: "SUBSCRIBED without 'subscribed'".into(),
                },
                jitter,
                out,
            );
        };
        let framework_id = sub.framework_id.clone();
        let resubscribed = self.framework_id.is_some();
        if self
            .framework_id
            .as_ref()
            .is_some_and(|old| *old != framework_id)
        {
            // A different framework: the tracked tasks belong to the old one.
            tracker.clear();
        }
        self.framework_id = Some(framework_id.clone());
        let heartbeat_interval = sub
            .heartbeat_interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(self.policy.default_heartbeat_interval);
        tracing::info!(framework_id = %framework_id.value, stream_id = %stream_id, master = %master, "subscribed");
        out.push(Output::Emit(SchedulerEvent::Subscribed {
            framework_id: framework_id.clone(),
            stream_id: stream_id.clone(),
            master: master.to_string(),
            heartbeat_interval,
            resubscribed,
        }));
        out.push(Output::Emit(SchedulerEvent::Event(event)));
        if self.policy.reconcile_on_subscribe && !tracker.is_empty() {
            out.push(Output::Reconcile(tracker.reconcile_entries()));
        }
        self.subscriptions += 1;
        ConnectionState::Subscribed {
            master,
            stream_id,
            framework_id,
            heartbeat_interval,
        }
    }

    fn on_event(
        &mut self,
        state: ConnectionState,
        event: Box<Event>,
        tracker: &mut TaskTracker,
        jitter: f64,
        out: &mut Vec<Output>,
    ) -> ConnectionState {
        match event_type(&event) {
            EventType::Error => return self.error_event(0, event, jitter, out),
            EventType::Update => {
                if let Some(update) = event.update.as_ref() {
                    let status = &update.status;
                    tracker.observe(status);
                    // Only updates with a uuid are acknowledged: those without are generated by
                    // the master (reconciliation, validation) and an ACKNOWLEDGE would be refused.
                    let follow = match (&status.uuid, &status.agent_id) {
                        (Some(uuid), Some(agent_id))
                            if self.policy.auto_ack && !uuid.is_empty() =>
                        {
                            Some(Output::Acknowledge {
                                agent_id: agent_id.clone(),
                                task_id: status.task_id.clone(),
                                uuid: uuid.clone(),
                            })
                        }
                        (Some(uuid), None) if self.policy.auto_ack && !uuid.is_empty() => {
                            Some(Output::Emit(SchedulerEvent::Error(Error::Protocol {
                                reason: format!(
                                    "UPDATE for task {} has a uuid but no agent_id; cannot acknowledge",
                                    status.task_id.value
                                ),
                            })))
                        }
                        _ => None,
                    };
                    if let Some(follow) = follow {
                        // The event is passed on first, then acted upon.
                        out.push(Output::Emit(SchedulerEvent::Event(event)));
                        out.push(follow);
                        return state;
                    }
                }
            }
            EventType::Subscribed => {
                // A second SUBSCRIBED on one stream is not something Mesos does; keep the id it
                // names, pass it on.
                if let Some(sub) = event.subscribed.as_ref() {
                    self.framework_id = Some(sub.framework_id.clone());
                }
            }
            EventType::Unknown
            | EventType::Offers
            | EventType::InverseOffers
            | EventType::Rescind
            | EventType::RescindInverseOffer
            | EventType::UpdateOperationStatus
            | EventType::Message
            | EventType::Failure
            | EventType::Heartbeat => {}
        }
        out.push(Output::Emit(SchedulerEvent::Event(event)));
        state
    }

    fn error_event(
        &mut self,
        attempt: u32,
        event: Box<Event>,
        jitter: f64,
        out: &mut Vec<Output>,
    ) -> ConnectionState {
        let message = event
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        out.push(Output::Emit(SchedulerEvent::Event(event)));
        if message.contains(FRAMEWORK_REMOVED) {
            return self.fail(attempt, Error::FrameworkRemoved { message }, jitter, out);
        }
        let error = Error::MasterError { message };
        match self.policy.on_error_event {
            ErrorEventPolicy::Reconnect => self.fail(attempt, error, jitter, out),
            ErrorEventPolicy::Stop => {
                out.push(Output::CloseStream);
                out.push(Output::Emit(SchedulerEvent::Closed {
                    reason: Some(error),
                }));
                ConnectionState::Closed
            }
        }
    }
}

/// The type of an event, `UNKNOWN` when unset or not a known value.
pub fn event_type(event: &Event) -> EventType {
    event
        .r#type
        .and_then(|t| EventType::try_from(t).ok())
        .unwrap_or(EventType::Unknown)
}

fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Connect => "Connect",
        Input::StreamOpened { .. } => "StreamOpened",
        Input::Redirected { .. } => "Redirected",
        Input::Event(_) => "Event",
        Input::Failed(_) => "Failed",
        Input::Shutdown => "Shutdown",
    }
}

fn state_name(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::Disconnected { .. } => "Disconnected",
        ConnectionState::Subscribing { .. } => "Subscribing",
        ConnectionState::Subscribed { .. } => "Subscribed",
        ConnectionState::Closed => "Closed",
    }
}

/// Resolves a 307 `Location` against the URL that was redirected.
///
/// Mesos sends a protocol-relative `//host:port/master/api/v1/scheduler`; absolute `http://`
/// URLs, absolute paths and the bare `host:port` of Mesos' docs are accepted too. A location
/// without a path keeps the original path. `https` is refused (this client speaks plain http).
pub fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    let location = location.trim();
    let absolute = if let Some(rest) = location.strip_prefix("//") {
        format!("http://{rest}")
    } else if location.starts_with("http://") {
        location.to_string()
    } else if location.contains("://") {
        return None;
    } else if location.starts_with('/') {
        format!("http://{}{location}", base.authority()?)
    } else {
        format!("http://{location}")
    };
    let uri: Uri = absolute.parse().ok()?;
    let authority = uri.authority()?.clone();
    let path = match uri.path_and_query().map(|p| p.as_str()) {
        None | Some("") | Some("/") => base.path_and_query()?.as_str().to_string(),
        Some(p) => p.to_string(),
    };
    Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::scheduler::event;
    use mesos_proto::v1::{TaskState, TaskStatus};

    fn policy() -> Policy {
        Policy {
            auto_ack: true,
            reconcile_on_subscribe: true,
            default_heartbeat_interval: Duration::from_secs(15),
            max_redirects: 2,
            backoff: BackoffConfig {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(15),
                jitter: 0.5,
            },
            on_error_event: ErrorEventPolicy::Reconnect,
        }
    }

    fn uri(s: &str) -> Uri {
        s.parse().expect("test uri")
    }

    fn conn() -> Connection {
        Connection::new(
            vec![
                uri("http://m1:5050/api/v1/scheduler"),
                uri("http://m2:5050/api/v1/scheduler"),
            ],
            None,
            policy(),
        )
    }

    fn subscribed_event(fw: &str) -> Box<Event> {
        Box::new(Event {
            r#type: Some(EventType::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: FrameworkId { value: fw.into() },
                heartbeat_interval_seconds: Some(15.0),
                master_info: None,
            }),
            ..Default::default()
        })
    }

    fn update(task: &str, state: TaskState, uuid: Option<&[u8]>) -> Box<Event> {
        Box::new(Event {
            r#type: Some(EventType::Update as i32),
            update: Some(Box::new(event::Update {
                status: TaskStatus {
                    task_id: TaskId { value: task.into() },
                    state: state as i32,
                    agent_id: Some(AgentId { value: "S0".into() }),
                    uuid: uuid.map(<[u8]>::to_vec),
                    ..Default::default()
                },
            })),
            ..Default::default()
        })
    }

    fn error_event(message: &str) -> Box<Event> {
        Box::new(Event {
            r#type: Some(EventType::Error as i32),
            error: Some(event::Error {
                message: message.into(),
            }),
            ..Default::default()
        })
    }

    /// Drives a fresh connection to Subscribed with framework `fw`.
    fn subscribe(c: &mut Connection, t: &mut TaskTracker, fw: &str) -> Vec<Output> {
        let out = c.step(Input::Connect, t, 0.0);
        assert!(matches!(out[..], [Output::Subscribe { .. }]));
        assert!(c
            .step(
                Input::StreamOpened {
                    stream_id: "s1".into()
                },
                t,
                0.0
            )
            .is_empty());
        c.step(Input::Event(subscribed_event(fw)), t, 0.0)
    }

    #[test]
    fn subscribing_then_subscribed_emits_subscribed_and_the_event() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        let out = subscribe(&mut c, &mut t, "F1");
        assert!(matches!(
            &out[..],
            [
                Output::Emit(SchedulerEvent::Subscribed {
                    resubscribed: false,
                    ..
                }),
                Output::Emit(SchedulerEvent::Event(_))
            ]
        ));
        assert!(
            matches!(c.state(), ConnectionState::Subscribed { stream_id, .. } if stream_id == "s1")
        );
        assert_eq!(c.framework_id().map(|f| f.value.as_str()), Some("F1"));
    }

    #[test]
    fn updates_with_uuid_are_acknowledged_and_without_are_not() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        subscribe(&mut c, &mut t, "F1");
        let out = c.step(
            Input::Event(update("a", TaskState::TaskRunning, Some(&[1; 16]))),
            &mut t,
            0.0,
        );
        assert!(matches!(
            &out[..],
            [Output::Emit(SchedulerEvent::Event(_)), Output::Acknowledge { uuid, .. }] if uuid == &vec![1; 16]
        ));
        let out = c.step(
            Input::Event(update("a", TaskState::TaskRunning, None)),
            &mut t,
            0.0,
        );
        assert!(matches!(&out[..], [Output::Emit(SchedulerEvent::Event(_))]));
        assert_eq!(t.snapshot().len(), 1);
    }

    #[test]
    fn auto_ack_off_never_acknowledges() {
        let mut p = policy();
        p.auto_ack = false;
        let mut c = Connection::new(vec![uri("http://m1:1/x")], None, p);
        let mut t = TaskTracker::default();
        subscribe(&mut c, &mut t, "F");
        let out = c.step(
            Input::Event(update("a", TaskState::TaskRunning, Some(&[1; 16]))),
            &mut t,
            0.0,
        );
        assert!(matches!(&out[..], [Output::Emit(SchedulerEvent::Event(_))]));
    }

    #[test]
    fn losing_the_stream_resubscribes_with_the_id_and_reconciles_tracked_tasks() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        subscribe(&mut c, &mut t, "F1");
        c.step(
            Input::Event(update("a", TaskState::TaskRunning, None)),
            &mut t,
            0.0,
        );
        let out = c.step(Input::Failed(Error::StreamEnded), &mut t, 0.0);
        assert!(matches!(
            &out[..],
            [Output::CloseStream, Output::Emit(SchedulerEvent::Disconnected { attempt: 0, backoff, .. })]
                if *backoff == Duration::from_millis(100)
        ));
        let out = subscribe(&mut c, &mut t, "F1");
        assert!(matches!(
            &out[..],
            [
                Output::Emit(SchedulerEvent::Subscribed { resubscribed: true, .. }),
                Output::Emit(SchedulerEvent::Event(_)),
                Output::Reconcile(tasks)
            ] if tasks.len() == 1 && tasks[0].task_id.value == "a"
        ));
    }

    #[test]
    fn failed_attempts_back_off_exponentially_and_rotate_masters() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        let mut backoffs = Vec::new();
        let mut masters = Vec::new();
        for _ in 0..9 {
            let out = c.step(Input::Connect, &mut t, 0.0);
            if let [Output::Subscribe { master }] = &out[..] {
                masters.push(
                    master
                        .authority()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                );
            }
            c.step(
                Input::Failed(Error::Timeout {
                    what: "connect",
                    after: Duration::from_secs(1),
                }),
                &mut t,
                0.0,
            );
            if let ConnectionState::Disconnected { backoff, .. } = c.state() {
                backoffs.push(backoff.as_millis());
            }
        }
        assert_eq!(
            backoffs,
            [200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000]
        );
        assert_eq!(&masters[..3], ["m1:5050", "m2:5050", "m1:5050"]);
    }

    #[test]
    fn redirects_are_followed_up_to_the_limit() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        c.step(Input::Connect, &mut t, 0.0);
        let out = c.step(
            Input::Redirected {
                location: Some("//leader:5050/master/api/v1/scheduler".into()),
            },
            &mut t,
            0.0,
        );
        assert!(
            matches!(&out[..], [Output::Subscribe { master }] if *master == "http://leader:5050/master/api/v1/scheduler")
        );
        c.step(
            Input::Redirected {
                location: Some("//m1:5050".into()),
            },
            &mut t,
            0.0,
        );
        let out = c.step(
            Input::Redirected {
                location: Some("//m2:5050".into()),
            },
            &mut t,
            0.0,
        );
        assert!(matches!(
            &out[..],
            [
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Disconnected {
                    reason: Error::TooManyRedirects { count: 3 },
                    ..
                })
            ]
        ));
    }

    #[test]
    fn framework_removed_is_fatal_and_other_errors_reconnect() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        subscribe(&mut c, &mut t, "F1");
        let out = c.step(
            Input::Event(error_event("Framework failed over")),
            &mut t,
            0.0,
        );
        assert!(matches!(
            &out[..],
            [
                Output::Emit(SchedulerEvent::Event(_)),
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Disconnected {
                    reason: Error::MasterError { .. },
                    ..
                })
            ]
        ));
        c.step(Input::Connect, &mut t, 0.0);
        c.step(
            Input::StreamOpened {
                stream_id: "s2".into(),
            },
            &mut t,
            0.0,
        );
        let out = c.step(Input::Event(error_event(FRAMEWORK_REMOVED)), &mut t, 0.0);
        assert!(matches!(
            &out[..],
            [
                Output::Emit(SchedulerEvent::Event(_)),
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Closed {
                    reason: Some(Error::FrameworkRemoved { .. })
                })
            ]
        ));
        assert_eq!(c.state(), &ConnectionState::Closed);
        assert!(c.step(Input::Connect, &mut t, 0.0).is_empty());
    }

    #[test]
    fn error_policy_stop_closes_on_any_error_event() {
        let mut p = policy();
        p.on_error_event = ErrorEventPolicy::Stop;
        let mut c = Connection::new(vec![uri("http://m1:1/x")], None, p);
        let mut t = TaskTracker::default();
        subscribe(&mut c, &mut t, "F");
        c.step(
            Input::Event(error_event("Framework failed over")),
            &mut t,
            0.0,
        );
        assert_eq!(c.state(), &ConnectionState::Closed);
    }

    #[test]
    fn a_first_event_other_than_subscribed_is_a_protocol_error() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        c.step(Input::Connect, &mut t, 0.0);
        c.step(
            Input::StreamOpened {
                stream_id: "s".into(),
            },
            &mut t,
            0.0,
        );
        let hb = Box::new(Event {
            r#type: Some(EventType::Heartbeat as i32),
            ..Default::default()
        });
        let out = c.step(Input::Event(hb), &mut t, 0.0);
        assert!(matches!(
            &out[..],
            [
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Disconnected {
                    reason: Error::Protocol { .. },
                    attempt: 1,
                    ..
                })
            ]
        ));
    }

    #[test]
    fn non_retryable_failures_close_the_connection() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        c.step(Input::Connect, &mut t, 0.0);
        let out = c.step(
            Input::Failed(Error::Status {
                status: http::StatusCode::BAD_REQUEST,
                body: "Failed to validate scheduler::Call".into(),
            }),
            &mut t,
            0.0,
        );
        assert!(matches!(
            &out[..],
            [
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Closed { reason: Some(_) })
            ]
        ));
        assert_eq!(c.state(), &ConnectionState::Closed);
    }

    #[test]
    fn shutdown_closes_from_any_state() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        subscribe(&mut c, &mut t, "F");
        let out = c.step(Input::Shutdown, &mut t, 0.0);
        assert!(matches!(
            &out[..],
            [
                Output::CloseStream,
                Output::Emit(SchedulerEvent::Closed { reason: None })
            ]
        ));
    }

    #[test]
    fn inputs_out_of_place_are_reported_not_ignored() {
        let (mut c, mut t) = (conn(), TaskTracker::default());
        let out = c.step(
            Input::StreamOpened {
                stream_id: "x".into(),
            },
            &mut t,
            0.0,
        );
        assert!(matches!(
            &out[..],
            [Output::Emit(SchedulerEvent::Error(Error::Protocol { .. }))]
        ));
        assert!(matches!(c.state(), ConnectionState::Disconnected { .. }));
    }

    #[test]
    fn resolve_location_handles_mesos_and_doc_forms() {
        let base = uri("http://m1:5050/api/v1/scheduler");
        let r = |l: &str| resolve_location(&base, l).map(|u| u.to_string());
        assert_eq!(
            r("//m2:5050/master/api/v1/scheduler").as_deref(),
            Some("http://m2:5050/master/api/v1/scheduler")
        );
        assert_eq!(
            r("//m2:5050").as_deref(),
            Some("http://m2:5050/api/v1/scheduler")
        );
        assert_eq!(
            r("m2:5050").as_deref(),
            Some("http://m2:5050/api/v1/scheduler")
        );
        assert_eq!(r("http://m3:1/x").as_deref(), Some("http://m3:1/x"));
        assert_eq!(
            r("/master/api/v1/scheduler").as_deref(),
            Some("http://m1:5050/master/api/v1/scheduler")
        );
        assert_eq!(r("https://m2:5050/x"), None);
        assert_eq!(r(""), None);
    }
}
