//! The task state machine as the master sees it.
//!
//! One transition function, [`transition`], decides whether a reported state may follow the
//! current one; predicates say what a state means for resources and bookkeeping. The master
//! creates tasks in `TASK_STAGING`; agents and executors report the rest. Mesos accepts updates
//! in any order between non-terminal states (an agent reports the *latest* state, which can be
//! ahead of the update being delivered), so the only hard rules are: a terminal state is never
//! left, and `TASK_STAGING` is never re-entered.

use mesos_proto::v1::TaskState;

/// A refused state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The task is already in a terminal state.
    #[error("task is terminal ({from:?}); cannot move to {to:?}")]
    FromTerminal {
        /// Current state.
        from: TaskState,
        /// Requested state.
        to: TaskState,
    },
    /// `TASK_STAGING` is only ever the initial state.
    #[error("task cannot move back to TASK_STAGING from {from:?}")]
    BackToStaging {
        /// Current state.
        from: TaskState,
    },
}

/// The next state of a task in `from` that is reported to be in `to`.
///
/// Repeating the current state is allowed (retried updates, reconciliation).
pub fn transition(from: TaskState, to: TaskState) -> Result<TaskState, TransitionError> {
    if from == to {
        return Ok(to);
    }
    match from {
        TaskState::TaskFinished
        | TaskState::TaskFailed
        | TaskState::TaskKilled
        | TaskState::TaskError
        | TaskState::TaskLost
        | TaskState::TaskDropped
        | TaskState::TaskGone
        | TaskState::TaskGoneByOperator => Err(TransitionError::FromTerminal { from, to }),
        TaskState::TaskStaging
        | TaskState::TaskStarting
        | TaskState::TaskRunning
        | TaskState::TaskKilling
        | TaskState::TaskUnreachable
        | TaskState::TaskUnknown => match to {
            TaskState::TaskStaging => Err(TransitionError::BackToStaging { from }),
            TaskState::TaskStarting
            | TaskState::TaskRunning
            | TaskState::TaskKilling
            | TaskState::TaskUnreachable
            | TaskState::TaskUnknown
            | TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator => Ok(to),
        },
    }
}

/// Whether `state` is terminal (`TASK_FINISHED`, `TASK_FAILED`, `TASK_KILLED`, `TASK_ERROR`,
/// `TASK_LOST`, `TASK_DROPPED`, `TASK_GONE`, `TASK_GONE_BY_OPERATOR`).
pub fn is_terminal(state: TaskState) -> bool {
    state.is_terminal()
}

/// Whether entering `to` from `from` returns the task's resources to the allocator (the first
/// move into a terminal state or `TASK_UNREACHABLE`).
pub fn releases_resources(from: TaskState, to: TaskState) -> bool {
    !from.releases_resources() && to.releases_resources()
}

/// All task states, for exhaustive tests.
pub const ALL_STATES: [TaskState; 14] = [
    TaskState::TaskStaging,
    TaskState::TaskStarting,
    TaskState::TaskRunning,
    TaskState::TaskKilling,
    TaskState::TaskFinished,
    TaskState::TaskFailed,
    TaskState::TaskKilled,
    TaskState::TaskError,
    TaskState::TaskLost,
    TaskState::TaskDropped,
    TaskState::TaskUnreachable,
    TaskState::TaskGone,
    TaskState::TaskGoneByOperator,
    TaskState::TaskUnknown,
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_normal_lifecycle_is_allowed() {
        let mut s = TaskState::TaskStaging;
        for next in [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskKilled,
        ] {
            s = transition(s, next).expect("allowed");
        }
        assert_eq!(s, TaskState::TaskKilled);
    }

    #[test]
    fn every_pair_of_states_is_decided() {
        for from in ALL_STATES {
            for to in ALL_STATES {
                let r = transition(from, to);
                if from == to {
                    assert_eq!(r, Ok(to));
                } else if from.is_terminal() {
                    assert_eq!(r, Err(TransitionError::FromTerminal { from, to }));
                } else if to == TaskState::TaskStaging {
                    assert_eq!(r, Err(TransitionError::BackToStaging { from }));
                } else {
                    assert_eq!(r, Ok(to));
                }
            }
        }
    }

    #[test]
    fn resources_are_released_once() {
        assert!(releases_resources(
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ));
        assert!(releases_resources(
            TaskState::TaskRunning,
            TaskState::TaskUnreachable
        ));
        assert!(!releases_resources(
            TaskState::TaskUnreachable,
            TaskState::TaskLost
        ));
        assert!(!releases_resources(
            TaskState::TaskStarting,
            TaskState::TaskRunning
        ));
    }

    proptest! {
        #[test]
        fn no_terminal_state_is_ever_left(
            steps in proptest::collection::vec(0usize..ALL_STATES.len(), 1..40)
        ) {
            let mut state = TaskState::TaskStaging;
            let mut terminal: Option<TaskState> = None;
            for i in steps {
                if let Ok(next) = transition(state, ALL_STATES[i]) {
                    state = next;
                }
                if let Some(t) = terminal {
                    prop_assert_eq!(state, t);
                }
                if state.is_terminal() {
                    terminal = Some(state);
                }
            }
        }
    }
}
