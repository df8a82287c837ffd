//! The agent's status-update ledger: one FIFO stream of updates per task, as Mesos's
//! `TaskStatusUpdateManager` keeps them.
//!
//! Rules (mesos-v1.md §4.5):
//!
//! * every update gets a fresh random 16-byte UUID when it enters its stream;
//! * only the head of a stream is in flight: it is forwarded at once, then re-forwarded after
//!   [`RETRY_INTERVAL_MIN`] (10 s), the interval doubling up to [`RETRY_INTERVAL_MAX`] (10 min),
//!   until acknowledged;
//! * an acknowledgement whose UUID matches the head pops it, and the next update (if any) is
//!   forwarded at once; any other UUID is refused;
//! * when the framework re-subscribes, every head of that framework is forwarded again at once.
//!
//! The ledger is pure: time is an argument (`now`), and what to forward is returned as
//! [`Outgoing`] values for the caller to send. Nothing here sleeps or does I/O.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_proto::id::{FrameworkId, IdMap, TaskId};
use mesos_proto::v1::{TaskState, TaskStatus};

/// First retry interval of an unacknowledged update (Mesos `STATUS_UPDATE_RETRY_INTERVAL_MIN`).
pub const RETRY_INTERVAL_MIN: Duration = Duration::from_secs(10);

/// Largest retry interval (Mesos `STATUS_UPDATE_RETRY_INTERVAL_MAX`).
pub const RETRY_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// An update the caller must forward to the master now.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The update, with its `uuid` set. Shared with the stream (and, once sent, with the
    /// master's record of the task): an update is never copied on its way.
    pub status: Arc<TaskStatus>,
    /// The newest state queued for the task (Mesos's `latest_state`), which may be ahead of
    /// `status.state` when updates wait behind the head.
    pub latest_state: TaskState,
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No pending update for this task.
    #[error("no pending status update for task '{task_id}' of framework '{framework_id}'")]
    UnknownStream {
        /// The framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
    },
    /// The UUID is not the in-flight head's (a duplicate or an out-of-order acknowledgement).
    #[error("acknowledgement for task '{task_id}' does not match the pending status update")]
    UuidMismatch {
        /// The task.
        task_id: TaskId,
    },
}

/// Why an update cannot enter a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The stream already holds a terminal update: nothing may follow it.
    #[error("task '{task_id}' already has a terminal status update")]
    AfterTerminal {
        /// The task.
        task_id: TaskId,
    },
    /// `status.state` is not a known `TaskState`.
    #[error("status update for task '{task_id}' has an unknown state {state}")]
    UnknownState {
        /// The task.
        task_id: TaskId,
        /// The raw state number.
        state: i32,
    },
}

/// When the head of a stream is due again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retry {
    /// When to forward the head again.
    at: Instant,
    /// The interval that produced `at`; the next one is double (capped).
    interval: Duration,
}

#[derive(Debug, Clone)]
struct Stream {
    framework_id: FrameworkId,
    pending: VecDeque<Arc<TaskStatus>>,
    /// `Some` while the head is in flight (always, when `pending` is non-empty).
    retry: Option<Retry>,
    /// Whether a terminal update has entered this stream.
    terminal: bool,
}

impl Stream {
    fn latest_state(&self) -> TaskState {
        self.pending
            .back()
            .and_then(|s| TaskState::try_from(s.state).ok())
            .unwrap_or(TaskState::TaskStaging)
    }

    fn outgoing(&self) -> Option<Outgoing> {
        self.pending.front().map(|head| Outgoing {
            framework_id: self.framework_id.clone(),
            status: Arc::clone(head),
            latest_state: self.latest_state(),
        })
    }

    /// Marks the head as just sent and returns it.
    fn send_head(&mut self, now: Instant) -> Option<Outgoing> {
        let outgoing = self.outgoing()?;
        self.retry = Some(Retry {
            at: now + RETRY_INTERVAL_MIN,
            interval: RETRY_INTERVAL_MIN,
        });
        Some(outgoing)
    }
}

/// Appends `status` to the task's stream in `tasks` (made if new).
fn enqueue(
    tasks: &mut IdMap<TaskId, Stream>,
    framework_id: &FrameworkId,
    task_id: TaskId,
    state: TaskState,
    status: TaskStatus,
    now: Instant,
) -> Result<Option<Outgoing>, UpdateError> {
    let stream = match tasks.entry(task_id) {
        Entry::Occupied(e) => {
            if e.get().terminal {
                return Err(UpdateError::AfterTerminal {
                    task_id: e.key().clone(),
                });
            }
            e.into_mut()
        }
        Entry::Vacant(e) => e.insert(Stream {
            framework_id: framework_id.clone(),
            pending: VecDeque::new(),
            retry: None,
            terminal: false,
        }),
    };
    stream.terminal = state.is_terminal();
    stream.pending.push_back(Arc::new(status));
    if stream.pending.len() == 1 {
        Ok(stream.send_head(now))
    } else {
        Ok(None)
    }
}

/// The per-task status-update streams of one agent, by framework then task (found by
/// reference: no key is built, so no ID is copied, on the per-update path). An emptied
/// framework's map is removed at once. The maps are hashed ([`IdMap`]); what the ledger
/// hands out in bulk (retries, re-sends) comes in framework and task order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    streams: IdMap<FrameworkId, IdMap<TaskId, Stream>>,
    /// No later than any head's retry time (see [`Ledger::wake_at`]); exact after
    /// [`Ledger::due`].
    earliest: Option<Instant>,
}

/// Puts updates handed out together in framework and task order.
fn in_order(mut out: Vec<Outgoing>) -> Vec<Outgoing> {
    out.sort_unstable_by(|a, b| {
        (&a.framework_id, &a.status.task_id.value).cmp(&(&b.framework_id, &b.status.task_id.value))
    });
    out
}

/// A fresh random 16-byte UUID for an update.
pub fn fresh_uuid() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().to_vec()
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `status` for `task` (its `task_id`), stamping a fresh UUID; returns the UUID and,
    /// when the update became the head of its stream, the update to forward now.
    ///
    /// An update after a terminal one is refused ([`UpdateError::AfterTerminal`]), as Mesos
    /// refuses it.
    pub fn push(
        &mut self,
        framework_id: &FrameworkId,
        mut status: TaskStatus,
        now: Instant,
    ) -> Result<(Vec<u8>, Option<Outgoing>), UpdateError> {
        let uuid = fresh_uuid();
        status.uuid = Some(uuid.clone());
        let outgoing = self.restore(framework_id, status, now)?;
        Ok((uuid, outgoing))
    }

    /// Queues an update that already has its UUID (one read back from a checkpoint after a
    /// restart); otherwise like [`Ledger::push`].
    pub fn restore(
        &mut self,
        framework_id: &FrameworkId,
        status: TaskStatus,
        now: Instant,
    ) -> Result<Option<Outgoing>, UpdateError> {
        let task_id = TaskId::generated(status.task_id.value.clone());
        let state = TaskState::try_from(status.state).map_err(|_| UpdateError::UnknownState {
            task_id: task_id.clone(),
            state: status.state,
        })?;
        self.armed(now);
        if let Some(tasks) = self.streams.get_mut(framework_id) {
            return enqueue(tasks, framework_id, task_id, state, status, now);
        }
        let mut tasks = IdMap::default();
        let outgoing = enqueue(&mut tasks, framework_id, task_id, state, status, now)?;
        self.streams.insert(framework_id.clone(), tasks);
        Ok(outgoing)
    }

    /// Applies an acknowledgement: pops the head of the task's stream if `uuid` is the head's,
    /// and returns the next update to forward now, if any. The stream disappears once empty.
    pub fn acknowledge(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        uuid: &[u8],
        now: Instant,
    ) -> Result<Option<Outgoing>, AckError> {
        let unknown = || AckError::UnknownStream {
            framework_id: framework_id.clone(),
            task_id: task_id.clone(),
        };
        let tasks = self.streams.get_mut(framework_id).ok_or_else(unknown)?;
        let stream = tasks.get_mut(task_id).ok_or_else(unknown)?;
        let head_uuid = stream.pending.front().and_then(|s| s.uuid.as_deref());
        if head_uuid != Some(uuid) {
            return Err(AckError::UuidMismatch {
                task_id: task_id.clone(),
            });
        }
        stream.pending.pop_front();
        stream.retry = None;
        if stream.pending.is_empty() {
            self.remove_task(framework_id, task_id);
            return Ok(None);
        }
        let next = stream.send_head(now);
        self.armed(now);
        Ok(next)
    }

    /// Something may have been (re)sent at `now`: its retry is due no earlier than
    /// `now + RETRY_INTERVAL_MIN`.
    fn armed(&mut self, now: Instant) {
        let at = now + RETRY_INTERVAL_MIN;
        if self.earliest.is_none_or(|e| at < e) {
            self.earliest = Some(at);
        }
    }

    /// When to call [`Ledger::due`] next: never later than [`Ledger::next_deadline`], possibly
    /// earlier (a head acknowledged since is not looked for), and cheap: an agent asks after
    /// every message, where `next_deadline` would walk every stream. `None` when nothing is in
    /// flight.
    pub fn wake_at(&self) -> Option<Instant> {
        if self.streams.is_empty() {
            None
        } else {
            self.earliest
        }
    }

    /// The heads whose retry time has come, to forward again now; each one's interval doubles
    /// (capped at [`RETRY_INTERVAL_MAX`]).
    pub fn due(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut().flat_map(IdMap::values_mut) {
            let Some(retry) = stream.retry else { continue };
            if retry.at > now {
                continue;
            }
            let interval = (retry.interval * 2).min(RETRY_INTERVAL_MAX);
            stream.retry = Some(Retry {
                at: now + interval,
                interval,
            });
            out.extend(stream.outgoing());
        }
        self.earliest = self.next_deadline();
        in_order(out)
    }

    /// The earliest moment [`Ledger::due`] will return something; `None` when nothing is in
    /// flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .flat_map(IdMap::values)
            .filter_map(|s| s.retry.map(|r| r.at))
            .min()
    }

    /// The framework re-subscribed: every head of its streams is forwarded again now, with the
    /// retry interval starting over.
    pub fn reconnect(&mut self, framework_id: &FrameworkId, now: Instant) -> Vec<Outgoing> {
        self.armed(now);
        in_order(
            self.streams
                .get_mut(framework_id)
                .map(|tasks| {
                    tasks
                        .values_mut()
                        .filter_map(|s| s.send_head(now))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// Every head, forwarded again now (after the agent re-registered with the master).
    pub fn resend_all(&mut self, now: Instant) -> Vec<Outgoing> {
        self.armed(now);
        in_order(
            self.streams
                .values_mut()
                .flat_map(IdMap::values_mut)
                .filter_map(|s| s.send_head(now))
                .collect(),
        )
    }

    /// Drops every pending update of the framework (it was shut down); returns how many.
    pub fn remove_framework(&mut self, framework_id: &FrameworkId) -> usize {
        let dropped = self
            .streams
            .remove(framework_id)
            .map_or(0, |tasks| tasks.values().map(|s| s.pending.len()).sum());
        self.release_if_empty();
        dropped
    }

    /// Drops the task's stream; returns how many updates it held.
    pub fn remove_task(&mut self, framework_id: &FrameworkId, task_id: &TaskId) -> usize {
        let Some(tasks) = self.streams.get_mut(framework_id) else {
            return 0;
        };
        let dropped = tasks.remove(task_id).map_or(0, |s| s.pending.len());
        if tasks.is_empty() {
            self.streams.remove(framework_id);
            self.release_if_empty();
        }
        dropped
    }

    /// An emptied map keeps its table; an idle agent should not.
    fn release_if_empty(&mut self) {
        if self.streams.is_empty() {
            self.streams = IdMap::default();
            self.earliest = None;
        }
    }

    fn stream(&self, framework_id: &FrameworkId, task_id: &TaskId) -> Option<&Stream> {
        self.streams.get(framework_id)?.get(task_id)
    }

    /// The task's pending updates, head first (empty when it has none).
    pub fn pending(&self, framework_id: &FrameworkId, task_id: &TaskId) -> Vec<TaskStatus> {
        self.stream(framework_id, task_id)
            .map(|s| s.pending.iter().map(|s| TaskStatus::clone(s)).collect())
            .unwrap_or_default()
    }

    /// The newest state queued for the task, if it has pending updates.
    pub fn latest_state(&self, framework_id: &FrameworkId, task_id: &TaskId) -> Option<TaskState> {
        self.stream(framework_id, task_id).map(Stream::latest_state)
    }

    /// Whether the task has updates waiting for acknowledgement.
    pub fn has_pending(&self, framework_id: &FrameworkId, task_id: &TaskId) -> bool {
        self.stream(framework_id, task_id).is_some()
    }

    /// Whether no update is pending at all.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn fw(n: u8) -> FrameworkId {
        FrameworkId::generated(format!("fw-{n}"))
    }

    fn status(task: &str, state: TaskState) -> TaskStatus {
        TaskStatus {
            task_id: mesos_proto::v1::TaskId::from_str_value(task),
            state: state as i32,
            ..Default::default()
        }
    }

    fn tid(task: &str) -> TaskId {
        TaskId::generated(task)
    }

    #[test]
    fn push_forwards_the_first_update_at_once_with_a_fresh_uuid() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        let (uuid, out) = ledger
            .push(&fw(1), status("t", TaskState::TaskStarting), now)
            .unwrap();
        assert_eq!(uuid.len(), 16);
        let out = out.expect("the head is forwarded");
        assert_eq!(out.status.uuid.as_deref(), Some(uuid.as_slice()));
        assert_eq!(out.framework_id, fw(1));
        assert_eq!(out.latest_state, TaskState::TaskStarting);
        assert_eq!(ledger.next_deadline(), Some(now + RETRY_INTERVAL_MIN));
    }

    #[test]
    fn only_the_head_is_in_flight_and_ack_releases_the_next() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        let (u1, _) = ledger
            .push(&fw(1), status("t", TaskState::TaskStarting), now)
            .unwrap();
        let (u2, out) = ledger
            .push(&fw(1), status("t", TaskState::TaskRunning), now)
            .unwrap();
        assert_ne!(u1, u2);
        assert!(out.is_none(), "second update waits behind the head");
        assert_eq!(
            ledger.latest_state(&fw(1), &tid("t")),
            Some(TaskState::TaskRunning)
        );

        let later = now + Duration::from_secs(1);
        let next = ledger.acknowledge(&fw(1), &tid("t"), &u1, later).unwrap();
        let next = next.expect("the next update is forwarded");
        assert_eq!(next.status.uuid.as_deref(), Some(u2.as_slice()));
        assert_eq!(ledger.next_deadline(), Some(later + RETRY_INTERVAL_MIN));

        assert_eq!(
            ledger.acknowledge(&fw(1), &tid("t"), &u2, later).unwrap(),
            None
        );
        assert!(ledger.is_empty());
    }

    #[test]
    fn acknowledge_refuses_a_uuid_that_is_not_the_head() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        ledger
            .push(&fw(1), status("t", TaskState::TaskStarting), now)
            .unwrap();
        let (u2, _) = ledger
            .push(&fw(1), status("t", TaskState::TaskRunning), now)
            .unwrap();
        assert_eq!(
            ledger.acknowledge(&fw(1), &tid("t"), &u2, now),
            Err(AckError::UuidMismatch { task_id: tid("t") })
        );
        assert!(matches!(
            ledger.acknowledge(&fw(1), &tid("other"), &u2, now),
            Err(AckError::UnknownStream { .. })
        ));
        assert!(matches!(
            ledger.acknowledge(&fw(2), &tid("t"), &u2, now),
            Err(AckError::UnknownStream { .. })
        ));
        assert_eq!(ledger.pending(&fw(1), &tid("t")).len(), 2);
    }

    #[test]
    fn retries_start_at_ten_seconds_and_double_up_to_ten_minutes() {
        let start = Instant::now();
        let mut ledger = Ledger::new();
        ledger
            .push(&fw(1), status("t", TaskState::TaskRunning), start)
            .unwrap();
        assert!(ledger.due(start + Duration::from_secs(9)).is_empty());
        let mut now = start;
        let mut gaps = Vec::new();
        for _ in 0..9 {
            let deadline = ledger.next_deadline().unwrap();
            gaps.push((deadline - now).as_secs());
            now = deadline;
            assert_eq!(ledger.due(now).len(), 1);
        }
        assert_eq!(gaps, [10, 20, 40, 80, 160, 320, 600, 600, 600]);
    }

    #[test]
    fn reconnect_resends_every_head_of_that_framework_now() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        ledger
            .push(&fw(1), status("a", TaskState::TaskRunning), now)
            .unwrap();
        ledger
            .push(&fw(1), status("b", TaskState::TaskRunning), now)
            .unwrap();
        ledger
            .push(&fw(1), status("b", TaskState::TaskFinished), now)
            .unwrap();
        ledger
            .push(&fw(2), status("c", TaskState::TaskRunning), now)
            .unwrap();
        let later = now + Duration::from_secs(3);
        let out = ledger.reconnect(&fw(1), later);
        let tasks: Vec<_> = out.iter().map(|o| o.status.task_id.value.clone()).collect();
        assert_eq!(tasks, ["a", "b"]);
        assert_eq!(out[1].status.state, TaskState::TaskRunning as i32);
        assert_eq!(out[1].latest_state, TaskState::TaskFinished);
        // The retry clock started over for fw-1 but not for fw-2.
        assert_eq!(ledger.due(now + RETRY_INTERVAL_MIN).len(), 1);
    }

    #[test]
    fn nothing_may_follow_a_terminal_update() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        ledger
            .push(&fw(1), status("t", TaskState::TaskFailed), now)
            .unwrap();
        assert_eq!(
            ledger.push(&fw(1), status("t", TaskState::TaskRunning), now),
            Err(UpdateError::AfterTerminal { task_id: tid("t") })
        );
    }

    #[test]
    fn remove_framework_drops_its_pending_updates_only() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        ledger
            .push(&fw(1), status("a", TaskState::TaskRunning), now)
            .unwrap();
        ledger
            .push(&fw(1), status("a", TaskState::TaskKilled), now)
            .unwrap();
        ledger
            .push(&fw(2), status("b", TaskState::TaskRunning), now)
            .unwrap();
        assert_eq!(ledger.remove_framework(&fw(1)), 2);
        assert!(!ledger.has_pending(&fw(1), &tid("a")));
        assert!(ledger.has_pending(&fw(2), &tid("b")));
    }

    #[test]
    fn restore_keeps_the_checkpointed_uuid() {
        let now = Instant::now();
        let mut ledger = Ledger::new();
        let mut s = status("t", TaskState::TaskRunning);
        s.uuid = Some(vec![7; 16]);
        let out = ledger.restore(&fw(1), s, now).unwrap().unwrap();
        assert_eq!(out.status.uuid, Some(vec![7; 16]));
        assert_eq!(
            ledger.acknowledge(&fw(1), &tid("t"), &[7; 16], now),
            Ok(None)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8, TaskState),
        AckHead(u8),
        AckWrong(u8),
        Advance(u64),
        Reconnect,
    }

    fn op() -> impl Strategy<Value = Op> {
        let state = prop::sample::select(vec![
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskFinished,
            TaskState::TaskFailed,
            TaskState::TaskKilled,
        ]);
        prop_oneof![
            (0u8..3, state).prop_map(|(t, s)| Op::Push(t, s)),
            (0u8..3).prop_map(Op::AckHead),
            (0u8..3).prop_map(Op::AckWrong),
            (0u64..2000).prop_map(Op::Advance),
            Just(Op::Reconnect),
        ]
    }

    proptest! {
        /// A model check: the ledger forwards each task's updates in push order, exactly one
        /// new head per acknowledgement, and never forwards a non-head update.
        #[test]
        fn streams_deliver_in_order_one_at_a_time(ops in prop::collection::vec(op(), 1..80)) {
            let start = Instant::now();
            let mut now = start;
            let mut ledger = Ledger::new();
            // Model: per task, the queue of uuids in push order.
            let mut model: BTreeMap<u8, VecDeque<Vec<u8>>> = BTreeMap::new();
            let mut terminal: BTreeMap<u8, bool> = BTreeMap::new();
            let name = |t: u8| format!("task-{t}");
            for op in ops {
                match op {
                    Op::Push(t, state) => {
                        let result = ledger.push(&fw(1), status(&name(t), state), now);
                        if terminal.get(&t).copied().unwrap_or(false) {
                            prop_assert!(result.is_err());
                            continue;
                        }
                        let (uuid, out) = result.unwrap();
                        let queue = model.entry(t).or_default();
                        queue.push_back(uuid.clone());
                        terminal.insert(t, state.is_terminal());
                        // Forwarded at once exactly when it is the head.
                        prop_assert_eq!(out.is_some(), queue.len() == 1);
                        if let Some(out) = out {
                            prop_assert_eq!(&out.status.uuid, &Some(uuid));
                        }
                    }
                    Op::AckHead(t) => {
                        let head = model.get(&t).and_then(|q| q.front().cloned());
                        match head {
                            None => prop_assert!(ledger
                                .acknowledge(&fw(1), &tid(&name(t)), &[0; 16], now)
                                .is_err()),
                            Some(uuid) => {
                                let next = ledger
                                    .acknowledge(&fw(1), &tid(&name(t)), &uuid, now)
                                    .unwrap();
                                let queue = model.get_mut(&t).unwrap();
                                queue.pop_front();
                                prop_assert_eq!(
                                    next.map(|o| o.status.uuid.clone().unwrap()),
                                    queue.front().cloned()
                                );
                                if queue.is_empty() {
                                    model.remove(&t);
                                    // A finished stream forgets the task entirely.
                                    terminal.remove(&t);
                                }
                            }
                        }
                    }
                    Op::AckWrong(t) => {
                        let before = ledger.pending(&fw(1), &tid(&name(t))).len();
                        prop_assert!(ledger
                            .acknowledge(&fw(1), &tid(&name(t)), &[0xff; 16], now)
                            .is_err());
                        prop_assert_eq!(ledger.pending(&fw(1), &tid(&name(t))).len(), before);
                    }
                    Op::Advance(secs) => {
                        now += Duration::from_secs(secs);
                        for out in ledger.due(now) {
                            let t: u8 = out.status.task_id.value["task-".len()..].parse().unwrap();
                            prop_assert_eq!(
                                out.status.uuid.clone(),
                                model[&t].front().cloned(),
                                "only heads are re-sent"
                            );
                        }
                    }
                    Op::Reconnect => {
                        let out = ledger.reconnect(&fw(1), now);
                        prop_assert_eq!(out.len(), model.len());
                    }
                }
                // Invariants: the ledger holds exactly the model's queues, and a deadline
                // exists iff something is in flight, never further out than the cap.
                for (t, queue) in &model {
                    let pending = ledger.pending(&fw(1), &tid(&name(*t)));
                    let uuids: Vec<_> = pending.iter().map(|s| s.uuid.clone().unwrap()).collect();
                    prop_assert_eq!(&uuids, &queue.iter().cloned().collect::<Vec<_>>());
                }
                prop_assert_eq!(ledger.is_empty(), model.is_empty());
                match ledger.next_deadline() {
                    None => prop_assert!(model.is_empty()),
                    Some(at) => {
                        prop_assert!(!model.is_empty());
                        prop_assert!(at <= now + RETRY_INTERVAL_MAX);
                        // The agent's cheap wake-up time never oversleeps a retry.
                        prop_assert!(ledger.wake_at().is_some_and(|w| w <= at));
                    }
                }
                prop_assert_eq!(ledger.wake_at().is_none(), ledger.is_empty());
            }
        }
    }
}
