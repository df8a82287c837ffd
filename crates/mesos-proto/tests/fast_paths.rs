//! The fast readers give exactly what the reference readers give.
//!
//! `from_json_slice` reads JSON text with a streaming reader and falls back to the `Value`
//! reader (`serde_json::from_slice` + `from_json_value`) whenever it is not sure; `decode_checked`
//! decodes protobuf in one checking pass and falls back to prost + the required-field walk.
//! Here every answer, success or error, is compared with the reference's on documents built to
//! hit the fallbacks' edges: duplicate keys, `null`s, oneofs, maps, leniencies, bad JSON, deep
//! nesting, and, for protobuf, split and repeated sub-messages, unknown fields, groups, packed
//! scalars and truncations. Property tests mutate valid documents at random (800 JSON cases,
//! 600 protobuf cases).

use std::fmt::Debug;

use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::v1::{self, TaskInfo};
use mesos_proto::wire::missing_required;
use mesos_proto::{decode_checked, JsonError, MesosJson, Message, WireSchema};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/// The reference JSON reading: a `Value`, then `from_json_value`.
fn json_reference<T: MesosJson>(bytes: &[u8]) -> Result<T, JsonError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| JsonError::Syntax(e.to_string()))?;
    T::from_json_value(&v)
}

fn json_same_as<T: MesosJson + PartialEq + Debug>(bytes: &[u8]) -> Result<(), String> {
    let fast = T::from_json_slice(bytes);
    let reference = json_reference::<T>(bytes);
    if fast == reference {
        Ok(())
    } else {
        Err(format!(
            "{}: {:?}\n  from_json_slice: {fast:?}\n  reference: {reference:?}",
            std::any::type_name::<T>(),
            String::from_utf8_lossy(bytes)
        ))
    }
}

/// Every message type the documents below are meant for, and a few more.
fn json_same(bytes: &[u8]) -> Result<(), String> {
    json_same_as::<Call>(bytes)?;
    json_same_as::<Event>(bytes)?;
    json_same_as::<TaskInfo>(bytes)?;
    json_same_as::<v1::Offer>(bytes)?;
    json_same_as::<v1::Resource>(bytes)?;
    json_same_as::<v1::ContainerId>(bytes)?;
    json_same_as::<v1::TaskStatus>(bytes)?;
    json_same_as::<v1::LinuxInfo>(bytes)?;
    Ok(())
}

fn assert_json_same(text: &str) {
    if let Err(e) = json_same(text.as_bytes()) {
        panic!("{e}");
    }
}

/// The reference protobuf reading: prost, then the required-field walk (as text, since
/// `DecodeError` has no equality).
fn pb_reference<T: Message + Default + WireSchema>(bytes: &[u8]) -> Result<T, String> {
    let m = T::decode(bytes).map_err(|e| format!("malformed protobuf: {e}"))?;
    let missing = missing_required::<T>(bytes).map_err(|e| e.to_string())?;
    if missing.is_empty() {
        Ok(m)
    } else {
        Err(format!("Missing required fields: {}", missing.join(", ")))
    }
}

fn pb_same_as<T: Message + Default + WireSchema + PartialEq + Debug>(
    bytes: &[u8],
) -> Result<(), String> {
    let fast = decode_checked::<T>(bytes).map_err(|e| e.to_string());
    let reference = pb_reference::<T>(bytes);
    if fast == reference {
        Ok(())
    } else {
        Err(format!(
            "{}: {bytes:02x?}\n  decode_checked: {fast:?}\n  reference: {reference:?}",
            std::any::type_name::<T>()
        ))
    }
}

fn pb_same(bytes: &[u8]) -> Result<(), String> {
    pb_same_as::<Call>(bytes)?;
    pb_same_as::<Event>(bytes)?;
    pb_same_as::<TaskInfo>(bytes)?;
    pb_same_as::<v1::Offer>(bytes)?;
    pb_same_as::<v1::ContainerId>(bytes)?;
    pb_same_as::<v1::LinuxInfo>(bytes)?;
    Ok(())
}

fn assert_pb_same(bytes: &[u8]) {
    if let Err(e) = pb_same(bytes) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

const OFFER: &str = r#"{"id":{"value":"o1"},"framework_id":{"value":"f"},"agent_id":{"value":"a1"},
"hostname":"127.0.0.1","url":{"scheme":"http","address":{"hostname":"127.0.0.1","ip":"127.0.0.1","port":15051},"path":"/slave(1)"},
"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*"},
{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"}]}"#;

fn offers_event(offers: &[&str]) -> String {
    format!(
        r#"{{"type":"OFFERS","offers":{{"offers":[{}]}}}}"#,
        offers.join(",")
    )
}

#[test]
fn streaming_json_agrees_on_valid_documents() {
    assert_json_same(&offers_event(&[OFFER, OFFER]));
    assert_json_same(OFFER);
    assert_json_same(include_str!("fixtures/seed_task_info.json"));
    for dir in ["calls", "events"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir);
        for entry in std::fs::read_dir(path).expect("fixtures") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("fixture");
            assert_json_same(&text);
        }
    }
}

#[test]
fn streaming_json_agrees_on_text_that_is_not_utf8() {
    // Inside a string, in a key, and outside any string: the streaming reader checks UTF-8 once
    // up front and leaves such text to the reference.
    for bytes in [
        &b"{\"type\":\"ACKNOWLEDGE\",\"framework_id\":{\"value\":\"f\xff\"}}"[..],
        &b"{\"ty\xc3pe\":\"KILL\"}"[..],
        &b"{\"type\":\"KILL\"}\xe2\x82"[..],
        "{\"type\":\"KILL\",\"kill\":{\"task_id\":{\"value\":\"caf\u{e9} \u{1F680}\"}}}".as_bytes(),
    ] {
        if let Err(e) = json_same(bytes) {
            panic!("{e}");
        }
    }
}

#[test]
fn streaming_json_agrees_on_duplicate_keys() {
    for text in [
        // Singular, message, repeated, enum: the reference keeps the last.
        r#"{"type":"KILL","type":"TEARDOWN"}"#,
        r#"{"type":"KILL","type":null}"#,
        r#"{"type":null,"type":"KILL"}"#,
        r#"{"type":"KILL","type":"NO_SUCH"}"#,
        r#"{"type":"KILL","type":7}"#,
        r#"{"type":7,"type":"KILL"}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"a"},"task_id":{"value":"b"}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"a"}},"kill":{"task_id":{}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{}},"kill":{"task_id":{"value":"a"}}}"#,
        r#"{"type":"REVIVE","revive":{"roles":["a"],"roles":["b","c"]}}"#,
        r#"{"type":"REVIVE","revive":{"roles":["a"],"roles":null}}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":[{"value":"o"}],"offer_ids":[{}]}}"#,
        // The same key, once escaped.
        r#"{"type":"KILL","typ\u0065":"TEARDOWN"}"#,
        r#"{"typ\u0065":"TEARDOWN"}"#,
        // Unknown keys given twice are still ignored.
        r#"{"type":"KILL","x":1,"x":{"y":[1,2]}}"#,
    ] {
        assert_json_same(text);
    }
}

#[test]
fn streaming_json_agrees_on_nulls_and_leniencies() {
    for text in [
        "null",
        "{}",
        r#"{"type":"HEARTBEAT","subscribed":null,"error":null}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":[null,{"value":"o1"},null]}}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":[[{"value":"a"}],[[{"value":"b"}]],null,[]]}}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":{"value":"o1"}}}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":["o1"]}}"#,
        r#"{"type":"DECLINE","decline":{"offer_ids":[1]}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":null}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"Infinity"}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"-Infinity"}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":" 2.5 "}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"NaN"}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"1e400"}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":-0}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":18446744073709551615}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":true}}}"#,
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":[1]}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"42"}}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":1.9e19}}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":-1.5}}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":18446744073709551615}}}}"#,
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"soon"}}}}"#,
        r#"{"type":"FAILURE","failure":{"status":"-9"}}"#,
        r#"{"type":"FAILURE","failure":{"status":4294967296}}"#,
        r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"},"master_info":{"id":"m","ip":"16777343","port":-1}}}"#,
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"true"}}}"#,
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"yes"}}}"#,
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":1}}}"#,
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","capabilities":[{"type":"NOPE"},{"type":"MULTI_ROLE"}]}}}"#,
        r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"aG k=ignored*"}}"#,
        r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"a*b"}}"#,
        r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":5}}"#,
        r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_EXPLODED"}}}"#,
        r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":1}}}"#,
        r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":null}}}"#,
        r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"aGk"}}}"#,
        r#"{"value":"c","parent":{"value":"p","parent":{"value":"q"}}}"#,
        r#"{"value":"c","parent":{"parent":{"value":"q"}}}"#,
        r#"{"value":"c","parent":null}"#,
    ] {
        assert_json_same(text);
    }
}

#[test]
fn streaming_json_agrees_on_kind_errors_and_missing_fields() {
    for text in [
        r#"{"type":[]}"#,
        r#"{"type":"TEARDOWN","framework_id":[{"value":"f"}]}"#,
        r#"{"type":"KILL","kill":{"task_id":"t"}}"#,
        r#"{"type":"KILL","kill":{"task_id":null}}"#,
        r#"{"type":"KILL","kill":{"agent_id":{"value":1}}}"#,
        r#"{"type":"KILL","kill":{}}"#,
        r#"{"type":"KILL","kill":[]}"#,
        r#"{"type":"KILL","kill":"x"}"#,
        r#"{"type":"RECONCILE","reconcile":{"tasks":[[{"task_id":{"value":"t"}}],[{}]]}}"#,
        r#"{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"}}]}}]}}"#,
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALER","scalar":{"value":1}}]}"#,
        r#"{"task_id":{},"resources":[{"name":"cpus","scalar":{}}],"container":{"docker":{}},"health_check":{"http":{}}}"#,
    ] {
        assert_json_same(text);
    }
}

#[test]
fn streaming_json_agrees_on_maps() {
    let ids = r#""name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}"#;
    for limits in [
        r#"{"cpus":{"value":"Infinity"},"mem":{"value":512}}"#,
        r#"{"cpus":{"value":1},"cpus":{"value":2}}"#,
        r#"{"cpus":{"value":1},"cpus":{}}"#,
        r#"{"cpus":{},"cpus":{"value":1}}"#,
        r#"{"cpus":null}"#,
        r#"{"cpus":"Infinity"}"#,
        r#"{"mem":{}}"#,
        r#"{}"#,
        r#"null"#,
        r#"[{"cpus":{"value":1}}]"#,
        r#""x""#,
        r#"{"c\u0070us":{"value":1},"cpus":{"value":2}}"#,
        r#"{"$serde_json::private::RawValue":"{}"}"#,
    ] {
        assert_json_same(&format!(r#"{{{ids},"limits":{limits}}}"#));
    }
}

#[test]
fn streaming_json_agrees_on_oneofs() {
    // OfferConstraints.RoleConstraints.Group.AttributeConstraint: a `selector` oneof (enum,
    // string) and a `predicate` oneof (messages).
    for constraint in [
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"pseudoattribute_type":"HOSTNAME"},"predicate":{"text_equals":{"value":"x"}}}"#,
        r#"{"selector":{"pseudoattribute_type":"NOPE"},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"pseudoattribute_type":"HOSTNAME","attribute_name":"rack"},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack","pseudoattribute_type":"NOPE"},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack","pseudoattribute_type":null},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"attribute_name":["rack"]},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"exists":{},"not_exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{},"exists":null}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"text_matches":{"value":"a"},"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"text_matches":{"regex":"a"},"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"exists":{},"text_matches":{"regex":"a"}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{"text_not_matches":{"regex":"a"}}}"#,
        r#"{"selector":{"attribute_name":"rack","pseudoattribute_type":"ZONE"},"predicate":{"exists":{}}}"#,
        r#"{"selector":{"attribute_name":"rack"},"predicate":{}}"#,
        r#"{"selector":{},"predicate":{"exists":{}}}"#,
    ] {
        let text = format!(
            r#"{{"type":"UPDATE_FRAMEWORK","update_framework":{{"framework_info":{{"user":"u","name":"n"}},
            "offer_constraints":{{"role_constraints":{{"dev":{{"groups":[{{"attribute_constraints":[{constraint}]}}]}}}}}}}}}}"#
        );
        assert_json_same(&text);
    }
}

#[test]
fn streaming_json_agrees_on_bad_json_and_serde_quirks() {
    let deep = |n: usize| {
        format!(
            r#"{{"type":"KILL","x":{}{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let deep_objects = |n: usize| {
        format!(
            r#"{{"value":"c",{}"value":"p"{}}}"#,
            r#""parent":{"#.repeat(n),
            "}".repeat(n)
        )
    };
    let mut texts: Vec<String> = [
        "",
        " ",
        "{",
        "}",
        "[]",
        r#""SUBSCRIBE""#,
        "42",
        "true",
        r#"[{"type":"TEARDOWN"}]"#,
        r#"{"type":"KILL",}"#,
        r#"{"type":"KILL"} x"#,
        "{\"type\":\"KILL\"} \n\t ",
        "\u{feff}{}",
        r#"{"type":"KILL" "x":1}"#,
        r#"{"type":'KILL'}"#,
        r#"{"type":"KI\LL"}"#,
        r#"{"type":"\ud800"}"#,
        r#"{"x":"\ud800"}"#,
        r#"{"x":"\ud83d\ude00","type":"KILL"}"#,
        r#"{"x":1e400}"#,
        r#"{"x":-1e400}"#,
        r#"{"x":1e-400}"#,
        r#"{"x":01}"#,
        r#"{"x":1.}"#,
        r#"{"x":.5}"#,
        r#"{"x":+1}"#,
        r#"{"x":NaN}"#,
        r#"{"x":Infinity}"#,
        r#"{"x":nul}"#,
        r#"{"x":[1,]}"#,
        "{\"x\":\"a\u{1}b\"}",
        r#"{"$serde_json::private::RawValue":"{\"type\":\"KILL\"}"}"#,
        r#"{"$serde_json::private::Number":"1"}"#,
        r#"{"type":"KILL","x":{"$serde_json::private::RawValue":"1"}}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in [100, 126, 127, 128, 129, 200] {
        texts.push(deep(n));
        texts.push(deep_objects(n));
    }
    for text in &texts {
        assert_json_same(text);
    }
    // Invalid UTF-8, in a string and outside one.
    for bytes in [
        &b"{\"x\":\"\xff\"}"[..],
        &b"{\"type\":\"KILL\xc3\"}"[..],
        &b"{\"x\":1}\xff"[..],
        &b"\xef\xbb\xbf{}"[..],
    ] {
        if let Err(e) = json_same(bytes) {
            panic!("{e}");
        }
    }
}

/// Bytes that make mutations of valid JSON interesting.
fn json_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(b"{}[],:\"\\ nul0123456789.-eE+tfabxyz".to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 800, ..ProptestConfig::default() })]

    #[test]
    fn streaming_json_agrees_on_mutated_events(
        edits in prop::collection::vec((any::<prop::sample::Index>(), json_byte(), 0u8..4), 1..4),
    ) {
        let mut bytes = offers_event(&[OFFER, OFFER]).into_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {
                    // Duplicate a slice (often a whole member, hence a duplicate key).
                    let j = at.index(bytes.len().saturating_sub(i).max(1)).min(40);
                    let piece: Vec<u8> = bytes[i.min(bytes.len())..(i + j).min(bytes.len())].to_vec();
                    let at = i.min(bytes.len());
                    bytes.splice(at..at, piece);
                }
            }
        }
        json_same(&bytes).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf
// ---------------------------------------------------------------------------------------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
fn ld(tag: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(tag << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A varint field.
fn vi(tag: u64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(tag << 3, &mut out);
    varint(value, &mut out);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn offer_event_bytes() -> Vec<u8> {
    let ev = Event::from_json_str(&offers_event(&[OFFER, OFFER, OFFER])).expect("event");
    ev.encode_to_vec()
}

#[test]
fn checked_protobuf_agrees_on_valid_and_hand_made_encodings() {
    let value = |s: &str| ld(1, s.as_bytes());
    let task_id = |s: &str| ld(2, &value(s));
    let name = ld(1, b"t");
    let agent = ld(3, &value("a"));
    let cases: Vec<Vec<u8>> = vec![
        offer_event_bytes(),
        vec![],
        // TaskInfo: complete, then missing fields, then required ones split over occurrences.
        cat(&[name.clone(), task_id("t"), agent.clone()]),
        cat(&[task_id("t"), agent.clone()]),
        cat(&[name.clone(), ld(2, &[]), agent.clone()]),
        cat(&[name.clone(), task_id("t"), ld(2, &[]), agent.clone()]),
        cat(&[name.clone(), ld(2, &[]), task_id("t"), agent.clone()]),
        cat(&[
            name.clone(),
            task_id("t"),
            agent.clone(),
            agent.clone(),
            name.clone(),
        ]),
        vec![0x4a, 0x00],
        // Unknown fields of every wire type; a group (refused by the walk); bad wire types.
        cat(&[
            name.clone(),
            task_id("t"),
            agent.clone(),
            vi(99, 7),
            ld(98, b"xyz"),
        ]),
        cat(&[
            name.clone(),
            task_id("t"),
            agent.clone(),
            vec![0x9d, 0x06, 1, 2, 3, 4],
        ]),
        cat(&[
            name.clone(),
            task_id("t"),
            agent.clone(),
            vec![0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8],
        ]),
        cat(&[
            name.clone(),
            task_id("t"),
            agent.clone(),
            vec![0x9b, 0x06, 0x9c, 0x06],
        ]),
        cat(&[name.clone(), task_id("t"), agent.clone(), vec![0x9e, 0x06]]),
        cat(&[name.clone(), task_id("t"), agent.clone(), vec![0x9f, 0x06]]),
        // Field number 0, an oversized key, overlong varints, truncations.
        cat(&[name.clone(), vec![0x02, 0x00]]),
        cat(&[name.clone(), vec![0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]]),
        cat(&[name.clone(), vec![0x80; 11]]),
        cat(&[name.clone(), task_id("t"), vec![0x1a, 0x05, 0x0a]]),
        cat(&[
            name.clone(),
            vec![0x12, 0x03, 0x0a, 0x05, b'a', b'b', b'c', b'd', b'e'],
        ]),
        // Invalid UTF-8 in a string.
        cat(&[ld(1, &[0xff]), task_id("t"), agent.clone()]),
        // A string where a message is expected, a varint where a string is expected.
        cat(&[name.clone(), vi(2, 5), agent.clone()]),
        cat(&[vi(1, 5), task_id("t"), agent.clone()]),
    ];
    for bytes in &cases {
        assert_pb_same(bytes);
    }
    // ContainerId.parent (boxed) nested to and beyond the limits.
    for depth in [1usize, 10, 63, 64, 65, 66, 98, 99, 100, 101, 102] {
        let mut bytes = value("leaf");
        for _ in 0..depth {
            bytes = cat(&[value("c"), ld(2, &bytes)]);
        }
        assert_pb_same(&bytes);
        // The same without the innermost required value.
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes = cat(&[value("c"), ld(2, &bytes)]);
        }
        assert_pb_same(&bytes);
    }
}

#[test]
fn checked_protobuf_agrees_on_maps_oneofs_and_packed_scalars() {
    let scalar = |v: f64| {
        let mut s = vec![0x09];
        s.extend_from_slice(&v.to_le_bytes());
        s
    };
    let ids = cat(&[ld(1, b"t"), ld(2, &ld(1, b"t")), ld(3, &ld(1, b"a"))]);
    // TaskInfo.limits = 15: map<string, Value.Scalar> (Scalar.value is required).
    for entry in [
        cat(&[ld(1, b"cpus"), ld(2, &scalar(1.5))]),
        cat(&[ld(1, b"cpus"), ld(2, &[])]),
        cat(&[ld(1, b"cpus")]),
        cat(&[ld(2, &scalar(2.0))]),
        cat(&[ld(2, &scalar(2.0)), ld(1, b"mem"), ld(2, &[])]),
        cat(&[ld(1, b"cpus"), ld(2, &scalar(1.0)), vi(3, 1)]),
        cat(&[ld(1, b"cpus"), vec![0x1b, 0x1c]]),
        cat(&[vi(1, 3)]),
    ] {
        assert_pb_same(&cat(&[ids.clone(), ld(15, &entry)]));
        assert_pb_same(&cat(&[ids.clone(), ld(15, &entry), ld(15, &entry)]));
    }
    // LinuxInfo.effective_capabilities = 3: CapabilityInfo.capabilities = 1 (repeated enum),
    // unpacked, packed, both, and with bad packed contents.
    let mut packed = Vec::new();
    for v in [1000u64, 1005, 7] {
        varint(v, &mut packed);
    }
    for caps in [
        cat(&[vi(1, 1000), vi(1, 1005)]),
        ld(1, &packed),
        cat(&[vi(1, 1001), ld(1, &packed), vi(1, 1002)]),
        ld(1, &[0x80]),
        ld(1, &[]),
        cat(&[vi(1, 1000), ld(1, &packed), ld(3, b"unknown")]),
    ] {
        assert_pb_same(&ld(3, &caps));
        assert_pb_same(&cat(&[vi(4, 1), ld(3, &caps), ld(2, &caps), vi(7, 64)]));
    }
    let offer = Event::from_json_str(&offers_event(&[OFFER])).expect("event");
    let mut bytes = offer.encode_to_vec();
    assert_pb_same(&bytes);
    // Every truncation and every single-byte change of a valid event.
    let full = bytes.clone();
    for i in 0..full.len() {
        assert_pb_same(&full[..i]);
        let saved = bytes[i];
        for b in [0x00, 0x02, 0x08, 0x0a, 0x12, 0x7f, 0x80, 0xff] {
            bytes[i] = b;
            assert_pb_same(&bytes);
        }
        bytes[i] = saved;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn checked_protobuf_agrees_on_mutated_events(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..5),
    ) {
        let mut bytes = offer_event_bytes();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {
                    let j = at.index(bytes.len().saturating_sub(i).max(1)).min(60);
                    let piece: Vec<u8> = bytes[i.min(bytes.len())..(i + j).min(bytes.len())].to_vec();
                    let at = i.min(bytes.len());
                    bytes.splice(at..at, piece);
                }
            }
        }
        pb_same(&bytes).map_err(TestCaseError::fail)?;
    }
}
