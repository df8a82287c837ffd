//! Messages between the master and its agents.
//!
//! Master and agent never depend on each other: the binary joins them with a pair of bounded
//! channels carrying these types ([`AgentToMaster`] one way, [`MasterToAgent`] the other). The
//! flow mirrors Mesos's internal protocol, reduced to what an in-process agent needs:
//!
//! 1. the agent sends [`AgentToMaster::Register`] (with its previous ID and the tasks it still
//!    has, after a restart); the master answers [`MasterToAgent::Registered`];
//! 2. on ACCEPT the master sends [`MasterToAgent::RunTask`];
//! 3. the agent reports every state change as [`AgentToMaster::StatusUpdate`], each with a
//!    fresh 16-byte UUID; it keeps one stream per task and re-sends the head (backoff 10 s
//!    doubling to 10 min) until the master forwards the framework's ACKNOWLEDGE as
//!    [`MasterToAgent::Acknowledge`]; then it sends the next one;
//! 4. KILL becomes [`MasterToAgent::KillTask`]; TEARDOWN or failover timeout
//!    [`MasterToAgent::ShutdownFramework`]; a framework re-subscribing
//!    [`MasterToAgent::FrameworkReconnected`], on which the agent re-sends pending updates at
//!    once.

use std::sync::Arc;

use mesos_proto::id::{AgentId, FrameworkId, TaskId};
use mesos_proto::v1::{FrameworkInfo, KillPolicy, Resource, TaskInfo, TaskState, TaskStatus};

/// What an agent tells the master.
#[allow(clippy::large_enum_variant)] // Registration is sent once per link; boxing buys nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentToMaster {
    /// First message on a link: who the agent is and what it still runs.
    Register(Registration),
    /// A task status update from the agent (or its executor). `status.uuid` is set: the master
    /// forwards it to the framework and later returns the framework's acknowledgement.
    StatusUpdate {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The update, complete: `task_id`, `state`, `source`, `agent_id`, `executor_id`,
        /// `timestamp`, `uuid`, `container_status`, and `message`/`reason` where relevant.
        /// Shared, not copied: the agent's ledger keeps the same update until it is
        /// acknowledged, and the master keeps it in the task's history (it also keeps channel
        /// slots small).
        status: Arc<TaskStatus>,
        /// The newest state the agent knows for the task, which may be ahead of `status` when
        /// updates are queued behind an unacknowledged one (Mesos's `latest_state`).
        latest_state: TaskState,
    },
    /// The agent is shutting down cleanly: its tasks are gone with it.
    Unregister {
        /// The agent's ID.
        agent_id: AgentId,
    },
}

/// An agent's registration (Mesos's `RegisterSlaveMessage` / `ReregisterSlaveMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The ID the agent had before a restart, read from its work dir; `None` for a new agent.
    pub previous_id: Option<AgentId>,
    /// Hostname offered to frameworks.
    pub hostname: String,
    /// The agent's HTTP port as shown in offers' `url` (Mesos agents default to 5051).
    pub port: u16,
    /// Total resources (cpus, mem, disk, ports, ...), unreserved (`role` unset or `*`).
    pub resources: Vec<Resource>,
    /// Agent attributes, if any.
    pub attributes: Vec<mesos_proto::v1::Attribute>,
    /// Tasks the agent still holds after a restart (running, or terminal with an
    /// unacknowledged update), so the master can rebuild its view.
    pub tasks: Vec<TaskReport>,
    /// A simulated agent (no containers; `/state` marks it).
    pub simulated: bool,
}

/// One task an agent reports when it re-registers.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The task as launched.
    pub task: TaskInfo,
    /// Its latest state on the agent.
    pub state: TaskState,
}

/// What the master tells an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterToAgent {
    /// Registration accepted, under this ID (the previous one when the agent had one).
    Registered {
        /// The agent's ID.
        agent_id: AgentId,
    },
    /// Launch a task the master has validated and accounted for.
    RunTask {
        /// The framework's ID.
        framework_id: FrameworkId,
        /// The framework's info (the agent needs `capabilities`, e.g. TASK_KILLING_STATE, and
        /// `role` for `MESOS_ALLOCATION_ROLE`). Behind an `Arc`, like `task`: channel slots are
        /// sized by the largest variant, every agent link holds blocks of them, and master and
        /// agent share one copy instead of cloning it for every task.
        framework: Arc<FrameworkInfo>,
        /// The task, with `agent_id` equal to this agent's (shared with the master's record).
        task: Arc<TaskInfo>,
    },
    /// Kill a task (re-sent on every KILL call; a new one replaces a pending stop).
    KillTask {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// Overrides the task's own kill policy when set (from `Call.Kill.kill_policy`).
        kill_policy: Option<KillPolicy>,
    },
    /// The framework acknowledged the update with this UUID.
    Acknowledge {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The acknowledged update's UUID (16 bytes).
        uuid: Vec<u8>,
    },
    /// The framework re-subscribed: re-send pending status updates now.
    FrameworkReconnected {
        /// The framework.
        framework_id: FrameworkId,
    },
    /// The framework is gone (TEARDOWN, failover timeout): kill all its tasks and drop its
    /// pending updates.
    ShutdownFramework {
        /// The framework.
        framework_id: FrameworkId,
    },
}
