//! Property tests of the decoders and the round trips.
//!
//! Case counts (kept small enough for the whole crate's tests to run in well under 20 s on two
//! slow cores, debug build):
//!
//! * `arbitrary_bytes_never_panic_the_decoders`: 2,000 cases (JSON decoder, `decode_checked` for
//!   `Call` and for `Event`; each fast reader answers as its reference reader does);
//! * `mutated_protobuf_never_panics`: 1,000 cases (valid `Call` encodings with bytes overwritten,
//!   inserted and cut; `decode_checked` answers as prost + the required-field walk do);
//! * `mesos_flavoured_json_never_panics`: 2,000 cases (JSON built from Mesos keys and values, fed
//!   to `Call`, `Event` and `TaskInfo`; whatever decodes must re-encode to a fixed point, and
//!   `from_json_slice` must answer as the `Value` reader does);
//! * `task_info_round_trips`: 500 cases;
//! * `call_round_trips`: 500 cases;
//! * `update_event_round_trips`: 300 cases.
//!
//! That is 6,300 generated cases in total (plus the 768 of the RecordIO unit tests in
//! `src/recordio.rs`).

use std::collections::BTreeMap;

use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{self, container_info, value};
use mesos_proto::{decode_checked, resource, MesosJson, Message, WireSchema};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Strategies for messages
// ---------------------------------------------------------------------------------------------

/// Text with the characters that need care: quotes, backslashes, control characters, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9 ._/:-]{0,16}",
        1 => "[\"\\\\\\x00-\\x1f\\x7f é漢😀&<>]{0,8}",
    ]
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,24}"
}

/// Finite doubles only: the writer emits non-finite ones as bare tokens, which are not JSON.
fn amount() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..10_000).prop_map(|n| f64::from(n) / 10.0),
        0.0f64..1.0e9,
        Just(0.0),
        any::<f64>().prop_filter("finite", |d| d.is_finite()),
    ]
}

fn resource_strategy() -> impl Strategy<Value = v1::Resource> {
    prop_oneof![
        (
            prop::sample::select(vec!["cpus", "mem", "disk", "gpus"]),
            amount()
        )
            .prop_map(|(n, a)| resource::scalar(n, a)),
        prop::collection::vec((0u64..70_000, 0u64..1000), 1..4).prop_map(|rs| {
            let bounds: Vec<(u64, u64)> = rs.into_iter().map(|(b, len)| (b, b + len)).collect();
            resource::ports(&bounds)
        }),
        (id(), prop::collection::vec(id(), 0..4)).prop_map(|(n, items)| {
            let items: Vec<&str> = items.iter().map(String::as_str).collect();
            resource::set(&n, &items)
        }),
    ]
}

fn labels() -> impl Strategy<Value = Option<v1::Labels>> {
    prop::option::of(
        prop::collection::vec((id(), prop::option::of(text())), 0..3).prop_map(|ls| v1::Labels {
            labels: ls
                .into_iter()
                .map(|(key, value)| v1::Label { key, value })
                .collect(),
        }),
    )
}

fn command() -> impl Strategy<Value = v1::CommandInfo> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec((id(), prop::option::of(text())), 0..3),
        prop::option::of(id()),
    )
        .prop_map(|(shell, value, arguments, vars, user)| v1::CommandInfo {
            environment: (!vars.is_empty()).then(|| v1::Environment {
                variables: vars
                    .into_iter()
                    .map(|(name, value)| v1::environment::Variable {
                        name,
                        value,
                        ..Default::default()
                    })
                    .collect(),
            }),
            shell,
            value,
            arguments,
            user,
            ..Default::default()
        })
}

fn docker_container() -> impl Strategy<Value = v1::ContainerInfo> {
    (
        "[a-z0-9./:-]{1,40}",
        prop::option::of(1i32..=4),
        prop::collection::vec(
            (any::<u32>(), any::<u32>(), prop::option::of("tcp|udp")),
            0..3,
        ),
        prop::option::of(any::<bool>()),
        prop::collection::vec((id(), text()), 0..3),
        prop::option::of(any::<bool>()),
        prop::option::of(id()),
    )
        .prop_map(
            |(image, network, ports, privileged, params, force_pull_image, hostname)| {
                v1::ContainerInfo {
                    r#type: container_info::Type::Docker as i32,
                    hostname,
                    docker: Some(Box::new(container_info::DockerInfo {
                        image,
                        network,
                        port_mappings: ports
                            .into_iter()
                            .map(|(host_port, container_port, protocol)| {
                                container_info::docker_info::PortMapping {
                                    host_port,
                                    container_port,
                                    protocol,
                                }
                            })
                            .collect(),
                        privileged,
                        parameters: params
                            .into_iter()
                            .map(|(key, value)| v1::Parameter { key, value })
                            .collect(),
                        force_pull_image,
                        ..Default::default()
                    })),
                    ..Default::default()
                }
            },
        )
}

fn task_info() -> impl Strategy<Value = v1::TaskInfo> {
    (
        (text(), id(), id()),
        prop::collection::vec(resource_strategy(), 0..4),
        prop::option::of(command()),
        prop::option::of(docker_container()),
        prop::option::of(any::<i64>()),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        labels(),
        prop::collection::btree_map(
            prop::sample::select(vec!["cpus", "mem"]).prop_map(String::from),
            amount(),
            0..3,
        ),
    )
        .prop_map(
            |((name, task, agent), resources, command, container, grace, data, labels, limits)| {
                v1::TaskInfo {
                    name,
                    task_id: v1::TaskId { value: task },
                    agent_id: v1::AgentId { value: agent },
                    resources,
                    command: command.map(Box::new),
                    container: container.map(Box::new),
                    kill_policy: grace.map(|nanoseconds| v1::KillPolicy {
                        grace_period: Some(v1::DurationInfo { nanoseconds }),
                    }),
                    data,
                    labels,
                    limits: limits
                        .into_iter()
                        .map(|(k, value)| (k, value::Scalar { value }))
                        .collect::<BTreeMap<_, _>>(),
                    ..Default::default()
                }
            },
        )
}

fn framework_id() -> impl Strategy<Value = Option<v1::FrameworkId>> {
    prop::option::of(id().prop_map(|value| v1::FrameworkId { value }))
}

fn filters() -> impl Strategy<Value = Option<v1::Filters>> {
    prop::option::of(
        prop::option::of(amount()).prop_map(|refuse_seconds| v1::Filters { refuse_seconds }),
    )
}

fn call_strategy() -> impl Strategy<Value = Call> {
    let subscribe = (
        text(),
        text(),
        prop::option::of(amount()),
        prop::option::of(any::<bool>()),
        prop::collection::vec(id(), 0..3),
        prop::collection::vec(0i32..=8, 0..4),
    )
        .prop_map(
            |(user, name, failover_timeout, checkpoint, roles, caps)| Call {
                r#type: Some(call::Type::Subscribe as i32),
                subscribe: Some(Box::new(call::Subscribe {
                    framework_info: v1::FrameworkInfo {
                        user,
                        name,
                        failover_timeout,
                        checkpoint,
                        roles,
                        capabilities: caps
                            .into_iter()
                            .map(|t| v1::framework_info::Capability { r#type: Some(t) })
                            .collect(),
                        ..Default::default()
                    },
                    ..Default::default()
                })),
                ..Default::default()
            },
        );
    let accept = (
        framework_id(),
        prop::collection::vec(id(), 0..3),
        prop::collection::vec(task_info(), 0..3),
        filters(),
    )
        .prop_map(|(framework_id, offers, tasks, filters)| Call {
            framework_id,
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: offers
                    .into_iter()
                    .map(|value| v1::OfferId { value })
                    .collect(),
                operations: vec![v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::Launch as i32),
                    launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                    ..Default::default()
                }],
                filters,
            }),
            ..Default::default()
        });
    let decline = (framework_id(), prop::collection::vec(id(), 0..3), filters()).prop_map(
        |(framework_id, offers, filters)| Call {
            framework_id,
            r#type: Some(call::Type::Decline as i32),
            decline: Some(call::Decline {
                offer_ids: offers
                    .into_iter()
                    .map(|value| v1::OfferId { value })
                    .collect(),
                filters,
            }),
            ..Default::default()
        },
    );
    let kill = (
        framework_id(),
        id(),
        prop::option::of(id()),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(framework_id, task, agent, grace)| Call {
            framework_id,
            r#type: Some(call::Type::Kill as i32),
            kill: Some(call::Kill {
                task_id: v1::TaskId { value: task },
                agent_id: agent.map(|value| v1::AgentId { value }),
                kill_policy: grace.map(|nanoseconds| v1::KillPolicy {
                    grace_period: Some(v1::DurationInfo { nanoseconds }),
                }),
            }),
            ..Default::default()
        });
    let acknowledge = (
        framework_id(),
        id(),
        id(),
        prop::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(|(framework_id, agent, task, uuid)| Call {
            framework_id,
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                agent_id: v1::AgentId { value: agent },
                task_id: v1::TaskId { value: task },
                uuid,
            }),
            ..Default::default()
        });
    let roles = (
        framework_id(),
        prop::collection::vec(id(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(framework_id, roles, revive)| {
            if revive {
                Call {
                    framework_id,
                    r#type: Some(call::Type::Revive as i32),
                    revive: Some(call::Revive { roles }),
                    ..Default::default()
                }
            } else {
                Call {
                    framework_id,
                    r#type: Some(call::Type::Suppress as i32),
                    suppress: Some(call::Suppress { roles }),
                    ..Default::default()
                }
            }
        });
    prop_oneof![subscribe, accept, decline, kill, acknowledge, roles]
}

fn update_event() -> impl Strategy<Value = Event> {
    (
        id(),
        0i32..=13,
        prop::option::of(text()),
        prop::option::of(0i32..=2),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        prop::option::of(id()),
        prop::option::of(amount()),
        prop::option::of(prop::collection::vec(any::<u8>(), 16..=16)),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(task, state, message, source, data, agent, timestamp, uuid, healthy)| Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(Box::new(event::Update {
                    status: v1::TaskStatus {
                        task_id: v1::TaskId { value: task },
                        state,
                        message,
                        source,
                        data,
                        agent_id: agent.map(|value| v1::AgentId { value }),
                        timestamp,
                        uuid,
                        healthy,
                        ..Default::default()
                    },
                })),
                ..Default::default()
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Strategy for Mesos-flavoured JSON
// ---------------------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "type",
    "framework_id",
    "value",
    "subscribe",
    "framework_info",
    "user",
    "name",
    "roles",
    "capabilities",
    "failover_timeout",
    "checkpoint",
    "accept",
    "decline",
    "offer_ids",
    "operations",
    "launch",
    "task_infos",
    "task_id",
    "agent_id",
    "resources",
    "scalar",
    "ranges",
    "range",
    "begin",
    "end",
    "set",
    "item",
    "role",
    "command",
    "shell",
    "arguments",
    "environment",
    "variables",
    "container",
    "docker",
    "image",
    "network",
    "privileged",
    "port_mappings",
    "host_port",
    "container_port",
    "limits",
    "cpus",
    "mem",
    "filters",
    "refuse_seconds",
    "kill",
    "kill_policy",
    "grace_period",
    "nanoseconds",
    "acknowledge",
    "uuid",
    "data",
    "update",
    "status",
    "state",
    "message",
    "timestamp",
    "offers",
    "hostname",
    "subscribed",
    "heartbeat_interval_seconds",
    "master_info",
    "ip",
    "port",
    "error",
    "reconcile",
    "tasks",
    "labels",
    "key",
    "revive",
    "suppress",
    "request",
    "requests",
];

const WORDS: &[&str] = &[
    "SUBSCRIBE",
    "ACCEPT",
    "DECLINE",
    "KILL",
    "ACKNOWLEDGE",
    "LAUNCH",
    "LAUNCH_GROUP",
    "SCALAR",
    "RANGES",
    "SET",
    "TEXT",
    "DOCKER",
    "MESOS",
    "BRIDGE",
    "HOST",
    "TASK_RUNNING",
    "UPDATE",
    "OFFERS",
    "HEARTBEAT",
    "SUBSCRIBED",
    "MULTI_ROLE",
    "Infinity",
    "-Infinity",
    "NaN",
    "42",
    "-1",
    "1e400",
    "0.5",
    "true",
    "false",
    "aGk=",
    "aGk",
    "a*b",
    "",
    "cpus",
    "*",
    " ",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kvs| {
                Value::Object(kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Replaces (or, for object members, sometimes removes) the `k`-th node in pre-order.
fn mutate(v: &mut Value, k: &mut usize, with: &Value, remove: bool) -> bool {
    if *k == 0 {
        *v = with.clone();
        return true;
    }
    *k -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|e| mutate(e, k, with, remove)),
        Value::Object(members) => {
            let keys: Vec<String> = members.keys().cloned().collect();
            for key in keys {
                if *k == 0 && remove {
                    members.remove(&key);
                    return true;
                }
                if mutate(members.get_mut(&key).expect("key"), k, with, remove) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(members) => members.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The JSON of a valid call with a few nodes replaced by random values or removed.
fn mutated_call_json() -> impl Strategy<Value = Value> {
    (
        call_strategy(),
        prop::collection::vec(
            (any::<prop::sample::Index>(), json_value(), any::<bool>()),
            1..4,
        ),
    )
        .prop_map(|(call, edits)| {
            let mut doc: Value = serde_json::from_str(&call.to_json_string()).expect("JSON");
            for (at, with, remove) in edits {
                let mut k = at.index(count_nodes(&doc));
                mutate(&mut doc, &mut k, &with, remove);
            }
            doc
        })
}

/// Mostly objects at the top, as real bodies are; half of them mutated valid calls.
fn json_document() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => json_value(),
        2 => prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..6).prop_map(
            |kvs| Value::Object(kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        ),
        3 => mutated_call_json(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// `from_json_slice` (the streaming reader, falling back to the `Value` reader when unsure)
/// answers exactly as the reference reading, `serde_json::from_slice` + `from_json_value`, does:
/// the same message or the same error.
fn same_as_value_reader<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: MesosJson + PartialEq + std::fmt::Debug,
{
    let reference = serde_json::from_slice::<Value>(bytes)
        .map_err(|e| mesos_proto::JsonError::Syntax(e.to_string()))
        .and_then(|v| T::from_json_value(&v));
    prop_assert_eq!(T::from_json_slice(bytes), reference);
    Ok(())
}

/// `decode_checked` (the one-pass decoder, falling back when unsure) answers exactly as the
/// reference, prost followed by the required-field walk, does.
fn same_as_prost_and_walk<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: Message + Default + WireSchema + PartialEq + std::fmt::Debug,
{
    let reference = T::decode(bytes)
        .map_err(|e| format!("malformed protobuf: {e}"))
        .and_then(|m| {
            match mesos_proto::wire::missing_required::<T>(bytes).map_err(|e| e.to_string())? {
                missing if missing.is_empty() => Ok(m),
                missing => Err(format!("Missing required fields: {}", missing.join(", "))),
            }
        });
    prop_assert_eq!(
        decode_checked::<T>(bytes).map_err(|e| e.to_string()),
        reference
    );
    Ok(())
}

/// Whatever decodes from JSON is complete: its JSON is a fixed point and its protobuf decodes
/// (with the required-field check) to the same message.
fn decoded_is_consistent<T>(m: &T) -> Result<(), TestCaseError>
where
    T: MesosJson + Message + Default + WireSchema + PartialEq + std::fmt::Debug,
{
    let text = m.to_json_string();
    if !text.contains("Infinity") {
        let again = T::from_json_str(&text)
            .map_err(|e| TestCaseError::fail(format!("re-decode of {text}: {e}")))?;
        prop_assert_eq!(again.to_json_string(), text.clone());
    }
    let back: T = decode_checked(&m.encode_to_vec())
        .map_err(|e| TestCaseError::fail(format!("protobuf of {text}: {e}")))?;
    prop_assert_eq!(&back, m);
    Ok(())
}

/// Generated message -> JSON -> message -> JSON is stable, and protobuf round trips exactly.
fn round_trips<T>(m: &T) -> Result<(), TestCaseError>
where
    T: MesosJson + Message + Default + WireSchema + PartialEq + std::fmt::Debug,
{
    let back: T = decode_checked(&m.encode_to_vec())
        .map_err(|e| TestCaseError::fail(format!("protobuf: {e}")))?;
    prop_assert_eq!(&back, m);

    let text = m.to_json_string();
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}: {text}")))?;
    let decoded =
        T::from_json_value(&value).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    // Decoding sets the written defaults explicitly; the JSON is already a fixed point.
    prop_assert_eq!(decoded.to_json_string(), text.clone());
    prop_assert_eq!(decoded.to_json_value(), value);
    let again: T = decode_checked(&decoded.encode_to_vec())
        .map_err(|e| TestCaseError::fail(format!("protobuf of decoded: {e}")))?;
    prop_assert_eq!(again, decoded);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        same_as_value_reader::<Call>(&bytes)?;
        same_as_value_reader::<Event>(&bytes)?;
        same_as_prost_and_walk::<Call>(&bytes)?;
        same_as_prost_and_walk::<Event>(&bytes)?;
        if let Ok(c) = decode_checked::<Call>(&bytes) {
            decoded_is_consistent_pb(&c)?;
        }
        if let Ok(e) = decode_checked::<Event>(&bytes) {
            decoded_is_consistent_pb(&e)?;
        }
    }

    #[test]
    fn mesos_flavoured_json_never_panics(doc in json_document()) {
        let text = serde_json::to_string(&doc).expect("serializable");
        same_as_value_reader::<Call>(text.as_bytes())?;
        same_as_value_reader::<Event>(text.as_bytes())?;
        same_as_value_reader::<v1::TaskInfo>(text.as_bytes())?;
        if let Ok(c) = Call::from_json_str(&text) {
            decoded_is_consistent(&c)?;
        }
        if let Ok(e) = Event::from_json_str(&text) {
            decoded_is_consistent(&e)?;
        }
        if let Ok(t) = v1::TaskInfo::from_json_value(&doc) {
            decoded_is_consistent(&t)?;
        }
    }
}

/// Protobuf input that decoded: it re-encodes and decodes to the same message. (Unknown fields
/// are dropped by prost, so the bytes need not be identical.)
fn decoded_is_consistent_pb<T>(m: &T) -> Result<(), TestCaseError>
where
    T: Message + Default + WireSchema + PartialEq + std::fmt::Debug,
{
    let back: T = decode_checked(&m.encode_to_vec())
        .map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
    prop_assert_eq!(&back, m);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_protobuf_never_panics(
        call in call_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = call.encode_to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        same_as_prost_and_walk::<Call>(&bytes)?;
        same_as_prost_and_walk::<Event>(&bytes)?;
        same_as_prost_and_walk::<v1::TaskInfo>(&bytes)?;
        if let Ok(c) = decode_checked::<Call>(&bytes) {
            decoded_is_consistent_pb(&c)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn task_info_round_trips(task in task_info()) {
        round_trips(&task)?;
    }

    #[test]
    fn call_round_trips(call in call_strategy()) {
        round_trips(&call)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn update_event_round_trips(ev in update_event()) {
        round_trips(&ev)?;
    }
}

/// The master writes UPDATE events straight from a borrowed status; the bytes are those of the
/// whole event written the usual way.
fn update_written_from_its_status(ev: &Event) -> Result<(), TestCaseError> {
    use mesos_proto::recordio;
    let status = &ev.update.as_ref().expect("an UPDATE").status;
    prop_assert_eq!(
        recordio::encode_update_json(status),
        recordio::encode_json(ev)
    );
    prop_assert_eq!(
        recordio::encode_update_protobuf(status),
        recordio::encode_protobuf(ev)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn update_events_are_written_from_a_borrowed_status(mut ev in update_event(), ip in id()) {
        update_written_from_its_status(&ev)?;
        // With a container status (network addresses, a container ID with a parent) and a
        // large `data`: nested lengths of more than one varint byte.
        if let Some(update) = ev.update.as_mut() {
            update.status.container_status = Some(Box::new(v1::ContainerStatus {
                container_id: Some(v1::ContainerId {
                    value: ip.clone(),
                    parent: Some(Box::new(v1::ContainerId { value: "parent".into(), parent: None })),
                }),
                network_infos: vec![v1::NetworkInfo {
                    ip_addresses: vec![v1::network_info::IpAddress {
                        ip_address: Some(ip),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                executor_pid: Some(42),
                ..Default::default()
            }));
            update.status.data = Some(vec![7; 300]);
        }
        update_written_from_its_status(&ev)?;
    }
}
