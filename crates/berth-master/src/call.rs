//! Pure request handling for the scheduler endpoint: body decoding (spec §1.3 steps 5-6),
//! call validation (step 7), `Accept` negotiation (step 8) and event encoding.

use bytes::Bytes;
use mesos_proto::v1::scheduler::{call, Call, Event};
use mesos_proto::{decode_checked, media, recordio, JsonError, MesosJson};

use crate::error::ApiError;

/// The encoding of an event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json` (Mesos's JSON mapping, compact).
    Json,
    /// `application/x-protobuf`.
    Protobuf,
}

impl Encoding {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => media::JSON,
            Encoding::Protobuf => media::PROTOBUF,
        }
    }

    /// One event as a RecordIO record in this encoding.
    pub fn encode_event(self, event: &Event) -> Bytes {
        match self {
            Encoding::Json => recordio::encode_json(event),
            Encoding::Protobuf => recordio::encode_protobuf(event),
        }
    }

    /// An UPDATE event carrying `status`, as a RecordIO record in this encoding (the bytes of
    /// [`Encoding::encode_event`] of that event, without building it).
    pub fn encode_update(self, status: &mesos_proto::v1::TaskStatus) -> Bytes {
        match self {
            Encoding::Json => recordio::encode_update_json(status),
            Encoding::Protobuf => recordio::encode_update_protobuf(status),
        }
    }
}

/// Steps 5-6: decodes the body according to `Content-Type` (compared exactly, as Mesos does).
/// Boxed at once: the call then travels to the actor as a pointer.
pub fn decode_call(content_type: Option<&str>, body: &[u8]) -> Result<Box<Call>, ApiError> {
    let ct = content_type.ok_or(ApiError::MissingContentType)?;
    if ct == media::PROTOBUF {
        decode_checked::<Call>(body)
            .map(Box::new)
            .map_err(|_| ApiError::ProtobufParse)
    } else if ct == media::JSON {
        Call::from_json_slice(body)
            .map(Box::new)
            .map_err(|e| match e {
                JsonError::Syntax(s) => ApiError::JsonSyntax(s),
                other => ApiError::JsonConvert(other.to_string()),
            })
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Step 7: Mesos's `validation::scheduler::call::validate`. Returns the call type.
pub fn validate_call(c: &Call) -> Result<call::Type, ApiError> {
    let invalid = |s: &str| ApiError::InvalidCall(s.to_string());
    let ty = c
        .r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .ok_or_else(|| invalid("Expecting 'type' to be present"))?;
    if ty == call::Type::Subscribe {
        let sub = c
            .subscribe
            .as_ref()
            .ok_or_else(|| invalid("Expecting 'subscribe' to be present"))?;
        // An absent ID compares equal to an empty one.
        let top = c
            .framework_id
            .as_ref()
            .map(|f| f.value.as_str())
            .unwrap_or("");
        let inner = sub
            .framework_info
            .id
            .as_ref()
            .map(|f| f.value.as_str())
            .unwrap_or("");
        if top != inner {
            return Err(invalid(
                "'framework_id' differs from 'subscribe.framework_info.id'",
            ));
        }
        return Ok(ty);
    }
    if c.framework_id.is_none() {
        return Err(invalid("Expecting 'framework_id' to be present"));
    }
    let need = |present: bool, name: &str| {
        if present {
            Ok(())
        } else {
            Err(ApiError::InvalidCall(format!(
                "Expecting '{name}' to be present"
            )))
        }
    };
    match ty {
        call::Type::Subscribe => unreachable_subscribe(),
        call::Type::Unknown | call::Type::Teardown | call::Type::Revive | call::Type::Suppress => {
            Ok(())
        }
        call::Type::Accept => need(c.accept.is_some(), "accept"),
        call::Type::Decline => need(c.decline.is_some(), "decline"),
        call::Type::AcceptInverseOffers => {
            need(c.accept_inverse_offers.is_some(), "accept_inverse_offers")
        }
        call::Type::DeclineInverseOffers => {
            need(c.decline_inverse_offers.is_some(), "decline_inverse_offers")
        }
        call::Type::Kill => need(c.kill.is_some(), "kill"),
        call::Type::Shutdown => need(c.shutdown.is_some(), "shutdown"),
        call::Type::Acknowledge => {
            need(c.acknowledge.is_some(), "acknowledge")?;
            match &c.acknowledge {
                Some(a) if valid_uuid(&a.uuid) => Ok(()),
                _ => Err(invalid("Not a valid UUID")),
            }
        }
        call::Type::AcknowledgeOperationStatus => {
            need(
                c.acknowledge_operation_status.is_some(),
                "acknowledge_operation_status",
            )?;
            match &c.acknowledge_operation_status {
                Some(a) if !valid_uuid(&a.uuid) => Err(invalid("Not a valid UUID")),
                Some(a) if a.agent_id.is_none() => {
                    Err(invalid("Expecting 'agent_id' to be present"))
                }
                _ => Ok(()),
            }
        }
        call::Type::Reconcile => need(c.reconcile.is_some(), "reconcile"),
        call::Type::ReconcileOperations => {
            need(c.reconcile_operations.is_some(), "reconcile_operations")
        }
        call::Type::Message => need(c.message.is_some(), "message"),
        call::Type::Request => need(c.request.is_some(), "request"),
        call::Type::UpdateFramework => {
            need(c.update_framework.is_some(), "update_framework")?;
            let top = c
                .framework_id
                .as_ref()
                .map(|f| f.value.as_str())
                .unwrap_or("");
            let inner = c
                .update_framework
                .as_ref()
                .and_then(|u| u.framework_info.id.as_ref())
                .map(|f| f.value.as_str())
                .unwrap_or("");
            if top != inner {
                return Err(invalid(
                    "'framework_id' differs from 'update_framework.framework_info.id'",
                ));
            }
            Ok(())
        }
    }?;
    Ok(ty)
}

/// SUBSCRIBE returned above; kept as a function so the match stays exhaustive without `_`.
fn unreachable_subscribe() -> Result<(), ApiError> {
    Ok(())
}

/// 16 bytes whose version nibble is one boost knows (1-5), as Mesos's `UUID::fromBytes` wants.
pub fn valid_uuid(b: &[u8]) -> bool {
    b.len() == 16 && matches!(b[6] >> 4, 1..=5)
}

/// Step 8: the event encoding for SUBSCRIBE / RECONCILE_OPERATIONS. JSON if acceptable, else
/// protobuf, else 406. A missing header accepts everything.
pub fn negotiate(accept: Option<&str>) -> Result<Encoding, ApiError> {
    let Some(accept) = accept else {
        return Ok(Encoding::Json);
    };
    if accepts(accept, media::JSON) {
        Ok(Encoding::Json)
    } else if accepts(accept, media::PROTOBUF) {
        Ok(Encoding::Protobuf)
    } else {
        Err(ApiError::NotAcceptable)
    }
}

/// libprocess's `acceptsMediaType`: the most specific matching entry decides; `q=0` refuses.
fn accepts(header: &str, media_type: &str) -> bool {
    let (ty, sub) = media_type.split_once('/').unwrap_or((media_type, ""));
    let entries: Vec<(String, String, f64)> = header
        .split(',')
        .map(|e| e.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut parts = e.split(';');
            let range = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0;
            for p in parts {
                if let Some(v) = p.strip_prefix("q=") {
                    q = v.parse().unwrap_or(1.0);
                }
            }
            let (t, s) = range.split_once('/').unwrap_or((range.as_str(), ""));
            (t.to_string(), s.to_string(), q)
        })
        .collect();
    for (want_t, want_s) in [(ty, sub), (ty, "*"), ("*", "*")] {
        if let Some((_, _, q)) = entries.iter().find(|(t, s, _)| t == want_t && s == want_s) {
            return *q > 0.0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation_prefers_json_then_protobuf() {
        assert_eq!(negotiate(None), Ok(Encoding::Json));
        assert_eq!(negotiate(Some("application/json")), Ok(Encoding::Json));
        assert_eq!(negotiate(Some("*/*")), Ok(Encoding::Json));
        assert_eq!(
            negotiate(Some("application/x-protobuf")),
            Ok(Encoding::Protobuf)
        );
        assert_eq!(
            negotiate(Some("application/json;q=0, application/*")),
            Ok(Encoding::Protobuf)
        );
        assert_eq!(negotiate(Some("text/html")), Err(ApiError::NotAcceptable));
    }

    #[test]
    fn validation_texts_follow_mesos() {
        let c = Call::from_json_str(r#"{"type":"NOPE"}"#).unwrap();
        assert_eq!(
            validate_call(&c).unwrap_err().to_string(),
            "Failed to validate scheduler::Call: Expecting 'type' to be present"
        );
        let c = Call::from_json_str(r#"{"type":"ACCEPT"}"#).unwrap();
        assert_eq!(
            validate_call(&c).unwrap_err().to_string(),
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present"
        );
        let c = Call::from_json_str(r#"{"type":"ACCEPT","framework_id":{"value":"f"}}"#).unwrap();
        assert_eq!(
            validate_call(&c).unwrap_err().to_string(),
            "Failed to validate scheduler::Call: Expecting 'accept' to be present"
        );
        let c = Call::from_json_str(
            r#"{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"u","name":"n"}}}"#,
        )
        .unwrap();
        assert_eq!(
            validate_call(&c).unwrap_err().to_string(),
            "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"
        );
        let c = Call::from_json_str(
            r#"{"type":"ACKNOWLEDGE","framework_id":{"value":"a"},"acknowledge":{"agent_id":{"value":"s"},"task_id":{"value":"t"},"uuid":"AAAA"}}"#,
        )
        .unwrap();
        assert_eq!(
            validate_call(&c).unwrap_err().to_string(),
            "Failed to validate scheduler::Call: Not a valid UUID"
        );
    }

    #[test]
    fn decode_follows_content_type() {
        assert_eq!(decode_call(None, b"{}"), Err(ApiError::MissingContentType));
        assert_eq!(
            decode_call(Some("application/json; charset=utf-8"), b"{}"),
            Err(ApiError::UnsupportedMediaType)
        );
        assert!(matches!(
            decode_call(Some("application/json"), b"{"),
            Err(ApiError::JsonSyntax(_))
        ));
        assert_eq!(
            decode_call(Some("application/x-protobuf"), b"\xff\xff"),
            Err(ApiError::ProtobufParse)
        );
    }
}
