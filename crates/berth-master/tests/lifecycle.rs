//! The task lifecycle over the real HTTP API with a test agent: the recorded Mesos session
//! replayed, failover, failover timeout, reconciliation, restarts.

mod common;

use std::time::Duration;

use berth_testkit::eventually;
use berth_testkit::test_agent::TaskScript;
use common::*;
use hyper::StatusCode;
use mesos_proto::v1::scheduler::event;
use mesos_proto::v1::{task_status, TaskState};
use mesos_proto::MesosJson;

fn transcript() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mesos-proto/tests/fixtures/real-mesos/seed-task-transcript.json"
    ))
    .expect("transcript");
    serde_json::from_str(&text).expect("transcript JSON")
}

/// Recursively: same keys (order-insensitive, as serde_json sorts) and same value kinds.
fn same_shape(ours: &serde_json::Value, theirs: &serde_json::Value, path: &str) {
    use serde_json::Value::*;
    match (ours, theirs) {
        (Object(a), Object(b)) => {
            let ka: Vec<_> = a.keys().collect();
            let kb: Vec<_> = b.keys().collect();
            assert_eq!(ka, kb, "keys at {path}");
            for (k, v) in b {
                same_shape(&a[k], v, &format!("{path}.{k}"));
            }
        }
        (Array(a), Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                same_shape(x, y, &format!("{path}[0]"));
            }
        }
        (Number(_), Number(_)) | (String(_), String(_)) | (Bool(_), Bool(_)) | (Null, Null) => {}
        _ => panic!("kind differs at {path}: {ours} vs {theirs}"),
    }
}

fn recorded_event(t: &[serde_json::Value], ty: &str, state: Option<&str>) -> serde_json::Value {
    t.iter()
        .filter(|e| e["kind"] == "event" && e["event"]["type"] == ty)
        .find(|e| state.is_none_or(|s| e["event"]["update"]["status"]["state"] == s))
        .map(|e| e["event"].clone())
        .expect("recorded event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorded_mesos_session_replays_with_the_same_event_shapes() {
    let rec = transcript();
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    // SUBSCRIBE exactly as recorded.
    let sub_req = rec[0]["request"].to_string();
    let mut s = subscribe(m.addr, &sub_req, None).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.headers["content-type"], "application/json");
    assert_eq!(s.headers["transfer-encoding"], "chunked");
    assert!(s.headers.get("content-length").is_none());
    assert!(
        uuid::Uuid::parse_str(&s.stream_id).is_ok(),
        "{}",
        s.stream_id
    );
    let subscribed = s.next().await.expect("SUBSCRIBED");
    same_shape(
        &subscribed.to_json_value(),
        &recorded_event(&rec, "SUBSCRIBED", None),
        "SUBSCRIBED",
    );
    let fid = framework_id_of(&subscribed);
    let info = subscribed
        .subscribed
        .as_ref()
        .and_then(|x| x.master_info.clone())
        .expect("master_info");
    assert_eq!(fid, format!("{}-0000", info.id));
    assert_eq!(info.ip, 16_777_343);
    assert_eq!(info.port, u32::from(m.addr.port()));
    assert_eq!(
        info.pid.as_deref(),
        Some(format!("master@127.0.0.1:{}", m.addr.port()).as_str())
    );
    assert_eq!(info.version.as_deref(), Some("1.12.0"));
    assert_eq!(
        subscribed
            .subscribed
            .as_ref()
            .and_then(|x| x.heartbeat_interval_seconds),
        Some(15.0)
    );
    // HEARTBEAT at once, then OFFERS with the agent's resources.
    let hb = s.next().await.expect("HEARTBEAT");
    assert_eq!(hb.to_json_string(), r#"{"type":"HEARTBEAT"}"#);
    let offers_ev = s.next_of(event::Type::Offers).await;
    let recorded_offers = recorded_event(&rec, "OFFERS", None);
    same_shape(&offers_ev.to_json_value(), &recorded_offers, "OFFERS");
    // The resources are exactly the recorded ones (same agent resources).
    assert_eq!(
        offers_ev.to_json_value()["offers"]["offers"][0]["resources"],
        recorded_offers["offers"]["offers"][0]["resources"]
    );
    let offer = offers_of(&offers_ev).remove(0);
    let agent_id = offer.agent_id.value.clone();
    // ACCEPT the seed task, as recorded but with our IDs.
    let accept = accept_body(
        &fid,
        &offer.id.value,
        &[seed_task("DockerContainerTask-1", &agent_id)],
        5.0,
    );
    call_ok(m.addr, &s.stream_id, &accept).await;
    let starting = s.next_update().await;
    assert_eq!(starting.state(), TaskState::TaskStarting);
    assert_eq!(starting.uuid.as_ref().map(Vec::len), Some(16));
    same_shape(
        &starting.to_json_value(),
        &recorded_event(&rec, "UPDATE", Some("TASK_STARTING"))["update"]["status"],
        "STARTING",
    );
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &starting)).await;
    let running = s.next_update().await;
    assert_eq!(running.state(), TaskState::TaskRunning);
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &running)).await;
    // /state while running.
    let state = m.state().await;
    let task = &state["frameworks"][0]["tasks"][0];
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["statuses"].as_array().map(Vec::len), Some(2));
    let rec_state = rec
        .iter()
        .find(|e| e["kind"] == "state_while_running")
        .map(|e| e["state"].clone())
        .expect("recorded state");
    same_shape(task, &rec_state["frameworks"][0]["tasks"][0], "task");
    assert_eq!(
        state["slaves"][0]["used_resources"],
        rec_state["slaves"][0]["used_resources"]
    );
    // RECONCILE: known + unknown.
    let reconcile = format!(
        r#"{{"type":"RECONCILE","framework_id":{{"value":"{fid}"}},"reconcile":{{"tasks":[{{"task_id":{{"value":"DockerContainerTask-1"}},"agent_id":{{"value":"{agent_id}"}}}},{{"task_id":{{"value":"no-such-task"}}}}]}}}}"#
    );
    call_ok(m.addr, &s.stream_id, &reconcile).await;
    let r1 = s.next_update().await;
    assert_eq!(r1.state(), TaskState::TaskRunning);
    assert_eq!(
        r1.message.as_deref(),
        Some("Reconciliation: Latest task state")
    );
    assert_eq!(r1.source(), task_status::Source::Master);
    assert_eq!(r1.reason(), task_status::Reason::Reconciliation);
    assert!(r1.uuid.is_none());
    same_shape(
        &r1.to_json_value(),
        &rec.iter()
            .find(|e| {
                e["kind"] == "event"
                    && e["event"]["update"]["status"]["message"]
                        == "Reconciliation: Latest task state"
            })
            .map(|e| e["event"]["update"]["status"].clone())
            .expect("recorded reconciliation"),
        "reconcile known",
    );
    let r2 = s.next_update().await;
    assert_eq!(r2.state(), TaskState::TaskLost);
    assert_eq!(
        r2.message.as_deref(),
        Some("Reconciliation: Task is unknown")
    );
    same_shape(
        &r2.to_json_value(),
        &recorded_event(&rec, "UPDATE", Some("TASK_LOST"))["update"]["status"],
        "reconcile unknown",
    );
    // KILL with agent and grace period: KILLING (TASK_KILLING_STATE), then KILLED.
    let kill = format!(
        r#"{{"type":"KILL","framework_id":{{"value":"{fid}"}},"kill":{{"task_id":{{"value":"DockerContainerTask-1"}},"agent_id":{{"value":"{agent_id}"}},"kill_policy":{{"grace_period":{{"nanoseconds":2000000000}}}}}}}}"#
    );
    call_ok(m.addr, &s.stream_id, &kill).await;
    let killing = s.next_update().await;
    assert_eq!(killing.state(), TaskState::TaskKilling);
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &killing)).await;
    let killed = s.next_update().await;
    assert_eq!(killed.state(), TaskState::TaskKilled);
    assert_eq!(
        killed.message.as_deref(),
        Some("Container exited with status 137")
    );
    same_shape(
        &killed.to_json_value(),
        &recorded_event(&rec, "UPDATE", Some("TASK_KILLED"))["update"]["status"],
        "KILLED",
    );
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &killed)).await;
    // Acknowledged terminal update: the task moves to completed_tasks.
    eventually(WAIT, Duration::from_millis(10), || async {
        let st = m.state().await;
        st["frameworks"][0]["completed_tasks"][0]["state"] == "TASK_KILLED"
            && st["frameworks"][0]["tasks"]
                .as_array()
                .is_some_and(Vec::is_empty)
    })
    .await;
    // TEARDOWN closes the stream.
    call_ok(
        m.addr,
        &s.stream_id,
        &format!(r#"{{"type":"TEARDOWN","framework_id":{{"value":"{fid}"}}}}"#),
    )
    .await;
    s.ended().await;
    let st = m.state().await;
    assert_eq!(st["frameworks"].as_array().map(Vec::len), Some(0));
    assert_eq!(st["completed_frameworks"][0]["id"], fid);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_task_releases_its_resources_for_new_offers() {
    let m = TestMaster::start().await;
    let agent = m.agent(seed_agent()).await;
    let mut s = subscribe(m.addr, &subscribe_body("fin", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t1", &offer.agent_id.value)],
            0.0,
        ),
    )
    .await;
    // The unused part comes back at once (refuse_seconds 0): 1.5 cpus; STARTING arrives too,
    // in either order.
    let cpus = |o: &mesos_proto::v1::Offer| mesos_proto::resource::scalar_sum(&o.resources, "cpus");
    let mut again = None;
    let mut starting = None;
    while again.is_none() || starting.is_none() {
        let ev = s.next_skip_heartbeats().await.expect("event");
        if let Some(o) = &ev.offers {
            again = o.offers.first().cloned();
        }
        if let Some(u) = ev.update {
            starting = Some(u.status);
        }
    }
    let (again, starting) = (again.expect("offer"), starting.expect("update"));
    assert_eq!(cpus(&again), 1.5);
    assert_eq!(starting.state(), TaskState::TaskStarting);
    // Decline the 1.5 for an hour: only a larger set of resources may come back.
    let decline = format!(
        r#"{{"type":"DECLINE","framework_id":{{"value":"{fid}"}},"decline":{{"offer_ids":[{{"value":"{}"}}],"filters":{{"refuse_seconds":3600}}}}}}"#,
        again.id.value
    );
    call_ok(m.addr, &s.stream_id, &decline).await;
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &starting)).await;
    let running = s.next_update().await;
    assert_eq!(running.state(), TaskState::TaskRunning);
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &running)).await;
    let fw = mesos_proto::id::FrameworkId::generated(fid.clone());
    agent
        .transition(
            &fw,
            "t1",
            TaskState::TaskFinished,
            Some("Container exited with status 0"),
        )
        .await;
    let u = s.next_update().await;
    assert_eq!(u.state(), TaskState::TaskFinished);
    assert_eq!(u.message.as_deref(), Some("Container exited with status 0"));
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    // The task's 0.5 is free again: the whole agent (not a subset of the filter) is offered.
    let whole = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    assert_eq!(cpus(&whole), 2.0);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_fails_over_the_old_stream_and_agents_resend() {
    let m = TestMaster::start().await;
    let agent = m.agent(seed_agent()).await;
    let mut s1 = subscribe(
        m.addr,
        &subscribe_body("fo", r#","failover_timeout":60"#),
        None,
    )
    .await;
    let fid = framework_id_of(&s1.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s1.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s1.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t1", &offer.agent_id.value)],
            5.0,
        ),
    )
    .await;
    let starting = s1.next_update().await;
    assert_eq!(starting.state(), TaskState::TaskStarting);
    // Not acknowledged. Re-subscribe with the same ID.
    let body = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{fid}"}},"subscribe":{{"framework_info":{{"user":"root","name":"fo","id":{{"value":"{fid}"}},"failover_timeout":60}}}}}}"#
    );
    let mut s2 = subscribe(m.addr, &body, None).await;
    assert_eq!(s2.status, StatusCode::OK);
    assert_ne!(s2.stream_id, s1.stream_id);
    let ev = s2.next().await.expect("SUBSCRIBED");
    assert_eq!(framework_id_of(&ev), fid);
    // The old stream: ERROR "Framework failed over", then the end.
    let err = s1.next_skip_heartbeats().await.expect("ERROR");
    assert_eq!(
        err.to_json_string(),
        r#"{"type":"ERROR","error":{"message":"Framework failed over"}}"#
    );
    s1.ended().await;
    // The old stream ID is refused now.
    let (st, body) = call(
        m.addr,
        &s1.stream_id,
        &format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        format!(
            "The stream ID '{}' included in this request didn't match the stream ID currently associated with framework ID {fid}",
            s1.stream_id
        )
    );
    // The agent was told and resends the unacknowledged STARTING at once (same uuid).
    let resent = s2.next_update().await;
    assert_eq!(resent.state(), TaskState::TaskStarting);
    assert_eq!(resent.uuid, starting.uuid);
    assert!(agent.record().received.iter().any(|m| matches!(
        m,
        berth_core::msg::MasterToAgent::FrameworkReconnected { .. }
    )));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failover_timeout_removes_the_framework_and_its_tasks() {
    let m = TestMaster::start().await;
    let agent = m.agent(seed_agent()).await;
    let mut s = subscribe(
        m.addr,
        &subscribe_body("ft", r#","failover_timeout":0.3"#),
        None,
    )
    .await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t1", &offer.agent_id.value)],
            5.0,
        ),
    )
    .await;
    let u = s.next_update().await;
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    let stream_id = s.stream_id.clone();
    drop(s);
    // Disconnected: 403 for calls while the timer runs.
    eventually(WAIT, Duration::from_millis(5), || async {
        let (st, body) = call(
            m.addr,
            &stream_id,
            &format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#),
        )
        .await;
        st == StatusCode::FORBIDDEN && body == "Framework is not subscribed"
    })
    .await;
    // Then removed: agent told to shut it down, task killed, framework completed.
    let fw = mesos_proto::id::FrameworkId::generated(fid.clone());
    eventually(WAIT, Duration::from_millis(10), || async {
        agent.record().received.iter().any(|m| {
            matches!(m, berth_core::msg::MasterToAgent::ShutdownFramework { framework_id } if framework_id == &fw)
        })
    })
    .await;
    let st = m.state().await;
    assert_eq!(st["frameworks"].as_array().map(Vec::len), Some(0));
    let done = &st["completed_frameworks"][0];
    assert_eq!(done["id"], fid);
    assert_eq!(done["active"], false);
    let task = &done["completed_tasks"][0];
    assert_eq!(task["state"], "TASK_KILLED");
    assert_eq!(st["slaves"][0]["used_resources"]["cpus"], 0.0);
    // Calls for it now: unknown framework.
    let (code, body) = call(
        m.addr,
        &stream_id,
        &format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#),
    )
    .await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::BAD_REQUEST, "Framework cannot be found")
    );
    // Re-subscribing is refused inside a 200 stream.
    let body = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{fid}"}},"subscribe":{{"framework_info":{{"user":"root","name":"ft","id":{{"value":"{fid}"}}}}}}}}"#
    );
    let mut again = subscribe(m.addr, &body, None).await;
    assert_eq!(again.status, StatusCode::OK);
    let err = again.next().await.expect("ERROR");
    assert_eq!(
        err.to_json_string(),
        r#"{"type":"ERROR","error":{"message":"Framework has been removed"}}"#
    );
    again.ended().await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_master_keeps_its_id_and_recognises_frameworks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = TestMaster::start_in(dir.path(), |_| {}).await;
    let master_id = m.handle.master_id().to_string();
    let mut s = subscribe(
        m.addr,
        &subscribe_body("keep", r#","failover_timeout":3600"#),
        None,
    )
    .await;
    let kept = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let mut s2 = subscribe(m.addr, &subscribe_body("gone", ""), None).await;
    let gone = framework_id_of(&s2.next().await.expect("SUBSCRIBED"));
    call_ok(
        m.addr,
        &s2.stream_id,
        &format!(r#"{{"type":"TEARDOWN","framework_id":{{"value":"{gone}"}}}}"#),
    )
    .await;
    drop(s);
    drop(s2);
    m.stop().await;

    let m = TestMaster::start_in(dir.path(), |_| {}).await;
    assert_eq!(m.handle.master_id(), master_id);
    // A new framework does not reuse a number.
    let mut s3 = subscribe(m.addr, &subscribe_body("new", ""), None).await;
    assert_eq!(
        framework_id_of(&s3.next().await.expect("SUBSCRIBED")),
        format!("{master_id}-0002")
    );
    // The kept one re-subscribes under its ID.
    let body = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{kept}"}},"subscribe":{{"framework_info":{{"user":"root","name":"keep","id":{{"value":"{kept}"}},"failover_timeout":3600}}}}}}"#
    );
    let mut again = subscribe(m.addr, &body, None).await;
    assert_eq!(
        framework_id_of(&again.next().await.expect("SUBSCRIBED")),
        kept
    );
    // The torn-down one is refused.
    let body = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{gone}"}},"subscribe":{{"framework_info":{{"user":"root","name":"gone","id":{{"value":"{gone}"}}}}}}}}"#
    );
    let mut refused = subscribe(m.addr, &body, None).await;
    let err = refused.next().await.expect("ERROR");
    assert_eq!(
        err.error.as_ref().map(|e| e.message.as_str()),
        Some("Framework has been removed")
    );
    let st = m.state().await;
    assert!(st["completed_frameworks"]
        .as_array()
        .is_some_and(|a| a.iter().any(|f| f["id"] == gone)));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reregistering_agent_rebuilds_its_tasks() {
    let m = TestMaster::start().await;
    let agent = m.agent(seed_agent()).await;
    let mut s = subscribe(
        m.addr,
        &subscribe_body("rr", r#","failover_timeout":60"#),
        None,
    )
    .await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    let agent_id = offer.agent_id.value.clone();
    let task_json = seed_task("t1", &agent_id);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(&fid, &offer.id.value, std::slice::from_ref(&task_json), 5.0),
    )
    .await;
    for _ in 0..2 {
        let u = s.next_update().await;
        call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    }
    // The agent restarts with its previous ID and the running task.
    let previous = agent.agent_id().expect("registered");
    agent.stop().await;
    let mut cfg = seed_agent();
    cfg.previous_id = Some(previous.clone());
    cfg.tasks = vec![berth_core::msg::TaskReport {
        framework_id: mesos_proto::id::FrameworkId::generated(fid.clone()),
        task: mesos_proto::v1::TaskInfo::from_json_str(&task_json).expect("task"),
        state: TaskState::TaskRunning,
    }];
    let again = m.agent(cfg).await;
    assert_eq!(again.agent_id(), Some(previous));
    eventually(WAIT, Duration::from_millis(10), || async {
        let st = m.state().await;
        st["slaves"][0]["active"] == true
            && st["slaves"][0]["used_resources"]["cpus"] == 0.5
            && st["frameworks"][0]["tasks"][0]["state"] == "TASK_RUNNING"
    })
    .await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_an_unknown_task_is_answered_like_reconciliation() {
    let m = TestMaster::start().await;
    let mut s = subscribe(m.addr, &subscribe_body("k", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    call_ok(
        m.addr,
        &s.stream_id,
        &format!(r#"{{"type":"KILL","framework_id":{{"value":"{fid}"}},"kill":{{"task_id":{{"value":"nope"}}}}}}"#),
    )
    .await;
    let u = s.next_update().await;
    assert_eq!(u.state(), TaskState::TaskLost);
    assert_eq!(
        u.message.as_deref(),
        Some("Reconciliation: Task is unknown")
    );
    assert!(u.agent_id.is_none());
    // Partition-aware frameworks get TASK_UNKNOWN.
    let mut pa = subscribe(
        m.addr,
        &subscribe_body("pa", r#","capabilities":[{"type":"PARTITION_AWARE"}]"#),
        None,
    )
    .await;
    let pid = framework_id_of(&pa.next().await.expect("SUBSCRIBED"));
    call_ok(
        m.addr,
        &pa.stream_id,
        &format!(r#"{{"type":"RECONCILE","framework_id":{{"value":"{pid}"}},"reconcile":{{"tasks":[{{"task_id":{{"value":"nope"}}}}]}}}}"#),
    )
    .await;
    assert_eq!(pa.next_update().await.state(), TaskState::TaskUnknown);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_reconciliation_reports_every_known_task() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let mut s = subscribe(m.addr, &subscribe_body("ir", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    let a = &offer.agent_id.value;
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("a", a), seed_task("b", a)],
            5.0,
        ),
    )
    .await;
    let mut running = 0;
    while running < 2 {
        let u = s.next_update().await;
        if u.state() == TaskState::TaskRunning {
            running += 1;
        }
        call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    }
    call_ok(
        m.addr,
        &s.stream_id,
        &format!(r#"{{"type":"RECONCILE","framework_id":{{"value":"{fid}"}},"reconcile":{{}}}}"#),
    )
    .await;
    let mut ids = vec![
        s.next_update().await.task_id.value,
        s.next_update().await.task_id.value,
    ];
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_updates_are_retried_by_the_agent() {
    let m = TestMaster::start().await;
    let mut cfg = seed_agent();
    cfg.retry_interval = Duration::from_millis(100);
    let _agent = m.agent(cfg).await;
    let mut s = subscribe(m.addr, &subscribe_body("retry", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t", &offer.agent_id.value)],
            5.0,
        ),
    )
    .await;
    let first = s.next_update().await;
    let second = s.next_update().await;
    assert_eq!(first.state(), TaskState::TaskStarting);
    assert_eq!(
        second.uuid, first.uuid,
        "the head is re-sent until acknowledged"
    );
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &first)).await;
    loop {
        let u = s.next_update().await;
        if u.state() == TaskState::TaskRunning {
            break;
        }
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_follow_the_configured_interval() {
    let m = TestMaster::start_with(|c| c.heartbeat_interval = Duration::from_millis(200)).await;
    let mut s = subscribe(m.addr, &subscribe_body("hb", ""), None).await;
    let sub = s.next().await.expect("SUBSCRIBED");
    assert_eq!(
        sub.subscribed.and_then(|x| x.heartbeat_interval_seconds),
        Some(0.2)
    );
    let start = tokio::time::Instant::now();
    for _ in 0..4 {
        let ev = s.next().await.expect("event");
        assert_eq!(ev.r#type, Some(event::Type::Heartbeat as i32));
    }
    assert!(start.elapsed() >= Duration::from_millis(500));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_task_runs_to_completion_and_the_ack_completes_it() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent().with_script(TaskScript::Fail)).await;
    let mut s = subscribe(m.addr, &subscribe_body("fail", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t", &offer.agent_id.value)],
            5.0,
        ),
    )
    .await;
    for expect in [
        TaskState::TaskStarting,
        TaskState::TaskRunning,
        TaskState::TaskFailed,
    ] {
        let u = s.next_update().await;
        assert_eq!(u.state(), expect);
        assert_eq!(u.source(), task_status::Source::Executor);
        // The master's task state is the agent's latest, ahead of the update delivered.
        let st = m.state().await;
        assert_eq!(st["frameworks"][0]["tasks"][0]["state"], "TASK_FAILED");
        call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    }
    eventually(WAIT, Duration::from_millis(10), || async {
        let st = m.state().await;
        st["frameworks"][0]["completed_tasks"][0]["state"] == "TASK_FAILED"
    })
    .await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_waits_for_agents_known_before_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = TestMaster::start_in(dir.path(), |_| {}).await;
    let agent = m.agent(seed_agent()).await;
    let agent_id = agent.agent_id().expect("registered");
    agent.stop().await;
    m.stop().await;

    let m = TestMaster::start_in(dir.path(), |c| {
        c.agent_reregister_timeout = Duration::from_secs(60);
    })
    .await;
    let st = m.state().await;
    assert_eq!(st["recovered_slaves"][0]["id"], agent_id.as_str());
    let mut s = subscribe(m.addr, &subscribe_body("rw", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let reconcile = format!(
        r#"{{"type":"RECONCILE","framework_id":{{"value":"{fid}"}},"reconcile":{{"tasks":[{{"task_id":{{"value":"x"}}}}]}}}}"#
    );
    call_ok(m.addr, &s.stream_id, &reconcile).await;
    // No answer while the agent may still bring the task back.
    s.quiet_for(Duration::from_millis(300)).await;
    let mut cfg = seed_agent();
    cfg.previous_id = Some(agent_id.clone());
    let _again = m.agent(cfg).await;
    assert_eq!(
        m.state().await["recovered_slaves"].as_array().map(Vec::len),
        Some(0)
    );
    // Once the agent is back (without the task), the deferred question is answered.
    let u = s.next_update().await;
    assert_eq!(u.state(), TaskState::TaskLost);
    assert_eq!(u.task_id.value, "x");
    call_ok(m.addr, &s.stream_id, &reconcile).await;
    let u = s.next_update().await;
    assert_eq!(u.state(), TaskState::TaskLost);
    assert_eq!(u.task_id.value, "x");
    m.stop().await;

    // An agent that never returns is forgotten after the re-register timeout.
    let m = TestMaster::start_in(dir.path(), |c| {
        c.agent_reregister_timeout = Duration::from_millis(200);
    })
    .await;
    eventually(WAIT, Duration::from_millis(20), || async {
        m.state().await["recovered_slaves"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;
    m.stop().await;
}
