//! Byte-level pins of the protobuf encoding, independent of prost: the expected bytes are built
//! by hand from the field numbers in the spec (§1.7, §1.9, §2), so a wrong field number, wire
//! type or enum value in the `.proto` files fails here.
//!
//! prost writes fields in field-number order (as protobuf C++ does), whatever the declaration
//! order, and always writes `required` fields; the expectations are built the same way.

use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{self, container_info, value};
use mesos_proto::{decode_checked, resource, Message};

/// A hand-rolled protobuf writer: `tag = (field << 3) | wire_type`, varints, length-delimited
/// payloads, little-endian fixed64 doubles.
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    fn new() -> Self {
        Pb::default()
    }

    fn key(mut self, field: u64, wire_type: u64) -> Self {
        put_varint(&mut self.0, (field << 3) | wire_type);
        self
    }

    /// int32/int64/uint32/uint64/bool/enum.
    fn varint(self, field: u64, v: u64) -> Self {
        let mut s = self.key(field, VARINT);
        put_varint(&mut s.0, v);
        s
    }

    fn double(self, field: u64, v: f64) -> Self {
        let mut s = self.key(field, FIXED64);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }

    fn bytes(self, field: u64, b: &[u8]) -> Self {
        let mut s = self.key(field, LEN);
        put_varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }

    fn string(self, field: u64, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    fn message(self, field: u64, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }

    /// An `*ID` message (`required string value = 1`) as field `field`.
    fn id(self, field: u64, value: &str) -> Self {
        self.message(field, Pb::new().string(1, value))
    }
}

/// `Resource` with a scalar: name = 1, type = 2 (SCALAR = 0, written: it is required),
/// scalar = 3 { value = 1 (double) }.
fn scalar_resource(name: &str, v: f64) -> Pb {
    Pb::new()
        .string(1, name)
        .varint(2, 0)
        .message(3, Pb::new().double(1, v))
}

fn assert_pinned<T: Message + Default + PartialEq + std::fmt::Debug + mesos_proto::WireSchema>(
    msg: &T,
    expected: &Pb,
) {
    let got = msg.encode_to_vec();
    assert_eq!(
        hex(&got),
        hex(&expected.0),
        "prost's encoding differs from the hand-built bytes"
    );
    let back: T = decode_checked(&expected.0).expect("hand-built bytes decode");
    assert_eq!(&back, msg);
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_writer_itself_is_right() {
    // The classic examples from the protobuf encoding guide.
    assert_eq!(Pb::new().varint(1, 150).0, [0x08, 0x96, 0x01]);
    assert_eq!(Pb::new().string(2, "testing").0, b"\x12\x07testing");
    assert_eq!(
        Pb::new().double(1, 0.5).0,
        [0x09, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f]
    );
}

#[test]
fn seed_task_info_bytes() {
    let task = v1::TaskInfo {
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
    };
    // TaskInfo: name = 1, task_id = 2, agent_id = 3, resources = 4, command = 7, container = 9.
    let expected = Pb::new()
        .string(1, "DockerContainerTask-1")
        .id(2, "DockerContainerTask-1")
        .id(3, "f6f7b9a4-235d-4855-877f-a49e62294c2b-S0")
        .message(4, scalar_resource("cpus", 0.5))
        .message(4, scalar_resource("mem", 100.0))
        // CommandInfo: value = 3 (shell = 6 unset, so absent).
        .message(
            7,
            Pb::new().string(
                3,
                "env && while true; do echo command running; sleep 3; done",
            ),
        )
        // ContainerInfo: type = 1 (DOCKER = 1), docker = 3 { image = 1, network = 2 (BRIDGE = 2) }.
        .message(
            9,
            Pb::new().varint(1, 1).message(
                3,
                Pb::new()
                    .string(1, "ugistry.ucloud.cn/library/centos:6.6")
                    .varint(2, 2),
            ),
        );
    assert_pinned(&task, &expected);

    // With the defaults set explicitly (as JSON decoding does) they are written:
    // shell = 6 (true), privileged = 4 (false).
    let mut explicit = task.clone();
    explicit.command.as_mut().unwrap().shell = Some(true);
    explicit
        .container
        .as_mut()
        .unwrap()
        .docker
        .as_mut()
        .unwrap()
        .privileged = Some(false);
    let expected = Pb::new()
        .string(1, "DockerContainerTask-1")
        .id(2, "DockerContainerTask-1")
        .id(3, "f6f7b9a4-235d-4855-877f-a49e62294c2b-S0")
        .message(4, scalar_resource("cpus", 0.5))
        .message(4, scalar_resource("mem", 100.0))
        .message(
            7,
            Pb::new()
                .string(
                    3,
                    "env && while true; do echo command running; sleep 3; done",
                )
                .varint(6, 1),
        )
        .message(
            9,
            Pb::new().varint(1, 1).message(
                3,
                Pb::new()
                    .string(1, "ugistry.ucloud.cn/library/centos:6.6")
                    .varint(2, 2)
                    .varint(4, 0),
            ),
        );
    assert_pinned(&explicit, &expected);
}

#[test]
fn subscribe_call_bytes() {
    let call = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(Box::new(call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: "root".into(),
                name: "seed-demo".into(),
                failover_timeout: Some(60.0),
                capabilities: vec![v1::framework_info::Capability {
                    r#type: Some(v1::framework_info::capability::Type::TaskKillingState as i32),
                }],
                ..Default::default()
            },
            ..Default::default()
        })),
        ..Default::default()
    };
    // Call: type = 2 (SUBSCRIBE = 1), subscribe = 3 { framework_info = 1 { user = 1, name = 2,
    // failover_timeout = 4 (double), capabilities = 10 { type = 1 (TASK_KILLING_STATE = 2) } } }.
    let expected = Pb::new().varint(2, 1).message(
        3,
        Pb::new().message(
            1,
            Pb::new()
                .string(1, "root")
                .string(2, "seed-demo")
                .double(4, 60.0)
                .message(10, Pb::new().varint(1, 2)),
        ),
    );
    assert_pinned(&call, &expected);
    // Spelled out, so the pin does not rest on the helper alone.
    assert_eq!(
        hex(&call.encode_to_vec()),
        "10 01 1a 20 0a 1e 0a 04 72 6f 6f 74 12 09 73 65 65 64 2d 64 65 6d 6f \
         21 00 00 00 00 00 00 4e 40 52 02 08 02"
    );
}

#[test]
#[allow(deprecated)] // Resource.role: Mesos still sets it in offers.
fn offers_event_bytes() {
    let mut cpus = resource::scalar("cpus", 2.0);
    cpus.role = Some("*".into());
    let mut mem = resource::scalar("mem", 23081.0);
    mem.role = Some("*".into());
    let mut ports = resource::ports(&[(31000, 32000)]);
    ports.role = Some("*".into());
    let ev = Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: vec![v1::Offer {
                id: v1::OfferId {
                    value: "M-O48".into(),
                },
                framework_id: v1::FrameworkId {
                    value: "M-0023".into(),
                },
                agent_id: v1::AgentId {
                    value: "M-S0".into(),
                },
                hostname: "127.0.0.1".into(),
                url: Some(Box::new(v1::Url {
                    scheme: "http".into(),
                    address: v1::Address {
                        hostname: Some("127.0.0.1".into()),
                        ip: Some("127.0.0.1".into()),
                        port: 5051,
                    },
                    path: Some("/slave(1)".into()),
                    ..Default::default()
                })),
                resources: vec![ports, cpus, mem],
                ..Default::default()
            }],
        }),
        ..Default::default()
    };
    let role = |r: Pb| r.string(6, "*");
    // Resource with ranges: name = 1, type = 2 (RANGES = 1), ranges = 4 { range = 1 { begin = 1,
    // end = 2 } }, role = 6.
    let ports = role(Pb::new().string(1, "ports").varint(2, 1).message(
        4,
        Pb::new().message(1, Pb::new().varint(1, 31000).varint(2, 32000)),
    ));
    // Offer: id = 1, framework_id = 2, agent_id = 3, hostname = 4, resources = 5, url = 8
    // (declared before resources, numbered after). URL: scheme = 1, address = 2 { hostname = 1,
    // ip = 2, port = 3 }, path = 3.
    let offer = Pb::new()
        .id(1, "M-O48")
        .id(2, "M-0023")
        .id(3, "M-S0")
        .string(4, "127.0.0.1")
        .message(5, ports)
        .message(5, role(scalar_resource("cpus", 2.0)))
        .message(5, role(scalar_resource("mem", 23081.0)))
        .message(
            8,
            Pb::new()
                .string(1, "http")
                .message(
                    2,
                    Pb::new()
                        .string(1, "127.0.0.1")
                        .string(2, "127.0.0.1")
                        .varint(3, 5051),
                )
                .string(3, "/slave(1)"),
        );
    // Event: type = 1 (OFFERS = 2), offers = 3 { offers = 1 }.
    let expected = Pb::new()
        .varint(1, 2)
        .message(3, Pb::new().message(1, offer));
    assert_pinned(&ev, &expected);
}

#[test]
fn update_event_and_acknowledge_call_bytes() {
    let uuid = [
        0x9d, 0xb0, 0x1a, 0x02, 0x5f, 0x6e, 0x41, 0x27, 0x88, 0xd5, 0xcb, 0xe6, 0x56, 0x22, 0xd2,
        0x50,
    ];
    let ev = Event {
        r#type: Some(event::Type::Update as i32),
        update: Some(Box::new(event::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t".into() },
                state: v1::TaskState::TaskRunning as i32,
                message: Some("m".into()),
                source: Some(v1::task_status::Source::Executor as i32),
                reason: Some(v1::task_status::Reason::Reconciliation as i32),
                data: Some(b"d".to_vec()),
                agent_id: Some(v1::AgentId { value: "a".into() }),
                executor_id: Some(v1::ExecutorId { value: "e".into() }),
                timestamp: Some(1.5),
                uuid: Some(uuid.to_vec()),
                healthy: Some(true),
                container_status: Some(Box::new(v1::ContainerStatus {
                    container_id: Some(v1::ContainerId {
                        value: "c".into(),
                        parent: None,
                    }),
                    executor_pid: Some(42),
                    ..Default::default()
                })),
                ..Default::default()
            },
        })),
        ..Default::default()
    };
    // TaskStatus: task_id = 1, state = 2 (TASK_RUNNING = 1), data = 3, message = 4,
    // agent_id = 5, timestamp = 6, executor_id = 7, healthy = 8, source = 9
    // (SOURCE_EXECUTOR = 2), reason = 10 (REASON_RECONCILIATION = 9), uuid = 11,
    // container_status = 13 { executor_pid = 3, container_id = 4 }.
    let status = Pb::new()
        .id(1, "t")
        .varint(2, 1)
        .bytes(3, b"d")
        .string(4, "m")
        .id(5, "a")
        .double(6, 1.5)
        .id(7, "e")
        .varint(8, 1)
        .varint(9, 2)
        .varint(10, 9)
        .bytes(11, &uuid)
        .message(13, Pb::new().varint(3, 42).id(4, "c"));
    // Event: type = 1 (UPDATE = 4), update = 5 { status = 1 }.
    let expected = Pb::new()
        .varint(1, 4)
        .message(5, Pb::new().message(1, status));
    assert_pinned(&ev, &expected);

    let ack = Call {
        framework_id: Some(v1::FrameworkId { value: "f".into() }),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId { value: "a".into() },
            task_id: v1::TaskId { value: "t".into() },
            uuid: uuid.to_vec(),
        }),
        ..Default::default()
    };
    // Call: framework_id = 1, type = 2 (ACKNOWLEDGE = 8), acknowledge = 8 { agent_id = 1,
    // task_id = 2, uuid = 3 }.
    let expected = Pb::new()
        .id(1, "f")
        .varint(2, 8)
        .message(8, Pb::new().id(1, "a").id(2, "t").bytes(3, &uuid));
    assert_pinned(&ack, &expected);
}

#[test]
fn call_and_event_type_numbers() {
    // Enum values are part of the wire format: pin every one from the spec's tables.
    let calls = [
        (call::Type::Unknown, 0),
        (call::Type::Subscribe, 1),
        (call::Type::Teardown, 2),
        (call::Type::Accept, 3),
        (call::Type::Decline, 4),
        (call::Type::Revive, 5),
        (call::Type::Kill, 6),
        (call::Type::Shutdown, 7),
        (call::Type::Acknowledge, 8),
        (call::Type::Reconcile, 9),
        (call::Type::Message, 10),
        (call::Type::Request, 11),
        (call::Type::Suppress, 12),
        (call::Type::AcceptInverseOffers, 13),
        (call::Type::DeclineInverseOffers, 14),
        (call::Type::AcknowledgeOperationStatus, 15),
        (call::Type::ReconcileOperations, 16),
        (call::Type::UpdateFramework, 17),
    ];
    for (t, n) in calls {
        assert_eq!(t as i32, n, "{t:?}");
    }
    let events = [
        (event::Type::Unknown, 0),
        (event::Type::Subscribed, 1),
        (event::Type::Offers, 2),
        (event::Type::Rescind, 3),
        (event::Type::Update, 4),
        (event::Type::Message, 5),
        (event::Type::Failure, 6),
        (event::Type::Error, 7),
        (event::Type::Heartbeat, 8),
        (event::Type::InverseOffers, 9),
        (event::Type::RescindInverseOffer, 10),
        (event::Type::UpdateOperationStatus, 11),
    ];
    for (t, n) in events {
        assert_eq!(t as i32, n, "{t:?}");
    }
    assert_eq!(value::Type::Scalar as i32, 0);
    assert_eq!(value::Type::Ranges as i32, 1);
    assert_eq!(value::Type::Set as i32, 2);
    assert_eq!(value::Type::Text as i32, 3);
}

#[test]
fn missing_required_fields_in_protobuf_input_are_refused() {
    // An ACKNOWLEDGE whose body lacks uuid (3) and task_id (2).
    let bytes = Pb::new().varint(2, 8).message(8, Pb::new().id(1, "a"));
    let e = decode_checked::<Call>(&bytes.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Missing required fields: acknowledge.task_id, acknowledge.uuid"
    );
    // Repeated paths: the second task of a LAUNCH lacks its agent_id.
    let task = |with_agent: bool| {
        let t = Pb::new().string(1, "t").id(2, "t");
        if with_agent {
            t.id(3, "a")
        } else {
            t
        }
    };
    let bytes = Pb::new().varint(2, 3).message(
        4,
        Pb::new().message(
            2,
            Pb::new()
                .varint(1, 1)
                .message(2, Pb::new().message(1, task(true)).message(1, task(false))),
        ),
    );
    let e = decode_checked::<Call>(&bytes.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Missing required fields: accept.operations[0].launch.task_infos[1].agent_id"
    );
}
