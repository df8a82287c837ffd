//! An unmodified third-party Mesos client, pymesos 0.3.15 from PyPI, drives `berth cluster`:
//! it subscribes, receives an offer, launches a Docker task, receives TASK_RUNNING and
//! TASK_FINISHED, acknowledges, reconciles and tears down (tests/py/pymesos_client.py).
//!
//! The virtualenv comes from `scripts/setup-pymesos.sh` (run by `.ci/run`).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_testkit::{ensure_test_image, eventually, unique_name, ContainerGuard};
use serde_json::Value;

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("BERTH_PYMESOS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pymesos-venv")
        });
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "pymesos virtualenv missing at {}: run `bash scripts/setup-pymesos.sh` (or `bash .ci/run`)",
        venv.display()
    );
    py
}

#[tokio::test]
async fn pymesos_runs_a_task_on_berth_cluster() {
    let python = venv_python();
    ensure_test_image().await;
    let label = ("berth.e2e".to_string(), unique_name("pymesos"));
    let guard = ContainerGuard::new();
    guard.track_label(&label.0, &label.1);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "cluster".to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--work-dir".into(),
            dir.path().display().to_string(),
            "--resources".into(),
            "cpus:2;mem:2048;disk:1000;ports:[31000-31100]".into(),
            "--container-label".into(),
            format!("{}={}", label.0, label.1),
            "--heartbeat-interval".into(),
            "2s".into(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth cluster starts");
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async move { std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() },
    )
    .await;

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/pymesos_client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(150),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(format!("127.0.0.1:{port}"))
            .arg(berth_testkit::TEST_IMAGE)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("pymesos client finished in time")
    .expect("python runs");
    let _ = Command::new("kill")
        .args(["-TERM", &cluster.id().to_string()])
        .status();
    let cluster_status = cluster.wait().expect("cluster exits");

    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success(), "pymesos client failed\n{context}");
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |kind: &str| {
        events
            .iter()
            .filter(|e| e["event"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };

    let registered = of("registered");
    assert_eq!(registered.len(), 1, "{context}");
    assert!(
        registered[0]["framework_id"]
            .as_str()
            .unwrap()
            .ends_with("-0000"),
        "{context}"
    );
    assert_eq!(registered[0]["master"]["version"], "1.12.0", "{context}");
    let offer = &of("offer")[0];
    assert_eq!(
        offer["resources"],
        serde_json::json!(["cpus", "disk", "mem", "ports"]),
        "{context}"
    );

    let updates: Vec<String> = of("update")
        .iter()
        .map(|u| u["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        updates,
        ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
        "{context}"
    );
    // Agent updates carry a uuid (pymesos acknowledges them); reconciliation answers do not.
    assert!(
        of("update").iter().all(|u| u["has_uuid"] == true),
        "{context}"
    );
    let reconciled = of("reconciled");
    assert!(!reconciled.is_empty(), "{context}");
    assert!(
        reconciled.iter().all(|r| r["has_uuid"] == false),
        "{context}"
    );
    assert!(
        reconciled
            .iter()
            .any(|r| r["message"] == "Reconciliation: Latest task state"),
        "{context}"
    );
    assert!(
        cluster_status.success(),
        "berth cluster exit {cluster_status:?}"
    );
}
