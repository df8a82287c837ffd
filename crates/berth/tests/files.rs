//! The agent's `/files/read` and `/files/browse` (served by `berth cluster` for each Docker
//! agent at the address in its offers), read back with the client `berth run` uses for
//! sandboxes on other machines.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is the failure report

use std::net::SocketAddr;

use berth::files::{serve, FileReader};
use tokio_util::sync::CancellationToken;

async fn get(addr: SocketAddr, path_and_query: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path_and_query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn files_read_serves_sandbox_files_in_chunks_like_a_mesos_agent() {
    let root = tempfile::tempdir().unwrap();
    let sandbox = root
        .path()
        .join("slaves/S0/frameworks/F/executors/t/runs/c");
    std::fs::create_dir_all(&sandbox).unwrap();
    std::fs::write(sandbox.join("stdout"), "hello\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "no").unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, root.path().to_path_buf(), stop.clone()));

    let stdout = format!("{}/stdout", sandbox.display());
    let mut reader = FileReader::new(addr, stdout.clone());
    assert_eq!(reader.next_chunk().await, b"hello\n");
    assert!(reader.next_chunk().await.is_empty());
    std::fs::write(sandbox.join("stdout"), "hello\nworld\n").unwrap();
    assert_eq!(reader.next_chunk().await, b"world\n");

    // offset -1 (or none): the size, no data.
    let (status, body) = get(addr, &format!("/files/read?path={stdout}&offset=-1")).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({"data": "", "offset": 12}));
    let (status, body) = get(
        addr,
        &format!("/files/read?path={stdout}&offset=6&length=3"),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"data":"wor","offset":6}"#)
    );

    // Errors, with Mesos's texts.
    assert_eq!(
        get(addr, "/files/read").await,
        (400, "Expecting 'path=value' in query.\n".into())
    );
    let dir = sandbox.display().to_string();
    assert_eq!(
        get(addr, &format!("/files/read?path={dir}")).await,
        (400, "Cannot read a directory.\n".into())
    );
    let secret = format!("{}/secret", outside.path().display());
    assert_eq!(
        get(addr, &format!("/files/read?path={secret}")).await.0,
        404
    );
    let traversal = format!("{dir}/../../../../../../../../../etc/passwd");
    assert_eq!(
        get(addr, &format!("/files/read?path={traversal}")).await.0,
        404
    );

    // browse lists the sandbox.
    let (status, body) = get(addr, &format!("/files/browse?path={dir}")).await;
    assert_eq!(status, 200);
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listing[0]["path"], stdout);
    assert_eq!(listing[0]["size"], 12);

    stop.cancel();
    server.await.unwrap();
}
