//! The client's own acknowledgements, sent without holding up the event stream and pipelined
//! over one HTTP/1.1 connection.
//!
//! Every status update with a `uuid` costs one ACKNOWLEDGE call, and Mesos has no batch form.
//! Sent one at a time, each waits for the previous answer and the event stream waits with them.
//! Here the driver only queues them; a background task takes whatever is queued, writes all of
//! it in one go on a keep-alive connection (HTTP/1.1 pipelining, which Mesos's libprocess and
//! berth's master both serve in order) and reads the answers in order. Failures come back as
//! [`Error`]s for the driver to surface as [`SchedulerEvent::Error`](crate::SchedulerEvent).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// Most calls written in one batch.
const MAX_BATCH: usize = 256;

/// Most header lines read in an answer.
const MAX_HEADERS: usize = 32;

/// Longest answer head, and longest body kept for an error message.
const MAX_HEAD: usize = 64 * 1024;

/// Where a queued call goes: a master and a subscription. One is shared by all the calls of
/// a subscription, so grouping them compares pointers, not URIs.
#[derive(Debug)]
pub(crate) struct Target {
    pub uri: Uri,
    pub stream_id: String,
}

/// One queued call: where to, and the encoded body.
#[derive(Debug)]
pub(crate) struct Job {
    pub target: Arc<Target>,
    pub body: Bytes,
}

/// The fixed parts of every request.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// `Content-Type` and `Accept`.
    pub media_type: &'static str,
    /// `Authorization`, if any.
    pub authorization: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// The queue and its sender task; dropping it stops the task.
#[derive(Debug)]
pub(crate) struct Pipeline {
    jobs: mpsc::UnboundedSender<Job>,
    errors: mpsc::UnboundedReceiver<Error>,
    task: JoinHandle<()>,
}

impl Pipeline {
    /// Starts the sender task (on the current Tokio runtime). Once `shutdown` has fired
    /// (the scheduler's own TEARDOWN or shutdown), failures are no longer reported.
    pub(crate) fn start(head: Head, shutdown: CancellationToken) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (err_tx, errors) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(head, rx, err_tx, shutdown));
        Pipeline { jobs, errors, task }
    }

    /// Queues a call.
    pub(crate) fn send(&self, job: Job) {
        // The task only ends when this handle is dropped.
        let _ = self.jobs.send(job);
    }

    /// Failures reported since the last look.
    pub(crate) fn take_errors(&mut self) -> Vec<Error> {
        let mut out = Vec::new();
        while let Ok(e) = self.errors.try_recv() {
            out.push(e);
        }
        out
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    head: Head,
    mut rx: mpsc::UnboundedReceiver<Job>,
    errors: mpsc::UnboundedSender<Error>,
    shutdown: CancellationToken,
) {
    let mut conn = Conn::default();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Calls for one master and stream go together; a change (re-subscription, another
        // master) starts a new group.
        let mut rest = batch.as_slice();
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .take_while(|j| Arc::ptr_eq(&j.target, &first.target))
                .count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            for result in conn.send_group(&head, group).await {
                if let Err(e) = result {
                    if shutdown.is_cancelled() {
                        // After TEARDOWN the master has forgotten the framework and refuses
                        // the acknowledgements still queued behind it: nothing is lost.
                        tracing::debug!(error = %e, "acknowledgement after shutdown refused");
                        continue;
                    }
                    tracing::warn!(error = %e, "acknowledgement failed");
                    let _ = errors.send(e);
                }
            }
        }
    }
}

/// A keep-alive connection to one master.
#[derive(Default)]
struct Conn {
    authority: String,
    stream: Option<TcpStream>,
    buf: BytesMut,
    /// [`request_prefix`] of the target last written to, and that target.
    prefix: Vec<u8>,
    prefix_for: Option<Arc<Target>>,
}

/// Why a group stopped part-way.
enum Broken {
    /// The connection failed; the unanswered calls may be sent again.
    Io(std::io::Error),
    /// The master closes the connection after the answer just read.
    Closing,
}

impl Conn {
    /// Sends `group` (one master, one stream) and returns one result per call, in order.
    /// Calls left unanswered by a broken connection are sent once more on a new one (an
    /// ACKNOWLEDGE may safely arrive twice: the second finds nothing to acknowledge).
    async fn send_group(&mut self, head: &Head, group: &[Job]) -> Vec<Result<()>> {
        let mut results = Vec::with_capacity(group.len());
        let mut retried = false;
        while results.len() < group.len() {
            let pending = &group[results.len()..];
            let outcome = tokio::time::timeout(
                head.request_timeout,
                self.exchange(head, pending, &mut results),
            )
            .await;
            let broken = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(broken)) => broken,
                Err(_) => Broken::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", head.request_timeout),
                )),
            };
            self.stream = None;
            self.buf.clear();
            match broken {
                Broken::Closing => retried = false,
                Broken::Io(e) if retried => {
                    let url = pending[0].target.uri.to_string();
                    let kind = e.kind();
                    let reason = e.to_string();
                    while results.len() < group.len() {
                        results.push(Err(Error::Io {
                            url: url.clone(),
                            source: std::io::Error::new(kind, reason.clone()),
                        }));
                    }
                }
                Broken::Io(e) => {
                    tracing::debug!(error = %e, "pipelined connection broke; sending the rest again");
                    retried = true;
                }
            }
        }
        results
    }

    /// Writes `jobs` and reads their answers into `results` until done or broken.
    async fn exchange(
        &mut self,
        head: &Head,
        jobs: &[Job],
        results: &mut Vec<Result<()>>,
    ) -> std::result::Result<(), Broken> {
        let target = &jobs[0].target;
        // The connection's address and the request head depend on the target alone: worked
        // out again only when the target changes (a re-subscription, another master).
        if !self
            .prefix_for
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(t, target))
        {
            let authority = target
                .uri
                .authority()
                .map(|a| {
                    if a.port().is_some() {
                        a.to_string()
                    } else {
                        format!("{a}:80")
                    }
                })
                .unwrap_or_default();
            if self.authority != authority {
                self.stream = None;
                self.buf.clear();
                self.authority = authority;
            }
            self.prefix = request_prefix(head, target);
            self.prefix_for = Some(Arc::clone(target));
        }
        if self.stream.is_none() {
            let stream = tokio::time::timeout(
                head.connect_timeout,
                TcpStream::connect(self.authority.as_str()),
            )
            .await
            .map_err(|_| {
                Broken::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connect timed out after {:?}", head.connect_timeout),
                ))
            })?
            .map_err(Broken::Io)?;
            stream.set_nodelay(true).map_err(Broken::Io)?;
            self.stream = Some(stream);
        }
        let mut out =
            Vec::with_capacity(jobs.len() * (self.prefix.len() + 32 + jobs[0].body.len()));
        for job in jobs {
            write_request(&mut out, &self.prefix, &job.body);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Broken::Io(std::io::ErrorKind::NotConnected.into()));
        };
        stream.write_all(&out).await.map_err(Broken::Io)?;
        for job in jobs {
            let answer = read_answer(stream, &mut self.buf).await?;
            results.push(answer.result(&job.target.uri));
            if answer.close {
                return Err(Broken::Closing);
            }
        }
        Ok(())
    }
}

/// The part of a request that is the same for every call to `target`: request line, `Host`,
/// media types, stream ID and `Authorization`, up to `Content-Length`.
fn request_prefix(head: &Head, target: &Target) -> Vec<u8> {
    use std::io::Write as _;
    let uri = &target.uri;
    let host = uri.authority().map_or("", |a| a.as_str());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = Vec::with_capacity(256);
    let _ = write!(
        out,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {m}\r\nAccept: {m}\r\n{sid}: {id}\r\n",
        m = head.media_type,
        sid = crate::transport::STREAM_ID_HEADER,
        id = target.stream_id,
    );
    if let Some(auth) = &head.authorization {
        let _ = write!(out, "Authorization: {auth}\r\n");
    }
    out
}

/// One request: the target's `prefix`, the body's length and the body.
fn write_request(out: &mut Vec<u8>, prefix: &[u8], body: &[u8]) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// One answer, read.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
    close: bool,
}

impl Answer {
    fn result(&self, uri: &Uri) -> Result<()> {
        if self.status.is_success() {
            return Ok(());
        }
        if self.status == StatusCode::TEMPORARY_REDIRECT {
            return Err(Error::NotLeader {
                location: self.location.clone().unwrap_or_else(|| uri.to_string()),
            });
        }
        Err(Error::Status {
            status: self.status,
            body: String::from_utf8_lossy(&self.body).trim().to_string(),
        })
    }
}

fn invalid(what: impl Into<String>) -> Broken {
    Broken::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what.into(),
    ))
}

/// Reads more bytes into `buf`; end of stream is an error (an answer is still owed).
async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> std::result::Result<(), Broken> {
    buf.reserve(16 * 1024);
    let n = stream.read_buf(buf).await.map_err(Broken::Io)?;
    if n == 0 {
        return Err(Broken::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

/// How an answer's body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

async fn read_answer(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::result::Result<Answer, Broken> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let code = response.code.unwrap_or(0);
                let status = StatusCode::from_u16(code)
                    .map_err(|_| invalid(format!("bad status code {code}")))?;
                let mut framing = if matches!(code, 100..=199 | 204 | 304) {
                    Framing::Length(0)
                } else {
                    Framing::UntilClose
                };
                let mut close = response.version == Some(0);
                let mut location = None;
                for h in response.headers.iter() {
                    // Only the few headers read here are turned into text (`Date` and the
                    // like come with every answer).
                    let value = || String::from_utf8_lossy(h.value);
                    if h.name.eq_ignore_ascii_case("content-length") {
                        let value = value();
                        let n = value
                            .trim()
                            .parse()
                            .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
                        framing = Framing::Length(n);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                        && value().to_ascii_lowercase().contains("chunked")
                    {
                        framing = Framing::Chunked;
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        let v = value().to_ascii_lowercase();
                        if v.contains("close") {
                            close = true;
                        } else if v.contains("keep-alive") {
                            close = false;
                        }
                    } else if h.name.eq_ignore_ascii_case("location") {
                        location = Some(value().into_owned());
                    }
                }
                buf.advance(head_len);
                if code < 200 {
                    // 100 Continue and friends: the real answer follows.
                    continue;
                }
                let body = match framing {
                    Framing::Length(n) => {
                        while buf.len() < n {
                            fill(stream, buf).await?;
                        }
                        buf.split_to(n).freeze()
                    }
                    Framing::Chunked => read_chunked(stream, buf).await?,
                    Framing::UntilClose => {
                        loop {
                            buf.reserve(16 * 1024);
                            match stream.read_buf(buf).await {
                                Ok(0) => break,
                                Ok(_) if buf.len() > MAX_HEAD => break,
                                Ok(_) => {}
                                Err(e) => return Err(Broken::Io(e)),
                            }
                        }
                        close = true;
                        buf.split().freeze()
                    }
                };
                return Ok(Answer {
                    status,
                    location,
                    body,
                    close,
                });
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(invalid("answer head too long"));
                }
                fill(stream, buf).await?;
            }
            Err(e) => return Err(invalid(format!("malformed answer: {e}"))),
        }
    }
}

async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::result::Result<Bytes, Broken> {
    let mut body = BytesMut::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("chunk size line too long"));
            }
            fill(stream, buf).await?;
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
        buf.advance(line_end + 2);
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let end = loop {
                    if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    fill(stream, buf).await?;
                };
                buf.advance(end + 2);
                if end == 0 {
                    return Ok(body.freeze());
                }
            }
        }
        while buf.len() < size + 2 {
            fill(stream, buf).await?;
        }
        if body.len() < MAX_HEAD {
            body.extend_from_slice(&buf[..size]);
        }
        buf.advance(size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Reads one request (head and `Content-Length` body) off `stream`; `None` at EOF.
    async fn read_request(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<Vec<String>> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(n)) = req.parse(buf) {
                let mut len = 0;
                let mut lines = vec![format!("{} {}", req.method?, req.path?)];
                for h in req.headers.iter() {
                    let v = String::from_utf8_lossy(h.value).into_owned();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        len = v.parse().ok()?;
                    }
                    lines.push(format!("{}: {v}", h.name));
                }
                while buf.len() < n + len {
                    if stream.read_buf(buf).await.ok()? == 0 {
                        return None;
                    }
                }
                let body = buf.split_to(n + len).split_off(n);
                lines.push(String::from_utf8_lossy(&body).into_owned());
                return Some(lines);
            }
            if stream.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    fn head() -> Head {
        Head {
            media_type: "application/json",
            authorization: Some("Basic dTpw".into()),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        }
    }

    fn jobs(addr: std::net::SocketAddr, n: usize) -> Vec<Job> {
        let target = Arc::new(Target {
            uri: format!("http://{addr}/api/v1/scheduler")
                .parse()
                .expect("uri"),
            stream_id: "stream-1".into(),
        });
        (0..n)
            .map(|i| Job {
                target: Arc::clone(&target),
                body: Bytes::from(format!("{{\"n\":{i}}}")),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_batch_is_written_at_once_and_answers_are_read_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = BytesMut::new();
            let mut seen = Vec::new();
            for _ in 0..3 {
                seen.push(read_request(&mut s, &mut buf).await.expect("request"));
            }
            // All three answers in one write: plain, chunked with a body, closing.
            s.write_all(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n\
                  HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\nbad x\r\n3\r\nyz!\r\n0\r\n\r\n\
                  HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            )
            .await
            .expect("write");
            seen
        });
        let mut conn = Conn::default();
        let results = conn.send_group(&head(), &jobs(addr, 3)).await;
        assert!(results[0].is_ok());
        match &results[1] {
            Err(Error::Status { status, body }) => {
                assert_eq!(*status, StatusCode::BAD_REQUEST);
                assert_eq!(body, "bad xyz!");
            }
            other => panic!("expected a 400, got {other:?}"),
        }
        assert!(results[2].is_ok());
        assert!(conn.stream.is_none(), "Connection: close is honoured");
        let seen = server.await.expect("server");
        for (i, req) in seen.iter().enumerate() {
            assert_eq!(req[0], "POST /api/v1/scheduler");
            assert!(req.contains(&"Mesos-Stream-Id: stream-1".to_string()));
            assert!(req.contains(&"Content-Type: application/json".to_string()));
            assert!(req.contains(&"Accept: application/json".to_string()));
            assert!(req.contains(&"Authorization: Basic dTpw".to_string()));
            assert!(req.contains(&format!("Host: {addr}")));
            assert_eq!(req.last(), Some(&format!("{{\"n\":{i}}}")));
        }
    }

    #[tokio::test]
    async fn calls_left_unanswered_by_a_broken_connection_are_sent_again_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            // First connection: answer one call, then drop the connection.
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = BytesMut::new();
            read_request(&mut s, &mut buf).await.expect("request");
            s.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .await
                .expect("write");
            drop(s);
            // Second connection: the two others come again.
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = BytesMut::new();
            let mut bodies = Vec::new();
            for _ in 0..2 {
                let req = read_request(&mut s, &mut buf).await.expect("request");
                bodies.push(req.last().cloned().unwrap_or_default());
                s.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                    .await
                    .expect("write");
            }
            bodies
        });
        let mut conn = Conn::default();
        let results = conn.send_group(&head(), &jobs(addr, 3)).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(server.await.expect("server"), ["{\"n\":1}", "{\"n\":2}"]);
    }

    /// A master that refuses every call with 400, counting them.
    async fn refusing_master() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&refused);
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = BytesMut::new();
            while read_request(&mut s, &mut buf).await.is_some() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 25\r\n\r\n\
                               Framework cannot be found";
                if s.write_all(answer).await.is_err() {
                    break;
                }
            }
        });
        (addr, refused)
    }

    #[tokio::test]
    async fn refusals_are_reported_until_shutdown_and_not_after() {
        let (addr, refused) = refusing_master().await;
        let shutdown = CancellationToken::new();
        let mut pipeline = Pipeline::start(head(), shutdown.clone());
        let [before, after]: [Job; 2] = jobs(addr, 2).try_into().expect("two jobs");
        pipeline.send(before);
        let error = tokio::time::timeout(Duration::from_secs(5), pipeline.errors.recv())
            .await
            .expect("in time");
        assert!(
            matches!(&error, Some(Error::Status { status, body })
                if *status == StatusCode::BAD_REQUEST && body == "Framework cannot be found"),
            "{error:?}"
        );
        // TEARDOWN went out on its own connection; an acknowledgement queued behind it is
        // refused, and that is not news.
        shutdown.cancel();
        pipeline.send(after);
        // Closing the queue ends the sender task once it has sent what is queued, and with it
        // the error channel.
        pipeline.jobs = mpsc::unbounded_channel().0;
        let error = tokio::time::timeout(Duration::from_secs(5), pipeline.errors.recv())
            .await
            .expect("in time");
        assert!(error.is_none(), "{error:?}");
        assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unreachable_master_fails_every_call_of_the_group() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let mut conn = Conn::default();
        let results = conn.send_group(&head(), &jobs(addr, 2)).await;
        assert_eq!(results.len(), 2);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(Error::Io { .. }))
                && r.as_ref().is_err_and(Error::is_retryable)));
    }
}
