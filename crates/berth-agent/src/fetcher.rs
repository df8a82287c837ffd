//! Mesos's FETCHING phase: `CommandInfo.uris` are put into the sandbox before the container
//! starts, so the task finds them under `$MESOS_SANDBOX`.
//!
//! Like the Mesos fetcher: the file is named after `output_file` or the URI's last path
//! segment; `executable` makes it mode 0755 (and it is not extracted); otherwise `extract`
//! (default true) unpacks `.tar`, `.tar.gz` and `.tgz` archives into the sandbox, keeping the
//! archive. Sources: `http://` URLs (redirects followed), `file://` URLs and absolute paths on
//! the agent's machine. `https://`, `hdfs://`, `s3://` and other schemes are refused with an
//! error naming the URI (no TLS stack or Hadoop client here); `cache` is accepted and ignored
//! (every fetch downloads). Other archive formats (zip, bz2, xz) are kept unextracted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use mesos_proto::v1::command_info::Uri;

/// Redirects followed for one `http://` URI.
const MAX_REDIRECTS: usize = 5;

/// Why a URI could not be fetched; `Display` names the URI.
#[derive(Debug, thiserror::Error)]
#[error("Failed to fetch '{uri}': {reason}")]
pub struct FetchError {
    /// The URI as given.
    pub uri: String,
    /// What went wrong.
    pub reason: String,
}

fn fail(uri: &Uri, reason: impl Into<String>) -> FetchError {
    FetchError {
        uri: uri.value.clone(),
        reason: reason.into(),
    }
}

/// Fetches every URI into `sandbox`, in order, each within `timeout`.
pub async fn fetch_all(uris: &[Uri], sandbox: &Path, timeout: Duration) -> Result<(), FetchError> {
    for uri in uris {
        match tokio::time::timeout(timeout, fetch(uri, sandbox)).await {
            Ok(result) => result?,
            Err(_) => return Err(fail(uri, format!("timed out after {timeout:?}"))),
        }
    }
    Ok(())
}

/// The sandbox file a URI lands in.
fn target(uri: &Uri, sandbox: &Path) -> Result<PathBuf, FetchError> {
    let name = match uri.output_file.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => {
            let path = uri.value.split(['?', '#']).next().unwrap_or_default();
            path.rsplit('/').next().unwrap_or_default().to_string()
        }
    };
    let relative = Path::new(&name);
    let escapes = relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if name.is_empty() || escapes {
        return Err(fail(
            uri,
            format!("cannot name a sandbox file after '{name}'"),
        ));
    }
    Ok(sandbox.join(relative))
}

async fn fetch(uri: &Uri, sandbox: &Path) -> Result<(), FetchError> {
    let dest = target(uri, sandbox)?;
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| fail(uri, e.to_string()))?;
    }
    let value = uri.value.trim();
    if value.starts_with("http://") {
        let bytes = download(uri, value).await?;
        tokio::fs::write(&dest, &bytes)
            .await
            .map_err(|e| fail(uri, e.to_string()))?;
    } else if let Some(path) = value
        .strip_prefix("file://")
        .or_else(|| value.starts_with('/').then_some(value))
    {
        tokio::fs::copy(path, &dest)
            .await
            .map_err(|e| fail(uri, format!("{path}: {e}")))?;
    } else {
        let scheme = value.split_once("://").map_or(value, |(s, _)| s);
        return Err(fail(
            uri,
            format!(
                "unsupported scheme '{scheme}' (berth fetches http://, file:// and absolute paths)"
            ),
        ));
    }
    if uri.executable.unwrap_or(false) {
        use std::os::unix::fs::PermissionsExt as _;
        let perms = std::fs::Permissions::from_mode(0o755);
        tokio::fs::set_permissions(&dest, perms)
            .await
            .map_err(|e| fail(uri, e.to_string()))?;
    } else if uri.extract.unwrap_or(true) {
        extract(uri, &dest, sandbox).await?;
    }
    Ok(())
}

async fn download(uri: &Uri, url: &str) -> Result<Bytes, FetchError> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let parsed: hyper::Uri = url
            .parse()
            .map_err(|e| fail(uri, format!("bad URL '{url}': {e}")))?;
        let resp = client
            .get(parsed)
            .await
            .map_err(|e| fail(uri, e.to_string()))?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| fail(uri, format!("HTTP {status} without a Location")))?;
            url = if location.starts_with('/') {
                let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{location}")
            } else {
                location.to_string()
            };
            continue;
        }
        if !status.is_success() {
            return Err(fail(uri, format!("HTTP {status}")));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(uri, e.to_string()))?;
        return Ok(body.to_bytes());
    }
    Err(fail(uri, format!("more than {MAX_REDIRECTS} redirects")))
}

async fn extract(uri: &Uri, archive: &Path, sandbox: &Path) -> Result<(), FetchError> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let gz = name.ends_with(".tar.gz") || name.ends_with(".tgz");
    if !gz && !name.ends_with(".tar") {
        return Ok(());
    }
    let (archive, sandbox) = (archive.to_path_buf(), sandbox.to_path_buf());
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = std::fs::File::open(&archive)?;
        // `unpack` refuses entries that would land outside the sandbox.
        if gz {
            tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(&sandbox)
        } else {
            tar::Archive::new(file).unpack(&sandbox)
        }
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(fail(uri, format!("cannot extract '{name}': {e}"))),
        Err(e) => Err(fail(uri, format!("cannot extract '{name}': {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(value: &str) -> Uri {
        Uri {
            value: value.into(),
            ..Default::default()
        }
    }

    #[test]
    fn files_are_named_after_output_file_or_the_last_segment() {
        let sb = Path::new("/sb");
        assert_eq!(
            target(&uri("http://h/a/b/tool.tgz?x=1"), sb).unwrap(),
            sb.join("tool.tgz")
        );
        let named = Uri {
            output_file: Some("bin/run".into()),
            ..uri("http://h/x")
        };
        assert_eq!(target(&named, sb).unwrap(), sb.join("bin/run"));
        let escaping = Uri {
            output_file: Some("../x".into()),
            ..uri("http://h/x")
        };
        assert!(target(&escaping, sb).is_err());
        assert!(target(&uri("http://h/"), sb).is_err());
    }

    #[tokio::test]
    async fn local_files_are_copied_made_executable_and_archives_extracted() {
        let src = tempfile::tempdir().unwrap();
        let sb = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("run.sh"), "echo hi").unwrap();
        // A .tar.gz holding data/hello.txt.
        let tgz = src.path().join("bundle.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                std::fs::File::create(&tgz).unwrap(),
                flate2::Compression::default(),
            );
            let mut tar = tar::Builder::new(gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(5);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, "data/hello.txt", &b"hello"[..])
                .unwrap();
            tar.into_inner().unwrap().finish().unwrap();
        }
        let uris = [
            Uri {
                executable: Some(true),
                ..uri(&format!("file://{}/run.sh", src.path().display()))
            },
            uri(&tgz.display().to_string()),
        ];
        fetch_all(&uris, sb.path(), Duration::from_secs(10))
            .await
            .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(sb.path().join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_to_string(sb.path().join("data/hello.txt")).unwrap(),
            "hello"
        );
        assert!(sb.path().join("bundle.tar.gz").exists());

        let err = fetch_all(&[uri("s3://bucket/x")], sb.path(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "Failed to fetch 's3://bucket/x': unsupported scheme 's3' (berth fetches http://, file:// and absolute paths)");
        let missing = fetch_all(
            &[uri("/nonexistent/file")],
            sb.path(),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("Failed to fetch '/nonexistent/file': /nonexistent/file:"),
            "{missing}"
        );
    }
}
