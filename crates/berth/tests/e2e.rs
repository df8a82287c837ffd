//! End-to-end tests of the `berth` binary against the real Docker engine: `berth run` on its
//! embedded cluster and against a separate `berth cluster`, as a user types it.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_testkit::{ensure_test_image, eventually, unique_name, ContainerGuard};
use bollard::query_parameters::ListContainersOptions;
use serde_json::Value;

const SEED_COMMAND: &str = "env && while true; do echo command running; sleep 3; done";

/// A label unique to one test, put on its containers so the guard removes exactly them.
fn label() -> (String, String) {
    ("berth.e2e".to_string(), unique_name("e2e"))
}

/// The test image, a fresh label for the test's containers, and the guard that removes every
/// container carrying it when the test ends (keep it alive).
async fn labelled_containers() -> ((String, String), ContainerGuard) {
    ensure_test_image().await;
    let label = label();
    let guard = ContainerGuard::new();
    guard.track_label(&label.0, &label.1);
    (label, guard)
}

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

/// A running `berth` process whose output is collected.
struct Proc {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut b = out.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    buf
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Proc {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// Waits for the exit code (panics after `timeout`, killing the process).
    async fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain the pipes.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return status.code().unwrap_or(-1);
            }
            if tokio::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "berth did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_args(name: &str, (k, v): &(String, String)) -> Vec<String> {
    vec![
        "run".into(),
        "--name".into(),
        name.into(),
        "--image".into(),
        berth_testkit::TEST_IMAGE.into(),
        "--container-label".into(),
        format!("{k}={v}"),
    ]
}

async fn containers_labelled((k, v): &(String, String)) -> Vec<String> {
    let docker = berth_testkit::docker().await;
    let filters = HashMap::from([("label".to_owned(), vec![format!("{k}={v}")])]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

#[tokio::test]
async fn seed_task_runs_as_the_seed_shows_and_ctrl_c_kills_it() {
    let (label, _guard) = labelled_containers().await;
    let mut args = run_args("DockerContainerTask-1", &label);
    args.extend(
        [
            "--network",
            "bridge",
            "--cpus",
            "0.5",
            "--mem",
            "100",
            "--grace-period",
            "1s",
            "--",
            SEED_COMMAND,
        ]
        .map(String::from),
    );
    let mut p = Proc::spawn(berth().args(&args));

    let id = eventually(Duration::from_secs(60), Duration::from_millis(200), || {
        let label = label.clone();
        async move { containers_labelled(&label).await.into_iter().next() }
    })
    .await;
    let docker = berth_testkit::docker().await;
    let inspect = docker.inspect_container(&id, None).await.expect("inspect");
    let name = inspect.name.clone().unwrap();
    // `/mesos-<agent id>.<container id>`
    let rest = name.strip_prefix("/mesos-").expect("mesos- prefix");
    let (agent_id, container_id) = rest.rsplit_once('.').expect("agent.container");
    assert!(agent_id.ends_with("-S0"), "{agent_id}");
    assert!(uuid_like(container_id), "{container_id}");
    let config = inspect.config.clone().unwrap();
    let env = config.env.clone().unwrap();
    assert!(
        env.contains(&"MESOS_SANDBOX=/mnt/mesos/sandbox".to_string()),
        "{env:?}"
    );
    assert!(
        env.contains(&format!("MESOS_CONTAINER_NAME={}", &name[1..])),
        "{env:?}"
    );
    assert!(
        env.contains(&"MESOS_ALLOCATION_ROLE=*".to_string()),
        "{env:?}"
    );
    assert_eq!(
        config.entrypoint.clone().unwrap(),
        vec!["/bin/sh".to_string()]
    );
    assert_eq!(
        config.cmd.clone().unwrap(),
        vec!["-c".to_string(), SEED_COMMAND.to_string()]
    );
    let host = inspect.host_config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("bridge"));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.memory, Some(104_857_600));
    let mounts = inspect.mounts.clone().unwrap();
    let sandbox = mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/mnt/mesos/sandbox"))
        .expect("sandbox mount");
    assert_eq!(sandbox.rw, Some(true));
    let source = sandbox.source.clone().unwrap();
    assert!(
        source.contains(&format!("/slaves/{agent_id}/frameworks/"))
            && source.contains("/executors/DockerContainerTask-1/runs/")
            && source.ends_with(container_id),
        "{source}"
    );

    // The task's output reaches berth's stdout from the sandbox.
    eventually(Duration::from_secs(30), Duration::from_millis(100), || {
        let out = p.stdout();
        async move {
            out.contains("command running") && out.contains("MESOS_SANDBOX=/mnt/mesos/sandbox")
        }
    })
    .await;
    assert!(std::fs::read_to_string(Path::new(&source).join("stdout"))
        .unwrap()
        .contains("command running"));

    // Ctrl-C: the task is killed, the framework torn down, and berth exits 130.
    p.signal("-INT");
    let code = p.wait(Duration::from_secs(60)).await;
    let err = p.stderr();
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains("TASK_KILLING") && err.contains("TASK_KILLED"),
        "{err}"
    );
    assert!(err.contains("command task"), "{err}");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn exit_codes_are_passed_through() {
    let (label, _guard) = labelled_containers().await;
    for (command, expected) in [("echo fine", 0), ("echo failing >&2; exit 7", 7)] {
        let mut args = run_args(&unique_name("exit"), &label);
        args.extend(["--", command].map(String::from));
        let mut p = Proc::spawn(berth().args(&args));
        let code = p.wait(Duration::from_secs(90)).await;
        assert_eq!(code, expected, "{}", p.stderr());
        if expected == 0 {
            assert!(p.stdout().contains("fine"));
            assert!(p.stderr().contains("TASK_FINISHED"));
        } else {
            assert!(p.stderr().contains("TASK_FAILED"));
            assert!(p.stderr().contains("Container exited with status 7"));
        }
    }
}

/// `berth run ... 2>&1 | head -1`: the reader goes away, so every later write to stdout and
/// stderr fails. Before, the first log line that could not be written made the logger's own
/// error report (an `eprintln!`) panic in whichever task logged: berth exited 101, or, when
/// that task was the agent's, waited forever beside a created container.
#[tokio::test]
async fn closed_output_pipes_neither_panic_nor_hang_berth_run() {
    let (label, _guard) = labelled_containers().await;
    let mut args = run_args(&unique_name("pipe"), &label);
    args.extend(["--", "echo out; echo err >&2"].map(String::from));
    let mut child = berth()
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth starts");
    // Closed before berth writes anything (so there is no output to collect).
    drop(child.stdout.take());
    drop(child.stderr.take());
    let mut p = Proc {
        child,
        stdout: Arc::default(),
        stderr: Arc::default(),
    };
    assert_eq!(p.wait(Duration::from_secs(90)).await, 0);
    // Its container was removed as usual, not left behind by a dead agent.
    assert!(containers_labelled(&label).await.is_empty());
}

/// `kill`, `timeout` and service managers stop a process with SIGTERM: like a first Ctrl-C, it
/// kills the task (its container does not outlive berth), then berth exits 143 (128 + 15).
#[tokio::test]
async fn sigterm_kills_the_task_before_berth_exits() {
    let (label, _guard) = labelled_containers().await;
    let mut args = run_args(&unique_name("term"), &label);
    args.extend(["--grace-period", "1s", "--", "sleep 300"].map(String::from));
    let mut p = Proc::spawn(berth().args(&args));
    eventually(Duration::from_secs(60), Duration::from_millis(100), || {
        let err = p.stderr();
        async move { err.contains("TASK_RUNNING").then_some(()) }
    })
    .await;
    let id = containers_labelled(&label)
        .await
        .into_iter()
        .next()
        .unwrap();
    p.signal("-TERM");
    let code = p.wait(Duration::from_secs(60)).await;
    let err = p.stderr();
    assert_eq!(code, 143, "{err}");
    assert!(err.contains("TASK_KILLED"), "{err}");
    // The container was stopped (and, with the one-shot cluster's zero delay, removed: then
    // the inspect fails).
    let docker = berth_testkit::docker().await;
    let inspect = docker
        .inspect_container(
            &id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await;
    if let Ok(inspect) = inspect {
        assert_ne!(
            inspect.state.and_then(|s| s.running),
            Some(true),
            "the task's container outlived berth run"
        );
    }
}

#[tokio::test]
async fn kill_after_kills_the_task() {
    let (label, _guard) = labelled_containers().await;
    let mut args = run_args(&unique_name("killafter"), &label);
    args.extend(
        [
            "--kill-after",
            "1s",
            "--grace-period",
            "1s",
            "--",
            "sleep 60",
        ]
        .map(String::from),
    );
    let mut p = Proc::spawn(berth().args(&args));
    let code = p.wait(Duration::from_secs(90)).await;
    let err = p.stderr();
    assert!(err.contains("TASK_KILLED"), "{err}");
    // sleep dies of SIGTERM (143) or, after the grace period, SIGKILL (137).
    assert!(code == 143 || code == 137, "exit {code}: {err}");
}

#[tokio::test]
async fn an_unknown_image_fails_with_a_clear_error() {
    let (label, _guard) = labelled_containers().await;
    let mut args = run_args(&unique_name("noimage"), &label);
    let pos = args
        .iter()
        .position(|a| a == berth_testkit::TEST_IMAGE)
        .unwrap();
    args[pos] = "berth/no-such-image:latest".into();
    args.extend(["--", "true"].map(String::from));
    let mut p = Proc::spawn(berth().args(&args));
    let code = p.wait(Duration::from_secs(120)).await;
    let err = p.stderr();
    assert_ne!(code, 0);
    assert!(err.contains("TASK_FAILED"), "{err}");
    assert!(err.contains("berth/no-such-image"), "{err}");
}

fn seed_task_info() -> Value {
    let text = include_str!("../../mesos-proto/tests/fixtures/seed_task_info.json");
    serde_json::from_str(text).unwrap()
}

/// Numbers compare by value (100 and 100.0 are one).
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

#[tokio::test]
async fn dry_run_prints_the_seed_task_info() {
    let seed = seed_task_info();
    let mut p = Proc::spawn(berth().args([
        "run",
        "--dry-run",
        "--name",
        "DockerContainerTask-1",
        "--agent-id",
        seed["agent_id"]["value"].as_str().unwrap(),
        "--image",
        seed["container"]["docker"]["image"].as_str().unwrap(),
        "--network",
        "bridge",
        "--cpus",
        "0.5",
        "--mem",
        "100",
        "--",
        SEED_COMMAND,
    ]));
    assert_eq!(p.wait(Duration::from_secs(30)).await, 0, "{}", p.stderr());
    let printed: Value = serde_json::from_str(&p.stdout()).expect("dry-run prints JSON");
    assert_eq!(normalize(&printed), normalize(&seed));
}

#[tokio::test]
async fn task_file_with_the_seed_task_info_runs() {
    let (label, _guard) = labelled_containers().await;
    let mut task = seed_task_info();
    task["container"]["docker"]["image"] = Value::String(berth_testkit::TEST_IMAGE.into());
    task["command"]["value"] = Value::String("env && echo command running".into());
    // mesos-execute style: slave_id/agent_id come from the offer; an unknown key is ignored.
    task["slave_id"] = task["agent_id"].clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task.json");
    std::fs::write(&path, task.to_string()).unwrap();
    let mut p = Proc::spawn(berth().args([
        "run".to_string(),
        "--task".into(),
        path.display().to_string(),
        "--container-label".into(),
        format!("{}={}", label.0, label.1),
        // Protobuf is the default; the seed's task also runs over JSON.
        "--content-type".into(),
        "json".into(),
    ]));
    let code = p.wait(Duration::from_secs(90)).await;
    assert_eq!(code, 0, "{}", p.stderr());
    assert!(p.stdout().contains("command running"));
    assert!(p.stdout().contains("MESOS_CONTAINER_NAME=mesos-"));
}

#[tokio::test]
async fn bad_flags_are_refused_before_anything_starts() {
    for (args, needle) in [
        (
            vec![
                "run", "--name", "t", "--volume", "nocolon", "--image", "x", "--", "true",
            ],
            "'nocolon'",
        ),
        (
            vec![
                "run",
                "--name",
                "t",
                "--resources",
                "cpus:lots",
                "--",
                "true",
            ],
            "'lots'",
        ),
        (
            vec!["run", "--task", "/nonexistent/task.json"],
            "/nonexistent/task.json",
        ),
        (vec!["cluster", "--agents", "0"], "--agents"),
        (vec!["cluster", "--resources", "mem:x"], "--resources"),
    ] {
        let mut p = Proc::spawn(berth().args(&args));
        let code = p.wait(Duration::from_secs(30)).await;
        assert_eq!(code, 2, "{args:?}: {}", p.stderr());
        assert!(p.stderr().contains(needle), "{args:?}: {}", p.stderr());
    }
}

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn run_against_a_separate_berth_cluster() {
    let (label, _guard) = labelled_containers().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cluster = Proc::spawn(berth().args([
        "cluster".to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--work-dir".into(),
        dir.path().display().to_string(),
        "--agents".into(),
        "2".into(),
        "--resources".into(),
        "cpus:2;mem:2048;disk:1000;ports:[31000-31100]".into(),
        "--container-label".into(),
        format!("{}={}", label.0, label.1),
    ]));
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async move { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() },
    )
    .await;
    for content_type in ["json", "protobuf"] {
        let mut args = run_args(&unique_name("remote"), &label);
        args.extend(
            [
                "--master",
                &format!("http://127.0.0.1:{port}"),
                "--content-type",
                content_type,
                "--",
                "echo remote ok",
            ]
            .map(String::from),
        );
        let mut p = Proc::spawn(berth().args(&args));
        let code = p.wait(Duration::from_secs(90)).await;
        assert_eq!(
            code,
            0,
            "{content_type}: {}\ncluster: {}",
            p.stderr(),
            cluster.stderr()
        );
        assert!(p.stdout().contains("remote ok"), "{}", p.stdout());
    }
    cluster.signal("-TERM");
    assert_eq!(
        cluster.wait(Duration::from_secs(30)).await,
        0,
        "{}",
        cluster.stderr()
    );
}
