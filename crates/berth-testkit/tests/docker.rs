//! The testkit against the real Docker engine: the test image runs, and guards clean up.

use std::collections::HashMap;
use std::time::Duration;

use berth_testkit::{
    docker, ensure_test_image, eventually, test_run_label, unique_name, ContainerGuard, TEST_IMAGE,
};
use bollard::errors::Error as DockerError;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, LogsOptions};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// Creates and starts a container named `name` running `sh -c script`, with the extra labels.
async fn run_container(docker: &Docker, name: &str, script: &str, labels: &[(&str, &str)]) {
    let (key, value) = test_run_label();
    let mut all_labels = HashMap::from([(key.to_owned(), value.to_owned())]);
    all_labels.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = ContainerCreateBody {
        image: Some(ensure_test_image().await),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
        labels: Some(all_labels),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_owned()),
        ..Default::default()
    };
    docker
        .create_container(Some(options), config)
        .await
        .expect("creating a container from the test image");
    docker
        .start_container(name, None)
        .await
        .expect("starting the container");
}

async fn is_gone(docker: &Docker, name: &str) -> bool {
    matches!(
        docker.inspect_container(name, None).await,
        Err(DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        })
    )
}

#[tokio::test]
async fn test_image_runs_a_shell_command_and_its_logs_show_the_output() {
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let name = guard.track(unique_name("berth-testkit-echo"));

    run_container(&docker, &name, "echo hi", &[]).await;

    let exit = tokio::time::timeout(WAIT, docker.wait_container(&name, None).next())
        .await
        .expect("the container exits within the wait")
        .expect("the wait stream yields the exit")
        .expect("the container exits with status 0");
    assert_eq!(exit.status_code, 0);

    let logs: Vec<_> = docker
        .logs(
            &name,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .try_collect()
        .await
        .expect("reading the container's logs");
    let output: String = logs.iter().map(ToString::to_string).collect();
    assert!(output.contains("hi"), "logs were {output:?}");
}

#[tokio::test]
async fn test_image_starts_a_shell_with_the_usual_path() {
    let docker = docker().await;
    let image = docker
        .inspect_image(&ensure_test_image().await)
        .await
        .expect("the test image exists after ensure_test_image");
    let config = image.config.expect("an imported image has a config");
    assert_eq!(config.cmd, Some(vec!["/bin/sh".to_owned()]));
    assert!(
        config
            .env
            .unwrap_or_default()
            .iter()
            .any(|var| var == &format!("PATH={}", berth_testkit::image::IMAGE_PATH)),
        "the image sets PATH"
    );
}

#[tokio::test]
async fn ensure_test_image_can_be_called_concurrently() {
    let (first, second) = tokio::join!(ensure_test_image(), ensure_test_image());
    assert_eq!(first, TEST_IMAGE);
    assert_eq!(second, TEST_IMAGE);
}

#[tokio::test]
async fn guard_removes_its_containers_even_when_the_test_panics() {
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let by_name = guard.track(unique_name("berth-testkit-named"));
    let label_value = unique_name("guard-test");
    guard.track_label("berth.testkit-guard", label_value.clone());
    let by_label = unique_name("berth-testkit-labelled");

    run_container(&docker, &by_name, "sleep 300", &[]).await;
    run_container(
        &docker,
        &by_label,
        "sleep 300",
        &[("berth.testkit-guard", &label_value)],
    )
    .await;
    eventually(WAIT, POLL, || async {
        let state = docker
            .inspect_container(&by_label, None)
            .await
            .ok()?
            .state?;
        state.running.filter(|running| *running)
    })
    .await;

    // A test that panics while holding the guard: the guard drops during unwinding.
    let panicked = std::thread::spawn(move || {
        let _guard = guard;
        panic!("a failing test");
    })
    .join();
    assert!(panicked.is_err());

    // Drop joins its cleanup, so both are gone already; no waiting needed.
    assert!(
        is_gone(&docker, &by_name).await,
        "{by_name} was not removed"
    );
    assert!(
        is_gone(&docker, &by_label).await,
        "{by_label} was not removed"
    );
}

#[tokio::test]
async fn guard_tolerates_names_that_never_became_containers() {
    let guard = ContainerGuard::new();
    let name = guard.track(unique_name("berth-testkit-never-created"));
    assert_eq!(guard.tracked(), vec![name]);
    drop(guard);
}
