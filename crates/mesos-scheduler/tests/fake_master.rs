//! The client against berth-testkit's scripted fake master over real HTTP on 127.0.0.1:
//! subscription, redirects, reconnection, heartbeats, acknowledgements, errors, both encodings
//! and a replay of a real Mesos master's events.

use std::time::Duration;

use berth_testkit::fake_master::{error_event, FakeMaster, StreamOptions, SubscribeReply};
use futures_util::StreamExt;
use http::StatusCode;
use mesos_proto::v1::scheduler::call::Type;
use mesos_proto::v1::scheduler::event::{self, Type as EventType};
use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::v1::{AgentId, FrameworkInfo, TaskId, TaskState, TaskStatus};
use mesos_proto::MesosJson;
use mesos_scheduler::{
    BackoffConfig, ContentType, Credentials, Error, Scheduler, SchedulerConfig, SchedulerEvent,
    Subscription,
};

const WAIT: Duration = Duration::from_secs(10);

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "mesos-scheduler-test".into(),
        failover_timeout: Some(60.0),
        ..Default::default()
    }
}

fn config(master: &FakeMaster) -> SchedulerConfig {
    let mut c = SchedulerConfig::new(master.url(), framework());
    c.connect_timeout = Duration::from_secs(2);
    c.request_timeout = Duration::from_secs(5);
    c.subscribe_timeout = Duration::from_secs(5);
    c.backoff = BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        jitter: 0.5,
    };
    c
}

/// Pulls events until one matches `pred`; panics after [`WAIT`] or when the stream ends.
async fn until<F>(events: &mut Subscription, mut pred: F) -> SchedulerEvent
where
    F: FnMut(&SchedulerEvent) -> bool,
{
    let pull = async {
        loop {
            match events.next().await {
                Some(e) if pred(&e) => return e,
                Some(_) => {}
                None => panic!("subscription ended before the expected event"),
            }
        }
    };
    tokio::time::timeout(WAIT, pull)
        .await
        .expect("expected event within the deadline")
}

fn is_subscribed(e: &SchedulerEvent) -> bool {
    matches!(e, SchedulerEvent::Subscribed { .. })
}

fn is_event(ty: EventType) -> impl FnMut(&SchedulerEvent) -> bool {
    move |e| matches!(e, SchedulerEvent::Event(ev) if ev.r#type == Some(ty as i32))
}

/// Keeps polling (so queued acknowledgements and reconciliations are sent) for a moment.
async fn drain_for(events: &mut Subscription, d: Duration) {
    let _ = tokio::time::timeout(d, async { while events.next().await.is_some() {} }).await;
}

/// A MESSAGE event the tests send after others, to know those were dealt with.
fn marker() -> Event {
    Event {
        r#type: Some(EventType::Message as i32),
        message: Some(event::Message {
            agent_id: AgentId { value: "S0".into() },
            executor_id: mesos_proto::v1::ExecutorId { value: "e".into() },
            data: b"marker".to_vec(),
        }),
        ..Default::default()
    }
}

fn is_marker(e: &SchedulerEvent) -> bool {
    matches!(e, SchedulerEvent::Event(ev) if ev.message.as_ref().is_some_and(|m| m.data == b"marker"))
}

fn update(task: &str, state: TaskState, uuid: Option<&[u8]>) -> Event {
    Event {
        r#type: Some(EventType::Update as i32),
        update: Some(Box::new(event::Update {
            status: TaskStatus {
                task_id: TaskId { value: task.into() },
                state: state as i32,
                agent_id: Some(AgentId { value: "S0".into() }),
                uuid: uuid.map(<[u8]>::to_vec),
                ..Default::default()
            },
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn subscribe_then_calls_carry_stream_id_and_framework_id() {
    let master = FakeMaster::start().await;
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    assert!(matches!(
        scheduler.revive(vec![]).await,
        Err(Error::NotSubscribed)
    ));
    let SchedulerEvent::Subscribed {
        framework_id,
        stream_id,
        heartbeat_interval,
        resubscribed,
        ..
    } = until(&mut events, is_subscribed).await
    else {
        unreachable!()
    };
    assert!(!resubscribed);
    assert_eq!(heartbeat_interval, Duration::from_secs(15));
    assert_eq!(framework_id.value, "fake-master-0000");
    until(&mut events, is_event(EventType::Subscribed)).await;

    scheduler.revive(vec![]).await.expect("revive accepted");
    let reqs = master.requests();
    let sub = &reqs[0];
    assert_eq!(sub.call_type(), Some(Type::Subscribe));
    assert!(sub.header("mesos-stream-id").is_none());
    // Protobuf unless told otherwise, as Mesos's own scheduler library is used.
    assert_eq!(sub.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(sub.header("accept"), Some("application/x-protobuf"));
    let revive = reqs.last().expect("revive recorded");
    assert_eq!(revive.call_type(), Some(Type::Revive));
    assert_eq!(revive.header("mesos-stream-id"), Some(stream_id.as_str()));
    assert_eq!(
        revive.call.as_ref().and_then(|c| c.framework_id.clone()),
        Some(framework_id)
    );
    assert_eq!(scheduler.stream_id(), Some(stream_id));
    master.shutdown().await;
}

#[tokio::test]
async fn redirect_to_the_leading_master_is_followed() {
    let follower = FakeMaster::start().await;
    let leader = FakeMaster::start().await;
    follower.push_subscribe_reply(SubscribeReply::redirect_to(&leader));
    let (scheduler, mut events) = Scheduler::new(config(&follower)).expect("config");
    let SchedulerEvent::Subscribed { master, .. } = until(&mut events, is_subscribed).await else {
        unreachable!()
    };
    assert_eq!(
        master,
        format!("http://{}/master/api/v1/scheduler", leader.addr())
    );
    assert_eq!(follower.calls_of(Type::Subscribe).len(), 1);
    assert_eq!(leader.calls_of(Type::Subscribe).len(), 1);
    // Later calls go to the leader, on the redirected path.
    scheduler.suppress(vec![]).await.expect("suppress");
    let last = leader.requests().pop().expect("recorded");
    assert_eq!(last.call_type(), Some(Type::Suppress));
    assert_eq!(last.path, "/master/api/v1/scheduler");
    assert!(follower.calls_of(Type::Suppress).is_empty());
}

#[tokio::test]
async fn dropped_stream_resubscribes_with_the_framework_id_and_reconciles_tracked_tasks() {
    let master = FakeMaster::start().await;
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let first = master.wait_for_subscription(1, WAIT).await;
    first.send(&update("web-1", TaskState::TaskRunning, None));
    first.send(&update("web-2", TaskState::TaskRunning, None));
    first.send(&update("web-2", TaskState::TaskFinished, None));
    until(&mut events, |e| {
        matches!(e, SchedulerEvent::Event(ev) if ev.update.as_ref().is_some_and(|u| u.status.state == TaskState::TaskFinished as i32))
    })
    .await;
    let tracked = scheduler.tracked_tasks();
    assert_eq!(tracked.len(), 1);
    assert_eq!(tracked[0].task_id.value, "web-1");

    first.close();
    let SchedulerEvent::Disconnected {
        reason, attempt, ..
    } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(matches!(reason, Error::StreamEnded), "{reason:?}");
    assert_eq!(attempt, 0);
    let SchedulerEvent::Subscribed { resubscribed, .. } = until(&mut events, is_subscribed).await
    else {
        unreachable!()
    };
    assert!(resubscribed);

    let subscribes = master.calls_of(Type::Subscribe);
    assert_eq!(subscribes.len(), 2);
    let again = &subscribes[1];
    assert_eq!(
        again.framework_id.as_ref().map(|f| f.value.as_str()),
        Some(first.framework_id.value.as_str())
    );
    let info = &again.subscribe.as_ref().expect("subscribe").framework_info;
    assert_eq!(info.id, again.framework_id);
    assert_eq!(info.failover_timeout, Some(60.0));

    // The reconciliation is sent once the events after SUBSCRIBED are asked for.
    let second = master.wait_for_subscription(2, WAIT).await;
    let reconciles = tokio::time::timeout(WAIT, async {
        loop {
            let calls = master.calls_of(Type::Reconcile);
            if !calls.is_empty() {
                return calls;
            }
            drain_for(&mut events, Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("RECONCILE within the deadline");
    let tasks = &reconciles[0].reconcile.as_ref().expect("reconcile").tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task_id.value, "web-1");
    assert_eq!(
        tasks[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some("S0")
    );
    let req = master
        .requests()
        .into_iter()
        .find(|r| r.call_type() == Some(Type::Reconcile))
        .expect("recorded");
    assert_eq!(
        req.header("mesos-stream-id"),
        Some(second.stream_id.as_str())
    );
}

#[tokio::test]
async fn missed_heartbeats_make_the_client_reconnect() {
    let master = FakeMaster::start().await;
    master.set_default_stream(StreamOptions::with_heartbeat(Duration::from_millis(100)));
    let mut c = config(&master);
    c.missed_heartbeats = 5;
    let (_scheduler, mut events) = Scheduler::new(c).expect("config");
    let SchedulerEvent::Subscribed {
        heartbeat_interval, ..
    } = until(&mut events, is_subscribed).await
    else {
        unreachable!()
    };
    assert_eq!(heartbeat_interval, Duration::from_millis(100));
    // Heartbeats keep a quiet stream alive...
    let first = master.wait_for_subscription(1, WAIT).await;
    for _ in 0..8 {
        until(&mut events, is_event(EventType::Heartbeat)).await;
    }
    assert_eq!(master.subscriptions().len(), 1);
    // ...and their absence gets it dropped.
    first.stop_heartbeats();
    let SchedulerEvent::Disconnected { reason, .. } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(reason, Error::HeartbeatTimeout { silence } if silence == Duration::from_millis(500)),
        "{reason:?}"
    );
    until(&mut events, is_subscribed).await;
    assert_eq!(master.subscriptions().len(), 2);
}

#[tokio::test]
async fn client_errors_are_surfaced_with_status_and_body() {
    let master = FakeMaster::start().await;
    master.push_call_reply(Type::Kill, 400, "Framework cannot be found");
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let err = scheduler
        .kill(TaskId { value: "t".into() }, None, None)
        .await
        .expect_err("scripted 400");
    assert!(
        matches!(&err, Error::Status { status, body } if *status == StatusCode::BAD_REQUEST && body == "Framework cannot be found"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    master.push_call_reply(Type::Decline, 503, "Master has not finished recovery");
    let err = scheduler.decline(vec![], None).await.expect_err("503");
    assert!(err.is_retryable());
    // The subscription is unaffected.
    scheduler.revive(vec![]).await.expect("revive");
}

#[tokio::test]
async fn a_refused_subscribe_ends_the_subscription_with_the_body() {
    let master = FakeMaster::start().await;
    master.push_subscribe_reply(SubscribeReply::Status {
        status: 400,
        body: "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user".into(),
    });
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    let closed = until(&mut events, |e| matches!(e, SchedulerEvent::Closed { .. })).await;
    assert!(
        matches!(&closed, SchedulerEvent::Closed { reason: Some(Error::Status { status, body }) }
            if *status == StatusCode::BAD_REQUEST && body.ends_with("subscribe.framework_info.user")),
        "{closed:?}"
    );
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn a_503_subscribe_is_retried() {
    let master = FakeMaster::start().await;
    master.push_subscribe_reply(SubscribeReply::Status {
        status: 503,
        body: "No leader elected".into(),
    });
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    let SchedulerEvent::Disconnected {
        reason, attempt, ..
    } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(reason.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(attempt, 1);
    until(&mut events, is_subscribed).await;
}

#[tokio::test]
async fn updates_with_uuid_are_acknowledged_and_those_without_are_not() {
    let master = FakeMaster::start().await;
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    let uuid = [7u8; 16];
    stream.send(&update("t1", TaskState::TaskRunning, Some(&uuid)));
    stream.send(&update("t1", TaskState::TaskRunning, None));
    stream.send(&update("t2", TaskState::TaskLost, Some(&[])));
    // An acknowledgement goes out when the next event is requested, so once this marker has
    // arrived every update before it has been dealt with.
    stream.send(&marker());
    until(&mut events, is_marker).await;
    let acks = master.calls_of(Type::Acknowledge);
    assert_eq!(acks.len(), 1, "{acks:?}");
    let ack = acks[0].acknowledge.as_ref().expect("acknowledge");
    assert_eq!(ack.uuid, uuid);
    assert_eq!(ack.task_id.value, "t1");
    assert_eq!(ack.agent_id.value, "S0");
    assert_eq!(acks[0].framework_id, Some(stream.framework_id.clone()));
}

#[tokio::test]
async fn auto_ack_off_leaves_acknowledgement_to_the_framework() {
    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.auto_ack = false;
    let (scheduler, mut events) = Scheduler::new(c).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    stream.send(&update("t1", TaskState::TaskRunning, Some(&[3; 16])));
    stream.send(&update("t1", TaskState::TaskRunning, None));
    let SchedulerEvent::Event(with) = until(&mut events, is_event(EventType::Update)).await else {
        unreachable!()
    };
    let SchedulerEvent::Event(without) = until(&mut events, is_event(EventType::Update)).await
    else {
        unreachable!()
    };
    assert!(master.calls_of(Type::Acknowledge).is_empty());
    let refused = scheduler
        .acknowledge_update(&without.update.expect("update").status)
        .await;
    assert!(matches!(refused, Err(Error::InvalidCall { .. })));
    scheduler
        .acknowledge_update(&with.update.expect("update").status)
        .await
        .expect("manual ack");
    let acks = master.calls_of(Type::Acknowledge);
    assert_eq!(acks.len(), 1);
    assert_eq!(
        acks[0].acknowledge.as_ref().map(|a| a.uuid.clone()),
        Some(vec![3; 16])
    );
}

#[tokio::test]
async fn json_subscription_sends_and_receives_json() {
    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.content_type = ContentType::Json;
    let (scheduler, mut events) = Scheduler::new(c).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    assert_eq!(stream.encoding.media_type(), "application/json");
    let sent = update("json", TaskState::TaskStarting, Some(&[9; 16]));
    stream.send(&sent);
    let SchedulerEvent::Event(got) = until(&mut events, is_event(EventType::Update)).await else {
        unreachable!()
    };
    assert_eq!(*got, sent);
    stream.send(&marker());
    until(&mut events, is_marker).await;
    scheduler.revive(vec![]).await.expect("revive");
    for req in master.requests() {
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.call.is_some(), "JSON body decodes");
    }
    assert_eq!(master.calls_of(Type::Acknowledge).len(), 1);
}

#[tokio::test]
async fn basic_auth_is_sent_with_every_request() {
    let master = FakeMaster::start().await;
    master.require_basic_auth("fw-principal", "s3cret");
    let mut c = config(&master);
    c.credentials = Some(Credentials::new("fw-principal", "s3cret"));
    let (scheduler, mut events) = Scheduler::new(c).expect("config");
    until(&mut events, is_subscribed).await;
    scheduler.revive(vec![]).await.expect("revive");
    let reqs = master.requests();
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        assert_eq!(
            req.header("authorization"),
            Some("Basic ZnctcHJpbmNpcGFsOnMzY3JldA==")
        );
    }
    // The principal is filled into FrameworkInfo, as Mesos requires them to match.
    let sub = reqs[0]
        .call
        .as_ref()
        .and_then(|c| c.subscribe.as_ref())
        .expect("subscribe");
    assert_eq!(
        sub.framework_info.principal.as_deref(),
        Some("fw-principal")
    );
}

#[tokio::test]
async fn wrong_credentials_end_the_subscription_with_401() {
    let master = FakeMaster::start().await;
    master.require_basic_auth("fw", "right");
    let mut c = config(&master);
    c.credentials = Some(Credentials::new("fw", "wrong"));
    let (_scheduler, mut events) = Scheduler::new(c).expect("config");
    let closed = until(&mut events, |e| matches!(e, SchedulerEvent::Closed { .. })).await;
    assert!(
        matches!(&closed, SchedulerEvent::Closed { reason: Some(e) } if e.status() == Some(StatusCode::UNAUTHORIZED)),
        "{closed:?}"
    );
}

#[tokio::test]
async fn framework_removed_error_is_fatal() {
    let master = FakeMaster::start().await;
    master.push_subscribe_reply(SubscribeReply::Stream(StreamOptions {
        send_subscribed: false,
        heartbeats: false,
        events: vec![error_event("Framework has been removed")],
        close_after_events: true,
        ..Default::default()
    }));
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_event(EventType::Error)).await;
    let closed = until(&mut events, |e| matches!(e, SchedulerEvent::Closed { .. })).await;
    assert!(matches!(
        closed,
        SchedulerEvent::Closed {
            reason: Some(Error::FrameworkRemoved { .. })
        }
    ));
    assert!(events.next().await.is_none());
    assert_eq!(master.calls_of(Type::Subscribe).len(), 1);
}

#[tokio::test]
async fn teardown_ends_the_subscription_without_reconnecting() {
    let master = FakeMaster::start().await;
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    scheduler.teardown().await.expect("teardown");
    let closed = until(&mut events, |e| matches!(e, SchedulerEvent::Closed { .. })).await;
    assert!(
        matches!(closed, SchedulerEvent::Closed { reason: None }),
        "{closed:?}"
    );
    assert!(events.next().await.is_none());
    assert_eq!(master.calls_of(Type::Subscribe).len(), 1);
    assert!(matches!(
        scheduler.revive(vec![]).await,
        Err(Error::Shutdown)
    ));
}

#[tokio::test]
async fn update_framework_is_used_for_later_resubscriptions() {
    let master = FakeMaster::start().await;
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let mut info = framework();
    info.name = "renamed".into();
    scheduler
        .update_framework(info, vec![], None)
        .await
        .expect("UPDATE_FRAMEWORK answers 200");
    master.wait_for_subscription(1, WAIT).await.close();
    until(&mut events, is_subscribed).await;
    let subs = master.calls_of(Type::Subscribe);
    let info = &subs[1]
        .subscribe
        .as_ref()
        .expect("subscribe")
        .framework_info;
    assert_eq!(info.name, "renamed");
    assert_eq!(info.id, subs[1].framework_id);
}

fn transcript() -> Vec<serde_json::Value> {
    let text =
        include_str!("../../mesos-proto/tests/fixtures/real-mesos/seed-task-transcript.json");
    serde_json::from_str(text).expect("transcript is JSON")
}

async fn replay_transcript(content_type: ContentType) {
    let entries = transcript();
    let recorded: Vec<Event> = entries
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| Event::from_json_value(&e["event"]).expect("recorded event decodes"))
        .collect();
    let framework_id = recorded[0]
        .subscribed
        .as_ref()
        .expect("first is SUBSCRIBED")
        .framework_id
        .clone();
    let master = FakeMaster::start().await;
    master.set_framework_id(&framework_id.value);
    master.push_subscribe_reply(SubscribeReply::Stream(StreamOptions {
        send_subscribed: false,
        // The first periodic HEARTBEAT follows the recorded events: a marker.
        heartbeats: true,
        events: recorded.clone(),
        ..Default::default()
    }));
    let mut c = config(&master);
    c.content_type = content_type;
    let (scheduler, mut events) = Scheduler::new(c).expect("config");
    let mut got = Vec::new();
    while got.len() < recorded.len() {
        if let SchedulerEvent::Event(ev) =
            until(&mut events, |e| matches!(e, SchedulerEvent::Event(_))).await
        {
            got.push(*ev);
        }
    }
    assert_eq!(got, recorded, "events handed over intact");
    assert_eq!(scheduler.framework_id(), Some(framework_id));

    // The acknowledgements match what the recorded framework sent. The last one goes out when
    // the marker after the recording is requested.
    until(&mut events, is_event(EventType::Heartbeat)).await;
    let expected: Vec<Call> = entries
        .iter()
        .filter(|e| e["kind"] == "call" && e["request"]["type"] == "ACKNOWLEDGE")
        .map(|e| Call::from_json_value(&e["request"]).expect("recorded call decodes"))
        .collect();
    assert_eq!(expected.len(), 4);
    // Acknowledgements are pipelined in the background: give the last one a moment to land.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while master.calls_of(Type::Acknowledge).len() < expected.len()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(master.calls_of(Type::Acknowledge), expected);
    // The reconciliation answers (no uuid) were not acknowledged, and the task was forgotten
    // after TASK_KILLED.
    assert!(scheduler.tracked_tasks().is_empty());
}

#[tokio::test]
async fn real_mesos_transcript_is_handed_over_intact_in_json() {
    replay_transcript(ContentType::Json).await;
}

#[tokio::test]
async fn real_mesos_transcript_is_handed_over_intact_in_protobuf() {
    replay_transcript(ContentType::Protobuf).await;
}

#[tokio::test]
async fn garbage_on_the_stream_causes_a_reconnect() {
    let master = FakeMaster::start().await;
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    stream.send_raw(bytes::Bytes::from_static(b"12x\n{}"));
    let SchedulerEvent::Disconnected { reason, .. } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(matches!(reason, Error::RecordIo(_)), "{reason:?}");
    until(&mut events, is_subscribed).await;
}

#[tokio::test]
async fn an_aborted_connection_causes_a_reconnect() {
    let master = FakeMaster::start().await;
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    master.wait_for_subscription(1, WAIT).await.abort();
    until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await;
    until(&mut events, is_subscribed).await;
    assert_eq!(master.subscriptions().len(), 2);
}

#[tokio::test]
async fn shutdown_ends_the_stream() {
    let master = FakeMaster::start().await;
    let (scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    scheduler.shutdown();
    let closed = until(&mut events, |e| matches!(e, SchedulerEvent::Closed { .. })).await;
    assert!(matches!(closed, SchedulerEvent::Closed { reason: None }));
    assert!(events.next().await.is_none());
    assert!(!scheduler.is_subscribed());
}

#[tokio::test(start_paused = true)]
async fn reconnect_backoff_is_capped_and_jittered() {
    // A port nobody listens on: every attempt fails at once.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut c = SchedulerConfig::new(format!("http://{addr}"), framework());
    c.backoff = BackoffConfig {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(15),
        jitter: 0.5,
    };
    let (_scheduler, mut events) = Scheduler::new(c).expect("config");
    let mut seen = Vec::new();
    let mut last = tokio::time::Instant::now();
    let mut gaps = Vec::new();
    while seen.len() < 12 {
        match events.next().await {
            Some(SchedulerEvent::Disconnected {
                attempt, backoff, ..
            }) => {
                let now = tokio::time::Instant::now();
                gaps.push(now - last);
                last = now;
                seen.push((attempt, backoff));
            }
            Some(_) => {}
            None => panic!("stream ended"),
        }
    }
    for (i, (attempt, backoff)) in seen.iter().enumerate() {
        assert_eq!(*attempt as usize, i + 1);
        let full = Duration::from_millis(100)
            .saturating_mul(1 << attempt.min(&20))
            .min(Duration::from_secs(15));
        assert!(
            *backoff <= full && *backoff >= full / 2,
            "attempt {attempt}: {backoff:?} vs {full:?}"
        );
    }
    // Each attempt waited for the previous backoff (paused time advances exactly).
    for (gap, (_, backoff)) in gaps.iter().skip(1).zip(&seen) {
        assert!(gap >= backoff, "{gap:?} < {backoff:?}");
    }
    // Capped delays are jittered: not all the same.
    let capped: Vec<_> = seen
        .iter()
        .filter(|(a, _)| *a >= 8)
        .map(|(_, b)| *b)
        .collect();
    assert!(capped.len() >= 3);
    assert!(capped.iter().any(|b| *b != capped[0]), "{capped:?}");
}

#[tokio::test]
async fn the_next_configured_master_is_tried_after_a_failure() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.masters = vec![format!("{dead}"), master.url()];
    let (_scheduler, mut events) = Scheduler::new(c).expect("config");
    let SchedulerEvent::Disconnected { reason, .. } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(reason.is_retryable(), "{reason:?}");
    let SchedulerEvent::Subscribed { master: url, .. } = until(&mut events, is_subscribed).await
    else {
        unreachable!()
    };
    assert_eq!(url, master.url());
}

#[tokio::test]
async fn a_restarted_framework_resubscribes_and_reconciles_the_tasks_it_remembers() {
    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.framework_info.id = Some(mesos_proto::v1::FrameworkId {
        value: "fw-from-storage".into(),
    });
    let (scheduler, mut events) = Scheduler::new(c).expect("config");
    scheduler.track_task(
        TaskId {
            value: "old-task".into(),
        },
        Some(AgentId { value: "S7".into() }),
    );
    let SchedulerEvent::Subscribed {
        framework_id,
        resubscribed,
        ..
    } = until(&mut events, is_subscribed).await
    else {
        unreachable!()
    };
    assert!(resubscribed);
    assert_eq!(framework_id.value, "fw-from-storage");
    let sub = &master.calls_of(Type::Subscribe)[0];
    assert_eq!(sub.framework_id, Some(framework_id.clone()));
    let stream = master.wait_for_subscription(1, WAIT).await;
    stream.send(&marker());
    until(&mut events, is_marker).await;
    let reconciles = master.calls_of(Type::Reconcile);
    assert_eq!(reconciles.len(), 1);
    let tasks = &reconciles[0].reconcile.as_ref().expect("reconcile").tasks;
    assert_eq!(tasks[0].task_id.value, "old-task");
    assert_eq!(
        tasks[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some("S7")
    );
}

#[tokio::test]
async fn framework_failed_over_error_reconnects_by_default() {
    let master = FakeMaster::start().await;
    let (_scheduler, mut events) = Scheduler::new(config(&master)).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    stream.send(&error_event("Framework failed over"));
    until(&mut events, is_event(EventType::Error)).await;
    let SchedulerEvent::Disconnected { reason, .. } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(&reason, Error::MasterError { message } if message == "Framework failed over"),
        "{reason:?}"
    );
    until(&mut events, is_subscribed).await;
}

#[tokio::test]
async fn records_over_the_configured_maximum_break_the_stream() {
    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.max_record_size = 1024;
    let (_scheduler, mut events) = Scheduler::new(c).expect("config");
    until(&mut events, is_subscribed).await;
    let stream = master.wait_for_subscription(1, WAIT).await;
    let mut big = marker();
    if let Some(m) = big.message.as_mut() {
        m.data = vec![b'x'; 4096];
    }
    stream.send(&big);
    let SchedulerEvent::Disconnected { reason, .. } = until(&mut events, |e| {
        matches!(e, SchedulerEvent::Disconnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(
            reason,
            Error::RecordIo(mesos_proto::recordio::RecordIoError::TooLarge { max: 1024, .. })
        ),
        "{reason:?}"
    );
}

async fn every_call_against_the_master(content_type: ContentType) {
    use mesos_proto::v1::{ExecutorId, OfferId, OperationId, TaskInfo};
    use mesos_scheduler::call::{grace_period, refuse_for};

    let master = FakeMaster::start().await;
    let mut c = config(&master);
    c.content_type = content_type;
    let (s, mut events) = Scheduler::new(c).expect("config");
    until(&mut events, is_subscribed).await;
    let agent = || AgentId { value: "S0".into() };
    let offer = || vec![OfferId { value: "O1".into() }];
    let task = TaskInfo {
        name: "t".into(),
        task_id: TaskId {
            value: "launched".into(),
        },
        agent_id: agent(),
        resources: vec![mesos_proto::resource::scalar("cpus", 0.1)],
        ..Default::default()
    };
    s.launch(
        offer(),
        vec![task],
        Some(refuse_for(Duration::from_secs(1))),
    )
    .await
    .expect("launch");
    s.accept(offer(), vec![], None).await.expect("accept");
    s.decline(offer(), Some(refuse_for(Duration::from_secs(30))))
        .await
        .expect("decline");
    s.accept_inverse_offers(offer(), None)
        .await
        .expect("accept inverse");
    s.decline_inverse_offers(offer(), None)
        .await
        .expect("decline inverse");
    s.revive(vec!["*".into()]).await.expect("revive");
    s.suppress(vec![]).await.expect("suppress");
    s.kill(
        TaskId {
            value: "launched".into(),
        },
        Some(agent()),
        Some(grace_period(Duration::from_secs(2))),
    )
    .await
    .expect("kill");
    s.shutdown_executor(ExecutorId { value: "e".into() }, agent())
        .await
        .expect("shutdown");
    s.acknowledge(
        agent(),
        TaskId {
            value: "launched".into(),
        },
        vec![1; 16],
    )
    .await
    .expect("acknowledge");
    s.acknowledge_operation_status(
        Some(agent()),
        None,
        vec![2; 16],
        OperationId { value: "op".into() },
    )
    .await
    .expect("acknowledge operation status");
    s.reconcile(vec![(
        TaskId {
            value: "launched".into(),
        },
        Some(agent()),
    )])
    .await
    .expect("reconcile");
    assert_eq!(s.reconcile_tracked().await.expect("reconcile tracked"), 1);
    s.reconcile_operations(vec![])
        .await
        .expect("reconcile operations");
    s.message(agent(), ExecutorId { value: "e".into() }, b"hi".to_vec())
        .await
        .expect("message");
    s.request(vec![]).await.expect("request");
    s.update_framework(framework(), vec![], None)
        .await
        .expect("update framework");
    assert!(matches!(
        s.call(mesos_scheduler::call::subscribe(framework(), vec![]))
            .await,
        Err(Error::InvalidCall { .. })
    ));
    // LAUNCHed tasks are tracked until an update says otherwise.
    let tracked = s.tracked_tasks();
    assert_eq!(tracked.len(), 1);
    assert_eq!(tracked[0].task_id.value, "launched");
    s.teardown().await.expect("teardown");

    let types: Vec<Type> = master
        .requests()
        .iter()
        .map(|r| r.call_type().expect("every call decodes on the master"))
        .collect();
    assert_eq!(
        types,
        [
            Type::Subscribe,
            Type::Accept,
            Type::Accept,
            Type::Decline,
            Type::AcceptInverseOffers,
            Type::DeclineInverseOffers,
            Type::Revive,
            Type::Suppress,
            Type::Kill,
            Type::Shutdown,
            Type::Acknowledge,
            Type::AcknowledgeOperationStatus,
            Type::Reconcile,
            Type::Reconcile,
            Type::ReconcileOperations,
            Type::Message,
            Type::Request,
            Type::UpdateFramework,
            Type::Teardown,
        ]
    );
}

#[tokio::test]
async fn every_call_type_is_accepted_by_the_master_in_json() {
    every_call_against_the_master(ContentType::Json).await;
}

#[tokio::test]
async fn every_call_type_is_accepted_by_the_master_in_protobuf() {
    every_call_against_the_master(ContentType::Protobuf).await;
}
