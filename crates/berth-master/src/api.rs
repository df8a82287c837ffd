//! The HTTP surface: `/api/v1/scheduler` (and `/master/api/v1/scheduler`), `/state`,
//! `/health`, `/version`, `/redirect`. Handlers decode and check what needs no state (spec §1.3
//! steps 4-9), then hand the call to the master actor and wait for its answer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures::Stream;
use mesos_proto::id::FrameworkId;
use mesos_proto::v1::scheduler::call;
use tokio::sync::{mpsc, oneshot};

use crate::actor::{CallOutcome, Command};
use crate::call::{decode_call, negotiate, validate_call};
use crate::error::ApiError;
use crate::MasterHandle;

/// The `Mesos-Stream-Id` header.
pub const STREAM_ID_HEADER: &str = "mesos-stream-id";

/// What serves each connection's requests: scheduler calls go straight to their handler, the
/// rest through the router.
///
/// A framework makes three calls per task (its ACKNOWLEDGEs), so the scheduler endpoint is by
/// far the busiest; past the router it skips a routing step, the router's layers and their
/// futures (together about 2.5% of the control-plane benchmark's CPU profile).
#[derive(Clone)]
pub(crate) struct ApiService {
    handle: MasterHandle,
    max_body: usize,
    router: hyper_util::service::TowerToHyperService<Router>,
}

impl ApiService {
    pub(crate) fn new(handle: MasterHandle, max_body: usize) -> Self {
        let router = hyper_util::service::TowerToHyperService::new(router(handle.clone()));
        ApiService {
            handle,
            max_body,
            router,
        }
    }
}

/// The scheduler endpoint's paths.
fn is_scheduler_path(path: &str) -> bool {
    matches!(path, "/api/v1/scheduler" | "/master/api/v1/scheduler")
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<hyper::body::Incoming>> for ApiService {
    type Response = Response;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<hyper::body::Incoming>) -> ServiceFuture {
        if is_scheduler_path(req.uri().path()) {
            let h = self.handle.clone();
            let max_body = self.max_body;
            Box::pin(async move { Ok(scheduler(h, req, max_body).await) })
        } else {
            let fut = hyper::service::Service::call(&self.router, req);
            Box::pin(async move {
                match fut.await {
                    Ok(r) => Ok(r),
                    Err(never) => match never {},
                }
            })
        }
    }
}

/// The router for everything but the scheduler endpoint, with the master handle as state.
fn router(handle: MasterHandle) -> Router {
    Router::new()
        .route("/state", any(state))
        .route("/master/state", any(state))
        .route("/health", any(health))
        .route("/master/health", any(health))
        .route("/version", any(version))
        .route("/redirect", any(redirect))
        .route("/master/redirect", any(redirect))
        .with_state(handle)
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn version() -> Response {
    json_response(crate::state_json::version_json())
}

async fn redirect(State(h): State<MasterHandle>) -> Response {
    let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Some((host, port)) = h.inner.addr.get() {
        if let Ok(v) = HeaderValue::from_str(&format!("//{host}:{port}")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
    r
}

async fn state(
    State(h): State<MasterHandle>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Ok(doc) = h.state_doc().await else {
        return ApiError::Unavailable.into_response();
    };
    // `?jsonp=<callback>` wraps the document, as Mesos does.
    let (body, content_type) = match q.get("jsonp") {
        Some(cb) => (doc.into_body(format!("{cb}("), ");"), "text/javascript"),
        None => (doc.into_body(String::new(), ""), "application/json"),
    };
    let mut r = Response::new(Body::new(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A scheduler call: reads the body (at most `max_body` bytes: 413 beyond, as a declared
/// length or as read) and answers it.
async fn scheduler(
    h: MasterHandle,
    req: Request<hyper::body::Incoming>,
    max_body: usize,
) -> Response {
    let (parts, body) = req.into_parts();
    // A declared Content-Length (hyper's size hint) is refused before anything is read.
    if hyper::body::Body::size_hint(&body).lower() > max_body as u64 {
        return too_large(max_body);
    }
    let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, max_body))
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(max_body),
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("Failed to read the request body: {e}"),
            )
                .into_response()
        }
    };
    match scheduler_inner(h, parts.method, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn too_large(max_body: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than the master's limit of {max_body} bytes"),
    )
        .into_response()
}

/// [`STREAM_ID_HEADER`] as a ready header name: looked up without parsing the name each time.
static STREAM_ID: http::HeaderName = http::HeaderName::from_static(STREAM_ID_HEADER);

fn header_str(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn scheduler_inner(
    h: MasterHandle,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Step 4.
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(method.to_string()));
    }
    // Steps 5-6.
    let call = decode_call(header_str(headers, header::CONTENT_TYPE), &body)?;
    // Step 7.
    let ty = validate_call(&call)?;
    let stream_id = header_str(headers, &STREAM_ID).map(str::to_string);
    if ty == call::Type::Subscribe {
        // Steps 8-9.
        let encoding = negotiate(header_str(headers, header::ACCEPT))?;
        if headers.contains_key(&STREAM_ID) {
            return Err(ApiError::SubscribeWithStreamId);
        }
        let (reply, rx) = oneshot::channel();
        h.send(Command::Subscribe {
            call,
            encoding,
            reply,
        })
        .await?;
        let sub = rx.await.map_err(|_| ApiError::Unavailable)?;
        let closer = sub
            .framework_id
            .map(|fid| (h.inner.tx.clone(), fid, sub.stream_id.clone()));
        let stream = EventStream {
            rx: sub.events.rx,
            in_stream: sub.events.in_stream,
            batch: Vec::new().into_iter(),
            closer,
        };
        let mut resp = Response::new(Body::from_stream(stream));
        let hs = resp.headers_mut();
        hs.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        );
        if let Ok(v) = HeaderValue::from_str(&sub.stream_id) {
            hs.insert(STREAM_ID_HEADER, v);
        }
        return Ok(resp);
    }
    if ty == call::Type::ReconcileOperations {
        negotiate(header_str(headers, header::ACCEPT))?;
    }
    // Answered here when the subscription is current: see `answered_after_stream_check`.
    let early = crate::actor::answered_after_stream_check(ty)
        && match (&call.framework_id, &stream_id) {
            (Some(fid), Some(sid)) => h.inner.sessions.is_current(&fid.value, sid),
            _ => false,
        };
    let (reply, rx) = if early {
        (None, None)
    } else {
        let (reply, rx) = oneshot::channel();
        (Some(reply), Some(rx))
    };
    h.send(Command::Call {
        call,
        ty,
        stream_id,
        reply,
    })
    .await?;
    let Some(rx) = rx else {
        return Ok(StatusCode::ACCEPTED.into_response());
    };
    match rx.await.map_err(|_| ApiError::Unavailable)?? {
        CallOutcome::Accepted => Ok(StatusCode::ACCEPTED.into_response()),
        CallOutcome::Ok => Ok(StatusCode::OK.into_response()),
    }
}

/// The SUBSCRIBE response body: one RecordIO record per item, so one HTTP chunk per event as
/// Mesos writes them. The actor hands over each turn's events as one batch; hyper takes the
/// batch's chunks one after another and writes them together. When hyper drops it (client
/// gone), the actor is told.
struct EventStream {
    rx: mpsc::Receiver<Vec<Bytes>>,
    /// Events handed over by the actor and not yet taken (it bounds this).
    in_stream: Arc<AtomicUsize>,
    batch: std::vec::IntoIter<Bytes>,
    closer: Option<(mpsc::Sender<Command>, FrameworkId, String)>,
}

impl Stream for EventStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(chunk) = self.batch.next() {
                self.in_stream.fetch_sub(1, Ordering::AcqRel);
                return Poll::Ready(Some(Ok(chunk)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.batch = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some((tx, framework_id, stream_id)) = self.closer.take() {
            // Best effort: if the command queue is full, the next heartbeat finds the stream
            // closed anyway.
            let _ = tx.try_send(Command::StreamClosed {
                framework_id,
                stream_id,
            });
        }
    }
}
