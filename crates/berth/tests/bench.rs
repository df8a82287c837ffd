//! `berth bench`'s harness at tiny sizes: every benchmark runs and does what it claims (all
//! tasks finished, every agent offered, every offer decoded, figures positive). Timings are
//! never asserted: they depend on the machine.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::process::{Command, Stdio};
use std::time::Duration;

use berth::bench::{allocation, burst, control, decode, launch, Figure};
use berth_testkit::ensure_test_image;

fn assert_positive(figures: &[Figure]) {
    assert!(!figures.is_empty());
    for f in figures {
        assert!(
            f.value.is_finite() && f.value >= 0.0,
            "{} {}: {}",
            f.bench,
            f.name,
            f.value
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_bench_finishes_every_task_on_simulated_agents() {
    let dir = tempfile::tempdir().unwrap();
    let report = control::run(&control::ControlConfig {
        agents: 20,
        frameworks: 2,
        tasks: 200,
        tasks_per_offer: 10,
        task_duration: Duration::ZERO,
        allocation_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(120),
        work_dir: dir.path().join("cp"),
        content_type: mesos_scheduler::ContentType::default(),
        max_in_flight: 20,
    })
    .await
    .unwrap();
    assert!(!report.timed_out);
    assert_eq!(report.launched, 200);
    assert_eq!(report.finished, 200);
    assert_eq!(
        report.failed + report.other_terminal + report.call_errors,
        0
    );
    assert_eq!(report.offer_round_agents, 20);
    assert_eq!(report.tracked, 200);
    assert!(report.tasks_per_s() > 0.0);
    assert!(report.state_bytes > 0);
    assert_eq!(report.state.n, 5);
    let figures = report.figures();
    assert_positive(&figures);
    assert!(figures.iter().any(|f| f.target.is_some()));
}

#[test]
fn allocation_bench_offers_every_agent_each_round() {
    let report = allocation::run(&allocation::AllocationConfig {
        agents: 100,
        frameworks: 10,
        rounds: 3,
    })
    .unwrap();
    assert_eq!(report.offers_per_round, 100);
    assert_eq!(report.rounds.n, 3);
    assert_eq!(report.filtered_rounds.n, 3);
    // With a filter per declined offer, each agent has fewer eligible frameworks each round,
    // but 10 frameworks outlast 3 rounds.
    assert_eq!(report.filtered_offers, 100);
    assert_positive(&report.figures());
}

#[test]
fn decode_bench_decodes_every_offer_in_both_encodings() {
    let report = decode::run(&decode::DecodeConfig {
        events: 4,
        offers_per_event: 10,
    })
    .unwrap();
    assert_eq!(report.json.offers, 40);
    assert_eq!(report.protobuf.offers, 40);
    assert_positive(&report.figures());
}

#[test]
fn berth_bench_prints_json_for_one_benchmark() {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "bench",
            "--only",
            "decode",
            "--decode-events",
            "3",
            "--offers-per-event",
            "5",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let benches = doc["benches"].as_array().unwrap();
    assert_eq!(benches.len(), 1);
    assert_eq!(benches[0]["bench"], "decode");
    let figures = benches[0]["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 8);
    assert!(figures.iter().all(|f| f["value"].as_f64().unwrap() > 0.0));
    assert!(figures.iter().any(|f| f["pass"].is_boolean()));
}

#[test]
fn berth_bench_refuses_bad_sizes_naming_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["bench", "--tasks", "1", "--frameworks", "2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tasks"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_bench_times_berth_run_the_engine_and_docker_run() {
    let image = ensure_test_image().await;
    let report = launch::run(&launch::LaunchConfig {
        runs: 1,
        image,
        berth: env!("CARGO_BIN_EXE_berth").into(),
    })
    .await
    .unwrap();
    assert_eq!(report.berth_running.n, 1);
    // TASK_RUNNING comes before the exit.
    assert!(report.berth_running.median < report.berth_exit.median);
    assert!(report.engine_started.median <= report.engine_exit.median);
    assert_positive(&report.figures());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_bench_finishes_every_container_both_ways() {
    let image = ensure_test_image().await;
    let dir = tempfile::tempdir().unwrap();
    let report = burst::run(&burst::BurstConfig {
        tasks: 3,
        image,
        work_dir: dir.path().join("burst"),
    })
    .await
    .unwrap();
    // Four bursts each way.
    assert_eq!(report.rounds, 4);
    assert_eq!(report.berth_finished, 12);
    assert!(report.berth_offers_used >= 4);
    assert!(report.berth_rate() > 0.0 && report.direct_rate() > 0.0);
    assert_positive(&report.figures());
}
