//! Golden fixtures: one JSON file per `Call` and `Event` type (tests/fixtures/calls, events),
//! composed from the scheduler HTTP API documentation with the documentation's errors fixed
//! (see the spec, §7), and the seed's `TaskInfo` (tests/fixtures/seed_task_info.json).
//!
//! Every fixture is written in the canonical form Mesos (and berth's encoder) produces: explicit
//! defaults present, doubles with a fraction, bytes as padded base64, keys in declaration order.
//! For each one: JSON -> message -> JSON gives the fixture back (as values, and as compact text),
//! and message -> protobuf -> `decode_checked` gives the same message again.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{self, container_info, TaskInfo};
use mesos_proto::{decode_checked, resource, MesosJson, Message, WireSchema};
use serde_json::Value;

fn fixture_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

/// All `*.json` files of a fixture directory, sorted, with their text.
fn fixtures(sub: &str) -> Vec<(String, String)> {
    let dir = fixture_dir(sub);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 file name")
                .to_string();
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (name, text)
        })
        .collect();
    out.sort();
    out
}

/// Numbers compare by value (`5` and `5.0` are one); everything else structurally.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().expect("finite number")),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// The fixture text with insignificant whitespace removed (outside strings).
fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The full round trip for one fixture; returns the decoded message.
fn round_trip<T>(name: &str, text: &str) -> T
where
    T: MesosJson + Message + Default + WireSchema + PartialEq + Debug,
{
    let fixture: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
    let msg = T::from_json_value(&fixture).unwrap_or_else(|e| panic!("{name}: decode: {e}"));

    // JSON -> message -> JSON is the identity on canonical JSON ...
    assert_eq!(
        normalize(&msg.to_json_value()),
        normalize(&fixture),
        "{name}: re-encoded JSON differs from the fixture"
    );
    // ... down to the text: key order (declaration order) and number formatting.
    assert_eq!(
        msg.to_json_string(),
        minify(text),
        "{name}: compact text differs from the fixture"
    );
    // The compact text parses back to the same message.
    assert_eq!(
        T::from_json_str(&msg.to_json_string()).expect("re-decodes"),
        msg,
        "{name}"
    );

    // message -> protobuf -> message, with the required-field check.
    let bytes = msg.encode_to_vec();
    let back: T = decode_checked(&bytes).unwrap_or_else(|e| panic!("{name}: protobuf: {e}"));
    assert_eq!(back, msg, "{name}: protobuf round trip changed the message");
    assert_eq!(
        normalize(&back.to_json_value()),
        normalize(&fixture),
        "{name}: JSON after the protobuf round trip differs"
    );
    msg
}

/// The NAME of every value of an enum, probing the numbers prost accepts.
fn enum_names<E: TryFrom<i32>>(name_of: impl Fn(E) -> &'static str) -> BTreeSet<String> {
    (0..1024)
        .filter_map(|i| E::try_from(i).ok())
        .map(|e| name_of(e).to_string())
        .collect()
}

/// The fixture's file name must say which type it is (`accept.json`, `accept_launch_group.json`).
fn assert_named_after_type(name: &str, ty: &str) {
    let ty = ty.to_ascii_lowercase();
    assert!(
        name == ty || name.starts_with(&format!("{ty}_")),
        "fixture {name}.json holds a {ty} message"
    );
}

#[test]
fn every_call_fixture_round_trips_and_all_call_types_are_covered() {
    let mut covered = BTreeSet::new();
    let files = fixtures("calls");
    for (name, text) in &files {
        let call: Call = round_trip(name, text);
        let ty = call::Type::try_from(call.r#type.expect("fixture sets type"))
            .expect("known type")
            .as_str_name();
        assert_named_after_type(name, ty);
        covered.insert(ty.to_string());
    }
    let all = enum_names::<call::Type>(|t| t.as_str_name());
    assert_eq!(all.len(), 18, "Call.Type has UNKNOWN + 17 values");
    assert_eq!(covered, all, "every Call type needs a fixture");
    assert_eq!(files.len(), 19, "18 types plus the LAUNCH_GROUP accept");
}

#[test]
fn every_event_fixture_round_trips_and_all_event_types_are_covered() {
    let mut covered = BTreeSet::new();
    let files = fixtures("events");
    for (name, text) in &files {
        let ev: Event = round_trip(name, text);
        let ty = event::Type::try_from(ev.r#type.expect("fixture sets type"))
            .expect("known type")
            .as_str_name();
        assert_named_after_type(name, ty);
        covered.insert(ty.to_string());
    }
    let all = enum_names::<event::Type>(|t| t.as_str_name());
    assert_eq!(all.len(), 12, "Event.Type has UNKNOWN + 11 values");
    assert_eq!(covered, all, "every Event type needs a fixture");
    assert_eq!(files.len(), 12);
}

/// Each call fixture carries the sub-message its type names (and no other), and the fixes to
/// the documentation's examples (spec §7) are in place.
#[test]
fn call_fixtures_fill_the_field_their_type_names() {
    for (name, text) in fixtures("calls") {
        let v: Value = serde_json::from_str(&text).expect("JSON");
        let obj = v.as_object().expect("object");
        let ty = obj["type"].as_str().expect("type").to_ascii_lowercase();
        let payload: Vec<&String> = obj
            .keys()
            .filter(|k| *k != "type" && *k != "framework_id")
            .collect();
        match ty.as_str() {
            "unknown" | "teardown" => assert!(payload.is_empty(), "{name}: {payload:?}"),
            _ => assert_eq!(payload, vec![&ty], "{name}"),
        }
        // Every call but SUBSCRIBE (and the UNKNOWN placeholder) names its framework.
        assert_eq!(
            obj.contains_key("framework_id"),
            ty != "subscribe" && ty != "unknown",
            "{name}"
        );
    }
    let revive: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir("calls/revive.json")).unwrap())
            .unwrap();
    assert!(revive["revive"]["roles"].is_array());
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir("calls/request.json")).unwrap())
            .unwrap();
    assert!(request["request"]["requests"].is_array());
    let ack: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir("calls/acknowledge_operation_status.json")).unwrap(),
    )
    .unwrap();
    assert!(ack["acknowledge_operation_status"]["operation_id"]["value"].is_string());
}

#[test]
fn event_fixtures_fill_the_field_their_type_names() {
    for (name, text) in fixtures("events") {
        let v: Value = serde_json::from_str(&text).expect("JSON");
        let obj = v.as_object().expect("object");
        let ty = obj["type"].as_str().expect("type").to_ascii_lowercase();
        let payload: Vec<&String> = obj.keys().filter(|k| *k != "type").collect();
        match ty.as_str() {
            "unknown" | "heartbeat" => assert!(payload.is_empty(), "{name}: {payload:?}"),
            _ => assert_eq!(payload, vec![&ty], "{name}"),
        }
    }
    let error: Event =
        Event::from_json_str(&std::fs::read_to_string(fixture_dir("events/error.json")).unwrap())
            .unwrap();
    assert_eq!(error.error.unwrap().message, "Framework failed over");
    let update: Event =
        Event::from_json_str(&std::fs::read_to_string(fixture_dir("events/update.json")).unwrap())
            .unwrap();
    let status = update.update.unwrap().status;
    assert!(status.data.is_some_and(|d| d.starts_with(b"[{\"Id\"")));
    assert_eq!(status.uuid.map(|u| u.len()), Some(16));
}

fn seed_task() -> TaskInfo {
    TaskInfo {
        name: "DockerContainerTask-1".into(),
        task_id: v1::TaskId {
            value: "DockerContainerTask-1".into(),
        },
        agent_id: v1::AgentId {
            value: "f6f7b9a4-235d-4855-877f-a49e62294c2b-S0".into(),
        },
        resources: vec![
            resource::scalar("cpus", 0.5),
            resource::scalar("mem", 100.0),
        ],
        command: Some(Box::new(v1::CommandInfo {
            value: Some("env && while true; do echo command running; sleep 3; done".into()),
            ..Default::default()
        })),
        container: Some(Box::new(v1::ContainerInfo {
            r#type: container_info::Type::Docker as i32,
            docker: Some(Box::new(container_info::DockerInfo {
                image: "ugistry.ucloud.cn/library/centos:6.6".into(),
                network: Some(container_info::docker_info::Network::Bridge as i32),
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[test]
fn seed_task_info_fixture_is_the_seeds_task() {
    let text = std::fs::read_to_string(fixture_dir("seed_task_info.json")).expect("fixture");
    let decoded: TaskInfo = round_trip("seed_task_info", &text);

    // The seed builds the task without `shell` and `privileged`; Mesos writes both defaults.
    let built = seed_task();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(normalize(&built.to_json_value()), normalize(&fixture));
    assert_eq!(built.to_json_string(), minify(&text));

    // Decoding sets the defaults explicitly; otherwise it is the same task.
    let mut explicit = built.clone();
    explicit.command.as_mut().unwrap().shell = Some(true);
    explicit
        .container
        .as_mut()
        .unwrap()
        .docker
        .as_mut()
        .unwrap()
        .privileged = Some(false);
    assert_eq!(decoded, explicit);
    assert_eq!(resource::scalar_sum(&decoded.resources, "cpus"), 0.5);
    assert_eq!(resource::scalar_sum(&decoded.resources, "mem"), 100.0);
}
