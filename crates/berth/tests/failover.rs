//! berth's scheduler library against berth's own embedded cluster: the master restarts under a
//! running framework, the agent recovers its container, and the scheduler reconnects,
//! re-subscribes with its framework ID and finds its task still RUNNING through reconciliation.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::time::Duration;

use berth::embedded::{Embedded, EmbeddedConfig};
use berth_testkit::{ensure_test_image, unique_name, ContainerGuard};
use futures::StreamExt;
use mesos_proto::v1::framework_info::capability::Type as Cap;
use mesos_proto::v1::framework_info::Capability;
use mesos_proto::v1::scheduler::Event;
use mesos_proto::v1::task_status::Reason;
use mesos_proto::v1::{FrameworkInfo, TaskId, TaskInfo, TaskState, TaskStatus};
use mesos_scheduler::{BackoffConfig, Scheduler, SchedulerConfig, SchedulerEvent, Subscription};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Next master event (skipping connection notices), failing after `timeout`.
async fn next_event(events: &mut Subscription, timeout: Duration) -> Box<Event> {
    tokio::time::timeout(timeout, async {
        loop {
            match events.next().await.expect("subscription open") {
                SchedulerEvent::Event(e) => return e,
                SchedulerEvent::Closed { reason } => panic!("subscription closed: {reason:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("an event in time")
}

async fn next_update(
    events: &mut Subscription,
    timeout: Duration,
    want: impl Fn(&TaskStatus) -> bool,
) -> TaskStatus {
    tokio::time::timeout(timeout, async {
        loop {
            if let Some(u) = next_event(events, timeout).await.update {
                if want(&u.status) {
                    return u.status;
                }
            }
        }
    })
    .await
    .expect("the update in time")
}

#[tokio::test]
async fn scheduler_reconnects_after_the_master_restarts_and_its_task_is_still_tracked() {
    ensure_test_image().await;
    let label = ("berth.e2e".to_string(), unique_name("failover"));
    let guard = ContainerGuard::new();
    guard.track_label(&label.0, &label.1);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = EmbeddedConfig::new(([127, 0, 0, 1], port).into(), dir.path().to_path_buf());
    cfg.resources = Some("cpus:2;mem:2048;disk:1000;ports:[31000-31100]".into());
    cfg.heartbeat_interval = Duration::from_secs(1);
    cfg.allocation_interval = Duration::from_millis(100);
    cfg.docker_remove_delay = Duration::ZERO;
    cfg.container_labels
        .insert(label.0.clone(), label.1.clone());
    let cluster = Embedded::start(cfg.clone()).await.expect("cluster starts");

    let framework = FrameworkInfo {
        user: "root".into(),
        name: "failover-test".into(),
        failover_timeout: Some(300.0),
        capabilities: vec![Capability {
            r#type: Some(Cap::TaskKillingState as i32),
        }],
        ..Default::default()
    };
    let mut config = SchedulerConfig::new(cluster.url(), framework);
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
        jitter: 0.2,
    };
    let (scheduler, mut events) = Scheduler::new(config).expect("scheduler");

    // Subscribe, take the first offer, launch a long-running task.
    let offer = loop {
        let ev = next_event(&mut events, Duration::from_secs(30)).await;
        if let Some(offers) = ev.offers {
            break offers.offers.into_iter().next().expect("an offer");
        }
    };
    let framework_id = scheduler.framework_id().expect("framework id");
    let task = TaskInfo {
        name: "survivor".into(),
        task_id: TaskId {
            value: "survivor".into(),
        },
        agent_id: offer.agent_id.clone(),
        resources: vec![
            mesos_proto::resource::scalar("cpus", 0.1),
            mesos_proto::resource::scalar("mem", 32.0),
        ],
        command: Some(Box::new(mesos_proto::v1::CommandInfo {
            value: Some("trap 'exit 0' TERM; while true; do sleep 1; done".into()),
            ..Default::default()
        })),
        container: Some(Box::new(mesos_proto::v1::ContainerInfo {
            r#type: mesos_proto::v1::container_info::Type::Docker as i32,
            docker: Some(Box::new(mesos_proto::v1::container_info::DockerInfo {
                image: berth_testkit::TEST_IMAGE.into(),
                network: Some(mesos_proto::v1::container_info::docker_info::Network::Bridge as i32),
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    };
    scheduler
        .launch(vec![offer.id.clone()], vec![task], None)
        .await
        .expect("launch");
    let running = next_update(&mut events, Duration::from_secs(60), |s| {
        s.state == TaskState::TaskRunning as i32
    })
    .await;
    assert!(running.uuid.is_some());

    // The master (and agent) go away; the container keeps running.
    cluster.stop().await;
    let cluster = Embedded::start(cfg)
        .await
        .expect("cluster restarts on the same work dir");

    // The scheduler reconnects by itself, re-subscribes as the same framework, and its
    // reconciliation of the tracked task comes back RUNNING (answered by the master, no uuid).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut resubscribed = false;
    let reconciled = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reconciliation answer after the restart"
        );
        let item = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("events after restart")
            .expect("subscription open");
        match item {
            SchedulerEvent::Subscribed {
                framework_id: id,
                resubscribed: r,
                ..
            } => {
                assert_eq!(id, framework_id, "same framework after the restart");
                resubscribed = r;
                // The agent may still be re-registering: ask again once subscribed.
                let _ = scheduler.reconcile_tracked().await;
            }
            SchedulerEvent::Event(ev) => {
                if let Some(u) = ev.update {
                    let s = u.status;
                    if s.reason == Some(Reason::Reconciliation as i32)
                        && s.state == TaskState::TaskRunning as i32
                    {
                        break s;
                    }
                    if s.reason == Some(Reason::Reconciliation as i32) {
                        // Not known yet (agent re-registering): ask again shortly.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = scheduler.reconcile_tracked().await;
                    }
                }
            }
            SchedulerEvent::Closed { reason } => panic!("closed: {reason:?}"),
            _ => {}
        }
    };
    assert!(resubscribed);
    assert!(
        reconciled.uuid.is_none(),
        "master-generated updates carry no uuid"
    );
    assert_eq!(
        reconciled.message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
    let tracked = scheduler.tracked_tasks();
    assert!(
        tracked.iter().any(|t| t.task_id.value == "survivor"),
        "{tracked:?}"
    );

    // The recovered task is still under control: KILL ends it.
    scheduler
        .kill(
            TaskId {
                value: "survivor".into(),
            },
            Some(offer.agent_id.clone()),
            None,
        )
        .await
        .expect("kill");
    let killed = next_update(&mut events, Duration::from_secs(60), |s| {
        TaskState::try_from(s.state).is_ok_and(|st| st.is_terminal())
    })
    .await;
    assert_eq!(killed.state, TaskState::TaskKilled as i32, "{killed:?}");
    scheduler.teardown().await.expect("teardown");
    cluster.stop().await;
}
