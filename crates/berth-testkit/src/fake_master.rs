//! A scripted fake Mesos master for testing scheduler clients over real HTTP on 127.0.0.1.
//!
//! It serves `POST /api/v1/scheduler` (and `/master/api/v1/scheduler`) and answers the way a
//! real master does unless a test scripts otherwise:
//!
//! * SUBSCRIBE → `200` with `Mesos-Stream-Id`, a RecordIO stream in the negotiated encoding
//!   (from `Accept`): SUBSCRIBED, an immediate HEARTBEAT, then one every
//!   `heartbeat_interval_seconds`. Scripted instead: any status and plain-text body, a `307`
//!   with a protocol-relative `Location` (e.g. to another fake master), or a stream with
//!   events of the test's choosing.
//! * Every other call → `202` (`UPDATE_FRAMEWORK` → `200`) after Mesos' checks of
//!   `framework_id` and `Mesos-Stream-Id`, with Mesos' error texts; or a scripted status/body.
//! * Optionally requires HTTP basic auth (`401 Unauthorized.` otherwise).
//!
//! Every request is recorded (method, path, headers, body, decoded `Call`). Each accepted
//! subscription yields a [`StreamHandle`] through which the test pushes events, stops the
//! heartbeats, ends the stream or aborts the connection.
//!
//! Like the rest of the testkit it panics on its own failures.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{FrameworkId, MasterInfo};
use mesos_proto::{decode_checked, media, recordio, MesosJson, Message};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Body = BoxBody<Bytes, std::io::Error>;

/// The encoding of a subscription's event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`
    Json,
    /// `application/x-protobuf`
    Protobuf,
}

impl Encoding {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => media::JSON,
            Encoding::Protobuf => media::PROTOBUF,
        }
    }

    /// `event` encoded as one RecordIO record in this encoding.
    pub fn record(self, event: &Event) -> Bytes {
        let payload = match self {
            Encoding::Json => event.to_json_string().into_bytes(),
            Encoding::Protobuf => event.encode_to_vec(),
        };
        recordio::encode(&payload)
    }
}

/// How a subscription stream starts.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Send SUBSCRIBED first (with the request's framework id, or a fresh one).
    pub send_subscribed: bool,
    /// The `heartbeat_interval_seconds` announced, and the heartbeat period.
    pub heartbeat_interval_seconds: f64,
    /// Send a HEARTBEAT right after the scripted events and then periodically.
    pub heartbeats: bool,
    /// Events sent after SUBSCRIBED (in the negotiated encoding).
    pub events: Vec<Event>,
    /// End the stream (cleanly) once `events` are sent.
    pub close_after_events: bool,
}

impl Default for StreamOptions {
    /// Like Mesos: SUBSCRIBED, then heartbeats every 15 s.
    fn default() -> Self {
        StreamOptions {
            send_subscribed: true,
            heartbeat_interval_seconds: 15.0,
            heartbeats: true,
            events: Vec::new(),
            close_after_events: false,
        }
    }
}

impl StreamOptions {
    /// A stream with heartbeats every `interval`.
    pub fn with_heartbeat(interval: Duration) -> Self {
        StreamOptions {
            heartbeat_interval_seconds: interval.as_secs_f64(),
            ..Default::default()
        }
    }
}

/// A scripted answer to one SUBSCRIBE.
#[derive(Debug, Clone)]
pub enum SubscribeReply {
    /// Answer with this status and plain-text body.
    Status {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// `307 Temporary Redirect` with this `Location` header.
    Redirect {
        /// Header value, e.g. `//127.0.0.1:5051/master/api/v1/scheduler`.
        location: String,
    },
    /// Open a stream.
    Stream(StreamOptions),
}

impl SubscribeReply {
    /// A 307 to `leader`, with the protocol-relative `Location` real Mesos sends.
    pub fn redirect_to(leader: &FakeMaster) -> Self {
        SubscribeReply::Redirect {
            location: leader.location(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Request path.
    pub path: String,
    /// All headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// The body decoded as a `Call`, if it decoded.
    pub call: Option<Call>,
}

impl RecordedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The call's type, if the body decoded.
    pub fn call_type(&self) -> Option<call::Type> {
        self.call
            .as_ref()
            .and_then(|c| c.r#type)
            .and_then(|t| call::Type::try_from(t).ok())
    }
}

/// Control of one accepted subscription stream.
#[derive(Debug, Clone)]
pub struct StreamHandle {
    /// The `Mesos-Stream-Id` issued.
    pub stream_id: String,
    /// The framework id in SUBSCRIBED.
    pub framework_id: FrameworkId,
    /// The negotiated encoding.
    pub encoding: Encoding,
    tx: mpsc::Sender<Bytes>,
    stop_heartbeats: CancellationToken,
    close: CancellationToken,
    abort: CancellationToken,
}

impl StreamHandle {
    /// Sends `event`; false if the stream is gone (or its buffer is full).
    pub fn send(&self, event: &Event) -> bool {
        self.send_raw(self.encoding.record(event))
    }

    /// Sends raw bytes (e.g. malformed RecordIO).
    pub fn send_raw(&self, bytes: Bytes) -> bool {
        self.tx.try_send(bytes).is_ok()
    }

    /// Stops the periodic heartbeats: the stream goes silent.
    pub fn stop_heartbeats(&self) {
        self.stop_heartbeats.cancel();
    }

    /// Ends the stream cleanly (the chunked body is terminated).
    pub fn close(&self) {
        self.stop_heartbeats.cancel();
        self.close.cancel();
    }

    /// Breaks the connection mid-stream (the body errors).
    pub fn abort(&self) {
        self.stop_heartbeats.cancel();
        self.abort.cancel();
    }

    /// Whether the stream was closed or aborted by the test, or the client went away.
    pub fn is_closed(&self) -> bool {
        self.close.is_cancelled() || self.abort.is_cancelled() || self.tx.is_closed()
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    subscribe_replies: VecDeque<SubscribeReply>,
    default_stream: StreamOptions,
    call_replies: HashMap<i32, VecDeque<(u16, String)>>,
    streams: Vec<StreamHandle>,
    framework_id: Option<String>,
    frameworks: u32,
    authorization: Option<String>,
}

struct Shared {
    addr: SocketAddr,
    state: Mutex<State>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fake master. Dropping it stops serving; [`FakeMaster::shutdown`] also waits.
pub struct FakeMaster {
    shared: Arc<Shared>,
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeMaster {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start() -> FakeMaster {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake master: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake master: local address");
        let shared = Arc::new(Shared {
            addr,
            state: Mutex::new(State::default()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let accept = shared.clone();
        shared
            .tasks
            .spawn(async move { accept_loop(listener, accept).await });
        FakeMaster { shared }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The scheduler endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/scheduler", self.shared.addr)
    }

    /// The protocol-relative `Location` a non-leading master would send pointing here.
    pub fn location(&self) -> String {
        format!("//{}/master/api/v1/scheduler", self.shared.addr)
    }

    /// The framework id given to frameworks subscribing without one (default
    /// `fake-master-0000`, `-0001`, ...).
    pub fn set_framework_id(&self, id: &str) {
        self.shared.lock().framework_id = Some(id.to_string());
    }

    /// How SUBSCRIBE is answered when no reply is scripted.
    pub fn set_default_stream(&self, options: StreamOptions) {
        self.shared.lock().default_stream = options;
    }

    /// Scripts the answer to the next SUBSCRIBE (queued in order).
    pub fn push_subscribe_reply(&self, reply: SubscribeReply) {
        self.shared.lock().subscribe_replies.push_back(reply);
    }

    /// Scripts the answer to the next call of type `ty` (queued per type).
    pub fn push_call_reply(&self, ty: call::Type, status: u16, body: &str) {
        self.shared
            .lock()
            .call_replies
            .entry(ty as i32)
            .or_default()
            .push_back((status, body.to_string()));
    }

    /// Requires `Authorization: Basic base64(principal:secret)` on every request.
    pub fn require_basic_auth(&self, principal: &str, secret: &str) {
        use base64::Engine as _;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"));
        self.shared.lock().authorization = Some(format!("Basic {token}"));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The decoded calls received so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.requests().into_iter().filter_map(|r| r.call).collect()
    }

    /// The decoded calls of one type.
    pub fn calls_of(&self, ty: call::Type) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.r#type == Some(ty as i32))
            .collect()
    }

    /// The subscriptions accepted so far.
    pub fn subscriptions(&self) -> Vec<StreamHandle> {
        self.shared.lock().streams.clone()
    }

    /// Waits until `n` subscriptions were accepted and returns the `n`th (1-based).
    ///
    /// # Panics
    ///
    /// If that does not happen within `timeout`.
    #[track_caller]
    pub fn wait_for_subscription(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl std::future::Future<Output = StreamHandle> + '_ {
        crate::eventually(timeout, Duration::from_millis(5), move || async move {
            self.subscriptions().get(n.saturating_sub(1)).cloned()
        })
    }

    /// Stops serving, ends every stream and waits for all connections to finish.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let conn_shared = shared.clone();
        shared.tasks.spawn(async move {
            let svc_shared = conn_shared.clone();
            let service = service_fn(move |req| {
                let shared = svc_shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service);
            // Dropping the connection on shutdown cuts open streams.
            tokio::select! {
                () = conn_shared.shutdown.cancelled() => {}
                _ = conn => {}
            }
        });
    }
}

fn text(status: u16, body: impl Into<String>) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.into()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !resp.body().is_end_stream() {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    resp
}

async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return text(400, "unreadable body"),
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let decoded: Option<Result<Call, String>> = match content_type.as_deref() {
        Some(media::JSON) => Some(
            Call::from_json_slice(&body)
                .map_err(|e| format!("Failed to convert JSON into Call protobuf: {e}")),
        ),
        Some(media::PROTOBUF) => Some(
            decode_checked::<Call>(&body)
                .map_err(|_| "Failed to parse body into Call protobuf".to_string()),
        ),
        _ => None,
    };
    let call = decoded.as_ref().and_then(|d| d.as_ref().ok().cloned());
    shared.lock().requests.push(RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        headers: parts.headers.clone(),
        body: body.clone(),
        call: call.clone(),
    });

    // Mesos' order of checks (spec §1.3).
    let required_auth = shared.lock().authorization.clone();
    if let Some(expected) = required_auth {
        let given = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            let mut resp = text(401, "401 Unauthorized.");
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"mesos-master-scheduler\""),
            );
            return resp;
        }
    }
    if !matches!(
        parts.uri.path(),
        "/api/v1/scheduler" | "/master/api/v1/scheduler"
    ) {
        return text(404, "");
    }
    if parts.method != Method::POST {
        let mut resp = text(
            405,
            format!(
                "405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{}'.",
                parts.method
            ),
        );
        resp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return resp;
    }
    let call = match (content_type, decoded) {
        (None, _) => return text(400, "Expecting 'Content-Type' to be present"),
        (Some(_), None) => {
            return text(
                415,
                "Expecting 'Content-Type' of application/json or application/x-protobuf",
            )
        }
        (Some(_), Some(Err(e))) => return text(400, e),
        (Some(_), Some(Ok(call))) => call,
    };
    let ty = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    let stream_id = parts
        .headers
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match ty {
        None => text(
            400,
            "Failed to validate scheduler::Call: Expecting 'type' to be present",
        ),
        Some(call::Type::Subscribe) => subscribe(shared, &parts.headers, &call, stream_id),
        Some(ty) => other_call(shared, ty, &call, stream_id),
    }
}

fn other_call(
    shared: &Arc<Shared>,
    ty: call::Type,
    call: &Call,
    stream_id: Option<String>,
) -> Response<Body> {
    let mut state = shared.lock();
    if let Some((status, body)) = state
        .call_replies
        .get_mut(&(ty as i32))
        .and_then(VecDeque::pop_front)
    {
        return text(status, body);
    }
    let Some(framework_id) = call.framework_id.as_ref() else {
        return text(
            400,
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
        );
    };
    let current = state
        .streams
        .iter()
        .rev()
        .find(|s| s.framework_id == *framework_id);
    let Some(current) = current else {
        return text(400, "Framework cannot be found");
    };
    if current.is_closed() {
        return text(403, "Framework is not subscribed");
    }
    let Some(given) = stream_id else {
        return text(
            400,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    if given != current.stream_id {
        return text(
            400,
            format!(
                "The stream ID '{given}' included in this request didn't match the stream ID \
                 currently associated with framework ID {}",
                framework_id.value
            ),
        );
    }
    if ty == call::Type::Teardown {
        current.close();
    }
    drop(state);
    if ty == call::Type::UpdateFramework {
        text(200, "")
    } else {
        text(202, "")
    }
}

fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
    let Some(accept) = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(Encoding::Json);
    };
    let types: Vec<String> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
        .collect();
    if types
        .iter()
        .any(|t| t == media::JSON || t == "application/*" || t == "*/*")
    {
        Some(Encoding::Json)
    } else if types.iter().any(|t| t == media::PROTOBUF) {
        Some(Encoding::Protobuf)
    } else {
        None
    }
}

fn subscribe(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    call: &Call,
    stream_id: Option<String>,
) -> Response<Body> {
    let Some(subscribe) = call.subscribe.as_ref() else {
        return text(
            400,
            "Failed to validate scheduler::Call: Expecting 'subscribe' to be present",
        );
    };
    if call.framework_id != subscribe.framework_info.id {
        return text(
            400,
            "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'",
        );
    }
    let Some(encoding) = negotiate(headers) else {
        return text(
            406,
            "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
        );
    };
    if stream_id.is_some() {
        return text(
            400,
            "Subscribe calls should not include the 'Mesos-Stream-Id' header",
        );
    }
    let mut state = shared.lock();
    let reply = state
        .subscribe_replies
        .pop_front()
        .unwrap_or_else(|| SubscribeReply::Stream(state.default_stream.clone()));
    let options = match reply {
        SubscribeReply::Status { status, body } => return text(status, body),
        SubscribeReply::Redirect { location } => {
            let mut resp = text(307, "");
            if let Ok(v) = http::HeaderValue::from_str(&location) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
            return resp;
        }
        SubscribeReply::Stream(options) => options,
    };
    let framework_id = match &call.framework_id {
        Some(id) => id.clone(),
        None => {
            let n = state.frameworks;
            state.frameworks += 1;
            FrameworkId {
                value: state
                    .framework_id
                    .clone()
                    .unwrap_or_else(|| format!("fake-master-{n:04}")),
            }
        }
    };
    // Like Mesos, a re-subscription fails over the previous stream of the framework.
    for old in state
        .streams
        .iter()
        .filter(|s| s.framework_id == framework_id && !s.is_closed())
    {
        old.send(&error_event("Framework failed over"));
        old.close();
    }
    let (tx, rx) = mpsc::channel::<Bytes>(4096);
    let handle = StreamHandle {
        stream_id: uuid::Uuid::new_v4().to_string(),
        framework_id: framework_id.clone(),
        encoding,
        tx,
        stop_heartbeats: CancellationToken::new(),
        close: CancellationToken::new(),
        abort: CancellationToken::new(),
    };
    if options.send_subscribed {
        handle.send(&subscribed_event(
            &framework_id,
            options.heartbeat_interval_seconds,
            shared.addr,
        ));
    }
    for ev in &options.events {
        handle.send(ev);
    }
    if options.close_after_events {
        handle.close();
    } else if options.heartbeats {
        let hb = handle.clone();
        let period = Duration::try_from_secs_f64(options.heartbeat_interval_seconds)
            .unwrap_or(Duration::from_secs(15));
        let shutdown = shared.shutdown.clone();
        shared.tasks.spawn(async move {
            let heartbeat = Event {
                r#type: Some(event::Type::Heartbeat as i32),
                ..Default::default()
            };
            loop {
                if !hb.send(&heartbeat) {
                    break;
                }
                tokio::select! {
                    () = hb.stop_heartbeats.cancelled() => break,
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(period) => {}
                }
            }
        });
    }
    state.streams.push(handle.clone());
    drop(state);

    let body = futures_util::stream::unfold(
        (rx, handle.clone(), shared.shutdown.clone(), false),
        |(mut rx, h, shutdown, done)| async move {
            if done {
                return None;
            }
            // Pending bytes go out before a clean close, so scripted events are delivered.
            let item = tokio::select! {
                biased;
                () = h.abort.cancelled() => {
                    Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "aborted by test")))
                }
                () = shutdown.cancelled() => None,
                bytes = rx.recv() => bytes.map(|b| Ok(Frame::data(b))),
                () = h.close.cancelled() => match rx.try_recv() {
                    Ok(b) => Some(Ok(Frame::data(b))),
                    Err(_) => None,
                },
            };
            let last = matches!(item, Some(Err(_)));
            item.map(|i| (i, (rx, h, shutdown, last)))
        },
    );
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(encoding.media_type()),
    );
    if let Ok(v) = http::HeaderValue::from_str(&handle.stream_id) {
        resp.headers_mut().insert("Mesos-Stream-Id", v);
    }
    resp
}

/// An ERROR event with `message`.
pub fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.to_string(),
        }),
        ..Default::default()
    }
}

/// A SUBSCRIBED event like the one Mesos sends.
pub fn subscribed_event(
    framework_id: &FrameworkId,
    heartbeat_interval_seconds: f64,
    addr: SocketAddr,
) -> Event {
    Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: framework_id.clone(),
            heartbeat_interval_seconds: Some(heartbeat_interval_seconds),
            master_info: Some(Box::new(MasterInfo {
                id: "fake-master".into(),
                ip: 16_777_343,
                port: u32::from(addr.port()),
                pid: Some(format!("master@{addr}")),
                hostname: Some(addr.ip().to_string()),
                version: Some("1.12.0".into()),
                ..Default::default()
            })),
        }),
        ..Default::default()
    }
}
