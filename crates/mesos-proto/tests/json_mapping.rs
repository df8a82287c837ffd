//! The leniencies and the error texts of Mesos's JSON mapping (stout's `protobuf::parse` and
//! `jsonify`), pinned one by one. Error texts are Mesos's own; the scheduler endpoint prefixes
//! them with `Failed to convert JSON into Call protobuf: `.

use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{self, TaskInfo, TaskStatus};
use mesos_proto::{JsonError, MesosJson};
use serde_json::json;

fn call(text: &str) -> Result<Call, JsonError> {
    Call::from_json_str(text)
}

fn call_err(text: &str) -> String {
    match call(text) {
        Ok(c) => panic!("expected an error, got {}", c.to_json_string()),
        Err(e) => e.to_string(),
    }
}

fn task_err(text: &str) -> String {
    match TaskInfo::from_json_str(text) {
        Ok(t) => panic!("expected an error, got {}", t.to_json_string()),
        Err(e) => e.to_string(),
    }
}

const TASK_IDS: &str = r#""name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"}"#;

// ---------------------------------------------------------------------------------------------
// Leniencies
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_keys_are_ignored() {
    // `force` is in the documentation's SUBSCRIBE example but not in the v1 protocol.
    let c = call(
        r#"{"type":"SUBSCRIBE","bogus":[1,2,{"x":null}],
            "subscribe":{"framework_info":{"user":"foo","name":"Example HTTP Framework","frameworkId":"x"},"force":true}}"#,
    )
    .expect("unknown keys are not an error");
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"foo","name":"Example HTTP Framework","failover_timeout":0.0,"checkpoint":false}}}"#
    );
    // lowerCamelCase names (proto3 JSON) are unknown keys too.
    let c = call(r#"{"type":"TEARDOWN","frameworkId":{"value":"f"}}"#).unwrap();
    assert_eq!(c.framework_id, None);
}

#[test]
fn null_means_unset() {
    let ev =
        Event::from_json_str(r#"{"type":"HEARTBEAT","subscribed":null,"error":null}"#).unwrap();
    assert_eq!(ev.to_json_string(), r#"{"type":"HEARTBEAT"}"#);
    // `null` elements of an array are skipped (and do not count for the index in paths).
    let c =
        call(r#"{"type":"DECLINE","decline":{"offer_ids":[null,{"value":"o1"},null]}}"#).unwrap();
    assert_eq!(c.decline.unwrap().offer_ids.len(), 1);
    // A required field given as null is missing.
    assert_eq!(
        call_err(r#"{"type":"KILL","kill":{"task_id":null}}"#),
        "Missing required fields: kill.task_id"
    );
    // null for a field with a default leaves it unset, so the default is written.
    let c = call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":null}}}"#).unwrap();
    assert_eq!(
        c.decline
            .as_ref()
            .unwrap()
            .filters
            .as_ref()
            .unwrap()
            .refuse_seconds,
        None
    );
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":5.0}}}"#
    );
}

#[test]
fn integers_may_be_given_as_strings() {
    let c = call(
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"42"}}}}"#,
    )
    .unwrap();
    let ns = c
        .kill
        .unwrap()
        .kill_policy
        .unwrap()
        .grace_period
        .unwrap()
        .nanoseconds;
    assert_eq!(ns, 42);
    let ev = Event::from_json_str(r#"{"type":"FAILURE","failure":{"status":"-9"}}"#).unwrap();
    assert_eq!(ev.failure.as_ref().unwrap().status, Some(-9));
    // ... and are always written back as numbers.
    assert_eq!(
        ev.to_json_string(),
        r#"{"type":"FAILURE","failure":{"status":-9}}"#
    );
    // uint32 (MasterInfo.port) and uint64 (Range.begin) too.
    let ev = Event::from_json_str(
        r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"},
            "master_info":{"id":"m","ip":"16777343","port":"5050"}}}"#,
    )
    .unwrap();
    let mi = ev.subscribed.unwrap().master_info.unwrap();
    assert_eq!((mi.ip, mi.port), (16_777_343, 5050));
    // A string that holds no number is refused.
    assert!(call(
        r#"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"soon"}}}}"#
    )
    .is_err());
}

#[test]
fn doubles_may_be_infinity_strings_or_numeric_strings() {
    let c =
        call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"Infinity"}}}"#).unwrap();
    let filters = c.decline.as_ref().unwrap().filters.unwrap();
    assert_eq!(filters.refuse_seconds, Some(f64::INFINITY));
    // Written back as the bare token (rapidjson's kWriteNanAndInfFlag), which is not JSON.
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":Infinity}}}"#
    );
    let c =
        call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"-Infinity"}}}"#).unwrap();
    assert_eq!(
        c.decline.unwrap().filters.unwrap().refuse_seconds,
        Some(f64::NEG_INFINITY)
    );
    let c = call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":"2.5"}}}"#).unwrap();
    assert_eq!(
        c.decline.unwrap().filters.unwrap().refuse_seconds,
        Some(2.5)
    );
    // Integral doubles are written with a fraction.
    let c = call(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":60}}}"#).unwrap();
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":60.0}}}"#
    );
}

#[test]
fn bools_may_be_strings() {
    let c = call(
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"true"}}}"#,
    )
    .unwrap();
    assert_eq!(c.subscribe.unwrap().framework_info.checkpoint, Some(true));
    let c = call(
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":"false"}}}"#,
    )
    .unwrap();
    assert_eq!(c.subscribe.unwrap().framework_info.checkpoint, Some(false));
    // A number is not a bool.
    assert_eq!(
        call_err(
            r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":1}}}"#
        ),
        "Not expecting a JSON number for field 'checkpoint'"
    );
}

#[test]
fn a_non_array_for_a_repeated_field_is_one_element() {
    let c = call(r#"{"type":"REVIVE","revive":{"roles":"dev"}}"#).unwrap();
    assert_eq!(c.revive.as_ref().unwrap().roles, vec!["dev".to_string()]);
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"REVIVE","revive":{"roles":["dev"]}}"#
    );
    let c = call(r#"{"type":"DECLINE","decline":{"offer_ids":{"value":"o1"}}}"#).unwrap();
    assert_eq!(c.decline.unwrap().offer_ids[0].value, "o1");
    let ev = Event::from_json_str(
        r#"{"type":"OFFERS","offers":{"offers":{"id":{"value":"o"},"framework_id":{"value":"f"},
            "agent_id":{"value":"a"},"hostname":"h","resources":{"name":"cpus","type":"SCALAR","scalar":{"value":1}}}}}"#,
    )
    .unwrap();
    let offers = ev.offers.unwrap().offers;
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources.len(), 1);
}

#[test]
fn nested_arrays_in_a_repeated_field_are_flattened() {
    // stout applies the same repeated field to every item of an array, arrays included.
    let c = call(r#"{"type":"SUPPRESS","suppress":{"roles":[["a",null,["b"]],"c",[]]}}"#).unwrap();
    assert_eq!(c.suppress.unwrap().roles, ["a", "b", "c"]);
    // Indexes in paths count the flattened elements.
    assert_eq!(
        call_err(
            r#"{"type":"RECONCILE","reconcile":{"tasks":[[{"task_id":{"value":"t"}}],[{}]]}}"#
        ),
        "Missing required fields: reconcile.tasks[1].task_id"
    );
}

// ---------------------------------------------------------------------------------------------
// Kind errors
// ---------------------------------------------------------------------------------------------

#[test]
fn an_array_for_a_singular_field_is_an_error() {
    assert_eq!(
        call_err(r#"{"type":"TEARDOWN","framework_id":[{"value":"f"}]}"#),
        "Not expecting a JSON array for field 'framework_id'"
    );
    // Nested errors carry only the innermost field name (no path).
    assert_eq!(
        call_err(r#"{"type":"KILL","kill":{"task_id":{"value":["a","b"]}}}"#),
        "Not expecting a JSON array for field 'value'"
    );
    // Even an empty array.
    assert_eq!(
        call_err(r#"{"type":[]}"#),
        "Not expecting a JSON array for field 'type'"
    );
}

#[test]
fn an_enum_given_as_a_number_is_an_error() {
    assert_eq!(
        call_err(r#"{"type":1}"#),
        "Not expecting a JSON number for field 'type'"
    );
    assert_eq!(
        Event::from_json_str(
            r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":1}}}"#
        )
        .unwrap_err()
        .to_string(),
        "Not expecting a JSON number for field 'state'"
    );
}

#[test]
fn wrong_json_kinds_name_the_field() {
    assert_eq!(
        call_err(r#"{"type":"KILL","kill":{"task_id":"t"}}"#),
        "Not expecting a JSON string for field 'task_id'"
    );
    assert_eq!(
        task_err(r#"{"name":{"x":1},"task_id":{"value":"t"},"agent_id":{"value":"a"}}"#),
        "Not expecting a JSON object for field 'name'"
    );
    assert_eq!(
        call_err(r#"{"type":"TEARDOWN","framework_id":{"value":true}}"#),
        "Not expecting a JSON boolean for field 'value'"
    );
    assert_eq!(
        call_err(r#"{"type":"TEARDOWN","framework_id":{"value":7}}"#),
        "Not expecting a JSON number for field 'value'"
    );
    // The documentation's ACKNOWLEDGE_OPERATION_STATUS gives `operation_id` as a bare string.
    assert_eq!(
        call_err(
            r#"{"type":"ACKNOWLEDGE_OPERATION_STATUS","acknowledge_operation_status":{"uuid":"aGk=","operation_id":"op-1"}}"#
        ),
        "Not expecting a JSON string for field 'operation_id'"
    );
}

#[test]
fn the_top_level_must_be_an_object() {
    for text in [
        "[]",
        r#""SUBSCRIBE""#,
        "42",
        "true",
        "null",
        r#"[{"type":"TEARDOWN"}]"#,
    ] {
        let e = call(text).unwrap_err();
        assert_eq!(e, JsonError::NotAnObject, "{text}");
        assert_eq!(e.to_string(), "Expecting a JSON object", "{text}");
    }
    // Not JSON at all is a syntax error (the endpoint wraps it in its own text).
    assert!(matches!(call("{"), Err(JsonError::Syntax(_))));
    assert!(matches!(call(""), Err(JsonError::Syntax(_))));
}

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_name_in_an_optional_enum_leaves_it_unset() {
    let c = call(r#"{"type":"NO_SUCH_CALL"}"#).unwrap();
    assert_eq!(c.r#type, None);
    assert_eq!(c.to_json_string(), "{}");
    // An unset enum with a default is written as the default.
    let t = TaskInfo::from_json_str(&format!(
        r#"{{{TASK_IDS},"container":{{"type":"DOCKER","docker":{{"image":"i","network":"OVERLAY"}}}}}}"#
    ))
    .unwrap();
    let docker = t.container.as_ref().unwrap().docker.as_ref().unwrap();
    assert_eq!(docker.network, None);
    assert!(t
        .to_json_string()
        .contains(r#""docker":{"image":"i","network":"HOST","privileged":false}"#));
    // A message holding only an unknown enum stays present but empty.
    let c = call(
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n",
            "capabilities":[{"type":"TELEPORTATION"},{"type":"MULTI_ROLE"}]}}}"#,
    )
    .unwrap();
    let caps = c
        .subscribe
        .as_ref()
        .unwrap()
        .framework_info
        .capabilities
        .clone();
    assert_eq!(caps.len(), 2);
    assert_eq!(caps[0].r#type, None);
    assert!(c
        .to_json_string()
        .contains(r#""capabilities":[{},{"type":"MULTI_ROLE"}]"#));
}

#[test]
fn an_unknown_name_in_a_repeated_enum_is_dropped() {
    let li = v1::LinuxInfo::from_json_str(
        r#"{"effective_capabilities":{"capabilities":["CHOWN","TIME_TRAVEL","KILL"]}}"#,
    )
    .unwrap();
    let caps = &li.effective_capabilities.as_ref().unwrap().capabilities;
    assert_eq!(caps.len(), 2);
    assert_eq!(
        li.to_json_string(),
        r#"{"effective_capabilities":{"capabilities":["CHOWN","KILL"]},"share_cgroups":true}"#
    );
}

#[test]
fn an_unknown_name_in_a_required_enum_is_an_error() {
    // `Resource.type` (a `Value.Type`) is required.
    let text = format!(
        r#"{{"type":"ACCEPT","accept":{{"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[{{{TASK_IDS},
            "resources":[{{"name":"cpus","type":"SCALER","scalar":{{"value":1}}}}]}}]}}}}]}}}}"#
    );
    assert_eq!(call_err(&text), "Failed to find enum for 'SCALER'");
    assert_eq!(
        Event::from_json_str(
            r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_EXPLODED"}}}"#
        )
        .unwrap_err()
        .to_string(),
        "Failed to find enum for 'TASK_EXPLODED'"
    );
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_base64_names_the_field_and_the_character() {
    assert_eq!(
        call_err(
            r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"nbAa*l9uQSeI1cvmViLSUA=="}}"#
        ),
        "Failed to base64 decode bytes field 'uuid': Invalid character '*'"
    );
    assert_eq!(
        call_err(
            r#"{"type":"MESSAGE","message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"aGVsbG8-"}}"#
        ),
        "Failed to base64 decode bytes field 'data': Invalid character '-'"
    );
}

#[test]
fn base64_input_is_lenient_and_output_is_padded() {
    let ack = |uuid: &str| {
        call(&format!(
            r#"{{"type":"ACKNOWLEDGE","acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":"{uuid}"}}}}"#
        ))
        .unwrap()
    };
    // No padding, embedded whitespace, and anything after the first `=` are accepted.
    for uuid in ["aGk", "aGk=", "aG k=", "aGk=ignored*"] {
        let c = ack(uuid);
        assert_eq!(c.acknowledge.as_ref().unwrap().uuid, b"hi", "{uuid}");
        assert!(c.to_json_string().contains(r#""uuid":"aGk=""#), "{uuid}");
    }
}

// ---------------------------------------------------------------------------------------------
// Required fields
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_required_fields_are_reported_by_path() {
    let e = call(r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"seed-demo"}}}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Missing required fields: subscribe.framework_info.user"
    );
    assert_eq!(e.missing_fields(), ["subscribe.framework_info.user"]);

    // A missing message field is reported by its own path; Mesos does not descend into it.
    let text = r#"{"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH",
        "launch":{"task_infos":[{"name":"t","task_id":{"value":"t"}}]}}]}}"#;
    assert_eq!(
        call_err(text),
        "Missing required fields: accept.operations[0].launch.task_infos[0].agent_id"
    );
    // A present but empty one is descended into.
    let text = r#"{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCH",
        "launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{}}]}}]}}"#;
    assert_eq!(
        call_err(text),
        "Missing required fields: accept.operations[0].launch.task_infos[0].agent_id.value"
    );
    // Indexes count the elements of each repeated field.
    let text = format!(
        r#"{{"type":"ACCEPT","accept":{{"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[
            {{{TASK_IDS}}},
            {{{TASK_IDS},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":1}}}},{{"name":"mem","type":"SCALAR"}},{{"type":"SCALAR","scalar":{{}}}}]}}]}}}}]}}}}"#
    );
    assert_eq!(
        call_err(&text),
        "Missing required fields: accept.operations[0].launch.task_infos[1].resources[2].name, \
         accept.operations[0].launch.task_infos[1].resources[2].scalar.value"
    );
}

#[test]
fn missing_required_fields_come_in_protobufs_order() {
    // Like protobuf's `FindInitializationErrors`: the message's own missing fields first, in
    // declaration order, then those inside set sub-messages, in field-number order (TaskInfo:
    // task_id = 2, resources = 4, health_check = 8, container = 9 although declared before
    // health_check).
    let e = TaskInfo::from_json_str(
        r#"{"task_id":{},"resources":[{"name":"cpus","scalar":{}}],"container":{"docker":{}},
            "health_check":{"http":{}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.missing_fields(),
        [
            "name",
            "agent_id",
            "task_id.value",
            "resources[0].type",
            "resources[0].scalar.value",
            "health_check.http.port",
            "container.type",
            "container.docker.image",
        ]
    );
    assert_eq!(
        e.to_string(),
        "Missing required fields: name, agent_id, task_id.value, resources[0].type, \
         resources[0].scalar.value, health_check.http.port, container.type, container.docker.image"
    );
    // The protobuf check orders them the same way. prost always writes required fields, so
    // the bytes are built by hand: a TaskInfo holding only field 9 (container), empty.
    let missing = mesos_proto::wire::missing_required::<TaskInfo>(&[0x4a, 0x00]).unwrap();
    assert_eq!(missing, ["name", "task_id", "agent_id", "container.type"]);
}

#[test]
fn kind_errors_win_over_missing_fields() {
    // A field error stops parsing; no required-field report is made.
    assert_eq!(
        call_err(r#"{"type":"KILL","kill":{"agent_id":{"value":1}}}"#),
        "Not expecting a JSON number for field 'value'"
    );
}

// ---------------------------------------------------------------------------------------------
// TaskInfo.limits
// ---------------------------------------------------------------------------------------------

#[test]
fn limits_values_are_scalar_objects_and_infinity_is_written_bare() {
    let t = TaskInfo::from_json_str(&format!(
        r#"{{{TASK_IDS},"limits":{{"cpus":{{"value":"Infinity"}},"mem":{{"value":512}}}}}}"#
    ))
    .unwrap();
    assert_eq!(t.limits["cpus"].value, f64::INFINITY);
    assert_eq!(t.limits["mem"].value, 512.0);
    assert_eq!(
        t.to_json_string(),
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{"value":Infinity},"mem":{"value":512.0}}}"#
    );
    // The documentation's flat form is refused (spec §7.1).
    assert_eq!(
        task_err(&format!(r#"{{{TASK_IDS},"limits":{{"cpus":"Infinity"}}}}"#)),
        "Not expecting a JSON string for field 'value'"
    );
    assert_eq!(
        task_err(&format!(r#"{{{TASK_IDS},"limits":{{"mem":512.0}}}}"#)),
        "Not expecting a JSON number for field 'value'"
    );
    // A map must be an object.
    assert_eq!(
        task_err(&format!(
            r#"{{{TASK_IDS},"limits":[{{"cpus":{{"value":1}}}}]}}"#
        )),
        "Not expecting a JSON array for field 'limits'"
    );
    // A map value missing its required field is named by its key.
    assert_eq!(
        task_err(&format!(r#"{{{TASK_IDS},"limits":{{"mem":{{}}}}}}"#)),
        "Missing required fields: limits[mem].value"
    );
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

#[test]
fn output_keys_follow_declaration_order() {
    // Resource: provider_id (12) is declared first.
    let r = v1::Resource::from_json_str(
        r#"{"shared":{},"role":"*","scalar":{"value":1},"type":"SCALAR","name":"cpus","provider_id":{"value":"p"},
            "allocation_info":{"role":"dev"}}"#,
    )
    .unwrap();
    assert_eq!(
        r.to_json_string(),
        r#"{"provider_id":{"value":"p"},"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"role":"*","allocation_info":{"role":"dev"},"shared":{}}"#
    );
    // TaskStatus: message, source, reason, data come before agent_id (5).
    let s = TaskStatus::from_json_str(
        r#"{"timestamp":1724430000.123,"agent_id":{"value":"a"},"data":"aGk=","reason":"REASON_RECONCILIATION",
            "source":"SOURCE_MASTER","message":"m","state":"TASK_RUNNING","task_id":{"value":"t"},"uuid":"aGk="}"#,
    )
    .unwrap();
    assert_eq!(
        s.to_json_string(),
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","message":"m","source":"SOURCE_MASTER","reason":"REASON_RECONCILIATION","data":"aGk=","agent_id":{"value":"a"},"timestamp":1724430000.123,"uuid":"aGk="}"#
    );
    // Call: framework_id before type; ContainerInfo: hostname (4) before docker (3).
    let c = call(r#"{"type":"TEARDOWN","framework_id":{"value":"f"}}"#).unwrap();
    assert_eq!(
        c.to_json_string(),
        r#"{"framework_id":{"value":"f"},"type":"TEARDOWN"}"#
    );
    let ci = v1::ContainerInfo::from_json_str(
        r#"{"docker":{"image":"i","network":"BRIDGE"},"hostname":"h","type":"DOCKER"}"#,
    )
    .unwrap();
    assert_eq!(
        ci.to_json_string(),
        r#"{"type":"DOCKER","hostname":"h","docker":{"image":"i","network":"BRIDGE","privileged":false}}"#
    );
}

#[test]
fn explicit_defaults_are_written_and_deprecated_ones_are_not() {
    let c = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(Box::new(call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: "root".into(),
                name: "seed-demo".into(),
                ..Default::default()
            },
            ..Default::default()
        })),
        ..Default::default()
    };
    // failover_timeout and checkpoint have explicit defaults; `role` (default "*") is
    // deprecated, so it is not written.
    assert_eq!(
        c.to_json_string(),
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"seed-demo","failover_timeout":0.0,"checkpoint":false}}}"#
    );
    assert_eq!(
        v1::CommandInfo::default().to_json_string(),
        r#"{"shell":true}"#
    );
    assert_eq!(
        v1::Filters::default().to_json_string(),
        r#"{"refuse_seconds":5.0}"#
    );
    assert_eq!(
        v1::HealthCheck::default().to_json_string(),
        r#"{"delay_seconds":15.0,"interval_seconds":10.0,"timeout_seconds":20.0,"consecutive_failures":3,"grace_period_seconds":10.0}"#
    );
    assert_eq!(
        v1::network_info::IpAddress::default().to_json_string(),
        r#"{"protocol":"IPv4"}"#
    );
    // Resource.role is written only when set.
    assert_eq!(
        mesos_proto::resource::scalar("cpus", 0.5).to_json_string(),
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}}"#
    );
    // Unset optional fields without a default, and empty repeated fields, are not written.
    let ev = Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    };
    assert_eq!(ev.to_json_string(), r#"{"type":"HEARTBEAT"}"#);
    assert_eq!(json!(ev.to_json_value()), json!({"type": "HEARTBEAT"}));
}

#[test]
fn non_finite_doubles_are_written_as_bare_tokens() {
    let f = v1::Filters {
        refuse_seconds: Some(f64::NAN),
    };
    assert_eq!(f.to_json_string(), r#"{"refuse_seconds":NaN}"#);
    let f = v1::Filters {
        refuse_seconds: Some(f64::NEG_INFINITY),
    };
    assert_eq!(f.to_json_string(), r#"{"refuse_seconds":-Infinity}"#);
}
