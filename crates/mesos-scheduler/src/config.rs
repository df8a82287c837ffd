//! [`SchedulerConfig`]: everything a framework chooses about its connection to the master.

use std::fmt;
use std::time::Duration;

use http::Uri;
use mesos_proto::media;
use mesos_proto::v1::FrameworkInfo;

use crate::backoff::BackoffConfig;
use crate::error::{Error, Result};

/// The path of the scheduler endpoint; used when a master URL names no path.
pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";

/// The encoding of calls sent and of the event stream requested (`Content-Type` and `Accept`).
///
/// Protobuf by default, as Mesos's own scheduler library is used (`mesos-execute` passes
/// `ContentType::PROTOBUF`) and as mesos-go's HTTP client defaults: it is the cheaper of the two
/// to encode and decode on both ends. JSON (Mesos's JSON mapping) is there for masters or
/// proxies that only speak it, and for reading the wire by eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentType {
    /// `application/json`, with Mesos's own JSON mapping.
    Json,
    /// `application/x-protobuf`.
    #[default]
    Protobuf,
}

impl ContentType {
    /// The media type string, exactly as Mesos compares it.
    pub fn media_type(self) -> &'static str {
        match self {
            ContentType::Json => media::JSON,
            ContentType::Protobuf => media::PROTOBUF,
        }
    }

    /// The content type named by a `Content-Type` header value (parameters ignored).
    pub fn from_header(value: &str) -> Option<ContentType> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(media::JSON) {
            Some(ContentType::Json)
        } else if essence.eq_ignore_ascii_case(media::PROTOBUF) {
            Some(ContentType::Protobuf)
        } else {
            None
        }
    }
}

/// HTTP basic authentication for masters run with `--authenticate_http_frameworks`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The principal (also put into `FrameworkInfo.principal` when that is unset, since Mesos
    /// requires the two to match).
    pub principal: String,
    /// The secret.
    pub secret: String,
}

impl Credentials {
    /// Credentials for `principal` with `secret`.
    pub fn new(principal: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            principal: principal.into(),
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    // Never print the secret (STYLE §7).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What the subscription does when the master sends an `ERROR` event.
///
/// `Framework has been removed` always ends the subscription: the framework id is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorEventPolicy {
    /// Surface the error and reconnect with backoff. Note that after `Framework failed over`
    /// this takes the framework back from the instance that replaced this one.
    #[default]
    Reconnect,
    /// Surface the error and end the subscription.
    Stop,
}

/// Configuration of a [`Scheduler`](crate::Scheduler).
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Master URLs, tried in turn after failures (`http://host:5050`, `host:5050`, or a full
    /// URL with path; without a path [`SCHEDULER_PATH`] is used). Only plain `http`.
    pub masters: Vec<String>,
    /// The framework to subscribe. Its `id` (if set) makes the first SUBSCRIBE a
    /// re-subscription; after SUBSCRIBED the assigned id is used for every re-subscription.
    /// Set `failover_timeout`: Mesos' default 0 tears the framework down on any disconnection.
    pub framework_info: FrameworkInfo,
    /// Roles to subscribe suppressed (`Call.Subscribe.suppressed_roles`).
    pub suppressed_roles: Vec<String>,
    /// Encoding of calls and of the requested event stream.
    pub content_type: ContentType,
    /// Basic-auth credentials sent with every request.
    pub credentials: Option<Credentials>,
    /// ACKNOWLEDGE every UPDATE that carries a `uuid` (never one without) once the event has
    /// been handed over and the next one is requested.
    pub auto_ack: bool,
    /// After every SUBSCRIBED, RECONCILE the tasks the client tracks (explicit reconciliation).
    pub reconcile_on_subscribe: bool,
    /// Heartbeats that may be missed before the stream counts as dead; the stream is dropped
    /// after `missed_heartbeats × heartbeat_interval_seconds` without any byte.
    pub missed_heartbeats: u32,
    /// Heartbeat interval assumed when SUBSCRIBED does not carry one.
    pub default_heartbeat_interval: Duration,
    /// Limit for establishing a TCP connection.
    pub connect_timeout: Duration,
    /// Limit for a whole non-SUBSCRIBE call (request and answer).
    pub request_timeout: Duration,
    /// Limit for the SUBSCRIBE answer and for the SUBSCRIBED event that must follow.
    pub subscribe_timeout: Duration,
    /// Largest RecordIO record (one event) accepted.
    pub max_record_size: usize,
    /// Redirects followed in a row before an attempt counts as failed.
    pub max_redirects: u32,
    /// Reconnection delays.
    pub backoff: BackoffConfig,
    /// What an `ERROR` event does to the subscription.
    pub on_error_event: ErrorEventPolicy,
}

impl SchedulerConfig {
    /// Defaults for one master: protobuf ([`ContentType`]), auto-ack on, reconcile on
    /// re-subscribe, 5 missed heartbeats, 5 s connect / 10 s request / 10 s subscribe timeouts,
    /// 64 MiB records, 5 redirects, backoff 500 ms doubling to 15 s with 50 % jitter.
    pub fn new(master: impl Into<String>, framework_info: FrameworkInfo) -> Self {
        SchedulerConfig {
            masters: vec![master.into()],
            framework_info,
            suppressed_roles: Vec::new(),
            content_type: ContentType::default(),
            credentials: None,
            auto_ack: true,
            reconcile_on_subscribe: true,
            missed_heartbeats: 5,
            default_heartbeat_interval: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            subscribe_timeout: Duration::from_secs(10),
            max_record_size: mesos_proto::recordio::DEFAULT_MAX_RECORD,
            max_redirects: 5,
            backoff: BackoffConfig::default(),
            on_error_event: ErrorEventPolicy::Reconnect,
        }
    }

    /// Checks the values and parses the master URLs.
    pub(crate) fn validate(&self) -> Result<Vec<Uri>> {
        let invalid = |reason: String| Error::InvalidConfig { reason };
        if self.masters.is_empty() {
            return Err(invalid("no master URL".into()));
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("subscribe_timeout", self.subscribe_timeout),
            (
                "default_heartbeat_interval",
                self.default_heartbeat_interval,
            ),
        ] {
            if d.is_zero() {
                return Err(invalid(format!("{name} must be positive")));
            }
        }
        if self.missed_heartbeats == 0 {
            return Err(invalid("missed_heartbeats must be at least 1".into()));
        }
        if self.max_record_size == 0 {
            return Err(invalid("max_record_size must be positive".into()));
        }
        self.backoff.validate().map_err(invalid)?;
        self.masters.iter().map(|m| master_uri(m)).collect()
    }
}

/// Parses a configured master address into the scheduler endpoint URL.
pub(crate) fn master_uri(text: &str) -> Result<Uri> {
    let invalid = |reason: String| Error::InvalidConfig { reason };
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("http://{text}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|e| invalid(format!("master URL {text:?}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid(format!(
            "master URL {text:?}: only http is supported"
        )));
    }
    let Some(authority) = uri.authority() else {
        return Err(invalid(format!("master URL {text:?} has no host")));
    };
    let path = match uri.path_and_query().map(|p| p.as_str()) {
        None | Some("") | Some("/") => SCHEDULER_PATH,
        Some(p) => p,
    };
    Uri::builder()
        .scheme("http")
        .authority(authority.as_str())
        .path_and_query(path)
        .build()
        .map_err(|e| invalid(format!("master URL {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_uri_adds_scheme_and_default_path() {
        assert_eq!(
            master_uri("127.0.0.1:5050").unwrap().to_string(),
            "http://127.0.0.1:5050/api/v1/scheduler"
        );
        assert_eq!(
            master_uri("http://m1:5050/").unwrap().to_string(),
            "http://m1:5050/api/v1/scheduler"
        );
        assert_eq!(
            master_uri("http://m1:5050/master/api/v1/scheduler")
                .unwrap()
                .to_string(),
            "http://m1:5050/master/api/v1/scheduler"
        );
    }

    #[test]
    fn master_uri_rejects_https_and_garbage() {
        assert!(matches!(
            master_uri("https://m1:5050"),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(master_uri("http://").is_err());
    }

    #[test]
    fn content_type_reads_headers_with_parameters() {
        assert_eq!(
            ContentType::from_header("application/json; charset=utf-8"),
            Some(ContentType::Json)
        );
        assert_eq!(
            ContentType::from_header("application/x-protobuf"),
            Some(ContentType::Protobuf)
        );
        assert_eq!(ContentType::from_header("text/plain"), None);
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = Credentials::new("fw", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn validate_rejects_zero_timeouts() {
        let mut c = SchedulerConfig::new("127.0.0.1:5050", FrameworkInfo::default());
        assert!(c.validate().is_ok());
        c.request_timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(Error::InvalidConfig { .. })));
    }
}
