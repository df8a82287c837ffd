//! The scheduler endpoint's request handling: every status code of spec §1.3 with its body,
//! every Call type, both encodings, chunking, `/state`, `/health`, `/version`.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use hyper::StatusCode;
use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{task_status, FrameworkInfo, TaskState};
use mesos_proto::{decode_checked, MesosJson, Message};

const SCHED: &str = "/api/v1/scheduler";

async fn post(
    m: &TestMaster,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, hyper::HeaderMap, String) {
    let (s, h, b) = request(m.addr, "POST", SCHED, headers, body.to_vec()).await;
    (s, h, String::from_utf8_lossy(&b).into_owned())
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_checks_answer_with_mesos_status_codes_and_texts() {
    let m = TestMaster::start().await;
    // 405 with Allow.
    let (s, h, b) = request(m.addr, "GET", SCHED, &[], vec![]).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["allow"], "POST");
    assert_eq!(
        String::from_utf8_lossy(&b),
        "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."
    );
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    // 400 no Content-Type.
    let (s, _, b) = post(&m, &[], b"{}").await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present"
        )
    );
    // 415.
    let (s, _, b) = post(
        &m,
        &[("content-type", "application/json; charset=utf-8")],
        b"{}",
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json or application/x-protobuf"
        )
    );
    // 400 JSON syntax.
    let (s, _, b) = post(&m, &[JSON], b"{nope").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.starts_with("Failed to parse body into JSON: "), "{b}");
    // 400 JSON conversion (missing required fields).
    let (s, _, b) = post(
        &m,
        &[JSON],
        br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}"#,
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"
        )
    );
    // 400 protobuf.
    let (s, _, b) = post(
        &m,
        &[("content-type", "application/x-protobuf")],
        b"\x1a\x00",
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to parse body into Call protobuf"
        )
    );
    // 400 validation.
    let (s, _, b) = post(&m, &[JSON], br#"{"type":"BOGUS"}"#).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'type' to be present"
        )
    );
    let (s, _, b) = post(
        &m,
        &[JSON],
        br#"{"type":"DECLINE","framework_id":{"value":"x"}}"#,
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Expecting 'decline' to be present"
        )
    );
    // 406 for SUBSCRIBE only.
    let sub = subscribe_body("codes", "");
    let (s, _, b) = post(&m, &[JSON, ("accept", "text/html")], sub.as_bytes()).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::NOT_ACCEPTABLE,
            "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
        )
    );
    // 400 SUBSCRIBE with a stream ID.
    let (s, _, b) = post(&m, &[JSON, ("mesos-stream-id", "x")], sub.as_bytes()).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Subscribe calls should not include the 'Mesos-Stream-Id' header"
        )
    );
    // 400 unknown framework (Accept ignored for other calls).
    let (s, _, b) = post(
        &m,
        &[JSON, ("accept", "text/html")],
        br#"{"type":"REVIVE","framework_id":{"value":"nope"}}"#,
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (StatusCode::BAD_REQUEST, "Framework cannot be found")
    );
    // A subscribed framework.
    let mut es = subscribe(
        m.addr,
        &subscribe_body("codes", r#","failover_timeout":60"#),
        None,
    )
    .await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let revive = format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#);
    // 400 missing stream ID.
    let (s, _, b) = post(&m, &[JSON], revive.as_bytes()).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
        )
    );
    // 400 wrong stream ID.
    let (s, b) = call(m.addr, "other", &revive).await;
    assert_eq!(
        (s, b),
        (
            StatusCode::BAD_REQUEST,
            format!("The stream ID 'other' included in this request didn't match the stream ID currently associated with framework ID {fid}")
        )
    );
    // 501 UNKNOWN.
    let (s, b) = call(
        m.addr,
        &es.stream_id,
        &format!(r#"{{"type":"UNKNOWN","framework_id":{{"value":"{fid}"}}}}"#),
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (StatusCode::NOT_IMPLEMENTED, "501 Not Implemented.")
    );
    // 202, empty, also on /master/api/v1/scheduler.
    let (s, h, b) = request(
        m.addr,
        "POST",
        "/master/api/v1/scheduler",
        &[JSON, ("mesos-stream-id", &es.stream_id)],
        revive.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(b.is_empty());
    assert!(h
        .get("content-type")
        .is_none_or(|v| v != "application/json"));
    // 403 once disconnected (failover timeout running).
    let sid = es.stream_id.clone();
    drop(es);
    berth_testkit::eventually(WAIT, Duration::from_millis(5), || async {
        let (s, b) = call(m.addr, &sid, &revive).await;
        s == StatusCode::FORBIDDEN && b == "Framework is not subscribed"
    })
    .await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_framework_answers_200_and_its_refusals_400() {
    let m = TestMaster::start().await;
    let mut es = subscribe(m.addr, &subscribe_body("uf", ""), None).await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let upd = |name: &str, user: &str| {
        format!(
            r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"{user}","name":"{name}","id":{{"value":"{fid}"}}}}}}}}"#
        )
    };
    let (s, b) = call(m.addr, &es.stream_id, &upd("renamed", "root")).await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, ""));
    assert_eq!(m.state().await["frameworks"][0]["name"], "renamed");
    let (s, b) = call(m.addr, &es.stream_id, &upd("renamed", "bob")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        "FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; attempted to update from 'root' to 'bob'"
    );
    let mismatched = format!(
        r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"root","name":"x"}}}}}}"#
    );
    let (s, b) = call(m.addr, &es.stream_id, &mismatched).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: 'framework_id' differs from 'update_framework.framework_info.id'"
        )
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_type_is_accepted_and_acted_on() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let mut es = subscribe(m.addr, &subscribe_body("all", ""), None).await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let sid = es.stream_id.clone();
    let offer = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    let aid = offer.agent_id.value.clone();
    let f = format!(r#""framework_id":{{"value":"{fid}"}}"#);
    // DECLINE with a long filter: no offers until REVIVE.
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"DECLINE",{f},"decline":{{"offer_ids":[{{"value":"{}"}}],"filters":{{"refuse_seconds":3600}}}}}}"#, offer.id.value),
    )
    .await;
    es.quiet_for(Duration::from_millis(300)).await;
    // SUPPRESS then REVIVE of an unknown role (dropped silently), then REVIVE.
    call_ok(m.addr, &sid, &format!(r#"{{"type":"SUPPRESS",{f}}}"#)).await;
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"REVIVE",{f},"revive":{{"roles":["other"]}}}}"#),
    )
    .await;
    es.quiet_for(Duration::from_millis(200)).await;
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"REVIVE",{f},"revive":{{"roles":["*"]}}}}"#),
    )
    .await;
    let offer = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    // SUPPRESS keeps the outstanding offer; DECLINE with filter 0 then gives nothing new.
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"SUPPRESS",{f},"suppress":{{"roles":["*"]}}}}"#),
    )
    .await;
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"DECLINE",{f},"decline":{{"offer_ids":[{{"value":"{}"}}],"filters":{{"refuse_seconds":0}}}}}}"#, offer.id.value),
    )
    .await;
    es.quiet_for(Duration::from_millis(200)).await;
    // Calls Mesos accepts and (nearly) ignores here.
    for body in [
        format!(
            r#"{{"type":"SHUTDOWN",{f},"shutdown":{{"executor_id":{{"value":"e"}},"agent_id":{{"value":"{aid}"}}}}}}"#
        ),
        format!(
            r#"{{"type":"MESSAGE",{f},"message":{{"agent_id":{{"value":"{aid}"}},"executor_id":{{"value":"e"}},"data":"aGk="}}}}"#
        ),
        format!(r#"{{"type":"REQUEST",{f},"request":{{"requests":[]}}}}"#),
        format!(
            r#"{{"type":"ACCEPT_INVERSE_OFFERS",{f},"accept_inverse_offers":{{"inverse_offer_ids":[{{"value":"x"}}]}}}}"#
        ),
        format!(
            r#"{{"type":"DECLINE_INVERSE_OFFERS",{f},"decline_inverse_offers":{{"inverse_offer_ids":[{{"value":"x"}}]}}}}"#
        ),
        format!(
            r#"{{"type":"ACKNOWLEDGE_OPERATION_STATUS",{f},"acknowledge_operation_status":{{"agent_id":{{"value":"{aid}"}},"uuid":"nbAaAl9uQSeI1cvmViLSUA==","operation_id":{{"value":"op"}}}}}}"#
        ),
        format!(
            r#"{{"type":"ACKNOWLEDGE",{f},"acknowledge":{{"agent_id":{{"value":"{aid}"}},"task_id":{{"value":"none"}},"uuid":"nbAaAl9uQSeI1cvmViLSUA=="}}}}"#
        ),
    ] {
        call_ok(m.addr, &sid, &body).await;
    }
    // RECONCILE_OPERATIONS answers with UPDATE_OPERATION_STATUS for listed operations.
    call_ok(
        m.addr,
        &sid,
        &format!(r#"{{"type":"RECONCILE_OPERATIONS",{f},"reconcile_operations":{{"operations":[{{"operation_id":{{"value":"op1"}}}}]}}}}"#),
    )
    .await;
    let ev = es.next_skip_heartbeats().await.expect("event");
    assert_eq!(
        ev.to_json_string(),
        r#"{"type":"UPDATE_OPERATION_STATUS","update_operation_status":{"status":{"operation_id":{"value":"op1"},"state":"OPERATION_UNKNOWN"}}}"#
    );
    // RECONCILE_OPERATIONS checks Accept.
    let (s, b) = {
        let (s, _, b) = request(
            m.addr,
            "POST",
            SCHED,
            &[JSON, ("mesos-stream-id", &sid), ("accept", "text/plain")],
            format!(r#"{{"type":"RECONCILE_OPERATIONS",{f},"reconcile_operations":{{}}}}"#)
                .into_bytes(),
        )
        .await;
        (s, String::from_utf8_lossy(&b).into_owned())
    };
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE, "{b}");
    // ACKNOWLEDGE with a bad uuid is a 400.
    let (s, b) = call(
        m.addr,
        &sid,
        &format!(r#"{{"type":"ACKNOWLEDGE",{f},"acknowledge":{{"agent_id":{{"value":"{aid}"}},"task_id":{{"value":"t"}},"uuid":"AAAA"}}}}"#),
    )
    .await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Failed to validate scheduler::Call: Not a valid UUID"
        )
    );
    // TEARDOWN closes the stream.
    call_ok(m.addr, &sid, &format!(r#"{{"type":"TEARDOWN",{f}}}"#)).await;
    es.ended().await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_validates_offers_and_each_task_like_mesos() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let mut es = subscribe(m.addr, &subscribe_body("val", ""), None).await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let sid = es.stream_id.clone();
    let offer = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    let aid = offer.agent_id.value.clone();
    // Invalid offer: TASK_LOST, REASON_INVALID_OFFERS, no uuid.
    call_ok(
        m.addr,
        &sid,
        &accept_body(&fid, "no-such-offer", &[seed_task("x", &aid)], 5.0),
    )
    .await;
    let u = es.next_update().await;
    assert_eq!(u.state(), TaskState::TaskLost);
    assert_eq!(u.reason(), task_status::Reason::InvalidOffers);
    assert_eq!(u.source(), task_status::Source::Master);
    assert_eq!(
        u.message.as_deref(),
        Some("Task launched with invalid offers: Offer no-such-offer is no longer valid")
    );
    assert!(u.uuid.is_none());
    // One ACCEPT, several tasks: the bad ones get TASK_ERROR in order, the good ones run.
    let too_big = seed_task("big", &aid).replace(r#""value":0.5"#, r#""value":5"#);
    let no_res = seed_task("nores", &aid).replace(
        r#""resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}},{"name":"mem","type":"SCALAR","scalar":{"value":100}}],"#,
        "",
    );
    let named = seed_task("named", &aid).replace(
        r#""network":"BRIDGE""#,
        r#""network":"BRIDGE","parameters":[{"key":"name","value":"x"}]"#,
    );
    // Unknown keys (slave_id) inside a TaskInfo are ignored.
    let with_slave_id =
        seed_task("ok2", &aid).replacen('{', r#"{"slave_id":{"value":"whatever"},"#, 1);
    let tasks = [
        seed_task("ok1", &aid),
        seed_task("ok1", &aid),
        seed_task("wrongagent", "S-other"),
        no_res,
        too_big,
        named,
        seed_task("bad/id", &aid),
        with_slave_id,
    ];
    call_ok(
        m.addr,
        &sid,
        &accept_body(&fid, &offer.id.value, &tasks, 5.0),
    )
    .await;
    let mut errors = Vec::new();
    let mut started = Vec::new();
    while errors.len() < 6 || started.len() < 2 {
        let u = es.next_update().await;
        match u.state() {
            TaskState::TaskError => {
                assert_eq!(u.reason(), task_status::Reason::TaskInvalid);
                assert_eq!(u.source(), task_status::Source::Master);
                assert!(u.uuid.is_none());
                errors.push((
                    u.task_id.value.clone(),
                    u.message.clone().unwrap_or_default(),
                ));
            }
            TaskState::TaskStarting => {
                started.push(u.task_id.value.clone());
                call_ok(m.addr, &sid, &ack_body(&fid, &u)).await;
            }
            _ => call_ok(m.addr, &sid, &ack_body(&fid, &u)).await,
        }
    }
    assert_eq!(
        errors,
        vec![
            ("ok1".to_string(), "Task has duplicate ID: ok1".to_string()),
            ("wrongagent".into(), format!("Task uses invalid agent S-other while agent {aid} is expected")),
            ("nores".into(), "Task uses no resources".into()),
            ("big".into(), "Total resources cpus(allocated: *):5; mem(allocated: *):100 required by task and its executor is more than available cpus(allocated: *):1.5; mem(allocated: *):22981; disk(allocated: *):252899; ports(allocated: *):[31000-32000]".into()),
            ("named".into(), "Task's `ContainerInfo` is invalid: Parameter in DockerInfo must not be 'name'".into()),
            ("bad/id".into(), "'bad/id' contains invalid characters".into()),
        ]
    );
    started.sort();
    assert_eq!(started, ["ok1", "ok2"]);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_calls_and_protobuf_event_streams_work_end_to_end() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let sub = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(Box::new(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "pb".into(),
                capabilities: vec![mesos_proto::v1::framework_info::Capability {
                    r#type: Some(
                        mesos_proto::v1::framework_info::capability::Type::TaskKillingState as i32,
                    ),
                }],
                ..Default::default()
            },
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut es = subscribe_raw(
        m.addr,
        &[
            ("content-type", "application/x-protobuf"),
            ("accept", "application/x-protobuf"),
        ],
        sub.encode_to_vec(),
    )
    .await;
    assert_eq!(es.status, StatusCode::OK);
    assert_eq!(es.headers["content-type"], "application/x-protobuf");
    let subscribed = es.next().await.expect("SUBSCRIBED");
    let fid = framework_id_of(&subscribed);
    let hb = es.next().await.expect("HEARTBEAT");
    assert_eq!(
        es.raw[1].as_ref(),
        &[0x08, 0x08],
        "HEARTBEAT is 2 protobuf bytes"
    );
    assert_eq!(hb.r#type, Some(event::Type::Heartbeat as i32));
    let offer = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    // ACCEPT as protobuf.
    let task = mesos_proto::v1::TaskInfo::from_json_str(&seed_task("pb1", &offer.agent_id.value))
        .expect("task");
    let accept = Call {
        framework_id: Some(mesos_proto::v1::FrameworkId { value: fid.clone() }),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![mesos_proto::v1::offer::Operation {
                r#type: Some(mesos_proto::v1::offer::operation::Type::Launch as i32),
                launch: Some(mesos_proto::v1::offer::operation::Launch {
                    task_infos: vec![task],
                }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    };
    let pb = |c: &Call| c.encode_to_vec();
    let (s, _, b) = request(
        m.addr,
        "POST",
        SCHED,
        &[
            ("content-type", "application/x-protobuf"),
            ("mesos-stream-id", &es.stream_id),
        ],
        pb(&accept),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&b));
    let u = es.next_update().await;
    assert_eq!(u.state(), TaskState::TaskStarting);
    // ACKNOWLEDGE as protobuf.
    let ack = Call {
        framework_id: Some(mesos_proto::v1::FrameworkId { value: fid.clone() }),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: u.agent_id.clone().expect("agent"),
            task_id: u.task_id.clone(),
            uuid: u.uuid.clone().expect("uuid"),
        }),
        ..Default::default()
    };
    let (s, _, _) = request(
        m.addr,
        "POST",
        SCHED,
        &[
            ("content-type", "application/x-protobuf"),
            ("mesos-stream-id", &es.stream_id),
        ],
        pb(&ack),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(es.next_update().await.state(), TaskState::TaskRunning);
    // Every record decodes with required fields present.
    for r in &es.raw {
        decode_checked::<Event>(r).expect("valid protobuf event");
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_subscribe_may_ask_for_protobuf_events_and_vice_versa() {
    let m = TestMaster::start().await;
    let mut es = subscribe(
        m.addr,
        &subscribe_body("mix", ""),
        Some("application/x-protobuf"),
    )
    .await;
    assert_eq!(es.headers["content-type"], "application/x-protobuf");
    assert_eq!(
        es.next().await.expect("SUBSCRIBED").r#type,
        Some(event::Type::Subscribed as i32)
    );
    let mut es2 = subscribe(
        m.addr,
        &subscribe_body("mix2", ""),
        Some("application/*;q=0.5, */*"),
    )
    .await;
    assert_eq!(es2.headers["content-type"], "application/json");
    assert!(es2.next().await.is_some());
    m.stop().await;
}

/// Reads the raw HTTP/1.1 response of a SUBSCRIBE over TCP and checks that every chunk holds
/// exactly one RecordIO record (some clients only see an event when its chunk arrives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_written_as_its_own_http_chunk() {
    let m = TestMaster::start_with(|c| c.heartbeat_interval = Duration::from_millis(100)).await;
    let addr = m.addr;
    let chunks = tokio::task::spawn_blocking(move || {
        let mut sock = std::net::TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let body = subscribe_body("chunks", "");
        let req = format!(
            // As pymesos sends it (`Connection: close`, which must not turn off chunking).
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(req.as_bytes()).expect("write");
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        // Read until we have the headers and at least 4 chunks.
        loop {
            let n = sock.read(&mut tmp).expect("read");
            assert!(n > 0, "connection closed early");
            buf.extend_from_slice(&tmp[..n]);
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let chunks = parse_chunks(&buf[pos + 4..]);
                if chunks.len() >= 4 {
                    // Header names as Mesos writes them.
                    let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
                    assert!(head.contains("\r\nTransfer-Encoding: chunked\r\n"), "{head}");
                    assert!(head.contains("\r\nMesos-Stream-Id: "), "{head}");
                    assert!(head.contains("\r\nContent-Type: application/json\r\n"), "{head}");
                    return chunks;
                }
            }
        }
    })
    .await
    .expect("reader");
    for c in &chunks {
        let mut d = mesos_proto::recordio::Decoder::default();
        d.feed(c);
        let rec = d.next_record().expect("valid").expect("a whole record");
        assert_eq!(d.buffered(), 0, "exactly one record per chunk");
        Event::from_json_slice(&rec).expect("event");
    }
    m.stop().await;
}

fn parse_chunks(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let Ok(len) =
            usize::from_str_radix(std::str::from_utf8(&b[..pos]).unwrap_or("x").trim(), 16)
        else {
            return out;
        };
        if b.len() < pos + 2 + len + 2 {
            return out;
        }
        out.push(b[pos + 2..pos + 2 + len].to_vec());
        b = &b[pos + 2 + len + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_health_version_and_redirect_answer_like_mesos() {
    let m = TestMaster::start().await;
    let mut cfg = seed_agent();
    cfg.simulated = true;
    let _agent = m.agent(cfg).await;
    let mut es = subscribe(
        m.addr,
        &subscribe_body("st", r#","capabilities":[{"type":"TASK_KILLING_STATE"}]"#),
        None,
    )
    .await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let _ = es.next_of(event::Type::Offers).await;
    // /state top level keys, in Mesos's order (checked on the raw text).
    let (s, h, body) = get(m.addr, "/master/state").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/json");
    let text = String::from_utf8(body).expect("utf8");
    let order = [
        "\"version\":",
        "\"build_date\":",
        "\"build_time\":",
        "\"build_user\":",
        "\"start_time\":",
        "\"elected_time\":",
        "\"id\":",
        "\"pid\":",
        "\"hostname\":",
        "\"capabilities\":",
        "\"activated_slaves\":",
        "\"deactivated_slaves\":",
        "\"unreachable_slaves\":",
        "\"leader\":",
        "\"leader_info\":",
        "\"flags\":",
        "\"slaves\":",
        "\"recovered_slaves\":",
        "\"frameworks\":",
        "\"completed_frameworks\":",
        "\"orphan_tasks\":",
        "\"unregistered_frameworks\":",
    ];
    let mut at = 0;
    for k in order {
        let p = text[at..]
            .find(k)
            .unwrap_or_else(|| panic!("{k} after {at} in {text}"));
        at += p;
    }
    assert!(text.starts_with(r#"{"version":"1.12.0","build_date":"#));
    let st: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(st["activated_slaves"], 1.0);
    let slave = &st["slaves"][0];
    assert_eq!(slave["simulated"], true);
    assert_eq!(slave["resources"]["ports"], "[31000-32000]");
    assert_eq!(slave["offered_resources"]["cpus"], 2.0);
    assert!(text.contains(r#""resources":{"disk":252899.0,"mem":23081.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"}"#));
    let fw = &st["frameworks"][0];
    assert_eq!(fw["id"], fid);
    assert_eq!(fw["capabilities"][0], "TASK_KILLING_STATE");
    assert_eq!(fw["role"], "*");
    assert_eq!(fw["offers"][0]["allocation_info"]["role"], "*");
    assert_eq!(fw["connected"], true);
    let (s, h, b) = get(m.addr, "/state?jsonp=cb").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "text/javascript");
    assert!(b.starts_with(b"cb({") && b.ends_with(b"});"));
    // /health, /version, /redirect.
    let (s, _, b) = get(m.addr, "/health").await;
    assert_eq!((s, b.len()), (StatusCode::OK, 0));
    let (s, _, b) = get(m.addr, "/version").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(v["version"], "1.12.0");
    assert!(
        v["build_date"].is_string() && v["build_time"].is_number() && v["build_user"].is_string()
    );
    let (s, h, _) = get(m.addr, "/master/redirect").await;
    assert_eq!(s, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(h["location"], format!("//127.0.0.1:{}", m.addr.port()));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_subscriptions_get_200_an_error_event_and_the_end() {
    let m = TestMaster::start().await;
    let bad = subscribe_body("bad", r#","roles":["a"]"#);
    let mut es = subscribe(m.addr, &bad, None).await;
    assert_eq!(es.status, StatusCode::OK);
    assert!(!es.stream_id.is_empty());
    let ev = es.next().await.expect("ERROR");
    assert_eq!(
        ev.error.map(|e| e.message),
        Some(
            "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
                .to_string()
        )
    );
    es.ended().await;
    let mut es = subscribe(
        m.addr,
        &subscribe_body("neg", r#","failover_timeout":-1"#),
        None,
    )
    .await;
    let ev = es.next().await.expect("ERROR");
    assert_eq!(
        ev.error.map(|e| e.message),
        Some("The framework failover_timeout (-1) is invalid".to_string())
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_role_frameworks_see_allocation_info_and_refinement_drops_role_star() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let mut es = subscribe(
        m.addr,
        &subscribe_body(
            "mr",
            r#","roles":["web"],"capabilities":[{"type":"MULTI_ROLE"},{"type":"RESERVATION_REFINEMENT"}]"#,
        ),
        None,
    )
    .await;
    let _ = es.next().await;
    let ev = es.next_of(event::Type::Offers).await;
    let j = ev.to_json_value();
    let o = &j["offers"]["offers"][0];
    assert_eq!(o["allocation_info"]["role"], "web");
    assert_eq!(o["resources"][0]["allocation_info"]["role"], "web");
    assert!(o["resources"][0].get("role").is_none());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_are_rescinded_after_the_offer_timeout() {
    let m = TestMaster::start_with(|c| c.offer_timeout = Some(Duration::from_millis(200))).await;
    let _agent = m.agent(seed_agent()).await;
    let mut es = subscribe(m.addr, &subscribe_body("ot", ""), None).await;
    let _ = es.next().await;
    let offer = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    let r = es.next_of(event::Type::Rescind).await;
    assert_eq!(r.rescind.map(|x| x.offer_id), Some(offer.id));
    // And offered again (no filter).
    let _ = es.next_of(event::Type::Offers).await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frameworks_share_agents_by_drf() {
    let m = TestMaster::start().await;
    let _a1 = m.agent(seed_agent()).await;
    let _a2 = m.agent(seed_agent()).await;
    let mut f1 = subscribe(m.addr, &subscribe_body("f1", ""), None).await;
    let _ = f1.next().await;
    let o1 = offers_of(&f1.next_of(event::Type::Offers).await);
    // The first framework got both agents (nobody else was there).
    assert_eq!(o1.len(), 2);
    let mut f2 = subscribe(m.addr, &subscribe_body("f2", ""), None).await;
    let _ = f2.next().await;
    f2.quiet_for(Duration::from_millis(200)).await;
    // Once f1 declines one, it goes to f2 (lower share).
    let fid1 = o1[0].framework_id.value.clone();
    call_ok(
        m.addr,
        &f1.stream_id,
        &format!(r#"{{"type":"DECLINE","framework_id":{{"value":"{fid1}"}},"decline":{{"offer_ids":[{{"value":"{}"}}]}}}}"#, o1[0].id.value),
    )
    .await;
    let o2 = offers_of(&f2.next_of(event::Type::Offers).await);
    assert_eq!(o2[0].agent_id, o1[0].agent_id);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressed_roles_and_update_framework_steer_offers_between_roles() {
    let m = TestMaster::start().await;
    let _agent = m.agent(seed_agent()).await;
    let caps = r#","capabilities":[{"type":"MULTI_ROLE"}]"#;
    let body = format!(
        r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"root","name":"roles","roles":["a","b"]{caps}}},"suppressed_roles":["b"]}}}}"#
    );
    let mut es = subscribe(m.addr, &body, None).await;
    let fid = framework_id_of(&es.next().await.expect("SUBSCRIBED"));
    let first = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    assert_eq!(
        first.allocation_info.and_then(|a| a.role).as_deref(),
        Some("a")
    );
    // Move the framework to role "b" only: the "a" offer is rescinded, "b" gets offers.
    let update = format!(
        r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"root","name":"roles","id":{{"value":"{fid}"}},"roles":["b"]{caps}}}}}}}"#
    );
    let (s, b) = call(m.addr, &es.stream_id, &update).await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, ""));
    let r = es.next_of(event::Type::Rescind).await;
    assert_eq!(r.rescind.map(|x| x.offer_id), Some(first.id));
    let next = offers_of(&es.next_of(event::Type::Offers).await).remove(0);
    assert_eq!(
        next.allocation_info.and_then(|a| a.role).as_deref(),
        Some("b")
    );
    // Suppressed roles outside the framework's roles are refused.
    let bad = format!(
        r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"root","name":"roles","id":{{"value":"{fid}"}},"roles":["b"]{caps}}},"suppressed_roles":["z"]}}}}"#
    );
    let (s, b) = call(m.addr, &es.stream_id, &bad).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "'UpdateFramework' call is not valid: Suppressed roles { z } are not contained in the set of roles"
        )
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_larger_than_the_body_limit_is_refused_with_413() {
    let m = TestMaster::start_with(|c| c.max_body_bytes = 64).await;
    let big = format!(r#"{{"type":"SUBSCRIBE","padding":"{}"}}"#, "x".repeat(100));
    // Declared by Content-Length.
    let (s, _, b) = post(&m, &[JSON], big.as_bytes()).await;
    assert_eq!(
        (s, b.as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is larger than the master's limit of 64 bytes"
        )
    );
    // Chunked, so only found out while reading.
    let addr = m.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut req = format!(
            "POST {SCHED} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        // Two chunks of 40 bytes pass the limit; the rest is never sent (unread data would
        // make the server's close a reset, losing the answer).
        for piece in big.as_bytes().chunks(40).take(2) {
            req.push_str(&format!(
                "{:x}\r\n{}\r\n",
                piece.len(),
                String::from_utf8_lossy(piece)
            ));
        }
        conn.write_all(req.as_bytes()).expect("write");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        answer
    })
    .await
    .expect("join");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.ends_with("Request body is larger than the master's limit of 64 bytes"),
        "{answer}"
    );
    // Calls within the limit are still served.
    let (s, _, _) = post(&m, &[JSON], b"{}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_waiting_for_its_first_offer_gets_what_another_gives_back() {
    // An interval far longer than the test: any offer after the first comes from a round
    // between the periodic ones.
    let m = TestMaster::start_with(|c| c.allocation_interval = Duration::from_secs(600)).await;
    let _agent = m.agent(seed_agent()).await;
    let mut a = subscribe(m.addr, &subscribe_body("a", ""), None).await;
    let fa = framework_id_of(&a.next().await.expect("SUBSCRIBED"));
    let offer = offers_of(&a.next_of(event::Type::Offers).await).remove(0);
    let mut b = subscribe(m.addr, &subscribe_body("b", ""), None).await;
    framework_id_of(&b.next().await.expect("SUBSCRIBED"));
    // The agent is offered to `a`: `b` gets nothing on subscribing.
    b.quiet_for(Duration::from_millis(300)).await;
    let decline = |fid: &str, oid: &str| {
        format!(
            r#"{{"type":"DECLINE","framework_id":{{"value":"{fid}"}},"decline":{{"offer_ids":[{{"value":"{oid}"}}],"filters":{{"refuse_seconds":0}}}}}}"#
        )
    };
    // `a` gives the agent back (no filter): `b`, still waiting, is offered it at once, and
    // `a`, offered before, is not.
    call_ok(m.addr, &a.stream_id, &decline(&fa, &offer.id.value)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let offered = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match b.next_within(left).await {
            Some(Some(ev)) if ev.r#type == Some(event::Type::Heartbeat as i32) => {}
            Some(Some(ev)) => break offers_of(&ev),
            other => panic!("no offer for b within 5 s: {other:?}"),
        }
    };
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].agent_id, offer.agent_id);
    a.quiet_for(Duration::from_millis(100)).await;
    // Both have been offered something: what `b` gives back waits for the periodic round, so
    // declined resources do not go from framework to framework at the speed of the calls.
    let fb = offered[0].framework_id.value.clone();
    call_ok(m.addr, &b.stream_id, &decline(&fb, &offered[0].id.value)).await;
    b.quiet_for(Duration::from_millis(500)).await;
    a.quiet_for(Duration::from_millis(100)).await;
    m.stop().await;
}
