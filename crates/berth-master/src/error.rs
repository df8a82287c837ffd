//! Errors: [`Error`] for running the master, [`ApiError`] for refused HTTP requests (mapped to
//! Mesos's status codes and bodies in exactly one place, its `IntoResponse`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// Why the master could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite store failed.
    #[error("master store: {0}")]
    Store(#[from] StoreError),
    /// Socket or file I/O failed.
    #[error("master I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether trying again may help (I/O hiccups; a corrupt store will stay corrupt).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Store(e) => e.is_retryable(),
            Error::Io(_) => true,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A scheduler API request refused before or instead of being executed, in the order of
/// spec §1.3. `Display` is the exact plain-text body Mesos sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Step 4: not POST.
    #[error("405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{0}'.")]
    MethodNotAllowed(String),
    /// Step 5.
    #[error("Expecting 'Content-Type' to be present")]
    MissingContentType,
    /// Step 6a (also missing required fields).
    #[error("Failed to parse body into Call protobuf")]
    ProtobufParse,
    /// Step 6b.
    #[error("Failed to parse body into JSON: {0}")]
    JsonSyntax(String),
    /// Step 6c.
    #[error("Failed to convert JSON into Call protobuf: {0}")]
    JsonConvert(String),
    /// Step 6d.
    #[error("Expecting 'Content-Type' of application/json or application/x-protobuf")]
    UnsupportedMediaType,
    /// Step 7.
    #[error("Failed to validate scheduler::Call: {0}")]
    InvalidCall(String),
    /// Step 8.
    #[error("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")]
    NotAcceptable,
    /// Step 9.
    #[error("Subscribe calls should not include the 'Mesos-Stream-Id' header")]
    SubscribeWithStreamId,
    /// Step 11.
    #[error("Framework cannot be found")]
    FrameworkNotFound,
    /// Step 13.
    #[error("Framework is not subscribed")]
    NotSubscribed,
    /// Step 15.
    #[error("All non-subscribe calls should include the 'Mesos-Stream-Id' header")]
    MissingStreamId,
    /// Step 16.
    #[error("The stream ID '{given}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}")]
    StreamIdMismatch {
        /// The header's value.
        given: String,
        /// The framework.
        framework_id: String,
    },
    /// Step 17: UPDATE_FRAMEWORK refused (400).
    #[error("{0}")]
    UpdateFrameworkInvalid(String),
    /// Step 18: type UNKNOWN.
    #[error("501 Not Implemented.")]
    NotImplemented,
    /// The master is shutting down (its actor is gone).
    #[error("Master is shutting down")]
    Unavailable,
}

impl ApiError {
    /// The HTTP status Mesos uses for this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MissingContentType
            | ApiError::ProtobufParse
            | ApiError::JsonSyntax(_)
            | ApiError::JsonConvert(_)
            | ApiError::InvalidCall(_)
            | ApiError::SubscribeWithStreamId
            | ApiError::FrameworkNotFound
            | ApiError::MissingStreamId
            | ApiError::StreamIdMismatch { .. }
            | ApiError::UpdateFrameworkInvalid(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::NotSubscribed => StatusCode::FORBIDDEN,
            ApiError::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), self.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let ApiError::MethodNotAllowed(_) = self {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_error_maps_to_mesos_status_and_text() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::MethodNotAllowed("GET".into()),
                405,
                "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.",
            ),
            (ApiError::MissingContentType, 400, "Expecting 'Content-Type' to be present"),
            (ApiError::ProtobufParse, 400, "Failed to parse body into Call protobuf"),
            (ApiError::JsonSyntax("x".into()), 400, "Failed to parse body into JSON: x"),
            (
                ApiError::JsonConvert("Missing required fields: a".into()),
                400,
                "Failed to convert JSON into Call protobuf: Missing required fields: a",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "Expecting 'Content-Type' of application/json or application/x-protobuf",
            ),
            (
                ApiError::InvalidCall("Expecting 'type' to be present".into()),
                400,
                "Failed to validate scheduler::Call: Expecting 'type' to be present",
            ),
            (
                ApiError::NotAcceptable,
                406,
                "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
            ),
            (
                ApiError::SubscribeWithStreamId,
                400,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            ),
            (ApiError::FrameworkNotFound, 400, "Framework cannot be found"),
            (ApiError::NotSubscribed, 403, "Framework is not subscribed"),
            (
                ApiError::MissingStreamId,
                400,
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
            ),
            (
                ApiError::StreamIdMismatch {
                    given: "s".into(),
                    framework_id: "f".into(),
                },
                400,
                "The stream ID 's' included in this request didn't match the stream ID currently associated with framework ID f",
            ),
            (ApiError::NotImplemented, 501, "501 Not Implemented."),
        ];
        for (err, status, text) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.to_string(), text);
            let resp = err.into_response();
            assert_eq!(
                resp.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
        }
    }
}
