//! HTTP: encoding calls, the headers Mesos wants, answers to errors, and the event stream
//! (RecordIO over a chunked body) with its silence timeout.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesos_proto::recordio::Decoder;
use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::{decode_checked, MesosJson, Message};

use crate::config::{ContentType, Credentials, SchedulerConfig};
use crate::error::{Error, Result};

/// The header carrying the subscription's stream id.
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

/// Error bodies are plain text and short; more is cut off.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Where a stream's silence timer starts, before the first read sets it (any limit is nearer;
/// a longer one is honoured too: an early firing only pushes the timer back).
const FAR_FUTURE: Duration = Duration::from_secs(24 * 3600);

/// Sends calls; cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    client: Client<HttpConnector, Full<Bytes>>,
    content_type: ContentType,
    authorization: Option<HeaderValue>,
    request_timeout: Duration,
    subscribe_timeout: Duration,
    max_record_size: usize,
}

/// The answer to SUBSCRIBE.
pub(crate) enum SubscribeAnswer {
    /// 200: the event stream.
    Stream {
        stream_id: String,
        events: EventStream,
    },
    /// 307 to the leader.
    Redirect { location: Option<String> },
}

impl Transport {
    pub(crate) fn new(config: &SchedulerConfig) -> Result<Self> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        // Idle pooled connections are closed after 30 s (the timer is what enforces it), so a
        // call never lands on a socket a master has long since dropped.
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            // hyper grows a connection's read buffer up to ~400 KB and keeps it; a framework
            // holds a few connections for hours, mostly idle. Large events are read in
            // pieces anyway (the RecordIO decoder gathers them).
            .http1_max_buf_size(64 * 1024)
            .build(connector);
        let authorization = config.credentials.as_ref().map(basic_auth).transpose()?;
        Ok(Transport {
            client,
            content_type: config.content_type,
            authorization,
            request_timeout: config.request_timeout,
            subscribe_timeout: config.subscribe_timeout,
            max_record_size: config.max_record_size,
        })
    }

    /// `call` in the configured encoding.
    pub(crate) fn encode(&self, call: &Call) -> Bytes {
        match self.content_type {
            ContentType::Json => Bytes::from(call.to_json_string()),
            ContentType::Protobuf => {
                // Not `encode_to_vec`, which sizes the buffer with a whole `encoded_len` pass
                // first: prost works out each nested message's length again as it writes it
                // (an ACCEPT's task resources four levels down), so that pass costs more than
                // growing the buffer a few times.
                let mut buf = Vec::with_capacity(256);
                call.encode_raw(&mut buf);
                Bytes::from(buf)
            }
        }
    }

    /// What every pipelined request carries (see [`crate::pipeline`]).
    pub(crate) fn pipeline_head(&self, connect_timeout: Duration) -> crate::pipeline::Head {
        crate::pipeline::Head {
            media_type: self.content_type.media_type(),
            authorization: self
                .authorization
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            connect_timeout,
            request_timeout: self.request_timeout,
        }
    }

    /// The POST for `call`, with `Content-Type`, `Accept`, authorization and stream id.
    pub(crate) fn request(
        &self,
        uri: &Uri,
        call: &Call,
        stream_id: Option<&str>,
    ) -> Result<Request<Full<Bytes>>> {
        let body = self.encode(call);
        let media = HeaderValue::from_static(self.content_type.media_type());
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, media.clone())
            .header(ACCEPT, media);
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if let Some(id) = stream_id {
            let value = HeaderValue::from_str(id).map_err(|_| Error::Protocol {
                reason: format!("stream id {id:?} is not a valid header value"),
            })?;
            builder = builder.header(STREAM_ID_HEADER, value);
        }
        builder
            .body(Full::new(body))
            .map_err(|e| Error::InvalidConfig {
                reason: format!("cannot build a request to {uri}: {e}"),
            })
    }

    /// Sends a non-SUBSCRIBE call and expects a 2xx answer (202, or 200 for UPDATE_FRAMEWORK).
    pub(crate) async fn call(&self, uri: &Uri, call: &Call, stream_id: &str) -> Result<()> {
        let req = self.request(uri, call, Some(stream_id))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|source| Error::Request {
                    url: uri.to_string(),
                    source,
                })?;
            let status = resp.status();
            if status.is_success() {
                // Drain the (empty) body so the connection goes back to the pool.
                let _ = resp.into_body().collect().await;
                return Ok(());
            }
            if status == StatusCode::TEMPORARY_REDIRECT {
                let location = header_string(resp.headers(), LOCATION.as_str()).unwrap_or_default();
                return Err(Error::NotLeader { location });
            }
            Err(status_error(uri, status, resp.into_body()).await)
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                what: "call",
                after: self.request_timeout,
            })?
    }

    /// Sends SUBSCRIBE; the answer's headers must arrive within the subscribe timeout.
    pub(crate) async fn subscribe(&self, uri: &Uri, call: &Call) -> Result<SubscribeAnswer> {
        let req = self.request(uri, call, None)?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|source| Error::Request {
                    url: uri.to_string(),
                    source,
                })?;
            let status = resp.status();
            if status == StatusCode::TEMPORARY_REDIRECT {
                return Ok(SubscribeAnswer::Redirect {
                    location: header_string(resp.headers(), LOCATION.as_str()),
                });
            }
            if status != StatusCode::OK {
                return Err(status_error(uri, status, resp.into_body()).await);
            }
            let stream_id =
                header_string(resp.headers(), STREAM_ID_HEADER).ok_or(Error::MissingStreamId)?;
            // The answer names the negotiated event encoding; trust it over what was asked for.
            let content_type = match header_string(resp.headers(), CONTENT_TYPE.as_str()) {
                None => self.content_type,
                Some(ct) => ContentType::from_header(&ct)
                    .ok_or(Error::UnsupportedContentType { content_type: ct })?,
            };
            Ok(SubscribeAnswer::Stream {
                stream_id,
                events: EventStream {
                    url: uri.to_string(),
                    body: resp.into_body(),
                    decoder: Decoder::new(self.max_record_size),
                    content_type,
                    last_chunk: tokio::time::Instant::now(),
                    silence_timer: Box::pin(tokio::time::sleep(FAR_FUTURE)),
                },
            })
        };
        tokio::time::timeout(self.subscribe_timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                what: "SUBSCRIBE answer",
                after: self.subscribe_timeout,
            })?
    }
}

fn basic_auth(c: &Credentials) -> Result<HeaderValue> {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.principal, c.secret));
    let mut value =
        HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| Error::InvalidConfig {
            reason: "credentials do not form a valid header".into(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

fn header_string(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads a non-success answer's body (Mesos: plain text) into an [`Error::Status`].
async fn status_error(uri: &Uri, status: StatusCode, body: Incoming) -> Error {
    let limited = http_body_util::Limited::new(body, MAX_ERROR_BODY);
    let body = match limited.collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Err(e) => format!("<body unreadable: {e}>"),
    };
    tracing::debug!(url = %uri, %status, body = %body, "master refused the request");
    Error::Status { status, body }
}

/// The body of a SUBSCRIBE answer, decoded into events.
#[derive(Debug)]
pub(crate) struct EventStream {
    url: String,
    body: Incoming,
    decoder: Decoder,
    content_type: ContentType,
    /// When the last chunk arrived (or the stream opened).
    last_chunk: tokio::time::Instant,
    /// Fires at the latest when the silence limit since `last_chunk` may be up. One timer for
    /// the stream's life, pushed back lazily when it fires early: a timer per chunk would
    /// register with (and leave) the runtime's timer wheel for every chunk.
    silence_timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// Why a read of the stream stopped waiting.
pub(crate) enum Silence {
    /// Waiting for the SUBSCRIBED event.
    Subscribing(Duration),
    /// Waiting for anything (heartbeats included) on a live subscription.
    Heartbeat(Duration),
}

impl EventStream {
    /// The next event. Fails when no byte arrives within the `silence` limit (which restarts
    /// with every chunk), when the stream ends, or on malformed data.
    pub(crate) async fn next_event(&mut self, silence: Silence) -> Result<Box<Event>> {
        let limit = match silence {
            Silence::Subscribing(d) | Silence::Heartbeat(d) => d,
        };
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return self.decode(&record);
            }
            let due = self.last_chunk + limit;
            if self.silence_timer.deadline() > due {
                self.silence_timer.as_mut().reset(due);
            }
            let read = loop {
                tokio::select! {
                    biased;
                    frame = self.body.frame() => break Ok(frame),
                    () = self.silence_timer.as_mut() => {
                        if tokio::time::Instant::now() >= due {
                            break Err(());
                        }
                        self.silence_timer.as_mut().reset(due);
                    }
                }
            };
            if read.is_ok() {
                self.last_chunk = tokio::time::Instant::now();
            }
            let frame = match read {
                Err(()) => {
                    return Err(match silence {
                        Silence::Subscribing(after) => Error::Timeout {
                            what: "SUBSCRIBED event",
                            after,
                        },
                        Silence::Heartbeat(silence) => Error::HeartbeatTimeout { silence },
                    })
                }
                Ok(None) => {
                    self.decoder.finish()?;
                    return Err(Error::StreamEnded);
                }
                Ok(Some(Err(source))) => {
                    return Err(Error::Body {
                        url: self.url.clone(),
                        source,
                    })
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                self.decoder.feed(&data);
            }
        }
    }

    /// Boxed at once: the event then travels to the caller as a pointer.
    fn decode(&self, record: &[u8]) -> Result<Box<Event>> {
        Ok(Box::new(match self.content_type {
            ContentType::Json => Event::from_json_slice(record)?,
            ContentType::Protobuf => decode_checked::<Event>(record)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::FrameworkId;

    fn transport(ct: ContentType, creds: Option<Credentials>) -> Transport {
        let mut c = SchedulerConfig::new("127.0.0.1:5050", Default::default());
        c.content_type = ct;
        c.credentials = creds;
        Transport::new(&c).expect("transport")
    }

    #[test]
    fn requests_carry_content_type_accept_auth_and_stream_id() {
        let t = transport(
            ContentType::Protobuf,
            Some(Credentials::new("fw", "s3cret")),
        );
        let call = crate::call::teardown();
        let uri: Uri = "http://m:5050/api/v1/scheduler".parse().expect("uri");
        let req = t.request(&uri, &call, Some("abc")).expect("request");
        let h = req.headers();
        assert_eq!(h[CONTENT_TYPE], "application/x-protobuf");
        assert_eq!(h[ACCEPT], "application/x-protobuf");
        assert_eq!(h[AUTHORIZATION], "Basic Znc6czNjcmV0");
        assert!(h[AUTHORIZATION].is_sensitive());
        assert_eq!(h[STREAM_ID_HEADER], "abc");
        assert_eq!(req.method(), Method::POST);
    }

    /// The protobuf body is prost's own encoding of the call, whatever its size.
    #[test]
    fn protobuf_bodies_are_the_calls_encoding() {
        let t = transport(ContentType::Protobuf, None);
        let task = |n: usize| mesos_proto::v1::TaskInfo {
            name: "t".repeat(n),
            task_id: mesos_proto::v1::TaskId::from_str_value(format!("task-{n}")),
            resources: vec![
                mesos_proto::resource::scalar("cpus", 0.1),
                mesos_proto::resource::ports(&[(31000, 31000 + n as u64)]),
            ],
            ..Default::default()
        };
        for tasks in [0, 1, 40] {
            let call = crate::call::launch(
                vec![mesos_proto::v1::OfferId::from_str_value("o")],
                (0..tasks).map(|n| task(n * 7)).collect(),
                None,
            );
            assert_eq!(t.encode(&call).as_ref(), call.encode_to_vec().as_slice());
        }
    }

    #[test]
    fn json_requests_have_no_stream_id_when_subscribing() {
        let t = transport(ContentType::Json, None);
        let mut call = crate::call::subscribe(Default::default(), vec![]);
        call.framework_id = Some(FrameworkId { value: "F".into() });
        let uri: Uri = "http://m:5050/api/v1/scheduler".parse().expect("uri");
        let req = t.request(&uri, &call, None).expect("request");
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
        assert!(req.headers().get(STREAM_ID_HEADER).is_none());
        assert!(req.headers().get(AUTHORIZATION).is_none());
    }
}
