//! The recording of a real Mesos master (tests/fixtures/real-mesos) decodes, and berth's encoder
//! writes every event and call back exactly as Mesos wrote it.

use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::{decode_checked, MesosJson, Message};
use serde_json::Value;

fn transcript() -> Vec<Value> {
    let text = include_str!("fixtures/real-mesos/seed-task-transcript.json");
    serde_json::from_str(text).expect("transcript is JSON")
}

/// Numbers compare by value: the recording was re-printed by Python, so `60` and `60.0` are one.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().expect("finite")),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn every_recorded_event_reencodes_to_the_same_json() {
    let mut n = 0;
    for entry in transcript() {
        if entry["kind"] != "event" {
            continue;
        }
        let ev = Event::from_json_value(&entry["event"]).expect("event decodes");
        assert_eq!(normalize(&ev.to_json_value()), normalize(&entry["event"]));
        // The recorded length is the RecordIO length of the compact JSON Mesos sent; ours may
        // differ only in how a double's digits were re-printed by the recorder.
        let ours = ev.to_json_string();
        let len = entry["length"].as_u64().expect("length");
        assert!(
            ours.len().abs_diff(usize::try_from(len).unwrap()) <= 2,
            "{ours}"
        );
        let pb = ev.encode_to_vec();
        let back: Event = decode_checked(&pb).expect("protobuf round trip");
        assert_eq!(back, ev);
        n += 1;
    }
    assert_eq!(n, 10);
}

#[test]
fn every_recorded_call_decodes_and_round_trips() {
    let mut n = 0;
    for entry in transcript() {
        if entry["kind"] != "call" && entry["kind"] != "subscribe" {
            continue;
        }
        let call = Call::from_json_value(&entry["request"]).expect("call decodes");
        let back: Call = decode_checked(&call.encode_to_vec()).expect("protobuf round trip");
        assert_eq!(back, call);
        // Mesos writes explicit defaults (checkpoint, refuse_seconds, shell, ...); after that the
        // JSON is a fixed point.
        let written = call.to_json_value();
        let again = Call::from_json_value(&written).expect("re-decodes");
        assert_eq!(again.to_json_value(), written);
        n += 1;
    }
    assert_eq!(n, 9);
}
