//! What the agent keeps on disk to survive a restart (mesos-v1.md §5.11).
//!
//! * `<work_dir>/meta/slaves/latest`: the agent ID as text (Mesos keeps a symlink there).
//! * `<work_dir>/meta/tasks.json`: one record per task the agent still holds: its framework,
//!   `TaskInfo`, container ID, sandbox, latest state and unacknowledged updates. Protobuf
//!   messages are stored as base64 of their binary encoding, which round-trips exactly (the
//!   Mesos JSON form fills in defaults). Written whole to a temporary file and renamed,
//!   so a crash leaves the old or the new file, never half of one.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use mesos_proto::id::{AgentId, ContainerId, FrameworkId};
use mesos_proto::v1::{FrameworkInfo, TaskInfo, TaskState, TaskStatus};
use mesos_proto::Message;
use serde::{Deserialize, Serialize};

/// Version of the `tasks.json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system trouble.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold what we wrote.
    #[error("checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One task as checkpointed.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The framework's info (capabilities decide TASK_KILLING).
    pub framework: FrameworkInfo,
    /// The task.
    pub task: TaskInfo,
    /// Its container.
    pub container_id: ContainerId,
    /// Its run directory.
    pub sandbox: PathBuf,
    /// The latest state the agent produced.
    pub state: TaskState,
    /// Whether a kill was requested.
    pub kill_requested: bool,
    /// Updates not yet acknowledged, head first.
    pub pending: Vec<TaskStatus>,
}

/// Everything the agent checkpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// The agent's ID, once registered.
    pub agent_id: Option<AgentId>,
    /// Its tasks.
    pub tasks: Vec<TaskRecord>,
}

#[derive(Serialize, Deserialize)]
struct TasksFile {
    version: u32,
    tasks: Vec<TaskRecordFile>,
}

#[derive(Serialize, Deserialize)]
struct TaskRecordFile {
    framework_id: String,
    framework: String,
    task: String,
    container_id: String,
    sandbox: PathBuf,
    state: String,
    kill_requested: bool,
    pending: Vec<String>,
}

fn encode<M: Message>(message: &M) -> String {
    base64::engine::general_purpose::STANDARD.encode(message.encode_to_vec())
}

fn decode<M: Message + Default>(text: &str) -> Result<M, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())?;
    M::decode(bytes.as_slice()).map_err(|e| e.to_string())
}

fn agent_id_path(work_dir: &Path) -> PathBuf {
    work_dir.join("meta").join("slaves").join("latest")
}

fn tasks_path(work_dir: &Path) -> PathBuf {
    work_dir.join("meta").join("tasks.json")
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

async fn write_atomically(path: &Path, data: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(io_error(dir))?;
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, data).await.map_err(io_error(&tmp))?;
    tokio::fs::rename(&tmp, path).await.map_err(io_error(path))
}

/// Writes the agent ID.
pub async fn save_agent_id(work_dir: &Path, agent_id: &AgentId) -> Result<(), CheckpointError> {
    write_atomically(&agent_id_path(work_dir), agent_id.as_str().as_bytes()).await
}

/// Writes the task records (all of them, replacing the previous set).
pub async fn save_tasks(work_dir: &Path, tasks: &[TaskRecord]) -> Result<(), CheckpointError> {
    let path = tasks_path(work_dir);
    let file = TasksFile {
        version: SCHEMA_VERSION,
        tasks: tasks
            .iter()
            .map(|t| TaskRecordFile {
                framework_id: t.framework_id.to_string(),
                framework: encode(&t.framework),
                task: encode(&t.task),
                container_id: t.container_id.to_string(),
                sandbox: t.sandbox.clone(),
                state: t.state.as_str_name().to_owned(),
                kill_requested: t.kill_requested,
                pending: t.pending.iter().map(encode).collect(),
            })
            .collect(),
    };
    let data = serde_json::to_vec_pretty(&file).map_err(|err| CheckpointError::Corrupt {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    write_atomically(&path, &data).await
}

/// Reads what a previous run left; an empty [`Checkpoint`] for a fresh work dir.
pub async fn load(work_dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let id_path = agent_id_path(work_dir);
    let agent_id = match tokio::fs::read_to_string(&id_path).await {
        Ok(text) => Some(
            AgentId::new(text.trim()).map_err(|err| CheckpointError::Corrupt {
                path: id_path.clone(),
                reason: err.to_string(),
            })?,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io_error(&id_path)(err)),
    };
    let path = tasks_path(work_dir);
    let data = match tokio::fs::read(&path).await {
        Ok(data) => data,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Checkpoint {
                agent_id,
                tasks: Vec::new(),
            })
        }
        Err(err) => return Err(io_error(&path)(err)),
    };
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.clone(),
        reason,
    };
    let file: TasksFile = serde_json::from_slice(&data).map_err(|e| corrupt(e.to_string()))?;
    if file.version != SCHEMA_VERSION {
        return Err(corrupt(format!(
            "schema version {} (this agent reads {SCHEMA_VERSION})",
            file.version
        )));
    }
    let mut tasks = Vec::new();
    for record in file.tasks {
        tasks.push(TaskRecord {
            framework_id: FrameworkId::new(record.framework_id)
                .map_err(|e| corrupt(e.to_string()))?,
            framework: decode(&record.framework).map_err(corrupt)?,
            task: decode(&record.task).map_err(corrupt)?,
            container_id: ContainerId::parse(&record.container_id)
                .ok_or_else(|| corrupt(format!("bad container id '{}'", record.container_id)))?,
            sandbox: record.sandbox,
            state: TaskState::from_str_name(&record.state)
                .ok_or_else(|| corrupt(format!("bad state '{}'", record.state)))?,
            kill_requested: record.kill_requested,
            pending: record
                .pending
                .iter()
                .map(|p| decode::<TaskStatus>(p))
                .collect::<Result<_, _>>()
                .map_err(corrupt)?,
        });
    }
    Ok(Checkpoint { agent_id, tasks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoint_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).await.unwrap(), Checkpoint::default());

        let agent = AgentId::generated("m-S3");
        save_agent_id(dir.path(), &agent).await.unwrap();
        let record = TaskRecord {
            framework_id: FrameworkId::generated("m-0001"),
            framework: FrameworkInfo {
                user: "root".into(),
                name: "fw".into(),
                ..Default::default()
            },
            task: TaskInfo {
                name: "t".into(),
                task_id: mesos_proto::v1::TaskId::from_str_value("t"),
                agent_id: agent.to_proto(),
                ..Default::default()
            },
            container_id: ContainerId::random(),
            sandbox: dir.path().join("s"),
            state: TaskState::TaskRunning,
            kill_requested: true,
            pending: vec![TaskStatus {
                task_id: mesos_proto::v1::TaskId::from_str_value("t"),
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![1; 16]),
                ..Default::default()
            }],
        };
        save_tasks(dir.path(), std::slice::from_ref(&record))
            .await
            .unwrap();
        let loaded = load(dir.path()).await.unwrap();
        assert_eq!(loaded.agent_id, Some(agent));
        assert_eq!(loaded.tasks, vec![record]);
    }

    #[tokio::test]
    async fn load_refuses_a_foreign_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = tasks_path(dir.path());
        tokio::fs::create_dir_all(path.parent().unwrap())
            .await
            .unwrap();
        tokio::fs::write(&path, br#"{"version":99,"tasks":[]}"#)
            .await
            .unwrap();
        assert!(matches!(
            load(dir.path()).await,
            Err(CheckpointError::Corrupt { .. })
        ));
    }
}
