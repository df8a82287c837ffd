//! Agent restarts (mesos-v1.md §5.11) and agents sharing one engine, on the real engine.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use berth_agent::containerizer::Containerizer;
use berth_agent::{DockerConfig, DockerContainerizer};
use berth_testkit::{
    docker, ensure_test_image, eventually, test_run_label, ContainerGuard, TEST_IMAGE,
};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;
use bollard::Docker;
use common::*;
use mesos_proto::id::{AgentId, ContainerId};
use mesos_proto::v1::{TaskState, TaskStatus};

/// Starts a container named like one of `agent_id`'s, carrying the test's labels.
async fn start_foreign_container(
    docker: &Docker,
    guard: &ContainerGuard,
    agent_id: &AgentId,
    case: &str,
) -> String {
    let name = format!("mesos-{agent_id}.{}", ContainerId::random());
    guard.track(name.clone());
    let (key, value) = test_run_label();
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(TEST_IMAGE.into()),
                cmd: Some(vec!["sleep".into(), "1000".into()]),
                labels: Some(HashMap::from([
                    (key.to_owned(), value.to_owned()),
                    (TEST_CASE_LABEL.to_owned(), case.to_owned()),
                ])),
                ..Default::default()
            },
        )
        .await
        .expect("creating a container");
    docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .expect("starting a container");
    name
}

async fn running(docker: &Docker, name: &str) -> bool {
    inspect(docker, name).await.state.and_then(|s| s.running) == Some(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_recovers_running_exited_and_orphaned_containers() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let options = Options::new(work.path());
    let agent_id = options.agent_id.clone();
    let case = options.case.clone();
    let mut agent = Harness::start(options, &guard).await;

    agent
        .launch(shell_task(
            "long",
            &agent_id,
            "while true; do echo tick; sleep 0.2; done",
        ))
        .await;
    agent
        .launch(shell_task(
            "short",
            &agent_id,
            "while [ ! -f $MESOS_SANDBOX/stop ]; do sleep 0.1; done; echo bye >&2; exit 7",
        ))
        .await;
    // Acknowledge everything except long's TASK_RUNNING.
    let mut statuses: HashMap<String, TaskStatus> = HashMap::new();
    let mut unacked_running = None;
    while statuses.len() < 2 {
        let status = agent.next_update().await;
        if state(&status) == TaskState::TaskRunning {
            if status.task_id.value == "long" {
                unacked_running = Some(status.clone());
            } else {
                agent.ack(&status).await;
            }
            statuses.insert(status.task_id.value.clone(), status);
        } else {
            agent.ack(&status).await;
        }
    }
    let unacked_running = unacked_running.unwrap();
    let framework_id = agent.framework_id.clone();
    let long_name = agent.container_name(&statuses["long"]);
    let short_name = agent.container_name(&statuses["short"]);
    let long_stdout = sandbox(&agent, "long", &statuses["long"]).join("stdout");
    let short_sandbox = sandbox(&agent, "short", &statuses["short"]);
    agent.stop().await;

    // While no agent runs: "short" exits, an orphan with this agent's prefix appears, and so
    // does a container of another agent sharing the engine.
    std::fs::write(short_sandbox.join("stop"), "").unwrap();
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { !running(&docker, &short_name).await },
    )
    .await;
    let orphan = start_foreign_container(&docker, &guard, &agent_id, &case).await;
    let other_agent = AgentId::generated(format!("{agent_id}-other"));
    let foreign = start_foreign_container(&docker, &guard, &other_agent, &case).await;
    assert!(running(&docker, &long_name).await);

    // Restart on the same work dir; the master recognises the agent.
    let mut options = Options::new(work.path());
    options.agent_id = agent_id.clone();
    options.case = case.clone();
    let mut agent = Harness::start(options, &guard).await;
    agent.framework_id = framework_id;
    let registration = agent.registration.clone();
    assert_eq!(registration.previous_id.as_ref(), Some(&agent_id));
    let mut reported: Vec<(String, TaskState)> = registration
        .tasks
        .iter()
        .map(|t| (t.task.task_id.value.clone(), t.state))
        .collect();
    reported.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        reported,
        [
            ("long".to_owned(), TaskState::TaskRunning),
            ("short".to_owned(), TaskState::TaskRunning)
        ]
    );

    // After re-registering: long's unacknowledged update again (same uuid), and short's exit.
    let mut resent = None;
    let mut short_end = None;
    while resent.is_none() || short_end.is_none() {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        match status.task_id.value.as_str() {
            "long" => resent = Some(status),
            // Its TASK_RUNNING may come again first: the agent may have stopped before it
            // processed that acknowledgement.
            "short" if state(&status) == TaskState::TaskRunning => {}
            "short" => short_end = Some(status),
            other => panic!("update for {other}"),
        }
    }
    let resent = resent.unwrap();
    assert_eq!(resent.uuid, unacked_running.uuid);
    assert_eq!(state(&resent), TaskState::TaskRunning);
    let short_end = short_end.unwrap();
    assert_eq!(state(&short_end), TaskState::TaskFailed);
    assert_eq!(
        short_end.message.as_deref(),
        Some("Container exited with status 7; last lines of stderr:\nbye")
    );

    // The orphan is removed; the other agent's container is left alone.
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { !exists(&docker, &orphan).await },
    )
    .await;
    assert!(running(&docker, &foreign).await);

    // Output of the recovered task keeps reaching its sandbox.
    let size = std::fs::metadata(&long_stdout).unwrap().len();
    eventually(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async { std::fs::metadata(&long_stdout).unwrap().len() > size },
    )
    .await;

    // And it can still be killed.
    agent.kill("long", Some(Duration::ZERO)).await;
    let statuses = agent.run_to_end("long").await;
    assert_eq!(
        states(&statuses),
        [TaskState::TaskKilling, TaskState::TaskKilled]
    );
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { !exists(&docker, &long_name).await },
    )
    .await;

    // Nothing is left to recover now: once the agent has taken the last acknowledgement,
    // its checkpoint is empty and a third run reports no tasks.
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async {
            berth_agent::checkpoint::load(work.path())
                .unwrap()
                .tasks
                .is_empty()
        },
    )
    .await;
    agent.stop().await;
    let mut options = Options::new(work.path());
    options.agent_id = agent_id.clone();
    options.case = case;
    let agent = Harness::start(options, &guard).await;
    assert!(
        agent.registration.tasks.is_empty(),
        "{:?}",
        agent.registration.tasks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sharing_an_engine_each_see_only_their_containers() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work_a = tempfile::tempdir().unwrap();
    let work_b = tempfile::tempdir().unwrap();
    let mut a = Harness::start(Options::new(work_a.path()), &guard).await;
    let options_b = Options::new(work_b.path());
    let id_b = options_b.agent_id.clone();
    let case_b = options_b.case.clone();
    let mut b = Harness::start(options_b, &guard).await;

    a.launch(seed_task("same-task-id", &a.agent_id)).await;
    b.launch(seed_task("same-task-id", &b.agent_id)).await;
    let a_running = a.run_until(TaskState::TaskRunning, "same-task-id").await;
    let b_running = b.run_until(TaskState::TaskRunning, "same-task-id").await;
    let a_name = a.container_name(&a_running);

    let containerizer = DockerContainerizer::connect(DockerConfig::from_agent(&config(
        &Options::new(work_a.path()),
    )))
    .await
    .unwrap();
    let seen_by = |found: Vec<berth_agent::containerizer::Recovered>| {
        found
            .into_iter()
            .map(|r| r.container_id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seen_by(containerizer.recover(&a.agent_id).await.unwrap()),
        [container_id(&a_running)]
    );
    assert_eq!(
        seen_by(containerizer.recover(&b.agent_id).await.unwrap()),
        [container_id(&b_running)]
    );

    // B restarts (killing its orphans): A's container is not B's to touch.
    let b_framework = b.framework_id.clone();
    b.stop().await;
    let mut options = Options::new(work_b.path());
    options.agent_id = id_b;
    options.case = case_b;
    let mut b = Harness::start(options, &guard).await;
    b.framework_id = b_framework;
    assert_eq!(b.registration.tasks.len(), 1);
    assert_eq!(b.registration.tasks[0].state, TaskState::TaskRunning);
    assert!(running(&docker, &a_name).await);

    for agent in [&mut a, &mut b] {
        agent.kill("same-task-id", Some(Duration::ZERO)).await;
        let end = agent.run_until(TaskState::TaskKilled, "same-task-id").await;
        assert_eq!(state(&end), TaskState::TaskKilled);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agent_id_from_the_master_ends_the_previous_run() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let options = Options::new(work.path());
    let case = options.case.clone();
    let old_id = options.agent_id.clone();
    let mut agent = Harness::start(options, &guard).await;
    agent.launch(seed_task("t", &old_id)).await;
    let running = agent.run_until(TaskState::TaskRunning, "t").await;
    let name = agent.container_name(&running);
    agent.stop().await;

    // The master does not know the old ID and hands out a new one.
    let mut options = Options::new(work.path());
    options.case = case;
    let new_id = options.agent_id.clone();
    let mut agent = Harness::start(options, &guard).await;
    assert_eq!(agent.registration.previous_id.as_ref(), Some(&old_id));
    assert_eq!(agent.registration.tasks.len(), 1);
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { !exists(&docker, &name).await },
    )
    .await;
    // It works under the new ID.
    agent.launch(shell_task("after", &new_id, "true")).await;
    let statuses = agent.run_to_end("after").await;
    assert_eq!(state(statuses.last().unwrap()), TaskState::TaskFinished);
    assert!(agent
        .container_name(&statuses[0])
        .starts_with(&format!("mesos-{new_id}.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_left_alone_when_kill_orphans_is_off() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let options = Options::new(work.path());
    let (agent_id, case) = (options.agent_id.clone(), options.case.clone());
    let agent = Harness::start(options, &guard).await;
    agent.stop().await;
    let orphan = start_foreign_container(&docker, &guard, &agent_id, &case).await;

    let mut options = Options::new(work.path());
    options.agent_id = agent_id;
    options.case = case;
    options.kill_orphans = false;
    let agent = Harness::start(options, &guard).await;
    assert!(agent.registration.tasks.is_empty());
    // The agent has finished recovering once it registered; the orphan still runs.
    assert!(running(&docker, &orphan).await);
}
