//! The crate's error type and which failures are worth retrying.

use std::time::Duration;

use http::StatusCode;
use mesos_proto::recordio::RecordIoError;
use mesos_proto::{DecodeError, JsonError};

/// What a call, the subscription or the configuration can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used (bad master URL, zero timeouts, ...).
    #[error("invalid scheduler configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },

    /// A call the client refuses to send (e.g. `SUBSCRIBE` through `call`, or an ACKNOWLEDGE
    /// for an update without `uuid`).
    #[error("invalid call: {reason}")]
    InvalidCall {
        /// Why it was refused.
        reason: &'static str,
    },

    /// A call was attempted while no subscription is established: Mesos needs the framework id
    /// and the `Mesos-Stream-Id` of a live subscription for every non-SUBSCRIBE call.
    #[error("not subscribed to a master")]
    NotSubscribed,

    /// The TCP connection or the HTTP exchange failed.
    #[error("HTTP request to {url} failed")]
    Request {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },

    /// A pipelined exchange (the client's own acknowledgements) failed on its connection.
    #[error("HTTP exchange with {url} failed")]
    Io {
        /// The URL requested.
        url: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Reading a response body failed (connection reset, ...).
    #[error("reading the response body from {url} failed")]
    Body {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: hyper::Error,
    },

    /// A network wait took longer than its configured timeout.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// The configured limit.
        after: Duration,
    },

    /// The master answered with an unexpected (non-2xx) status. Mesos sends plain-text bodies
    /// such as `Framework cannot be found`.
    #[error("master answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The response body, as text (lossy UTF-8).
        body: String,
    },

    /// A 307 from a master that is not the leader, with no usable `Location`.
    #[error("redirect without a usable Location header ({location:?})")]
    BadRedirect {
        /// The header as received, if any.
        location: Option<String>,
    },

    /// A non-SUBSCRIBE call was redirected: the leader changed under a live subscription.
    #[error("master is no longer the leader (redirect to {location})")]
    NotLeader {
        /// The leader the master pointed at.
        location: String,
    },

    /// Too many redirects in a row while subscribing (masters pointing at each other).
    #[error("gave up after {count} redirects")]
    TooManyRedirects {
        /// Redirects followed.
        count: u32,
    },

    /// The SUBSCRIBE response lacks the `Mesos-Stream-Id` header.
    #[error("SUBSCRIBE response without a Mesos-Stream-Id header")]
    MissingStreamId,

    /// The SUBSCRIBE response declares a content type this client cannot decode.
    #[error("unsupported event stream content type {content_type:?}")]
    UnsupportedContentType {
        /// The `Content-Type` received.
        content_type: String,
    },

    /// The event stream is not valid RecordIO.
    #[error("malformed event stream")]
    RecordIo(#[from] RecordIoError),

    /// A JSON event does not decode.
    #[error("undecodable JSON event")]
    Json(#[from] JsonError),

    /// A protobuf event does not decode.
    #[error("undecodable protobuf event")]
    Protobuf(#[from] DecodeError),

    /// The master broke the protocol (e.g. the first event is not SUBSCRIBED).
    #[error("protocol violation: {reason}")]
    Protocol {
        /// What was unexpected.
        reason: String,
    },

    /// The master closed the event stream.
    #[error("the master closed the event stream")]
    StreamEnded,

    /// No bytes arrived for the configured number of heartbeat intervals.
    #[error("no heartbeat from the master for {silence:?}")]
    HeartbeatTimeout {
        /// How long the stream was silent.
        silence: Duration,
    },

    /// The master sent an `ERROR` event (refused subscription, `Framework failed over`, ...).
    #[error("master sent ERROR: {message}")]
    MasterError {
        /// The event's message.
        message: String,
    },

    /// The master removed the framework (`Framework has been removed`): its id cannot be used
    /// again, so this is fatal.
    #[error("the framework has been removed by the master: {message}")]
    FrameworkRemoved {
        /// The master's message.
        message: String,
    },

    /// Resources could not be taken from an offer.
    #[error(transparent)]
    Offer(#[from] crate::offer::OfferError),

    /// The subscription was shut down (by `Scheduler::shutdown` or a successful TEARDOWN).
    #[error("the subscription is shut down")]
    Shutdown,
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The body of the ERROR event Mesos sends for a framework id it has removed.
pub const FRAMEWORK_REMOVED: &str = "Framework has been removed";

impl Error {
    /// Whether trying again (reconnecting, re-sending the call later) can succeed.
    ///
    /// Transport failures, timeouts, 5xx answers, a broken or silent stream, redirects (another
    /// master may lead by the next attempt) and ERROR events other than a framework removal are
    /// retryable; configuration and request errors (4xx answers, invalid calls) and a removed
    /// framework are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Request { .. }
            | Error::Io { .. }
            | Error::Body { .. }
            | Error::Timeout { .. }
            | Error::NotLeader { .. }
            | Error::TooManyRedirects { .. }
            | Error::BadRedirect { .. }
            | Error::MissingStreamId
            | Error::RecordIo(_)
            | Error::Json(_)
            | Error::Protobuf(_)
            | Error::Protocol { .. }
            | Error::StreamEnded
            | Error::HeartbeatTimeout { .. }
            | Error::MasterError { .. }
            | Error::NotSubscribed => true,
            // 503: "No leader elected" / "Master has not finished recovery"; 429 from proxies.
            // 403 is either "Framework is not subscribed" (transient) or an authorization
            // refusal (permanent); the status alone cannot tell, so it is not retried.
            Error::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Error::InvalidConfig { .. }
            | Error::InvalidCall { .. }
            | Error::UnsupportedContentType { .. }
            | Error::FrameworkRemoved { .. }
            | Error::Offer(_)
            | Error::Shutdown => false,
        }
    }

    /// The HTTP status of a [`Error::Status`], if that is what this is.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Error {
        Error::Status {
            status: StatusCode::from_u16(code).expect("valid code"),
            body: String::new(),
        }
    }

    #[test]
    fn server_errors_are_retryable_and_client_errors_are_not() {
        assert!(status(503).is_retryable());
        assert!(status(500).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(!status(403).is_retryable());
        assert!(!status(415).is_retryable());
    }

    #[test]
    fn a_removed_framework_is_fatal_but_other_master_errors_are_not() {
        assert!(!Error::FrameworkRemoved {
            message: FRAMEWORK_REMOVED.into()
        }
        .is_retryable());
        assert!(Error::MasterError {
            message: "Framework failed over".into()
        }
        .is_retryable());
        assert!(Error::StreamEnded.is_retryable());
        assert!(Error::HeartbeatTimeout {
            silence: Duration::from_secs(75)
        }
        .is_retryable());
    }
}
