//! Image pulls from a real registry (mesos-v1.md §5.8): the test starts Debian's
//! `docker-registry` on a free loopback port (`.ci/run` installs it), pushes the test image to
//! it and has the agent pull it.

mod common;

use berth_testkit::{docker, ensure_test_image, unique_name, ContainerGuard, TEST_IMAGE};
use bollard::query_parameters::{PushImageOptions, RemoveImageOptions, TagImageOptions};
use common::*;
use futures::StreamExt;
use mesos_proto::v1::task_status::{Reason, Source};
use mesos_proto::v1::TaskState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_pulled_when_absent_or_forced() {
    // A registry of the test's own (Debian's docker-registry on a free loopback port).
    let registry_server = berth_testkit::registry::Registry::start();
    let registry = registry_server.addr.clone();
    ensure_test_image().await;
    let docker = docker().await;
    let repo = format!("{registry}/{}", unique_name("berth-pull-test"));
    let image = format!("{repo}:1");

    // Put the test image into the registry, then forget it locally.
    docker
        .tag_image(
            TEST_IMAGE,
            Some(TagImageOptions {
                repo: Some(repo.clone()),
                tag: Some("1".into()),
            }),
        )
        .await
        .expect("tagging the test image");
    let mut push = docker.push_image(
        &repo,
        Some(PushImageOptions {
            tag: Some("1".into()),
            ..Default::default()
        }),
        None,
    );
    while let Some(progress) = push.next().await {
        let progress =
            progress.unwrap_or_else(|err| panic!("pushing {image} to {registry}: {err}"));
        assert!(
            progress.error_detail.is_none(),
            "pushing {image}: {progress:?}"
        );
    }
    let untag = || async {
        let _ = docker
            .remove_image(&image, None::<RemoveImageOptions>, None)
            .await;
    };
    untag().await;

    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;

    // Absent: pulled, and TASK_STARTING says so.
    let mut task = shell_task("absent", &agent.agent_id, "echo pulled");
    docker_info(&mut task).image = image.clone();
    agent.launch(task).await;
    let statuses = agent.run_to_end("absent").await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    let message = statuses[0].message.clone().unwrap_or_default();
    eprintln!("TASK_STARTING after a pull: {message}");
    assert!(
        message.starts_with(&format!("Pulled image '{image}' (")),
        "{message}"
    );

    // Present: no pull, no message.
    let mut task = shell_task("present", &agent.agent_id, "true");
    docker_info(&mut task).image = image.clone();
    agent.launch(task).await;
    let statuses = agent.run_to_end("present").await;
    assert_eq!(statuses[0].message, None);

    // Present but forced: pulled again.
    let mut task = shell_task("forced", &agent.agent_id, "true");
    docker_info(&mut task).image = image.clone();
    docker_info(&mut task).force_pull_image = Some(true);
    agent.launch(task).await;
    let statuses = agent.run_to_end("forced").await;
    let message = statuses[0].message.clone().unwrap_or_default();
    assert!(message.starts_with("Pulled image"), "{message}");

    // A tag the registry does not have: Docker's words after Mesos's prefix.
    let mut task = shell_task("missing-tag", &agent.agent_id, "true");
    docker_info(&mut task).image = format!("{repo}:no-such-tag");
    agent.launch(task).await;
    let failed = agent.next_acked("missing-tag").await;
    assert_eq!(state(&failed), TaskState::TaskFailed);
    assert_eq!(failed.source, Some(Source::Agent as i32));
    assert_eq!(failed.reason, Some(Reason::ContainerLaunchFailed as i32));
    let message = failed.message.unwrap_or_default();
    eprintln!("TASK_FAILED for a missing tag: {message}");
    assert!(
        message.starts_with("Failed to launch container: "),
        "{message}"
    );
    assert!(message.contains("no-such-tag"), "{message}");

    drop(agent);
    drop(guard);
    untag().await;
}
