//! Predicates over [`TaskState`](crate::v1::TaskState).

use crate::v1::TaskState;

impl TaskState {
    /// Terminal states, as Mesos's `protobuf::isTerminalState`: FINISHED, FAILED, KILLED, ERROR,
    /// LOST, DROPPED, GONE, GONE_BY_OPERATOR.
    pub fn is_terminal(self) -> bool {
        match self {
            TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator => true,
            TaskState::TaskStaging
            | TaskState::TaskStarting
            | TaskState::TaskRunning
            | TaskState::TaskKilling
            | TaskState::TaskUnreachable
            | TaskState::TaskUnknown => false,
        }
    }

    /// States in which the task's resources are released by the master (terminal or
    /// unreachable).
    pub fn releases_resources(self) -> bool {
        self.is_terminal() || self == TaskState::TaskUnreachable
    }

    /// States a task's process may be in while it exists on an agent.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TaskState::TaskStaging
                | TaskState::TaskStarting
                | TaskState::TaskRunning
                | TaskState::TaskKilling
        )
    }

    /// The terminal state a non-partition-aware framework sees in place of `self`
    /// (`TASK_DROPPED`, `TASK_GONE`, ... become `TASK_LOST`).
    pub fn for_partition_unaware(self) -> TaskState {
        match self {
            TaskState::TaskDropped
            | TaskState::TaskUnreachable
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
            | TaskState::TaskUnknown => TaskState::TaskLost,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_match_mesos() {
        let terminal: Vec<_> = (0..=13)
            .filter_map(|v| TaskState::try_from(v).ok())
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str_name())
            .collect();
        assert_eq!(
            terminal,
            [
                "TASK_FINISHED",
                "TASK_FAILED",
                "TASK_KILLED",
                "TASK_LOST",
                "TASK_ERROR",
                "TASK_DROPPED",
                "TASK_GONE",
                "TASK_GONE_BY_OPERATOR"
            ]
        );
    }
}
