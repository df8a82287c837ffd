//! Agents coming and going, task groups, slow subscribers, embedding with `Master::bind`.

mod common;

use std::io::Write;
use std::time::Duration;

use berth_master::{Master, MasterConfig};
use berth_testkit::eventually;
use common::*;
use hyper::StatusCode;
use mesos_proto::v1::scheduler::event;
use mesos_proto::v1::{task_status, TaskState};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistering_agent_takes_its_tasks_and_offers_with_it() {
    let m = TestMaster::start().await;
    let a1 = m.agent(seed_agent()).await;
    let mut s = subscribe(m.addr, &subscribe_body("ua", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(
            &fid,
            &offer.id.value,
            &[seed_task("t", &offer.agent_id.value)],
            0.0,
        ),
    )
    .await;
    // The rest is offered again at once (refuse_seconds 0).
    let rest = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    a1.unregister().await;
    // RESCIND of the outstanding offer, the task lost, a FAILURE for the agent.
    let mut saw = (false, false, false);
    while !(saw.0 && saw.1 && saw.2) {
        let ev = s.next_skip_heartbeats().await.expect("event");
        match ev.r#type.and_then(|t| event::Type::try_from(t).ok()) {
            Some(event::Type::Rescind) => {
                assert_eq!(ev.rescind.map(|r| r.offer_id), Some(rest.id.clone()));
                saw.0 = true;
            }
            Some(event::Type::Update) => {
                let u = ev.update.expect("update").status;
                if u.source() == task_status::Source::Master {
                    assert_eq!(u.state(), TaskState::TaskLost);
                    assert_eq!(u.reason(), task_status::Reason::AgentRemoved);
                    assert!(u.uuid.is_none());
                    saw.1 = true;
                } else {
                    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
                }
            }
            Some(event::Type::Failure) => {
                assert_eq!(
                    ev.failure.and_then(|f| f.agent_id),
                    Some(offer.agent_id.clone())
                );
                saw.2 = true;
            }
            _ => {}
        }
    }
    let st = m.state().await;
    assert_eq!(st["slaves"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        st["frameworks"][0]["completed_tasks"][0]["state"],
        "TASK_LOST"
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_agent_keeps_its_tasks_until_it_returns() {
    let m = TestMaster::start().await;
    let a1 = m.agent(seed_agent()).await;
    let mut s = subscribe(m.addr, &subscribe_body("dc", ""), None).await;
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
    let u = s.next_update().await;
    call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    a1.stop().await;
    eventually(WAIT, Duration::from_millis(10), || async {
        let st = m.state().await;
        st["slaves"][0]["active"] == false
            && st["deactivated_slaves"] == 1.0
            && st["frameworks"][0]["tasks"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_group_tasks_run_with_the_group_executor() {
    let m = TestMaster::start().await;
    let agent = m.agent(seed_agent()).await;
    let mut s = subscribe(m.addr, &subscribe_body("lg", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    let aid = &offer.agent_id.value;
    let task = |id: &str| {
        format!(
            r#"{{"name":"{id}","task_id":{{"value":"{id}"}},"agent_id":{{"value":"{aid}"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}}}},{{"name":"mem","type":"SCALAR","scalar":{{"value":32}}}}],"command":{{"value":"sleep 100"}}}}"#
        )
    };
    let body = format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{fid}"}},"accept":{{"offer_ids":[{{"value":"{}"}}],"operations":[{{"type":"LAUNCH_GROUP","launch_group":{{"executor":{{"type":"DEFAULT","executor_id":{{"value":"ex"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}}}},{{"name":"mem","type":"SCALAR","scalar":{{"value":32}}}}]}},"task_group":{{"tasks":[{},{}]}}}}}}],"filters":{{"refuse_seconds":0}}}}}}"#,
        offer.id.value,
        task("g1"),
        task("g2")
    );
    call_ok(m.addr, &s.stream_id, &body).await;
    // Two STARTING updates and the offer of the rest (refuse_seconds 0), in any order.
    let mut seen = Vec::new();
    let mut rest = None;
    while seen.len() < 2 || rest.is_none() {
        let ev = s.next_skip_heartbeats().await.expect("event");
        if let Some(o) = ev.offers {
            rest = o.offers.into_iter().next();
            continue;
        }
        let Some(u) = ev.update.map(|u| u.status) else {
            continue;
        };
        if u.state() == TaskState::TaskStarting {
            seen.push(u.task_id.value.clone());
        }
        call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
    }
    seen.sort();
    assert_eq!(seen, ["g1", "g2"]);
    // The agent got the executor with each task.
    let run = agent.record().received;
    let executors: Vec<_> = run
        .iter()
        .filter_map(|m| match m {
            berth_core::msg::MasterToAgent::RunTask { task, .. } => {
                task.executor.as_ref().map(|e| e.executor_id.value.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(executors, ["ex", "ex"]);
    let st = m.state().await;
    assert_eq!(st["slaves"][0]["used_resources"]["cpus"], 0.3);
    assert_eq!(st["frameworks"][0]["tasks"][0]["executor_id"], "ex");
    // Each task shows its own resources, the executor's not added to the first one's.
    let tasks = st["frameworks"][0]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    for t in tasks {
        assert_eq!(t["resources"]["cpus"], 0.1, "{t}");
        assert_eq!(t["resources"]["mem"], 32.0, "{t}");
    }
    // A group with a Docker task fails as a whole.
    let offer = rest.expect("offer");
    let docker = task("d2").replace(
        r#""command":{"value":"sleep 100"}"#,
        r#""command":{"value":"sleep 100"},"container":{"type":"DOCKER","docker":{"image":"busybox"}}"#,
    );
    let body = format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{fid}"}},"accept":{{"offer_ids":[{{"value":"{}"}}],"operations":[{{"type":"LAUNCH_GROUP","launch_group":{{"executor":{{"type":"DEFAULT","executor_id":{{"value":"ex2"}}}},"task_group":{{"tasks":[{},{}]}}}}}}]}}}}"#,
        offer.id.value,
        task("d1"),
        docker
    );
    call_ok(m.addr, &s.stream_id, &body).await;
    let mut errors = 0;
    while errors < 2 {
        let u = s.next_update().await;
        if u.source() != task_status::Source::Master {
            // The first group's tasks carry on (RUNNING); acknowledge and skip.
            call_ok(m.addr, &s.stream_id, &ack_body(&fid, &u)).await;
            continue;
        }
        errors += 1;
        assert_eq!(u.state(), TaskState::TaskError);
        assert_eq!(u.reason(), task_status::Reason::TaskGroupInvalid);
        assert_eq!(
            u.message.as_deref(),
            Some("Docker ContainerInfo is not supported on the task")
        );
    }
    m.stop().await;
}

#[tokio::test]
async fn a_reconciliation_larger_than_the_buffer_is_answered_whole() {
    // Mesos answers a RECONCILE of any size; the buffer only catches subscribers that leave
    // earlier events untaken.
    let m = TestMaster::start_with(|c| c.subscriber_buffer = 4).await;
    let mut s = subscribe(m.addr, &subscribe_body("big", ""), None).await;
    let fid = framework_id_of(&s.next_of(event::Type::Subscribed).await);
    let tasks: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"task_id":{{"value":"unknown-{i}"}}}}"#))
        .collect();
    let reconcile = format!(
        r#"{{"type":"RECONCILE","framework_id":{{"value":"{fid}"}},"reconcile":{{"tasks":[{}]}}}}"#,
        tasks.join(",")
    );
    for round in 0..2 {
        call_ok(m.addr, &s.stream_id, &reconcile).await;
        for i in 0..50 {
            let u = s.next_update().await;
            assert_eq!(u.task_id.value, format!("unknown-{i}"), "round {round}");
            assert_eq!(u.reason(), task_status::Reason::Reconciliation);
        }
    }
    let st = m.state().await;
    assert_eq!(st["frameworks"][0]["connected"], true);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_cannot_keep_up_is_disconnected() {
    let m = TestMaster::start_with(|c| c.subscriber_buffer = 4).await;
    // A raw client that subscribes and then never reads.
    let addr = m.addr;
    let body = subscribe_body("slow", r#","failover_timeout":60"#);
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    let req = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).expect("write");
    // Read just the response headers for the stream ID, then stop reading.
    let stream_id = {
        use std::io::Read;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = Vec::new();
        let mut tmp = [0u8; 1];
        loop {
            let n = sock.read(&mut tmp).expect("read");
            assert!(n > 0, "connection closed");
            buf.extend_from_slice(&tmp[..n]);
            if buf.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf).to_lowercase();
        let i = head.find("mesos-stream-id: ").expect("stream id header");
        let end = head[i..].find("\r\n").expect("header end");
        head[i + 17..i + end].to_string()
    };
    let st = m.state().await;
    let fid = st["frameworks"][0]["id"]
        .as_str()
        .expect("framework")
        .to_string();
    // Each RECONCILE of unknown tasks makes thousands of UPDATE events.
    let tasks: Vec<String> = (0..3000)
        .map(|i| format!(r#"{{"task_id":{{"value":"unknown-task-number-{i}"}}}}"#))
        .collect();
    let reconcile = format!(
        r#"{{"type":"RECONCILE","framework_id":{{"value":"{fid}"}},"reconcile":{{"tasks":[{}]}}}}"#,
        tasks.join(",")
    );
    // Calls on a current subscription are answered 202 before the master takes them, so
    // the refusal shows on a later call, once the master has dropped the subscriber. On a
    // loaded machine each RECONCILE takes the master longer than the pause between them:
    // the events of one must still reach (and overflow) the stream while the next ones wait,
    // not at the end of one long turn over all of them. How many calls that takes depends on
    // how fast the master gets through them (a debug build beside other tests is slow), so
    // the test calls until the refusal, within a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut disconnected = false;
    while tokio::time::Instant::now() < deadline {
        let (st, _) = call(m.addr, &stream_id, &reconcile).await;
        if st == StatusCode::FORBIDDEN {
            disconnected = true;
            break;
        }
        assert_eq!(st, StatusCode::ACCEPTED);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(disconnected, "the slow subscriber was never disconnected");
    let st = m.state().await;
    assert_eq!(st["frameworks"][0]["connected"], false);
    let (refused, _) = call(m.addr, &stream_id, &reconcile).await;
    assert_eq!(
        refused,
        StatusCode::FORBIDDEN,
        "a call on the dropped stream"
    );
    drop(sock);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_bind_listens_on_the_configured_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = MasterConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hostname = Some("localhost".into());
    let (master, listener) = Master::bind(config).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let join = tokio::spawn(master.run(listener, shutdown.clone()));
    let mut s = subscribe(addr, &subscribe_body("b", ""), None).await;
    let ev = s.next().await.expect("SUBSCRIBED");
    let info = ev.subscribed.and_then(|x| x.master_info).expect("info");
    assert_eq!(info.hostname.as_deref(), Some("localhost"));
    assert_eq!(
        info.address.and_then(|a| a.ip).as_deref(),
        Some("127.0.0.1")
    );
    shutdown.cancel();
    // Shutdown ends the open subscription too.
    s.ended().await;
    join.await.expect("join").expect("run");
    assert!(dir.path().join("master.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_simulated_agents_are_offered_across_frameworks() {
    let m = TestMaster::start().await;
    let mut agents = Vec::new();
    for i in 0..300u16 {
        let mut cfg = berth_testkit::test_agent::TestAgentConfig::new("cpus:4;mem:4096");
        cfg.simulated = true;
        cfg.port = 10_000 + i;
        let (agent, to_agent, from_agent) = berth_testkit::test_agent::TestAgent::start(cfg);
        m.handle
            .attach_agent(to_agent, from_agent)
            .await
            .expect("attach");
        agents.push(agent);
    }
    eventually(WAIT, Duration::from_millis(20), || async {
        m.state().await["activated_slaves"] == 300.0
    })
    .await;
    let mut streams = Vec::new();
    for i in 0..10 {
        let mut s = subscribe(m.addr, &subscribe_body(&format!("f{i}"), ""), None).await;
        let _ = s.next().await.expect("SUBSCRIBED");
        streams.push(s);
    }
    // Every agent ends up in exactly one outstanding offer.
    let mut offered = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while offered.len() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} offered",
            offered.len()
        );
        for s in &mut streams {
            while let Some(Some(ev)) = s.next_within(Duration::from_millis(20)).await {
                for o in ev.offers.map(|o| o.offers).unwrap_or_default() {
                    assert!(offered.insert(o.agent_id.value), "an agent offered twice");
                }
            }
        }
    }
    assert_eq!(offered.len(), 300);
    let st = m.state().await;
    assert!(st["slaves"]
        .as_array()
        .is_some_and(|a| a.iter().all(|s| s["simulated"] == true)));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_a_busy_agent_queue_up_in_order() {
    use berth_core::msg::{AgentToMaster, MasterToAgent, Registration};
    use mesos_proto::resource::scalar;
    use tokio::sync::mpsc;

    let m = TestMaster::start().await;
    // An agent whose queue holds one message and that reads nothing for a while: the master
    // must neither wait for it nor drop or reorder what it sends meanwhile.
    let (to_agent, mut agent_rx) = mpsc::channel::<MasterToAgent>(1);
    let (agent_tx, from_agent) = mpsc::channel::<AgentToMaster>(8);
    m.handle
        .attach_agent(to_agent, from_agent)
        .await
        .expect("attach");
    agent_tx
        .send(AgentToMaster::Register(Registration {
            previous_id: None,
            hostname: "busy".into(),
            port: 5051,
            resources: vec![scalar("cpus", 8.0), scalar("mem", 4096.0)],
            attributes: Vec::new(),
            tasks: Vec::new(),
            simulated: true,
        }))
        .await
        .expect("register");
    let registered = agent_rx.recv().await.expect("Registered");
    assert!(matches!(registered, MasterToAgent::Registered { .. }));

    let mut s = subscribe(m.addr, &subscribe_body("busy-agent", ""), None).await;
    let fid = framework_id_of(&s.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&s.next_of(event::Type::Offers).await).remove(0);
    let ids: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let tasks: Vec<String> = ids
        .iter()
        .map(|id| seed_task(id, &offer.agent_id.value))
        .collect();
    call_ok(
        m.addr,
        &s.stream_id,
        &accept_body(&fid, &offer.id.value, &tasks, 5.0),
    )
    .await;
    for id in ["t0", "t3"] {
        call_ok(
            m.addr,
            &s.stream_id,
            &format!(
                r#"{{"type":"KILL","framework_id":{{"value":"{fid}"}},"kill":{{"task_id":{{"value":"{id}"}}}}}}"#
            ),
        )
        .await;
    }
    // The master answered every call while the agent read nothing.
    let mut seen = Vec::new();
    while seen.len() < ids.len() + 2 {
        let msg = tokio::time::timeout(WAIT, agent_rx.recv())
            .await
            .expect("the agent gets every message")
            .expect("link open");
        seen.push(match msg {
            MasterToAgent::RunTask { task, .. } => format!("run {}", task.task_id.value),
            MasterToAgent::KillTask { task_id, .. } => format!("kill {task_id}"),
            other => panic!("unexpected {other:?}"),
        });
    }
    let mut want: Vec<String> = ids.iter().map(|id| format!("run {id}")).collect();
    want.push("kill t0".into());
    want.push("kill t3".into());
    assert_eq!(seen, want);
    m.stop().await;
}
