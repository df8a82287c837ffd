//! Cleaning up the containers tests create, and naming them so leftovers can be found.
//!
//! Every container a test makes carries a unique name ([`unique_name`]) and the test-run label
//! ([`test_run_label`]); a [`ContainerGuard`] removes it when the test ends, passed or panicked.
//! Leftovers from a killed test process can be found with
//! `docker ps -a --filter label=berth.test-run`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use uuid::Uuid;

use crate::docker::try_docker;

/// The label key every test container carries; its value is the test run's id.
pub const TEST_RUN_LABEL: &str = "berth.test-run";

/// How long `Drop` may spend removing a guard's containers before it gives up and says so.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The `(key, value)` label for containers this test process creates: key [`TEST_RUN_LABEL`],
/// value an id unique to this process (one test binary run), the same for every call.
pub fn test_run_label() -> (&'static str, &'static str) {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    let id = RUN_ID.get_or_init(|| format!("{}-{}", std::process::id(), short_id()));
    (TEST_RUN_LABEL, id.as_str())
}

/// [`test_run_label`] as a map, ready for a container config's `labels`.
pub fn test_run_labels() -> HashMap<String, String> {
    let (key, value) = test_run_label();
    HashMap::from([(key.to_owned(), value.to_owned())])
}

/// A container (or other Docker object) name unique across test runs: `<prefix>-<12 hex>`.
///
/// `prefix` should itself be a valid Docker name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", short_id())
}

fn short_id() -> String {
    let mut id = Uuid::new_v4().simple().to_string();
    id.truncate(12);
    id
}

/// Removes, when dropped, the containers a test registered with it: forcibly (a running one
/// is killed) and with their anonymous volumes.
///
/// It works when the test panics too: `Drop` cannot be async, so it runs the removal on a
/// fresh std thread with its own current-thread tokio runtime and joins it. That never touches
/// the test's runtime, which may be single-threaded and blocked in this very `drop`.
/// Failures to remove are printed to stderr, never panicked on (a panic while unwinding
/// would abort the test binary).
///
/// Methods take `&self`, so one guard can be shared (`Arc`) by the tasks of a test.
#[derive(Debug, Default)]
pub struct ContainerGuard {
    containers: Mutex<Vec<String>>,
    labels: Mutex<Vec<(String, String)>>,
}

impl ContainerGuard {
    /// A guard that tracks nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a container name or id for removal; returns it for convenience. Register
    /// before creating the container, so a failure halfway leaves nothing behind; a name that
    /// never became a container is skipped quietly.
    pub fn track(&self, name_or_id: impl Into<String>) -> String {
        let name = name_or_id.into();
        lock(&self.containers).push(name.clone());
        name
    }

    /// Registers every container carrying label `key=value` for removal, for containers made by
    /// the code under test whose names the test doesn't know. Use a value unique to the test
    /// (e.g. from [`unique_name`]), not the shared [`test_run_label`], which would also reach
    /// containers of other tests running concurrently in this process.
    pub fn track_label(&self, key: impl Into<String>, value: impl Into<String>) {
        lock(&self.labels).push((key.into(), value.into()));
    }

    /// The container names and ids registered so far.
    pub fn tracked(&self) -> Vec<String> {
        lock(&self.containers).clone()
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *lock(&self.containers));
        let labels = std::mem::take(&mut *lock(&self.labels));
        if containers.is_empty() && labels.is_empty() {
            return;
        }
        let cleanup = std::thread::Builder::new()
            .name("berth-testkit-cleanup".into())
            .spawn(move || remove_blocking(containers, labels));
        match cleanup.map(|thread| thread.join()) {
            Ok(Ok(())) => {}
            Ok(Err(_)) => eprintln!("berth-testkit: the container cleanup thread panicked"),
            Err(err) => {
                eprintln!("berth-testkit: cannot start the container cleanup thread: {err}")
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding the lock leaves data that is still fine to clean up.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes the containers on a runtime of its own; reports problems on stderr.
fn remove_blocking(containers: Vec<String>, labels: Vec<(String, String)>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("berth-testkit: cannot build a runtime to remove {containers:?}: {err}");
            return;
        }
    };
    let removal = remove_all(&containers, &labels);
    match runtime.block_on(async { tokio::time::timeout(CLEANUP_TIMEOUT, removal).await }) {
        Ok(Ok(())) => {}
        Ok(Err(problem)) => eprintln!("berth-testkit: container cleanup: {problem}"),
        Err(_) => eprintln!(
            "berth-testkit: removing {containers:?} (labels {labels:?}) took over \
             {CLEANUP_TIMEOUT:?}; remove leftovers with \
             `docker rm -f $(docker ps -aq --filter label={TEST_RUN_LABEL})`"
        ),
    }
}

async fn remove_all(containers: &[String], labels: &[(String, String)]) -> Result<(), String> {
    let docker = try_docker().await?;
    let mut targets = containers.to_vec();
    for (key, value) in labels {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{key}={value}")])]);
        let listed = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|err| format!("listing containers labelled {key}={value}: {err}"))?;
        targets.extend(listed.into_iter().filter_map(|summary| summary.id));
    }
    let mut problems = Vec::new();
    for target in &targets {
        if let Err(err) = remove_one(&docker, target).await {
            problems.push(format!("removing {target}: {err}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

async fn remove_one(docker: &Docker, target: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(target, Some(options)).await {
        // 404: never created, or already gone. 409: a removal already in progress.
        Err(DockerError::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(()),
        other => other,
    }
}
