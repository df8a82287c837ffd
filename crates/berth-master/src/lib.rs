//! berth's embedded Mesos master: as far as a v1 scheduler (pymesos, mesos-go, mesos-execute)
//! can tell, a Mesos 1.12 master. It serves the v1 Scheduler HTTP API, makes offers from its
//! agents' resources, runs the task lifecycle, answers `/state`, and keeps its identity and
//! frameworks in SQLite.
//!
//! # Layout
//!
//! * [`config`]: the settings, [`MasterConfig`].
//! * [`error`]: the errors, [`Error`] and [`ApiError`] (the one place errors become HTTP
//!   responses).
//! * [`call`]: decoding, validating and negotiating scheduler calls (pure).
//! * [`validation`]: task and `FrameworkInfo` validation with Mesos's texts (pure).
//! * `actor`: the master actor, sole owner of frameworks, agents, offers, tasks, the
//!   allocator and the store.
//! * `api`: the axum routes; handlers talk to the actor with oneshot replies.
//! * `state_json`: the `/state` and `/version` documents; `/state` is a snapshot the actor
//!   takes and the HTTP layer streams.
//! * `completed`: completed tasks, kept as their `/state` entries only (LZ4 blocks).
//! * [`store`]: persistence in `<work_dir>/master.db`.
//!
//! # Where berth's master differs from Mesos
//!
//! * No authentication, no leader election: steps 0-3 of spec §1.3 never fire.
//! * `SHUTDOWN` and `MESSAGE` are accepted (202) and dropped: berth agents run command tasks
//!   only, there is no custom executor to stop or to message.
//! * ACCEPT operations other than LAUNCH / LAUNCH_GROUP (reservations, volumes, disks) are not
//!   applied; with an `Operation.id` they get `UPDATE_OPERATION_STATUS` `OPERATION_ERROR`.
//! * Offer constraints and `offer_filters` are accepted and ignored; roles are flat (no
//!   quota, weights or hierarchical sorting; DRF is across framework roles).
//! * Task validation implements rows 1-16 of spec §4.3 except 2b (unreachable tasks), 8c-8e
//!   (persistence IDs, allocation roles, revocable resources); checks are validated shallowly.
//! * Explicit reconciliation of an unknown task is not answered while agents known before a
//!   restart may still re-register (as in Mesos); unlike Mesos, berth answers it once they have
//!   (or once `agent_reregister_timeout` passes), so schedulers that never retry get an answer.
//! * A JSON syntax error's text after `Failed to parse body into JSON: ` is serde_json's, not
//!   picojson's.
//! * The HEARTBEAT interval is configurable (Mesos: fixed 15 s, the default here).
//!
//! # Embedding
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use berth_master::{Master, MasterConfig};
//! let mut config = MasterConfig::new("/tmp/berth-master");
//! config.listen = "127.0.0.1:5050".parse()?;
//! let (master, listener) = Master::bind(config).await?;
//! let handle = master.handle();
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let (to_agent, _agent_rx) = tokio::sync::mpsc::channel(64);
//! let (_agent_tx, from_agent) = tokio::sync::mpsc::channel(64);
//! handle.attach_agent(to_agent, from_agent).await?;
//! master.run(listener, shutdown).await?;
//! # Ok(()) }
//! ```

mod actor;
mod api;
pub mod call;
mod completed;
pub mod config;
pub mod error;
mod state_json;
pub mod store;
pub mod validation;

use std::sync::{Arc, OnceLock};

use berth_core::msg::{AgentToMaster, MasterToAgent};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use actor::MESOS_VERSION;
pub use api::STREAM_ID_HEADER;
pub use config::MasterConfig;
pub use error::{ApiError, Error, Result};

use actor::{Command, MasterActor};
use store::{AgentRecord, FrameworkRecord, Identity, Store};

/// Most bytes hyper buffers per HTTP connection (its minimum is 8 KiB).
const MAX_CONNECTION_BUFFER: usize = 16 * 1024;

/// The master has stopped; the handle can no longer reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the master is not running")]
pub struct MasterGone;

impl From<MasterGone> for ApiError {
    fn from(_: MasterGone) -> Self {
        ApiError::Unavailable
    }
}

#[derive(Debug)]
struct HandleInner {
    tx: mpsc::Sender<Command>,
    master_id: String,
    /// Hostname and port, known once `run` has its listener.
    addr: OnceLock<(String, u16)>,
    /// The current subscriptions (kept by the actor).
    sessions: actor::Sessions,
}

/// A cloneable front of a master: attach agents, read `/state`.
#[derive(Debug, Clone)]
pub struct MasterHandle {
    inner: Arc<HandleInner>,
}

impl MasterHandle {
    async fn send(&self, cmd: Command) -> Result<(), MasterGone> {
        self.inner.tx.send(cmd).await.map_err(|_| MasterGone)
    }

    /// The master's ID (a UUID kept across restarts in the work dir).
    pub fn master_id(&self) -> &str {
        &self.inner.master_id
    }

    /// Connects an agent: the master sends on `to_agent` and reads `from_agent`, whose first
    /// message must be [`AgentToMaster::Register`]. Closing `from_agent`'s sender disconnects
    /// the agent (its tasks stay until it registers again with its previous ID).
    pub async fn attach_agent(
        &self,
        to_agent: mpsc::Sender<MasterToAgent>,
        from_agent: mpsc::Receiver<AgentToMaster>,
    ) -> Result<(), MasterGone> {
        self.send(Command::AttachAgent {
            to_agent,
            from_agent,
        })
        .await
    }

    /// The `/state` document.
    pub async fn state_json(&self) -> Result<String, MasterGone> {
        Ok(self.state_doc().await?.into_string())
    }

    /// A `/state` snapshot: the actor only takes it, the bytes are put together by the caller.
    pub(crate) async fn state_doc(&self) -> Result<state_json::StateDoc, MasterGone> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::State { reply }).await?;
        rx.await.map_err(|_| MasterGone)
    }
}

/// A master, opened but not yet serving.
#[derive(Debug)]
pub struct Master {
    config: MasterConfig,
    store: Store,
    identity: Identity,
    records: Vec<FrameworkRecord>,
    agents: Vec<AgentRecord>,
    rx: mpsc::Receiver<Command>,
    handle: MasterHandle,
}

impl Master {
    /// Opens the work dir's store (creating the master's identity on first use).
    pub fn open(config: MasterConfig) -> Result<Master> {
        let (store, identity) = Store::open_with(&config.work_dir, config.durability)?;
        let records = store.frameworks()?;
        let agents = store.agents()?;
        let (tx, rx) = mpsc::channel(config.command_buffer.max(1));
        let handle = MasterHandle {
            inner: Arc::new(HandleInner {
                tx,
                master_id: identity.master_id.clone(),
                addr: OnceLock::new(),
                sessions: actor::Sessions::default(),
            }),
        };
        Ok(Master {
            config,
            store,
            identity,
            records,
            agents,
            rx,
            handle,
        })
    }

    /// Opens the master and binds `config.listen`; pass both to [`Master::run`].
    pub async fn bind(config: MasterConfig) -> Result<(Master, TcpListener)> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok((Master::open(config)?, listener))
    }

    /// A handle to the master (usable before `run`; commands wait in the queue).
    pub fn handle(&self) -> MasterHandle {
        self.handle.clone()
    }

    /// Serves the API on `listener` until `shutdown` fires; then stops the actor, closes every
    /// subscription and waits for every task it spawned.
    pub async fn run(self, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
        let addr = listener.local_addr()?;
        let actor = MasterActor::new(
            self.config.clone(),
            self.store,
            self.identity,
            self.records,
            self.agents,
            addr,
            self.rx,
            self.handle.inner.tx.clone(),
            self.handle.inner.sessions.clone(),
        );
        let _ = self
            .handle
            .inner
            .addr
            .set((actor.hostname.clone(), actor.port));
        let tracker = TaskTracker::new();
        let app = api::ApiService::new(self.handle.clone(), self.config.max_body_bytes);
        tracing::info!(%addr, "master listening");
        tracker.spawn(serve(listener, app, shutdown.clone(), tracker.clone()));
        actor.run(shutdown.clone(), tracker.clone()).await;
        tracker.close();
        tracker.wait().await;
        Ok(())
    }
}

/// The accept loop: HTTP/1.1 connections (header names written in Mesos's title case, e.g.
/// `Mesos-Stream-Id`), each served on a tracked task. On shutdown it stops accepting and lets
/// open connections finish (the actor ends every subscription stream when it stops).
async fn serve(
    listener: TcpListener,
    app: api::ApiService,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Events are small writes on a long-lived response: without TCP_NODELAY, Nagle
                // holds each one back until the previous is acknowledged (up to the peer's
                // delayed-ACK timer), adding tens of milliseconds per event.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "TCP_NODELAY");
                }
                let svc = app.clone();
                let conn = hyper::server::conn::http1::Builder::new()
                    .title_case_headers(true)
                    // hyper's default lets each connection's buffers grow to ~400 KB and keeps
                    // them while the connection idles; 10,000 frameworks' keep-alive
                    // connections would hold gigabytes. Bodies are read in pieces anyway.
                    .max_buf_size(MAX_CONNECTION_BUFFER)
                    // A scheduler's pipelined ACKNOWLEDGEs are answered in one write. (Without
                    // the buffer cap this made hyper gather whole bodies, a 100 MB /state.)
                    .pipeline_flush(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tracker.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
