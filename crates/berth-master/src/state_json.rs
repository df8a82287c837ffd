//! `GET /state`: Mesos's hand-written dashboard JSON (spec §6), keys in Mesos's order, written
//! with the same compact writer as the event stream.

use berth_core::resources::Resources;
use mesos_proto::json::Writer;
use mesos_proto::v1::{value, Attribute, TaskStatus};
use mesos_proto::MesosJson;

use crate::actor::{Framework, MasterActor, Task, MESOS_VERSION};

/// The build date `/state` and `/version` report.
pub const BUILD_DATE: &str = "2026-11-26 00:00:00";
/// The build time (seconds since the epoch) matching [`BUILD_DATE`].
pub const BUILD_TIME: f64 = 1_795_651_200.0;

/// `/version`'s body (Mesos writes the keys sorted).
pub fn version_json() -> String {
    let mut w = Writer::default();
    w.begin_object();
    w.key("build_date");
    w.string(BUILD_DATE);
    w.key("build_time");
    w.double(BUILD_TIME);
    w.key("build_user");
    w.string("");
    w.key("version");
    w.string(MESOS_VERSION);
    w.end_object();
    w.finish()
}

pub(crate) fn render(m: &MasterActor) -> String {
    let mut w = Writer::default();
    let pid = m.master_info.pid.clone().unwrap_or_default();
    w.begin_object();
    w.key("version");
    w.string(MESOS_VERSION);
    w.key("build_date");
    w.string(BUILD_DATE);
    w.key("build_time");
    w.double(BUILD_TIME);
    w.key("build_user");
    w.string("");
    w.key("start_time");
    w.double(m.start_time);
    w.key("elected_time");
    w.double(m.elected_time);
    w.key("id");
    w.string(m.ids.master_id());
    w.key("pid");
    w.string(&pid);
    w.key("hostname");
    w.string(&m.hostname);
    w.key("capabilities");
    w.begin_array();
    for c in ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"] {
        w.element();
        w.string(c);
    }
    w.end_array();
    let active = m.agents.values().filter(|a| a.active()).count();
    w.key("activated_slaves");
    w.double(active as f64);
    w.key("deactivated_slaves");
    w.double((m.agents.len() - active) as f64);
    w.key("unreachable_slaves");
    w.double(0.0);
    w.key("leader");
    w.string(&pid);
    w.key("leader_info");
    w.begin_object();
    w.key("id");
    w.string(m.ids.master_id());
    w.key("pid");
    w.string(&pid);
    w.key("port");
    w.uint(u64::from(m.port));
    w.key("hostname");
    w.string(&m.hostname);
    w.end_object();
    w.key("flags");
    write_flags(m, &mut w);
    w.key("slaves");
    w.begin_array();
    for a in m.agents.values() {
        w.element();
        write_agent(m, a, &mut w);
    }
    w.end_array();
    w.key("recovered_slaves");
    w.begin_array();
    for (id, (rec, _)) in &m.recovering {
        w.element();
        w.begin_object();
        w.key("id");
        w.string(id.as_str());
        w.key("hostname");
        w.string(&rec.hostname);
        w.key("port");
        w.uint(u64::from(rec.port));
        w.key("attributes");
        w.begin_object();
        w.end_object();
        w.end_object();
    }
    w.end_array();
    w.key("frameworks");
    w.begin_array();
    for f in m.frameworks.values() {
        w.element();
        write_framework(m, f, &mut w);
    }
    w.end_array();
    w.key("completed_frameworks");
    w.begin_array();
    for f in &m.completed_frameworks {
        w.element();
        write_framework(m, f, &mut w);
    }
    w.end_array();
    w.key("orphan_tasks");
    w.begin_array();
    w.end_array();
    w.key("unregistered_frameworks");
    w.begin_array();
    w.end_array();
    w.end_object();
    w.finish()
}

fn write_flags(m: &MasterActor, w: &mut Writer) {
    let c = &m.config;
    let secs = |d: std::time::Duration| format!("{}secs", d.as_secs_f64());
    let mut flags: Vec<(&str, String)> = vec![
        ("allocation_interval", secs(c.allocation_interval)),
        ("allocator", "hierarchical".into()),
        ("authenticate_frameworks", "false".into()),
        ("authenticate_http_frameworks", "false".into()),
        ("filter_gpu_resources", "true".into()),
        ("framework_sorter", "drf".into()),
        ("hostname", m.hostname.clone()),
        (
            "max_completed_frameworks",
            c.max_completed_frameworks.to_string(),
        ),
        (
            "max_completed_tasks_per_framework",
            c.max_completed_tasks_per_framework.to_string(),
        ),
        ("min_allocatable_resources", "cpus:0.01|mem:32".into()),
        ("port", m.port.to_string()),
        ("registry", "sqlite".into()),
        ("role_sorter", "drf".into()),
        ("root_submissions", "true".into()),
        ("work_dir", c.work_dir.display().to_string()),
    ];
    if let Some(t) = c.offer_timeout {
        flags.push(("offer_timeout", secs(t)));
    }
    flags.sort_by(|a, b| a.0.cmp(b.0));
    w.begin_object();
    for (k, v) in flags {
        w.key(k);
        w.string(&v);
    }
    w.end_object();
}

fn write_attributes(attrs: &[Attribute], w: &mut Writer) {
    w.begin_object();
    for a in attrs {
        w.key(&a.name);
        match value::Type::try_from(a.r#type) {
            Ok(value::Type::Scalar) => w.double(a.scalar.as_ref().map(|s| s.value).unwrap_or(0.0)),
            Ok(value::Type::Ranges) => {
                let r = berth_core::resources::Ranges::from_intervals(
                    a.ranges
                        .iter()
                        .flat_map(|r| r.range.iter().map(|x| (x.begin, x.end))),
                );
                w.string(&r.to_string());
            }
            Ok(value::Type::Set) => {
                let items: Vec<&str> = a
                    .set
                    .iter()
                    .flat_map(|s| s.item.iter().map(String::as_str))
                    .collect();
                w.string(&format!("{{{}}}", items.join(", ")));
            }
            Ok(value::Type::Text) | Err(_) => {
                w.string(a.text.as_ref().map(|t| t.value.as_str()).unwrap_or(""))
            }
        }
    }
    w.end_object();
}

fn write_agent(m: &MasterActor, a: &crate::actor::Agent, w: &mut Writer) {
    let reg = &a.registration;
    let ip = m
        .master_info
        .address
        .as_ref()
        .and_then(|x| x.ip.clone())
        .unwrap_or_default();
    let (used, offered) = match m.allocator.agent(&a.id) {
        Some(v) => (v.used.clone(), v.offered.clone()),
        None => {
            let mut used = Resources::new();
            for f in m.frameworks.values() {
                for t in f.tasks.values() {
                    if t.agent_id == a.id && !t.state.releases_resources() {
                        used.add(&t.resources);
                    }
                }
            }
            (used, Resources::new())
        }
    };
    w.begin_object();
    w.key("id");
    w.string(a.id.as_str());
    w.key("hostname");
    w.string(&reg.hostname);
    w.key("port");
    w.uint(u64::from(reg.port));
    w.key("attributes");
    write_attributes(&reg.attributes, w);
    w.key("pid");
    w.string(&format!("slave(1)@{ip}:{}", reg.port));
    w.key("registered_time");
    w.double(a.registered_time);
    if let Some(t) = a.reregistered_time {
        w.key("reregistered_time");
        w.double(t);
    }
    w.key("resources");
    a.total.write_summary(w);
    w.key("used_resources");
    used.write_summary(w);
    w.key("offered_resources");
    offered.write_summary(w);
    w.key("reserved_resources");
    w.begin_object();
    w.end_object();
    w.key("unreserved_resources");
    a.total.write_summary(w);
    w.key("active");
    w.bool(a.active());
    w.key("deactivated");
    w.bool(!a.active());
    w.key("version");
    w.string(MESOS_VERSION);
    w.key("capabilities");
    w.begin_array();
    // What a Mesos 1.12 agent declares (as recorded from a real one).
    for c in [
        "MULTI_ROLE",
        "HIERARCHICAL_ROLE",
        "RESERVATION_REFINEMENT",
        "RESOURCE_PROVIDER",
        "RESIZE_VOLUME",
        "AGENT_OPERATION_FEEDBACK",
        "AGENT_DRAINING",
        "TASK_RESOURCE_LIMITS",
    ] {
        w.element();
        w.string(c);
    }
    w.end_array();
    if reg.simulated {
        w.key("simulated");
        w.bool(true);
    }
    w.end_object();
}

#[allow(deprecated)] // `FrameworkInfo.role` is shown for non-MULTI_ROLE frameworks.
fn write_framework(m: &MasterActor, f: &Framework, w: &mut Writer) {
    let mut used = Resources::new();
    for t in f.tasks.values() {
        if t.holds_resources {
            used.add(&t.resources);
        }
    }
    let mut offered = Resources::new();
    let offers: Vec<_> = f.offers.iter().filter_map(|id| m.offers.get(id)).collect();
    for o in &offers {
        offered.add(&o.resources);
    }
    let info = &f.info;
    w.begin_object();
    w.key("id");
    w.string(f.id.as_str());
    w.key("name");
    w.string(&info.name);
    w.key("used_resources");
    used.write_summary(w);
    w.key("offered_resources");
    offered.write_summary(w);
    w.key("capabilities");
    w.begin_array();
    for c in &info.capabilities {
        if let Some(name) = c.r#type.and_then(|t| {
            mesos_proto::v1::framework_info::capability::Type::try_from(t)
                .ok()
                .map(|t| t.as_str_name())
        }) {
            w.element();
            w.string(name);
        }
    }
    w.end_array();
    w.key("hostname");
    w.string(info.hostname.as_deref().unwrap_or(""));
    w.key("webui_url");
    w.string(info.webui_url.as_deref().unwrap_or(""));
    w.key("active");
    w.bool(f.active);
    w.key("connected");
    w.bool(f.conn.is_some());
    w.key("recovered");
    w.bool(f.recovered);
    w.key("user");
    w.string(&info.user);
    w.key("failover_timeout");
    w.double(info.failover_timeout.unwrap_or(0.0));
    w.key("checkpoint");
    w.bool(info.checkpoint.unwrap_or(false));
    w.key("registered_time");
    w.double(f.registered_time);
    w.key("unregistered_time");
    w.double(f.unregistered_time);
    if let Some(p) = &info.principal {
        w.key("principal");
        w.string(p);
    }
    w.key("resources");
    used.plus(&offered).write_summary(w);
    if let Some(t) = f.reregistered_time {
        if t != f.registered_time {
            w.key("reregistered_time");
            w.double(t);
        }
    }
    let multi = crate::validation::has_capability(
        info,
        mesos_proto::v1::framework_info::capability::Type::MultiRole,
    );
    if multi {
        w.key("roles");
        w.begin_array();
        for r in &info.roles {
            w.element();
            w.string(r);
        }
        w.end_array();
    } else {
        w.key("role");
        w.string(info.role.as_deref().unwrap_or("*"));
    }
    w.key("tasks");
    w.begin_array();
    for t in f.tasks.values() {
        w.element();
        write_task(t, w);
    }
    w.end_array();
    w.key("unreachable_tasks");
    w.begin_array();
    w.end_array();
    w.key("completed_tasks");
    w.begin_array();
    for t in &f.completed_tasks {
        w.element();
        write_task(t, w);
    }
    w.end_array();
    w.key("offers");
    w.begin_array();
    for o in offers {
        w.element();
        w.begin_object();
        w.key("id");
        w.string(o.id.as_str());
        w.key("framework_id");
        w.string(o.framework_id.as_str());
        w.key("allocation_info");
        w.begin_object();
        w.key("role");
        w.string(&o.role);
        w.end_object();
        w.key("slave_id");
        w.string(o.agent_id.as_str());
        w.key("resources");
        o.resources.write_summary(w);
        w.end_object();
    }
    w.end_array();
    w.key("executors");
    w.begin_array();
    w.end_array();
    if let Some(labels) = &info.labels {
        if !labels.labels.is_empty() {
            w.key("labels");
            write_labels(labels, w);
        }
    }
    w.key("offer_constraints");
    w.begin_object();
    w.end_object();
    w.end_object();
}

fn write_labels(labels: &mesos_proto::v1::Labels, w: &mut Writer) {
    w.begin_array();
    for l in &labels.labels {
        w.element();
        w.raw(&l.to_json_string());
    }
    w.end_array();
}

fn write_task(t: &Task, w: &mut Writer) {
    w.begin_object();
    w.key("id");
    w.string(&t.info.task_id.value);
    w.key("name");
    w.string(&t.info.name);
    w.key("framework_id");
    w.string(t.framework_id.as_str());
    w.key("executor_id");
    w.string(
        t.info
            .executor
            .as_ref()
            .map(|e| e.executor_id.value.as_str())
            .unwrap_or(""),
    );
    w.key("slave_id");
    w.string(t.agent_id.as_str());
    w.key("state");
    w.string(t.state.as_str_name());
    w.key("resources");
    Resources::from_proto_lossy(&t.info.resources).write_summary(w);
    if !t.info.limits.is_empty() {
        w.key("limits");
        w.begin_object();
        for (k, v) in &t.info.limits {
            w.key(k);
            w.double(v.value);
        }
        w.end_object();
    }
    w.key("role");
    w.string(&t.role);
    w.key("statuses");
    w.begin_array();
    for s in &t.statuses {
        w.element();
        write_status(s, w);
    }
    w.end_array();
    if let Some(labels) = &t.info.labels {
        if !labels.labels.is_empty() {
            w.key("labels");
            write_labels(labels, w);
        }
    }
    if let Some(d) = &t.info.discovery {
        w.key("discovery");
        w.raw(&d.to_json_string());
    }
    if let Some(c) = &t.info.container {
        w.key("container");
        w.raw(&c.to_json_string());
    }
    if let Some(h) = &t.info.health_check {
        w.key("health_check");
        w.raw(&h.to_json_string());
    }
    w.end_object();
}

fn write_status(s: &TaskStatus, w: &mut Writer) {
    w.begin_object();
    w.key("state");
    w.string(
        mesos_proto::v1::TaskState::try_from(s.state)
            .map(|st| st.as_str_name())
            .unwrap_or("TASK_UNKNOWN"),
    );
    w.key("timestamp");
    w.double(s.timestamp.unwrap_or(0.0));
    if let Some(labels) = &s.labels {
        if !labels.labels.is_empty() {
            w.key("labels");
            write_labels(labels, w);
        }
    }
    if let Some(cs) = &s.container_status {
        w.key("container_status");
        w.raw(&cs.to_json_string());
    }
    if let Some(h) = s.healthy {
        w.key("healthy");
        w.bool(h);
    }
    w.end_object();
}
