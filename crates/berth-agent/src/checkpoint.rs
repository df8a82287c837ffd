//! What the agent keeps on disk to survive a restart (mesos-v1.md §5.11).
//!
//! * `<work_dir>/meta/slaves/latest`: the agent ID as text (Mesos keeps a symlink there).
//! * `<work_dir>/meta/tasks/<container id>.log`: one file per task the agent still holds, a
//!   log of records, the last complete one current: the task's framework, `TaskInfo`,
//!   container ID, sandbox, latest state and unacknowledged updates. Protobuf messages are
//!   stored as base64 of their binary encoding, which round-trips exactly (the Mesos JSON form
//!   fills in defaults). A change to a task appends a record to that task's file only (as a
//!   Mesos agent appends to a task's `task.updates`), so the cost of an update grows neither
//!   with the number of tasks held nor with a new file: rewriting through a temporary file
//!   and a rename would allocate and free an inode per update, which the file system makes
//!   expensive when a burst of tasks does it hundreds of times a second. Each record is one
//!   line, written with one `write`, and begins with a newline, so a record cut short by a
//!   crash is recognised (it does not parse) and never glued to the next one. The file is
//!   removed when the agent forgets the task, and rewritten with its current record alone
//!   when the agent recovers.
//! * `<work_dir>/meta/tasks.json`: schema 1, all tasks in one file; still read, and replaced
//!   by the per-task files at the first [`save_tasks`].

use std::path::{Path, PathBuf};

use base64::Engine as _;
use mesos_proto::id::{AgentId, ContainerId, FrameworkId};
use mesos_proto::v1::{FrameworkInfo, TaskInfo, TaskState, TaskStatus};
use mesos_proto::Message;
use serde::{Deserialize, Serialize};

/// Version of the task records' layout (1: all in `tasks.json`; 2: one log per task).
pub const SCHEMA_VERSION: u32 = 2;

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

/// Schema 1: every task in `tasks.json`.
#[derive(Deserialize)]
struct TasksFileV1 {
    version: u32,
    tasks: Vec<TaskRecordFile>,
}

/// Schema 2: a record of a task's log.
#[derive(Serialize, Deserialize)]
struct TaskFile {
    version: u32,
    #[serde(flatten)]
    task: TaskRecordFile,
}

/// Any record's version, read before the rest.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
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

fn legacy_tasks_path(work_dir: &Path) -> PathBuf {
    work_dir.join("meta").join("tasks.json")
}

fn tasks_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta").join("tasks")
}

fn task_path(work_dir: &Path, container_id: &ContainerId) -> PathBuf {
    tasks_dir(work_dir).join(format!("{container_id}.log"))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs blocking file work on tokio's blocking pool: one hop for a whole operation, not one
/// per file call as `tokio::fs` makes (each hop is a thread wake-up, which a machine busy
/// starting containers makes slow).
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, CheckpointError> + Send + 'static,
) -> Result<T, CheckpointError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(err) => Err(CheckpointError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(err),
        }),
    }
}

/// Writes `data` to `path` through a temporary file and a rename, creating the directory.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    if let Err(err) = std::fs::write(&tmp, data) {
        if err.kind() != std::io::ErrorKind::NotFound {
            return Err(io_error(&tmp)(err));
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        std::fs::write(&tmp, data).map_err(io_error(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

fn remove_if_present(path: &Path) -> Result<(), CheckpointError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io_error(path)(err)),
    }
}

/// Writes the agent ID. Synchronous, like [`save_task`]: the agent writes it on registering,
/// before it takes the master's next message (the first task's launch, often).
pub fn save_agent_id(work_dir: &Path, agent_id: &AgentId) -> Result<(), CheckpointError> {
    write_atomically(&agent_id_path(work_dir), agent_id.as_str().as_bytes())
}

/// One record of a task's log: a newline, then the record as one line of JSON.
fn task_record_bytes(path: &Path, t: &TaskRecord) -> Result<Vec<u8>, CheckpointError> {
    let file = TaskFile {
        version: SCHEMA_VERSION,
        task: TaskRecordFile {
            framework_id: t.framework_id.to_string(),
            framework: encode(&t.framework),
            task: encode(&t.task),
            container_id: t.container_id.to_string(),
            sandbox: t.sandbox.clone(),
            state: t.state.as_str_name().to_owned(),
            kill_requested: t.kill_requested,
            pending: t.pending.iter().map(encode).collect(),
        },
    };
    let mut line = b"\n".to_vec();
    serde_json::to_writer(&mut line, &file).map_err(|err| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })?;
    Ok(line)
}

/// Appends `record` to the log at `path`, creating it (and its directory).
fn append(path: &Path, record: &[u8]) -> Result<(), CheckpointError> {
    use std::io::Write as _;
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    };
    let mut file = match open() {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            open().map_err(io_error(path))?
        }
        Err(err) => return Err(io_error(path)(err)),
    };
    file.write_all(record).map_err(io_error(path))
}

/// Records one task's current state (appended to its log; the previous records are
/// superseded).
pub async fn save_task(work_dir: &Path, task: &TaskRecord) -> Result<(), CheckpointError> {
    let path = task_path(work_dir, &task.container_id);
    let record = task_record_bytes(&path, task)?;
    blocking(&path.clone(), move || append(&path, &record)).await
}

/// Forgets one task's record (a missing one is fine).
pub async fn remove_task(
    work_dir: &Path,
    container_id: &ContainerId,
) -> Result<(), CheckpointError> {
    let path = task_path(work_dir, container_id);
    blocking(&path.clone(), move || remove_if_present(&path)).await
}

/// Writes the task records (all of them, replacing the previous set: each log is rewritten
/// with its current record alone; logs of other tasks, and a schema 1 `tasks.json`, are
/// removed).
pub async fn save_tasks(work_dir: &Path, tasks: &[TaskRecord]) -> Result<(), CheckpointError> {
    let dir = tasks_dir(work_dir);
    let mut files = Vec::with_capacity(tasks.len());
    for task in tasks {
        let path = task_path(work_dir, &task.container_id);
        let data = task_record_bytes(&path, task)?;
        files.push((path, data));
    }
    let legacy = legacy_tasks_path(work_dir);
    blocking(&dir.clone(), move || {
        let keep: std::collections::HashSet<PathBuf> =
            files.iter().map(|(path, _)| path.clone()).collect();
        for (path, data) in &files {
            write_atomically(path, data)?;
        }
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = entry.map_err(io_error(&dir))?.path();
                    if !keep.contains(&path) {
                        remove_if_present(&path)?;
                    }
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error(&dir)(err)),
        }
        remove_if_present(&legacy)
    })
    .await
}

fn record_from_file(
    record: TaskRecordFile,
    corrupt: &dyn Fn(String) -> CheckpointError,
) -> Result<TaskRecord, CheckpointError> {
    Ok(TaskRecord {
        framework_id: FrameworkId::new(record.framework_id).map_err(|e| corrupt(e.to_string()))?,
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
    })
}

/// The last whole record of a task's log. A line that does not parse is a record cut short
/// by a crash (only the last can be: every record starts on a line of its own), skipped.
fn last_record(
    data: &[u8],
    corrupt: &dyn Fn(String) -> CheckpointError,
) -> Result<Option<TaskFile>, CheckpointError> {
    for line in data.rsplit(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(Versioned { version }) = serde_json::from_slice::<Versioned>(line) else {
            continue;
        };
        if version != SCHEMA_VERSION {
            return Err(corrupt(format!(
                "schema version {version} (this agent reads {SCHEMA_VERSION})"
            )));
        }
        // Whole JSON (a cut record is not), so it must be a whole record.
        return serde_json::from_slice::<TaskFile>(line)
            .map(Some)
            .map_err(|e| corrupt(e.to_string()));
    }
    Ok(None)
}

/// Reads what a previous run left; an empty [`Checkpoint`] for a fresh work dir.
///
/// Synchronous: the agent reads it once as it starts, before it registers; for a fresh work
/// dir (every `berth run`) that is three failing lookups, which a hop to tokio's blocking
/// pool (a thread to start and wake) would make cost more than they do.
pub fn load(work_dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let id_path = agent_id_path(work_dir);
    let agent_id = match std::fs::read_to_string(&id_path) {
        Ok(text) => Some(
            AgentId::new(text.trim()).map_err(|err| CheckpointError::Corrupt {
                path: id_path.clone(),
                reason: err.to_string(),
            })?,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io_error(&id_path)(err)),
    };
    let mut tasks = Vec::new();
    // Schema 1, from an agent before per-task files.
    let legacy = legacy_tasks_path(work_dir);
    match std::fs::read(&legacy) {
        Ok(data) => {
            let corrupt = |reason: String| CheckpointError::Corrupt {
                path: legacy.clone(),
                reason,
            };
            let file: TasksFileV1 =
                serde_json::from_slice(&data).map_err(|e| corrupt(e.to_string()))?;
            if file.version != 1 {
                return Err(corrupt(format!(
                    "schema version {} (this agent reads 1 and {SCHEMA_VERSION})",
                    file.version
                )));
            }
            for record in file.tasks {
                tasks.push(record_from_file(record, &corrupt)?);
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io_error(&legacy)(err)),
    }
    let dir = tasks_dir(work_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Checkpoint { agent_id, tasks })
        }
        Err(err) => return Err(io_error(&dir)(err)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_error(&dir))?.path();
        // Leftover `.tmp` files are rewrites a crash interrupted: the `.log` beside is whole.
        if path.extension().is_some_and(|e| e == "log") {
            paths.push(path);
        }
    }
    paths.sort();
    for path in paths {
        let data = std::fs::read(&path).map_err(io_error(&path))?;
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.clone(),
            reason,
        };
        let Some(file) = last_record(&data, &corrupt)? else {
            // Not even the first record is whole: the agent stopped while writing it, before
            // the task's container could exist.
            continue;
        };
        let record = record_from_file(file.task, &corrupt)?;
        // A schema 1 file and a per-task one for the same container: the newer one wins.
        tasks.retain(|t: &TaskRecord| t.container_id != record.container_id);
        tasks.push(record);
    }
    Ok(Checkpoint { agent_id, tasks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path, agent: &AgentId, task_id: &str) -> TaskRecord {
        TaskRecord {
            framework_id: FrameworkId::generated("m-0001"),
            framework: FrameworkInfo {
                user: "root".into(),
                name: "fw".into(),
                ..Default::default()
            },
            task: TaskInfo {
                name: task_id.into(),
                task_id: mesos_proto::v1::TaskId::from_str_value(task_id),
                agent_id: agent.to_proto(),
                ..Default::default()
            },
            container_id: ContainerId::random(),
            sandbox: dir.join(task_id),
            state: TaskState::TaskRunning,
            kill_requested: true,
            pending: vec![TaskStatus {
                task_id: mesos_proto::v1::TaskId::from_str_value(task_id),
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![1; 16]),
                ..Default::default()
            }],
        }
    }

    fn by_task(mut tasks: Vec<TaskRecord>) -> Vec<TaskRecord> {
        tasks.sort_by(|a, b| a.task.name.cmp(&b.task.name));
        tasks
    }

    #[tokio::test]
    async fn checkpoint_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Checkpoint::default());

        let agent = AgentId::generated("m-S3");
        save_agent_id(dir.path(), &agent).unwrap();
        let record = record(dir.path(), &agent, "t");
        save_tasks(dir.path(), std::slice::from_ref(&record))
            .await
            .unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.agent_id, Some(agent));
        assert_eq!(loaded.tasks, vec![record]);
    }

    #[tokio::test]
    async fn each_task_is_saved_and_removed_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let agent = AgentId::generated("m-S3");
        let a = record(dir.path(), &agent, "a");
        let mut b = record(dir.path(), &agent, "b");
        save_task(dir.path(), &a).await.unwrap();
        save_task(dir.path(), &b).await.unwrap();
        b.state = TaskState::TaskFinished;
        b.pending.clear();
        save_task(dir.path(), &b).await.unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(by_task(loaded.tasks), vec![a.clone(), b.clone()]);

        remove_task(dir.path(), &a.container_id).await.unwrap();
        remove_task(dir.path(), &a.container_id).await.unwrap();
        assert_eq!(load(dir.path()).unwrap().tasks, vec![b.clone()]);

        // Saving the whole set drops every other record.
        let c = record(dir.path(), &agent, "c");
        save_tasks(dir.path(), std::slice::from_ref(&c))
            .await
            .unwrap();
        assert_eq!(load(dir.path()).unwrap().tasks, vec![c]);
    }

    #[tokio::test]
    async fn a_record_cut_short_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let agent = AgentId::generated("m-S3");
        let mut a = record(dir.path(), &agent, "a");
        save_task(dir.path(), &a).await.unwrap();
        let path = task_path(dir.path(), &a.container_id);
        let whole = std::fs::read(&path).unwrap();
        // The agent stopped halfway through its next record.
        let mut cut = whole.clone();
        cut.extend_from_slice(&whole[..whole.len() / 2]);
        std::fs::write(&path, &cut).unwrap();
        assert_eq!(load(dir.path()).unwrap().tasks, vec![a.clone()]);

        // The next record, appended after the cut one, is read.
        a.state = TaskState::TaskFinished;
        save_task(dir.path(), &a).await.unwrap();
        assert_eq!(load(dir.path()).unwrap().tasks, vec![a.clone()]);

        // A log whose first record is cut holds no task (its container never existed).
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        assert!(load(dir.path()).unwrap().tasks.is_empty());

        // A whole record that is not one is corruption, not a cut.
        std::fs::write(&path, b"\n{\"version\":2}\n").unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(CheckpointError::Corrupt { .. })
        ));
    }

    #[tokio::test]
    async fn a_schema_1_tasks_file_is_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let agent = AgentId::generated("m-S3");
        let old = record(dir.path(), &agent, "old");
        let t = &old;
        let v1 = serde_json::json!({
            "version": 1,
            "tasks": [{
                "framework_id": t.framework_id.to_string(),
                "framework": encode(&t.framework),
                "task": encode(&t.task),
                "container_id": t.container_id.to_string(),
                "sandbox": t.sandbox,
                "state": t.state.as_str_name(),
                "kill_requested": t.kill_requested,
                "pending": t.pending.iter().map(encode).collect::<Vec<_>>(),
            }],
        });
        let legacy = legacy_tasks_path(dir.path());
        std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
        std::fs::write(&legacy, serde_json::to_vec(&v1).unwrap()).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.tasks, vec![old.clone()]);

        save_tasks(dir.path(), &loaded.tasks).await.unwrap();
        assert!(!legacy.exists(), "the schema 1 file is replaced");
        assert_eq!(load(dir.path()).unwrap().tasks, vec![old]);
    }

    #[tokio::test]
    async fn load_refuses_a_foreign_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = task_path(dir.path(), &ContainerId::random());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"\n{\"version\":99}").unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(CheckpointError::Corrupt { .. })
        ));

        let dir = tempfile::tempdir().unwrap();
        let legacy = legacy_tasks_path(dir.path());
        std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
        std::fs::write(&legacy, br#"{"version":99,"tasks":[]}"#).unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(CheckpointError::Corrupt { .. })
        ));
    }
}
