//! Sandbox files over HTTP, the way a Mesos agent serves them: `GET /files/read` and
//! `GET /files/browse` on the agent's address (the `url` of its offers), so frameworks can read
//! a task's `stdout`/`stderr` from another machine. [`serve`] is the server `berth cluster`
//! runs for each Docker agent; [`FileReader`] is the client `berth run` uses when a sandbox is
//! not on its own disk (for example on a real Mesos agent).
//!
//! `/files/read?path=P&offset=O&length=L` answers `{"data":"...","offset":O}`; `offset=-1` (or
//! none) answers the file's size with no data, as Mesos does. Only paths under the agent's
//! work dir are served.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Largest chunk one `/files/read` returns (Mesos caps reads too).
pub const MAX_READ: u64 = 1024 * 1024;

/// Serves `/files/read` and `/files/browse` for files under `root` until `shutdown`.
pub async fn serve(listener: TcpListener, root: PathBuf, shutdown: CancellationToken) {
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let root = root.clone();
        let conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let root = root.clone();
                async move { Ok::<_, Infallible>(handle(&root, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = conn_shutdown.cancelled() => {}
            }
        });
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json_response(v: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    Some((percent_decode(k)?, percent_decode(v)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The file `path` names, if it exists and lies under `root` (else: 404).
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    std::fs::canonicalize(path)
        .ok()
        .filter(|p| p.starts_with(root))
}

fn not_found() -> Response<Full<Bytes>> {
    text(StatusCode::NOT_FOUND, "File not found")
}

fn handle(root: &Path, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Expecting GET");
    }
    let q = query(req);
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let Some(path) = get("path") else {
        return text(
            StatusCode::BAD_REQUEST,
            "Expecting 'path=value' in query.\n",
        );
    };
    match req.uri().path() {
        "/files/read" | "/files/read.json" => {
            let offset = match get("offset").map(|o| o.parse::<i64>()) {
                None => -1,
                Some(Ok(o)) => o,
                Some(Err(e)) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!("Failed to parse offset: {e}.\n"),
                    )
                }
            };
            let length = match get("length").map(|l| l.parse::<i64>()) {
                None => -1,
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!("Failed to parse length: {e}.\n"),
                    )
                }
            };
            if offset < -1 {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("Negative offset provided: {offset}.\n"),
                );
            }
            let Some(file) = resolve(root, &path) else {
                return not_found();
            };
            if file.is_dir() {
                return text(StatusCode::BAD_REQUEST, "Cannot read a directory.\n");
            }
            read_chunk(&file, offset, length)
        }
        "/files/browse" | "/files/browse.json" => {
            let Some(dir) = resolve(root, &path) else {
                return not_found();
            };
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return text(StatusCode::NOT_FOUND, "File not found");
            };
            let mut list = Vec::new();
            for e in entries.flatten() {
                let Ok(meta) = e.metadata() else { continue };
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64())
                    .unwrap_or_default();
                list.push(json!({
                    "path": e.path().display().to_string(),
                    "size": meta.len(),
                    "mtime": mtime,
                    "mode": if meta.is_dir() { "drwxr-xr-x" } else { "-rw-r--r--" },
                    "nlink": 1,
                }));
            }
            json_response(&serde_json::Value::Array(list))
        }
        _ => text(StatusCode::NOT_FOUND, ""),
    }
}

fn read_chunk(file: &Path, offset: i64, length: i64) -> Response<Full<Bytes>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut f) = std::fs::File::open(file) else {
        return text(StatusCode::NOT_FOUND, "File not found");
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let Ok(offset) = u64::try_from(offset) else {
        // offset -1: the size only.
        return json_response(&json!({"data": "", "offset": size}));
    };
    let start = offset.min(size);
    let want = u64::try_from(length)
        .unwrap_or(MAX_READ)
        .min(MAX_READ)
        .min(size - start);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_ok() {
        let _ = f.take(want).read_to_end(&mut buf);
    }
    json_response(&json!({"data": String::from_utf8_lossy(&buf), "offset": start}))
}

/// Follows one sandbox file through an agent's `/files/read`.
pub struct FileReader {
    agent: SocketAddr,
    path: String,
    offset: u64,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<Bytes>,
    >,
}

impl FileReader {
    /// Reads `path` (an absolute sandbox path on the agent) from the agent at `agent`.
    pub fn new(agent: SocketAddr, path: String) -> Self {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        FileReader {
            agent,
            path,
            offset: 0,
            client,
        }
    }

    /// Whatever was appended since the last call (empty when nothing new or on error).
    pub async fn next_chunk(&mut self) -> Vec<u8> {
        let uri = format!(
            "http://{}/files/read?path={}&offset={}&length={MAX_READ}",
            self.agent,
            percent_encode(&self.path),
            self.offset
        );
        let Ok(uri) = uri.parse::<hyper::Uri>() else {
            return Vec::new();
        };
        let fut = self.client.get(uri);
        let Ok(Ok(resp)) = tokio::time::timeout(std::time::Duration::from_secs(5), fut).await
        else {
            return Vec::new();
        };
        if !resp.status().is_success() {
            return Vec::new();
        }
        let Ok(body) = resp.into_body().collect().await else {
            return Vec::new();
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body.to_bytes()) else {
            return Vec::new();
        };
        let data = v["data"].as_str().unwrap_or_default().as_bytes().to_vec();
        let at = v["offset"].as_u64().unwrap_or(self.offset);
        self.offset = at + data.len() as u64;
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips_paths() {
        let p = "/tmp/a b/slaves/x:y/stdout";
        assert_eq!(percent_decode(&percent_encode(p)).as_deref(), Some(p));
    }
}
