//! Sandbox directories (mesos-v1.md §5.3):
//! `<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`,
//! with `runs/latest` pointing at the newest run and empty `stdout`/`stderr` files the
//! container's output is appended to.

use std::io;
use std::path::{Path, PathBuf};

use mesos_proto::id::{AgentId, ContainerId, FrameworkId};

/// The run directory of a task's container (`ExecutorID` = task ID for command tasks).
pub fn run_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &str,
    container_id: &ContainerId,
) -> PathBuf {
    let parts = [
        "slaves",
        agent_id.as_str(),
        "frameworks",
        framework_id.as_str(),
        "executors",
        executor_id,
        "runs",
        container_id.as_str(),
    ];
    // Sized once: joined one by one, the path was reallocated at nearly every step (on every
    // task's launch).
    let len = work_dir.as_os_str().len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut dir = PathBuf::with_capacity(len);
    dir.push(work_dir);
    for part in parts {
        dir.push(part);
    }
    dir
}

/// The host path bind-mounted as the container's sandbox (what [`create`] returns): the run
/// directory, or the link to it when its path holds a `:`.
pub fn mount_path(
    work_dir: &Path,
    agent_id: &AgentId,
    run_dir: &Path,
    container_id: &ContainerId,
) -> PathBuf {
    if run_dir.to_string_lossy().contains(':') {
        links_dir(work_dir, agent_id).join(container_id.as_str())
    } else {
        run_dir.to_path_buf()
    }
}

fn links_dir(work_dir: &Path, agent_id: &AgentId) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent_id.as_str())
        .join("docker")
        .join("links")
}

/// Creates the run directory, its `stdout`/`stderr` files and the `runs/latest` symlink.
/// Returns the path to bind-mount into the container: the run directory itself, or, when its
/// path holds a `:` (which a bind spec cannot express), a symlink
/// `<work_dir>/slaves/<agent>/docker/links/<container>` to it, as Mesos does.
///
/// The file calls run together on tokio's blocking pool: one hop, not one per call as with
/// `tokio::fs`, on every launch's path.
pub async fn create(
    work_dir: &Path,
    agent_id: &AgentId,
    run_dir: &Path,
    container_id: &ContainerId,
) -> io::Result<PathBuf> {
    let (work_dir, agent_id, run_dir, container_id) = (
        work_dir.to_path_buf(),
        agent_id.clone(),
        run_dir.to_path_buf(),
        container_id.clone(),
    );
    tokio::task::spawn_blocking(move || {
        create_blocking(&work_dir, &agent_id, &run_dir, &container_id)
    })
    .await
    .map_err(io::Error::other)?
}

fn create_blocking(
    work_dir: &Path,
    agent_id: &AgentId,
    run_dir: &Path,
    container_id: &ContainerId,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(run_dir)?;
    for name in ["stdout", "stderr"] {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run_dir.join(name))?;
    }
    if let Some(runs) = run_dir.parent() {
        replace_symlink(Path::new(container_id.as_str()), &runs.join("latest"))?;
    }
    let mount = mount_path(work_dir, agent_id, run_dir, container_id);
    if mount == run_dir {
        return Ok(mount);
    }
    std::fs::create_dir_all(links_dir(work_dir, agent_id))?;
    replace_symlink(run_dir, &mount)?;
    Ok(mount)
}

fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    match std::fs::remove_file(link) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    std::os::unix::fs::symlink(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_makes_the_run_dir_logs_and_latest_link() {
        let work = tempfile::tempdir().unwrap();
        let agent = AgentId::generated("m-S0");
        let fw = FrameworkId::generated("m-0001");
        let first = ContainerId::random();
        let dir = run_dir(work.path(), &agent, &fw, "task-1", &first);
        assert!(dir.ends_with(format!(
            "slaves/m-S0/frameworks/m-0001/executors/task-1/runs/{first}"
        )));
        let mount = create(work.path(), &agent, &dir, &first).await.unwrap();
        assert_eq!(mount, dir);
        assert_eq!(mount_path(work.path(), &agent, &dir, &first), dir);
        assert!(dir.join("stdout").is_file() && dir.join("stderr").is_file());
        let latest = dir.parent().unwrap().join("latest");
        assert_eq!(
            std::fs::read_link(&latest).unwrap(),
            Path::new(first.as_str())
        );

        let second = ContainerId::random();
        let dir2 = run_dir(work.path(), &agent, &fw, "task-1", &second);
        create(work.path(), &agent, &dir2, &second).await.unwrap();
        assert_eq!(
            std::fs::read_link(&latest).unwrap(),
            Path::new(second.as_str())
        );
    }

    #[tokio::test]
    async fn a_colon_in_the_path_is_mounted_through_a_link() {
        let work = tempfile::tempdir().unwrap();
        let agent = AgentId::generated("m-S0");
        let fw = FrameworkId::generated("m-0001");
        let id = ContainerId::random();
        let dir = run_dir(work.path(), &agent, &fw, "app:1", &id);
        let mount = create(work.path(), &agent, &dir, &id).await.unwrap();
        assert_eq!(mount, mount_path(work.path(), &agent, &dir, &id));
        assert!(!mount.to_string_lossy().contains(':'));
        assert_eq!(std::fs::read_link(&mount).unwrap(), dir);
    }
}
