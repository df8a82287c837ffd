//! Shared test support: a master on 127.0.0.1:0 with short intervals, a hyper HTTP/1.1 client,
//! and a RecordIO event-stream reader.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_master::{Master, MasterConfig, MasterHandle};
use berth_testkit::test_agent::{TestAgent, TestAgentConfig};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesos_proto::v1::scheduler::{event, Event};
use mesos_proto::{decode_checked, recordio, MesosJson};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for any single event.
pub const WAIT: Duration = Duration::from_secs(10);

/// A master serving on a loopback port.
pub struct TestMaster {
    pub addr: SocketAddr,
    pub handle: MasterHandle,
    pub work_dir: PathBuf,
    shutdown: CancellationToken,
    join: JoinHandle<berth_master::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// Short intervals for tests.
pub fn test_config(dir: &Path) -> MasterConfig {
    let mut c = MasterConfig::new(dir);
    c.allocation_interval = Duration::from_millis(50);
    c.heartbeat_interval = Duration::from_secs(15);
    c
}

impl TestMaster {
    /// A master in a fresh temporary work dir.
    pub async fn start() -> TestMaster {
        Self::start_with(|_| {}).await
    }

    /// A master in a fresh temporary work dir, config adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut MasterConfig)) -> TestMaster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = Self::start_in(dir.path(), tweak).await;
        m._dir = Some(dir);
        m
    }

    /// A master in `dir` (kept by the caller, for restarts).
    pub async fn start_in(dir: &Path, tweak: impl FnOnce(&mut MasterConfig)) -> TestMaster {
        let mut config = test_config(dir);
        tweak(&mut config);
        let master = Master::open(config).expect("open master");
        let handle = master.handle();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let join = tokio::spawn(master.run(listener, shutdown.clone()));
        TestMaster {
            addr,
            handle,
            work_dir: dir.to_path_buf(),
            shutdown,
            join,
            _dir: None,
        }
    }

    /// Stops the master and waits for it.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.join)
            .await
            .expect("master stops in time")
            .expect("master task")
            .expect("master run");
        self._dir
    }

    /// Starts a test agent and attaches it; waits until it is registered.
    pub async fn agent(&self, config: TestAgentConfig) -> TestAgent {
        let (agent, to_agent, from_agent) = TestAgent::start(config);
        self.handle
            .attach_agent(to_agent, from_agent)
            .await
            .expect("attach");
        berth_testkit::eventually(WAIT, Duration::from_millis(5), || async {
            agent.agent_id().is_some()
        })
        .await;
        agent
    }

    /// `/state` as JSON.
    pub async fn state(&self) -> serde_json::Value {
        let (status, _, body) = get(self.addr, "/state").await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).expect("state is JSON")
    }
}

/// The seed's agent: 2 cpus, 23081 MB, ports 31000-32000, 252899 MB disk.
/// Its update retries are slow (5 s) so they never interleave with what a test expects; the
/// retry test shortens them.
pub fn seed_agent() -> TestAgentConfig {
    let mut c = TestAgentConfig::new("cpus:2;mem:23081;disk:252899;ports:[31000-32000]");
    c.retry_interval = Duration::from_secs(5);
    c
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A plain request; returns status, headers and the whole body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(WAIT, client().request(req))
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(WAIT, resp.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

/// GET.
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    request(addr, "GET", path, &[], Vec::new()).await
}

/// POSTs a JSON call with the stream ID; returns status and body text.
pub async fn call(addr: SocketAddr, stream_id: &str, json: &str) -> (StatusCode, String) {
    let (s, _, b) = request(
        addr,
        "POST",
        "/api/v1/scheduler",
        &[
            ("content-type", "application/json"),
            ("mesos-stream-id", stream_id),
        ],
        json.as_bytes().to_vec(),
    )
    .await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// POSTs a JSON call and asserts 202 with an empty body.
pub async fn call_ok(addr: SocketAddr, stream_id: &str, json: &str) {
    let (s, b) = call(addr, stream_id, json).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json} -> {b}");
    assert_eq!(b, "");
}

/// The decoding of an event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Json,
    Protobuf,
}

/// A SUBSCRIBE response being read.
pub struct EventStream {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub stream_id: String,
    body: Incoming,
    decoder: recordio::Decoder,
    enc: Enc,
    /// Raw payloads seen (JSON text for JSON streams).
    pub raw: Vec<Bytes>,
}

/// SUBSCRIBE with a JSON body; events as negotiated by `accept`.
pub async fn subscribe(addr: SocketAddr, json: &str, accept: Option<&str>) -> EventStream {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = accept {
        headers.push(("accept", a));
    }
    subscribe_raw(addr, &headers, json.as_bytes().to_vec()).await
}

/// SUBSCRIBE with any headers and body.
pub async fn subscribe_raw(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> EventStream {
    let mut b = Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/api/v1/scheduler"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(WAIT, client().request(req))
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let stream_id = headers
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let enc = match headers.get("content-type").and_then(|v| v.to_str().ok()) {
        Some("application/x-protobuf") => Enc::Protobuf,
        _ => Enc::Json,
    };
    EventStream {
        status,
        headers,
        stream_id,
        body: resp.into_body(),
        decoder: recordio::Decoder::default(),
        enc,
        raw: Vec::new(),
    }
}

/// A framework SUBSCRIBE body.
pub fn subscribe_body(name: &str, extra_info: &str) -> String {
    format!(
        r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"root","name":"{name}"{extra_info}}}}}}}"#
    )
}

impl EventStream {
    /// The next event, or `None` when the stream ends. Panics after [`WAIT`].
    pub async fn next(&mut self) -> Option<Event> {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no event within {WAIT:?}"))
    }

    /// `Some(next)` if something (an event or the end) arrives within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Option<Option<Event>> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            if let Some(rec) = self.decoder.next_record().expect("valid RecordIO") {
                self.raw.push(rec.clone());
                let ev = match self.enc {
                    Enc::Json => Event::from_json_slice(&rec).expect("event JSON"),
                    Enc::Protobuf => decode_checked::<Event>(&rec).expect("event protobuf"),
                };
                return Some(Some(ev));
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return None,
                Ok(None) => return Some(None),
                Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.feed(&data);
                    }
                }
            }
        }
    }

    /// The next event that is not a HEARTBEAT.
    pub async fn next_skip_heartbeats(&mut self) -> Option<Event> {
        loop {
            let ev = self.next().await?;
            if ev.r#type != Some(event::Type::Heartbeat as i32) {
                return Some(ev);
            }
        }
    }

    /// Skips events until one of type `ty`.
    pub async fn next_of(&mut self, ty: event::Type) -> Event {
        loop {
            let ev = self
                .next()
                .await
                .unwrap_or_else(|| panic!("stream ended while waiting for {ty:?}"));
            if ev.r#type == Some(ty as i32) {
                return ev;
            }
        }
    }

    /// Waits for the stream to end, skipping events.
    pub async fn ended(&mut self) {
        while self.next().await.is_some() {}
    }

    /// Skips to the next UPDATE and returns its status.
    pub async fn next_update(&mut self) -> mesos_proto::v1::TaskStatus {
        let ev = self.next_of(event::Type::Update).await;
        ev.update.expect("update").status
    }

    /// Asserts nothing but heartbeats arrives within `d`.
    pub async fn quiet_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next_within(left).await {
                None => return,
                Some(Some(ev)) if ev.r#type == Some(event::Type::Heartbeat as i32) => {}
                Some(other) => panic!("expected quiet, got {other:?}"),
            }
        }
    }
}

/// SUBSCRIBED's framework ID.
pub fn framework_id_of(ev: &Event) -> String {
    ev.subscribed
        .as_ref()
        .expect("SUBSCRIBED")
        .framework_id
        .value
        .clone()
}

/// The offers of an OFFERS event.
pub fn offers_of(ev: &Event) -> Vec<mesos_proto::v1::Offer> {
    ev.offers.as_ref().expect("OFFERS").offers.clone()
}

/// The seed's task JSON (cpus 0.5, mem 100, DOCKER/BRIDGE).
pub fn seed_task(task_id: &str, agent_id: &str) -> String {
    format!(
        r#"{{"name":"{task_id}","task_id":{{"value":"{task_id}"}},"agent_id":{{"value":"{agent_id}"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.5}}}},{{"name":"mem","type":"SCALAR","scalar":{{"value":100}}}}],"command":{{"value":"env && while true; do echo command running; sleep 3; done"}},"container":{{"type":"DOCKER","docker":{{"image":"acc/busybox:latest","network":"BRIDGE"}}}}}}"#
    )
}

/// An ACCEPT launching `tasks` (JSON objects) on `offer_id`.
pub fn accept_body(framework_id: &str, offer_id: &str, tasks: &[String], refuse: f64) -> String {
    format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{framework_id}"}},"accept":{{"offer_ids":[{{"value":"{offer_id}"}}],"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[{}]}}}}],"filters":{{"refuse_seconds":{refuse}}}}}}}"#,
        tasks.join(",")
    )
}

/// An ACKNOWLEDGE of `status`.
pub fn ack_body(framework_id: &str, status: &mesos_proto::v1::TaskStatus) -> String {
    use base64::Engine as _;
    let uuid = base64::engine::general_purpose::STANDARD
        .encode(status.uuid.as_ref().expect("update has a uuid"));
    format!(
        r#"{{"type":"ACKNOWLEDGE","framework_id":{{"value":"{framework_id}"}},"acknowledge":{{"agent_id":{{"value":"{}"}},"task_id":{{"value":"{}"}},"uuid":"{uuid}"}}}}"#,
        status.agent_id.as_ref().expect("agent id").value,
        status.task_id.value
    )
}
