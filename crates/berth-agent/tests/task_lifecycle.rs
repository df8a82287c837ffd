//! The agent against the real Docker engine: the seed task, exits, kills, launch failures.

mod common;

use std::time::{Duration, Instant};

use berth_testkit::{docker, ensure_test_image, eventually, ContainerGuard};
use common::*;
use mesos_proto::v1::task_status::{Reason, Source};
use mesos_proto::v1::TaskState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_task_runs_and_is_killed_like_on_mesos() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    assert_eq!(agent.registration.previous_id, None);
    assert!(agent.registration.tasks.is_empty());

    let started = Instant::now();
    agent
        .launch(seed_task("DockerContainerTask-1", &agent.agent_id))
        .await;

    // TASK_STARTING, as in the transcript: executor source, executor id = task id, a 16-byte
    // uuid, the container id and the agent's own IP; no message.
    let starting = agent.next_update().await;
    assert_eq!(state(&starting), TaskState::TaskStarting);
    assert_eq!(starting.source, Some(Source::Executor as i32));
    assert_eq!(
        starting.executor_id.as_ref().unwrap().value,
        "DockerContainerTask-1"
    );
    assert_eq!(
        starting.agent_id.as_ref().unwrap().value,
        agent.agent_id.as_str()
    );
    assert_eq!(starting.uuid.as_ref().unwrap().len(), 16);
    assert!(starting.timestamp.unwrap() > 1.7e9);
    assert_eq!(starting.message, None);
    assert_eq!(ips(&starting), ["127.0.0.1"]);
    assert!(mesos_proto::id::ContainerId::parse(&container_id(&starting)).is_some());

    // Not acknowledged yet: a reconnecting framework gets the same update again.
    agent
        .send(berth_core::msg::MasterToAgent::FrameworkReconnected {
            framework_id: agent.framework_id.clone(),
        })
        .await;
    let again = agent.next_update().await;
    assert_eq!(again.uuid, starting.uuid);
    agent.ack(&starting).await;

    let running = agent.next_acked("DockerContainerTask-1").await;
    let launch_time = started.elapsed();
    eprintln!("RunTask -> TASK_RUNNING took {launch_time:?}");
    assert_eq!(state(&running), TaskState::TaskRunning);
    assert_eq!(container_id(&running), container_id(&starting));
    let running_ips = ips(&running);
    assert_eq!(running_ips.len(), 1);
    assert!(
        running_ips[0].starts_with("172."),
        "bridge address, got {running_ips:?}"
    );
    let data: serde_json::Value =
        serde_json::from_slice(running.data.as_ref().unwrap()).expect("inspect JSON");
    let name = agent.container_name(&running);
    assert_eq!(data[0]["Name"], format!("/{name}"));
    assert!(String::from_utf8_lossy(running.data.as_ref().unwrap())
        .starts_with("[\n    {\n        \"Id\""));

    // The container, as `docker inspect` shows it.
    let inspect = inspect(&docker, &name).await;
    assert_eq!(inspect.name.as_deref(), Some(format!("/{name}").as_str()));
    let config = inspect.config.clone().unwrap();
    assert_eq!(
        config.env.unwrap(),
        [
            "MESOS_ALLOCATION_ROLE=*".to_owned(),
            format!("MESOS_CONTAINER_NAME={name}"),
            "MESOS_SANDBOX=/mnt/mesos/sandbox".to_owned(),
            format!("PATH={}", berth_testkit::image::IMAGE_PATH),
        ]
    );
    assert_eq!(config.entrypoint.unwrap(), ["/bin/sh"]);
    assert_eq!(config.cmd.unwrap(), ["-c", SEED_COMMAND]);
    assert_eq!(config.image.as_deref(), Some(berth_testkit::TEST_IMAGE));
    assert_eq!(config.working_dir.as_deref(), Some(""));
    assert_eq!(
        agent_label(&inspect).as_deref(),
        Some(agent.agent_id.as_str())
    );
    let host = inspect.host_config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("bridge"));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.memory, Some(104_857_600));
    assert_eq!(host.privileged, Some(false));
    let sandbox = sandbox(&agent, "DockerContainerTask-1", &running);
    assert_eq!(
        host.binds.unwrap(),
        [format!("{}:/mnt/mesos/sandbox", sandbox.display())]
    );
    let mounts = inspect.mounts.clone().unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].source.as_deref(), Some(sandbox.to_str().unwrap()));
    assert_eq!(mounts[0].destination.as_deref(), Some("/mnt/mesos/sandbox"));
    assert_eq!(mounts[0].rw, Some(true));

    // The sandbox: runs/latest, and the task's output in `stdout`.
    assert_eq!(
        std::fs::read_link(sandbox.parent().unwrap().join("latest")).unwrap(),
        std::path::Path::new(&container_id(&running))
    );
    let stdout = sandbox.join("stdout");
    eventually(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let text = std::fs::read_to_string(&stdout).unwrap_or_default();
            text.contains("command running") && text.contains("MESOS_SANDBOX=/mnt/mesos/sandbox")
        },
    )
    .await;

    // KILL with a 2 s grace: the shell (PID 1) ignores SIGTERM, so SIGKILL after 2 s → 137.
    let kill_sent = Instant::now();
    agent
        .kill("DockerContainerTask-1", Some(Duration::from_secs(2)))
        .await;
    let killing = agent.next_acked("DockerContainerTask-1").await;
    assert_eq!(state(&killing), TaskState::TaskKilling);
    assert_eq!(ips(&killing), ["127.0.0.1"]);
    let killed = agent.next_acked("DockerContainerTask-1").await;
    assert_eq!(state(&killed), TaskState::TaskKilled);
    assert_eq!(
        killed.message.as_deref(),
        Some("Container exited with status 137")
    );
    assert_eq!(killed.source, Some(Source::Executor as i32));
    assert!(kill_sent.elapsed() >= Duration::from_secs(2));

    // Removed after docker_remove_delay (0 here).
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { !exists(&docker, &name).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_become_finished_and_failed_with_the_stderr_tail() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;

    agent
        .launch(shell_task("ok", &agent.agent_id, "echo fine"))
        .await;
    let ok = agent.run_to_end("ok").await;
    assert_eq!(
        states(&ok),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert_eq!(
        ok[2].message.as_deref(),
        Some("Container exited with status 0")
    );
    let sandbox = sandbox(&agent, "ok", &ok[2]);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "fine\n"
    );

    agent
        .launch(shell_task(
            "bad",
            &agent.agent_id,
            "echo one >&2; echo two >&2; exit 3",
        ))
        .await;
    let bad = agent.run_to_end("bad").await;
    let failed = bad.last().unwrap();
    assert_eq!(state(failed), TaskState::TaskFailed);
    assert_eq!(
        failed.message.as_deref(),
        Some("Container exited with status 3; last lines of stderr:\none\ntwo")
    );
    assert_eq!(failed.reason, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_with_sigterm_first_and_sigkill_after_the_grace() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut options = Options::new(work.path());
    options.grace = Duration::from_secs(1);
    let mut agent = Harness::start(options, &guard).await;

    // Traps SIGTERM and exits 143 itself: the stop is quick, well within a long grace.
    let trapping = "trap 'exit 143' TERM; while true; do sleep 0.1; done";
    agent
        .launch(shell_task("polite", &agent.agent_id, trapping))
        .await;
    // Ignores SIGTERM: killed after the agent's default grace (1 s here).
    let mut stubborn = shell_task(
        "stubborn",
        &agent.agent_id,
        "trap '' TERM; while true; do sleep 0.1; done",
    );
    stubborn.kill_policy = None;
    agent.launch(stubborn).await;

    let mut running = 0;
    while running < 2 {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        if state(&status) == TaskState::TaskRunning {
            running += 1;
        }
    }

    let polite_kill = Instant::now();
    agent.kill("polite", Some(Duration::from_secs(30))).await;
    let stubborn_kill = Instant::now();
    agent.kill("stubborn", None).await;

    let mut polite_done = None;
    let mut stubborn_done = None;
    while polite_done.is_none() || stubborn_done.is_none() {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        if state(&status) != TaskState::TaskKilled {
            assert_eq!(state(&status), TaskState::TaskKilling);
            continue;
        }
        if status.task_id.value == "polite" {
            polite_done = Some((status, polite_kill.elapsed()));
        } else {
            stubborn_done = Some((status, stubborn_kill.elapsed()));
        }
    }
    let (polite, polite_took) = polite_done.unwrap();
    let (stubborn, stubborn_took) = stubborn_done.unwrap();
    assert_eq!(
        polite.message.as_deref(),
        Some("Container exited with status 143")
    );
    assert!(
        polite_took < Duration::from_secs(20),
        "took {polite_took:?}"
    );
    assert_eq!(
        stubborn.message.as_deref(),
        Some("Container exited with status 137")
    );
    assert!(
        stubborn_took >= Duration::from_secs(1),
        "took {stubborn_took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_fails_the_launch_with_dockers_text() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let mut task = seed_task("unpullable", &agent.agent_id);
    // Nothing listens on port 1: the engine's pull fails at once.
    docker_info(&mut task).image = "127.0.0.1:1/berth/nothing:1".into();
    agent.launch(task).await;
    let failed = agent.next_acked("unpullable").await;
    assert_eq!(
        state(&failed),
        TaskState::TaskFailed,
        "no TASK_STARTING before a pull failure"
    );
    assert_eq!(failed.source, Some(Source::Agent as i32));
    assert_eq!(failed.reason, Some(Reason::ContainerLaunchFailed as i32));
    let message = failed.message.unwrap();
    eprintln!("TASK_FAILED for an unpullable image: {message}");
    assert!(
        message.starts_with("Failed to launch container: "),
        "{message}"
    );
    assert!(
        message.contains("127.0.0.1:1"),
        "Docker's own words name the registry: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_the_pull_ends_the_task_before_delivery() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;

    // A "registry" that accepts connections and never answers: the pull hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let mut task = seed_task("pulling", &agent.agent_id);
    docker_info(&mut task).image = format!("127.0.0.1:{port}/berth/hang:1");
    agent.launch(task).await;
    // The pull never ends by itself; only the kill can end the task.
    agent.kill("pulling", None).await;
    let killed = agent.next_acked("pulling").await;
    assert_eq!(state(&killed), TaskState::TaskKilled);
    assert_eq!(killed.source, Some(Source::Agent as i32));
    assert_eq!(killed.reason, Some(Reason::TaskKilledDuringLaunch as i32));
    assert_eq!(
        killed.message.as_deref(),
        Some("Killed before delivery to the executor")
    );
    accepting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_for_an_unknown_task_is_answered_with_task_lost() {
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    agent.kill("never-launched", None).await;
    let lost = agent.next_acked("never-launched").await;
    assert_eq!(state(&lost), TaskState::TaskLost);
    assert_eq!(lost.message.as_deref(), Some("Cannot find executor"));
    assert_eq!(lost.reason, Some(Reason::ExecutorTerminated as i32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_framework_kills_its_tasks_and_drops_their_updates() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut options = Options::new(work.path());
    options.grace = Duration::from_secs(1);
    let mut agent = Harness::start(options, &guard).await;
    agent.launch(seed_task("a", &agent.agent_id)).await;
    agent.launch(seed_task("b", &agent.agent_id)).await;
    let mut names = Vec::new();
    while names.len() < 2 {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        if state(&status) == TaskState::TaskRunning {
            names.push(agent.container_name(&status));
        }
    }
    agent
        .send(berth_core::msg::MasterToAgent::ShutdownFramework {
            framework_id: agent.framework_id.clone(),
        })
        .await;
    for name in &names {
        eventually(
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async { !exists(&docker, name).await },
        )
        .await;
    }
    // No TASK_KILLING/TASK_KILLED reached the master: the next update is our marker.
    agent.kill("marker", None).await;
    let marker = agent.next_update().await;
    assert_eq!(marker.task_id.value, "marker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_killed_task_fails_saying_so() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    // A string that doubles until it no longer fits in 32 MB (swap off).
    let mut task = shell_task(
        "hog",
        &agent.agent_id,
        "awk 'BEGIN { s = \"0123456789abcdef\"; while (1) s = s s }'",
    );
    task.resources = vec![
        mesos_proto::resource::scalar("cpus", 0.5),
        mesos_proto::resource::scalar("mem", 32.0),
    ];
    docker_info(&mut task).parameters = vec![mesos_proto::v1::Parameter {
        key: "memory-swap".into(),
        value: "32m".into(),
    }];
    agent.launch(task).await;
    let statuses = agent.run_to_end("hog").await;
    let failed = statuses.last().unwrap();
    assert_eq!(state(failed), TaskState::TaskFailed, "{statuses:?}");
    let message = failed.message.clone().unwrap();
    assert!(
        message.starts_with(
            "Container exited with status 137; the container was killed by the kernel's OOM killer"
        ),
        "{message}"
    );
    assert_eq!(
        failed.reason,
        Some(Reason::ContainerLimitationMemory as i32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frameworks_without_task_killing_state_get_no_task_killing() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    agent.framework.capabilities.clear();
    agent.launch(seed_task("plain", &agent.agent_id)).await;
    agent.run_until(TaskState::TaskRunning, "plain").await;
    agent.kill("plain", Some(Duration::ZERO)).await;
    let killed = agent.next_acked("plain").await;
    assert_eq!(state(&killed), TaskState::TaskKilled);
    assert_eq!(
        killed.message.as_deref(),
        Some("Container exited with status 137")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_without_a_docker_container_fails_to_launch() {
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let mut task = seed_task("mesos-container", &agent.agent_id);
    task.container = None;
    agent.launch(task).await;
    let failed = agent.next_acked("mesos-container").await;
    assert_eq!(state(&failed), TaskState::TaskFailed);
    assert_eq!(failed.source, Some(Source::Agent as i32));
    assert_eq!(failed.reason, Some(Reason::ContainerLaunchFailed as i32));
    assert_eq!(
        failed.message.as_deref(),
        Some("Failed to launch container: Only DOCKER containers are supported")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_id_that_would_escape_the_sandbox_is_refused() {
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    agent.launch(seed_task("../escape", &agent.agent_id)).await;
    let refused = agent.next_acked("../escape").await;
    assert_eq!(state(&refused), TaskState::TaskError);
    assert_eq!(refused.reason, Some(Reason::TaskInvalid as i32));
    assert_eq!(
        refused.message.as_deref(),
        Some("Task ID is invalid: '../escape' contains invalid characters")
    );
    assert!(!work.path().join("slaves").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_its_max_completion_time_is_stopped_and_failed() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let mut task = seed_task("slow", &agent.agent_id);
    task.max_completion_time = Some(mesos_proto::v1::DurationInfo {
        nanoseconds: 1_000_000_000,
    });
    agent.launch(task).await;
    let statuses = agent.run_to_end("slow").await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFailed
        ]
    );
    let failed = &statuses[2];
    assert_eq!(failed.reason, Some(Reason::MaxCompletionTimeReached as i32));
    assert_eq!(
        failed.message.as_deref(),
        Some("Container exited with status 137")
    );
}

/// A one-shot HTTP server answering every request with `body`, on 127.0.0.1.
async fn serve_once(body: &'static str) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_uris_are_fetched_into_the_sandbox_before_the_container_starts() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let addr = serve_once("#!/bin/sh\necho fetched script ran\n").await;
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("conf.txt"), "from a file URI\n").unwrap();

    let mut task = shell_task(
        "fetch",
        &agent.agent_id,
        "$MESOS_SANDBOX/run.sh && cat $MESOS_SANDBOX/conf.txt",
    );
    let command = task.command.as_mut().unwrap();
    command.uris = vec![
        mesos_proto::v1::command_info::Uri {
            value: format!("http://{addr}/scripts/tool"),
            output_file: Some("run.sh".into()),
            executable: Some(true),
            ..Default::default()
        },
        mesos_proto::v1::command_info::Uri {
            value: format!("file://{}/conf.txt", local.path().display()),
            ..Default::default()
        },
    ];
    agent.launch(task).await;
    let statuses = agent.run_to_end("fetch").await;
    let last = statuses.last().unwrap();
    assert_eq!(state(last), TaskState::TaskFinished, "{statuses:?}");
    let sandbox = sandbox(&agent, "fetch", last);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "fetched script ran\nfrom a file URI\n"
    );

    // A URI that cannot be fetched fails the launch, naming it, before any container exists.
    let mut bad = shell_task("unfetchable", &agent.agent_id, "true");
    bad.command.as_mut().unwrap().uris = vec![mesos_proto::v1::command_info::Uri {
        value: "hdfs://namenode/x.tgz".into(),
        ..Default::default()
    }];
    agent.launch(bad).await;
    let failed = agent.run_to_end("unfetchable").await;
    assert_eq!(states(&failed), [TaskState::TaskFailed]);
    assert_eq!(
        failed[0].message.as_deref(),
        Some(
            "Failed to launch container: Failed to fetch 'hdfs://namenode/x.tgz': unsupported \
             scheme 'hdfs' (berth fetches http://, file:// and absolute paths)"
        )
    );
    assert_eq!(
        failed[0].reason,
        Some(mesos_proto::v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
}
