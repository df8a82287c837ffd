//! Connecting to the local Docker engine.
//!
//! The engine on our machines speaks API 1.41 (Docker 20.10) while bollard defaults to a newer
//! version, so every connection negotiates the version first; without that, requests fail with
//! "client version too new".

use std::time::Duration;

use bollard::Docker;

/// How long the first request to the engine may take before we call it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to tell someone whose Docker engine is not running.
pub const HOW_TO_START_DOCKER: &str = "start the Docker engine first: as root run `dockerd &` \
     (install it with `apt-get install -y docker.io`), or run `bash .ci/run`, which installs \
     and starts Docker, then runs the tests";

/// Connects to the local Docker engine (`DOCKER_HOST`, else `/var/run/docker.sock`) with the API
/// version negotiated down to what the engine speaks.
///
/// A fresh client per call: bollard's connection pool belongs to the tokio runtime that made
/// it, and each `#[tokio::test]` has its own runtime.
///
/// # Panics
///
/// When the engine cannot be reached, with a message saying how to start it. Docker tests
/// never pass silently without Docker.
pub async fn docker() -> Docker {
    match try_docker().await {
        Ok(docker) => docker,
        Err(reason) => panic!("cannot reach the Docker engine ({reason}); {HOW_TO_START_DOCKER}"),
    }
}

/// Like [`docker`], but returns why the engine is unreachable instead of panicking; for code
/// that must not panic, such as cleanup in `Drop`.
pub async fn try_docker() -> Result<Docker, String> {
    let client = Docker::connect_with_local_defaults()
        .map_err(|err| format!("cannot configure a client: {err}"))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(err)) => Err(format!("version negotiation failed: {err}")),
        Err(_) => Err(format!(
            "no answer to GET /version within {CONNECT_TIMEOUT:?}"
        )),
    }
}
