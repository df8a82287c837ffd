//! `berth cluster --simulated-agents`: the binary serves simulated agents that `/state` marks,
//! and a scheduler's tasks run to TASK_FINISHED (or TASK_FAILED at the configured rate) on
//! them through the ordinary master paths.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_testkit::eventually;
use futures::StreamExt;
use mesos_proto::resource::scalar;
use mesos_proto::v1::{CommandInfo, FrameworkInfo, TaskInfo, TaskState};
use mesos_scheduler::{OfferResources, Scheduler, SchedulerConfig, SchedulerEvent};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `berth cluster` process, killed when dropped.
struct Cluster {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["cluster", "--listen", &addr.to_string(), "--work-dir"])
            .arg(dir.path())
            .args(["--allocation-interval", "100ms"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Cluster {
            child,
            addr,
            _dir: dir,
        }
    }

    async fn state(&self) -> Result<Value, String> {
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let request = format!(
            "GET /state HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no header")?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(head.to_owned());
        }
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        serde_json::from_str(&body).map_err(|e| e.to_string())
    }

    /// `/state` once it lists `n` agents.
    async fn state_with_agents(&self, n: usize) -> Value {
        eventually(
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                let state = self.state().await?;
                let count = state["slaves"].as_array().map_or(0, Vec::len);
                if count == n {
                    Ok(state)
                } else {
                    Err(format!("{count} agents"))
                }
            },
        )
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Launches `n` command tasks on the offers and returns each task's states, in order, once
/// all are terminal.
async fn run_tasks(master: SocketAddr, n: usize) -> HashMap<String, Vec<TaskState>> {
    let info = FrameworkInfo {
        user: "test".into(),
        name: "simulated-test".into(),
        failover_timeout: Some(60.0),
        ..Default::default()
    };
    let (scheduler, mut events) =
        Scheduler::new(SchedulerConfig::new(master.to_string(), info)).unwrap();
    let wanted = vec![scalar("cpus", 0.5), scalar("mem", 64.0)];
    let mut launched = 0;
    let mut states: HashMap<String, Vec<TaskState>> = HashMap::new();
    let done = |states: &HashMap<String, Vec<TaskState>>| {
        states.len() == n
            && states
                .values()
                .all(|s| s.last().is_some_and(|t| t.is_terminal()))
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.next().await {
            let SchedulerEvent::Event(ev) = event else {
                continue;
            };
            if let Some(offers) = ev.offers {
                for offer in offers.offers {
                    let mut pool = OfferResources::new(&offer);
                    let mut tasks = Vec::new();
                    // Two per agent at most, so the tasks spread over the agents.
                    while launched < n && tasks.len() < 2 {
                        let Ok(resources) = pool.take(&wanted) else {
                            break;
                        };
                        let id = format!("sim-{launched}");
                        tasks.push(TaskInfo {
                            name: id.clone(),
                            task_id: mesos_proto::v1::TaskId::from_str_value(id),
                            agent_id: offer.agent_id.clone(),
                            resources,
                            command: Some(Box::new(CommandInfo {
                                value: Some("true".into()),
                                ..Default::default()
                            })),
                            ..Default::default()
                        });
                        launched += 1;
                    }
                    if tasks.is_empty() {
                        scheduler.decline(vec![offer.id], None).await.unwrap();
                    } else {
                        scheduler.launch(vec![offer.id], tasks, None).await.unwrap();
                    }
                }
            }
            if let Some(update) = ev.update {
                let state = TaskState::try_from(update.status.state).unwrap();
                states
                    .entry(update.status.task_id.value.clone())
                    .or_default()
                    .push(state);
                if done(&states) {
                    break;
                }
            }
        }
    })
    .await
    .expect("the tasks end within 60 s");
    let _ = scheduler.teardown().await;
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_simulated_agents_runs_a_schedulers_tasks_to_the_end() {
    let cluster = Cluster::start(&[
        "--agents",
        "0",
        "--simulated-agents",
        "5",
        "--simulated-task-duration",
        "50ms",
    ]);
    let state = cluster.state_with_agents(5).await;
    let agents = state["slaves"].as_array().unwrap();
    assert!(agents.iter().all(|a| a["simulated"] == true), "{agents:?}");
    assert!(agents.iter().all(|a| a["active"] == true));

    let states = run_tasks(cluster.addr, 10).await;
    assert_eq!(states.len(), 10);
    for (task, seen) in &states {
        assert_eq!(
            seen,
            &[
                TaskState::TaskStarting,
                TaskState::TaskRunning,
                TaskState::TaskFinished
            ],
            "{task}"
        );
    }
    // The tasks were spread over several agents, and the master knows them as finished.
    let state = cluster.state().await.unwrap();
    let completed: Vec<&Value> = state["completed_frameworks"]
        .as_array()
        .into_iter()
        .chain(state["frameworks"].as_array())
        .flatten()
        .flat_map(|f| f["completed_tasks"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(completed.len(), 10, "{state}");
    let agents_used: std::collections::HashSet<&str> = completed
        .iter()
        .filter_map(|t| t["slave_id"].as_str())
        .collect();
    assert!(agents_used.len() >= 2, "{agents_used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_tasks_fail_at_the_configured_rate() {
    let cluster = Cluster::start(&[
        "--agents",
        "0",
        "--simulated-agents",
        "2",
        "--simulated-failure-rate",
        "1",
    ]);
    cluster.state_with_agents(2).await;
    let states = run_tasks(cluster.addr, 4).await;
    for (task, seen) in &states {
        assert_eq!(
            seen.last(),
            Some(&TaskState::TaskFailed),
            "{task}: {seen:?}"
        );
        assert!(seen.contains(&TaskState::TaskRunning), "{task}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_and_simulated_agents_share_one_master() {
    // Needs the Docker engine only for the Docker agent's connection.
    berth_testkit::docker().await;
    let cluster = Cluster::start(&["--agents", "1", "--simulated-agents", "2"]);
    let state = cluster.state_with_agents(3).await;
    let simulated = state["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["simulated"] == true)
        .count();
    assert_eq!(simulated, 2, "{state}");
}
