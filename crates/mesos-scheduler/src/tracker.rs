//! [`TaskTracker`]: the tasks the client believes are alive, learnt from UPDATE events and
//! launches, so that they can be reconciled explicitly after a re-subscription.

use mesos_proto::id::{by_key, IdMap};
use mesos_proto::v1::scheduler::call::reconcile;
use mesos_proto::v1::{AgentId, TaskId, TaskInfo, TaskState, TaskStatus};

/// One tracked task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedTask {
    /// The task.
    pub task_id: TaskId,
    /// Its agent, when known (reconciliation is more precise with it).
    pub agent_id: Option<AgentId>,
    /// The last state seen, `None` for a task launched but not yet reported.
    pub state: Option<TaskState>,
}

/// Non-terminal tasks by id. A terminal update removes the task.
///
/// Hashed, not ordered: every UPDATE event looks its task up here. The views that list
/// tasks sort them by id.
#[derive(Debug, Clone, Default)]
pub struct TaskTracker {
    tasks: IdMap<String, TrackedTask>,
}

impl TaskTracker {
    /// Records a status update: terminal states forget the task, others record state and agent.
    pub fn observe(&mut self, status: &TaskStatus) {
        let state = TaskState::try_from(status.state).ok();
        let key = status.task_id.value.as_str();
        if state.is_some_and(TaskState::is_terminal) {
            self.tasks.remove(key);
            return;
        }
        // Found by reference first: most updates are about a task already tracked.
        let entry = match self.tasks.get_mut(key) {
            Some(entry) => entry,
            None => self
                .tasks
                .entry(key.to_string())
                .or_insert_with(|| TrackedTask {
                    task_id: status.task_id.clone(),
                    agent_id: None,
                    state: None,
                }),
        };
        if status.agent_id.is_some() && entry.agent_id != status.agent_id {
            entry.agent_id = status.agent_id.clone();
        }
        entry.state = state;
    }

    /// Records a task handed to the master in a LAUNCH, before any update about it.
    pub fn launched(&mut self, task: &TaskInfo) {
        self.tasks
            .entry(task.task_id.value.clone())
            .or_insert_with(|| TrackedTask {
                task_id: task.task_id.clone(),
                agent_id: Some(task.agent_id.clone()),
                state: None,
            });
    }

    /// Tracks a task known from elsewhere (e.g. the framework's own storage after a restart).
    pub fn track(&mut self, task_id: TaskId, agent_id: Option<AgentId>) {
        self.tasks
            .entry(task_id.value.clone())
            .or_insert_with(|| TrackedTask {
                task_id,
                agent_id,
                state: None,
            });
    }

    /// Stops tracking a task.
    pub fn forget(&mut self, task_id: &TaskId) {
        self.tasks.remove(&task_id.value);
    }

    /// Forgets everything (the framework changed).
    pub fn clear(&mut self) {
        self.tasks.clear();
    }

    /// Whether no task is tracked.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tracked tasks, ordered by id.
    pub fn snapshot(&self) -> Vec<TrackedTask> {
        by_key(&self.tasks)
            .into_iter()
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// The entries of an explicit RECONCILE for every tracked task, ordered by id.
    pub fn reconcile_entries(&self) -> Vec<reconcile::Task> {
        by_key(&self.tasks)
            .into_iter()
            .map(|(_, t)| reconcile::Task {
                task_id: t.task_id.clone(),
                agent_id: t.agent_id.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(task: &str, state: TaskState, agent: Option<&str>) -> TaskStatus {
        TaskStatus {
            task_id: TaskId { value: task.into() },
            state: state as i32,
            agent_id: agent.map(|a| AgentId { value: a.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn updates_track_running_tasks_and_terminal_states_forget_them() {
        let mut t = TaskTracker::default();
        t.observe(&status("a", TaskState::TaskRunning, Some("S0")));
        t.observe(&status("b", TaskState::TaskStarting, Some("S1")));
        // A master-generated update without agent keeps the agent already known.
        t.observe(&status("a", TaskState::TaskKilling, None));
        let snap = t.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(
            snap[0].agent_id.as_ref().map(|a| a.value.as_str()),
            Some("S0")
        );
        assert_eq!(snap[0].state, Some(TaskState::TaskKilling));
        t.observe(&status("a", TaskState::TaskKilled, Some("S0")));
        t.observe(&status("b", TaskState::TaskLost, None));
        assert!(t.is_empty());
    }

    #[test]
    fn launched_tasks_are_reconciled_with_their_agent() {
        let mut t = TaskTracker::default();
        t.launched(&TaskInfo {
            task_id: TaskId { value: "x".into() },
            agent_id: AgentId { value: "S9".into() },
            ..Default::default()
        });
        let e = t.reconcile_entries();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].agent_id.as_ref().map(|a| a.value.as_str()), Some("S9"));
        t.forget(&TaskId { value: "x".into() });
        assert!(t.is_empty());
    }
}
