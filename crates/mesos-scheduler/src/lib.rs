//! A client for the Apache Mesos v1 Scheduler HTTP API, for any Rust framework: it works
//! against real Mesos masters as well as berth's embedded master.
//!
//! # Layout
//!
//! * [`config`]: [`SchedulerConfig`] (masters, framework, encoding, credentials, timeouts,
//!   acknowledgement and reconciliation policy), [`ContentType`], [`Credentials`].
//! * [`client`]: [`Scheduler`], the cloneable handle with one method per call type, and
//!   [`Subscription`], the `Stream` of [`SchedulerEvent`]s that drives the connection.
//! * [`connection`]: the connection state machine ([`ConnectionState`], a pure
//!   [`Connection::step`]) deciding subscribe / redirect / reconnect / acknowledge / reconcile.
//! * [`transport`]: HTTP (hyper): request headers (`Mesos-Stream-Id`, basic auth), status
//!   handling, the RecordIO event stream and its heartbeat watchdog.
//! * [`backoff`]: capped, jittered exponential reconnection delays.
//! * [`call`]: pure builders for every `Call`, `Filters` and `KillPolicy` helpers.
//! * [`tracker`]: [`TaskTracker`], the tasks reconciled after a re-subscription.
//! * [`offer`]: does an offer fit, taking resources and ports from it for a `TaskInfo`.
//! * [`error`]: [`Error`] with [`Error::is_retryable`].
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use mesos_proto::v1::FrameworkInfo;
//! use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerEvent};
//!
//! # async fn demo() -> mesos_scheduler::Result<()> {
//! let framework = FrameworkInfo {
//!     user: "root".into(),
//!     name: "demo".into(),
//!     failover_timeout: Some(60.0),
//!     ..Default::default()
//! };
//! let (scheduler, mut events) = Scheduler::new(SchedulerConfig::new("127.0.0.1:5050", framework))?;
//! while let Some(event) = events.next().await {
//!     match event {
//!         SchedulerEvent::Event(ev) => {
//!             if let Some(offers) = ev.offers {
//!                 let ids = offers.offers.into_iter().map(|o| o.id).collect();
//!                 scheduler.decline(ids, None).await?;
//!             }
//!         }
//!         SchedulerEvent::Closed { .. } => break,
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub mod backoff;
pub mod call;
pub mod client;
pub mod config;
pub mod connection;
pub mod error;
pub mod offer;
mod pipeline;
pub mod tracker;
pub mod transport;

pub use backoff::BackoffConfig;
pub use client::{Scheduler, Subscription};
pub use config::{ContentType, Credentials, ErrorEventPolicy, SchedulerConfig};
pub use connection::{Connection, ConnectionState, SchedulerEvent};
pub use error::{Error, Result};
pub use offer::{OfferError, OfferResources};
pub use tracker::{TaskTracker, TrackedTask};
