//! `GET /state`: Mesos's hand-written dashboard JSON (spec §6), keys in Mesos's order, written
//! with the same compact writer as the event stream.
//!
//! The document is large (at 10,000 agents and 100,000 completed tasks, ~110 MB), and nearly
//! all of it is completed tasks' entries, rendered once when each task completes and kept
//! compressed ([`CompletedTasks`](crate::completed::CompletedTasks)). The actor only renders
//! the rest into a [`StateDoc`], with the completed tasks' blocks spliced in by reference;
//! whoever asked puts the bytes together (or streams them as an HTTP body), outside the actor.

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_core::resources::Resources;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use mesos_proto::id::by_key;
use mesos_proto::json::Writer;
use mesos_proto::v1::{value, Attribute, ContainerStatus, Resource, TaskStatus};
use mesos_proto::MesosJson;

use crate::actor::{Agent, Framework, MasterActor, Task, MESOS_VERSION};
use crate::completed::Piece;

/// The build date `/state` and `/version` report.
pub const BUILD_DATE: &str = "2026-11-26 00:00:00";
/// The build time (seconds since the epoch) matching [`BUILD_DATE`].
pub const BUILD_TIME: f64 = 1_795_651_200.0;

/// `/version`'s body (Mesos writes the keys sorted).
pub fn version_json() -> String {
    let mut w = Writer::default();
    w.begin_object();
    w.field("build_date");
    w.string(BUILD_DATE);
    w.field("build_time");
    w.double(BUILD_TIME);
    w.field("build_user");
    w.string("");
    w.field("version");
    w.string(MESOS_VERSION);
    w.end_object();
    w.finish()
}

/// A `/state` document as the actor hands it out: the text it rendered, and the completed
/// tasks' blocks to splice into it, shared rather than copied. Putting the bytes together (or
/// streaming them) is left to whoever asked, outside the actor.
#[derive(Debug)]
pub(crate) struct StateDoc {
    text: String,
    /// Byte offsets of `text` and the pieces that go there, in order.
    splices: Vec<(usize, Vec<Piece>)>,
}

impl StateDoc {
    /// The document's length in bytes.
    pub fn len(&self) -> usize {
        let pieces: usize = self
            .splices
            .iter()
            .flat_map(|(_, pieces)| pieces)
            .map(Piece::len)
            .sum();
        self.text.len() + pieces
    }

    /// The document's text.
    pub fn into_string(self) -> String {
        let mut out = Vec::with_capacity(self.len());
        let mut at = 0;
        for (offset, pieces) in &self.splices {
            out.extend_from_slice(self.text.as_bytes().get(at..*offset).unwrap_or_default());
            for p in pieces {
                p.append_to(&mut out);
            }
            at = *offset;
        }
        out.extend_from_slice(self.text.as_bytes().get(at..).unwrap_or_default());
        // Only ever UTF-8: text and entries come from `Writer`s.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The document as an HTTP body of known length between `prefix` and `suffix` (for
    /// JSONP). Completed tasks' blocks are decompressed one at a time as the body is sent.
    pub fn into_body(self, prefix: String, suffix: &'static str) -> StateBody {
        let mut frames = VecDeque::with_capacity(2 * self.splices.len() + 3);
        let push_bytes = |frames: &mut VecDeque<Part>, mut b: Bytes| {
            while !b.is_empty() {
                frames.push_back(Part::Bytes(b.split_to(b.len().min(FRAME_BYTES))));
            }
        };
        push_bytes(&mut frames, Bytes::from(prefix));
        let text = Bytes::from(self.text);
        let mut at = 0;
        for (offset, pieces) in self.splices {
            push_bytes(&mut frames, text.slice(at..offset));
            frames.extend(pieces.into_iter().map(Part::Piece));
            at = offset;
        }
        push_bytes(&mut frames, text.slice(at..));
        push_bytes(&mut frames, Bytes::from_static(suffix.as_bytes()));
        frames.retain(|f| f.len() > 0);
        let remaining = frames.iter().map(|f| f.len() as u64).sum();
        StateBody {
            frames,
            remaining,
            burst: 0,
        }
    }
}

/// A part of a [`StateBody`].
#[derive(Debug)]
enum Part {
    Bytes(Bytes),
    Piece(Piece),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(b) => b.len(),
            Part::Piece(p) => p.len(),
        }
    }
}

/// The largest frame of a [`StateBody`] (its own text is sliced to this).
const FRAME_BYTES: usize = 256 * 1024;

/// A [`StateBody`] pauses once after handing out this much, so hyper writes what it has
/// gathered before asking for more: writing overlaps producing and no buffer ever holds the
/// whole document (with `pipeline_flush` on, hyper would otherwise copy all of it first).
const BURST_BYTES: usize = 1024 * 1024;

/// The `/state` response body: a [`StateDoc`]'s pieces, length known up front (so hyper sends
/// `Content-Length`, as for any other answer).
#[derive(Debug)]
pub(crate) struct StateBody {
    frames: VecDeque<Part>,
    remaining: u64,
    /// Bytes handed out since the last pause.
    burst: usize,
}

impl Body for StateBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.burst >= BURST_BYTES {
            self.burst = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let frame = self.frames.pop_front().map(|part| match part {
            Part::Bytes(b) => b,
            Part::Piece(p) => p.to_bytes(),
        });
        if let Some(f) = &frame {
            self.remaining = self.remaining.saturating_sub(f.len() as u64);
            self.burst += f.len();
        }
        Poll::Ready(frame.map(|f| Ok(Frame::data(f))))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The `/state` document, its completed tasks by reference.
pub(crate) fn snapshot(m: &MasterActor) -> StateDoc {
    let live_tasks: usize = m.frameworks.values().map(|f| f.tasks.len()).sum();
    let guess = 4096 + 1024 * m.agents.len() + 2048 * m.frameworks.len() + 1536 * live_tasks;
    let mut w = Writer::with_buffer(String::with_capacity(guess));
    let mut splices = Vec::new();
    let pid = m.master_info.pid.clone().unwrap_or_default();
    w.begin_object();
    w.field("version");
    w.string(MESOS_VERSION);
    w.field("build_date");
    w.string(BUILD_DATE);
    w.field("build_time");
    w.double(BUILD_TIME);
    w.field("build_user");
    w.string("");
    w.field("start_time");
    w.double(m.start_time);
    w.field("elected_time");
    w.double(m.elected_time);
    w.field("id");
    w.string(m.ids.master_id());
    w.field("pid");
    w.string(&pid);
    w.field("hostname");
    w.string(&m.hostname);
    w.field("capabilities");
    w.begin_array();
    for c in ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"] {
        w.element();
        w.string(c);
    }
    w.end_array();
    let active = m.agents.values().filter(|a| a.active()).count();
    w.field("activated_slaves");
    w.double(active as f64);
    w.field("deactivated_slaves");
    w.double((m.agents.len() - active) as f64);
    w.field("unreachable_slaves");
    w.double(0.0);
    w.field("leader");
    w.string(&pid);
    w.field("leader_info");
    w.begin_object();
    w.field("id");
    w.string(m.ids.master_id());
    w.field("pid");
    w.string(&pid);
    w.field("port");
    w.uint(u64::from(m.port));
    w.field("hostname");
    w.string(&m.hostname);
    w.end_object();
    w.field("flags");
    write_flags(m, &mut w);
    w.field("slaves");
    w.begin_array();
    // In ID order, as before the map became a hash map (looked up on every update).
    let mut agents: Vec<&Agent> = m.agents.values().collect();
    agents.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    for a in agents {
        w.element();
        write_agent(m, a, &mut w);
    }
    w.end_array();
    w.field("recovered_slaves");
    w.begin_array();
    for (id, (rec, _)) in &m.recovering {
        w.element();
        w.begin_object();
        w.field("id");
        w.string(id.as_str());
        w.field("hostname");
        w.string(&rec.hostname);
        w.field("port");
        w.uint(u64::from(rec.port));
        w.field("attributes");
        w.begin_object();
        w.end_object();
        w.end_object();
    }
    w.end_array();
    w.field("frameworks");
    w.begin_array();
    // In ID order, as agents are (the map is a hash map, looked up on every update).
    for (_, f) in by_key(&m.frameworks) {
        w.element();
        write_framework(m, f, &mut w, &mut splices);
    }
    w.end_array();
    w.field("completed_frameworks");
    w.begin_array();
    for f in &m.completed_frameworks {
        w.element();
        write_framework(m, f, &mut w, &mut splices);
    }
    w.end_array();
    w.field("orphan_tasks");
    w.begin_array();
    w.end_array();
    w.field("unregistered_frameworks");
    w.begin_array();
    w.end_array();
    w.end_object();
    StateDoc {
        text: w.finish(),
        splices,
    }
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

/// What [`Resources::write_summary`] writes for no resources.
const NO_RESOURCES: &str = r#"{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}"#;

fn write_summary(r: &Resources, w: &mut Writer) {
    if r.is_empty() {
        w.raw(NO_RESOURCES);
    } else {
        r.write_summary(w);
    }
}

/// The parts of an agent's `/state` entry that stay as they are while it stays registered
/// (everything but its used and offered resources and whether it is active), rendered the
/// first time a snapshot needs them. A (re-)registration makes a new [`Agent`] and so a new
/// cache.
#[derive(Debug, Default)]
pub(crate) struct AgentJson(OnceCell<AgentParts>);

#[derive(Debug)]
struct AgentParts {
    /// `{"id":..` to `"resources":{..}`.
    head: Box<str>,
    /// `,"reserved_resources":{},"unreserved_resources":{..}`.
    middle: Box<str>,
    /// `,"version":..` to the closing `}`.
    tail: Box<str>,
}

/// Renders what follows a `{` with `write`, for splicing in after a value.
fn continuation(write: impl FnOnce(&mut Writer)) -> Box<str> {
    let mut w = Writer::with_buffer(String::from("{"));
    write(&mut w);
    let mut s = w.finish();
    s.replace_range(..1, ",");
    s.into_boxed_str()
}

fn agent_parts(m: &MasterActor, a: &Agent) -> AgentParts {
    let reg = &a.registration;
    let ip = m
        .master_info
        .address
        .as_ref()
        .and_then(|x| x.ip.as_deref())
        .unwrap_or_default();
    let mut w = Writer::default();
    w.begin_object();
    w.field("id");
    w.string(a.id.as_str());
    w.field("hostname");
    w.string(&reg.hostname);
    w.field("port");
    w.uint(u64::from(reg.port));
    w.field("attributes");
    write_attributes(&reg.attributes, &mut w);
    w.field("pid");
    w.string(&format!("slave(1)@{ip}:{}", reg.port));
    w.field("registered_time");
    w.double(a.registered_time);
    if let Some(t) = a.reregistered_time {
        w.field("reregistered_time");
        w.double(t);
    }
    w.field("resources");
    write_summary(&a.total, &mut w);
    let head = w.finish().into_boxed_str();
    let middle = continuation(|w| {
        w.field("reserved_resources");
        w.begin_object();
        w.end_object();
        w.field("unreserved_resources");
        write_summary(&a.total, w);
    });
    let tail = continuation(|w| {
        w.field("version");
        w.string(MESOS_VERSION);
        w.field("capabilities");
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
            w.field("simulated");
            w.bool(true);
        }
        w.end_object();
    });
    AgentParts { head, middle, tail }
}

fn write_agent(m: &MasterActor, a: &Agent, w: &mut Writer) {
    let parts = a.state_json.0.get_or_init(|| agent_parts(m, a));
    w.raw(&parts.head);
    match m.allocator.agent(&a.id) {
        Some(v) => {
            w.field("used_resources");
            write_summary(&v.used, w);
            w.field("offered_resources");
            write_summary(&v.offered, w);
        }
        None => {
            let mut used = Resources::new();
            for f in m.frameworks.values() {
                for t in f.tasks.values() {
                    if t.agent_id == a.id && !t.state.releases_resources() {
                        used.add(&t.resources);
                    }
                }
            }
            w.field("used_resources");
            write_summary(&used, w);
            w.field("offered_resources");
            w.raw(NO_RESOURCES);
        }
    }
    w.raw(&parts.middle);
    w.field("active");
    w.bool(a.active());
    w.field("deactivated");
    w.bool(!a.active());
    w.raw(&parts.tail);
}

#[allow(deprecated)] // `FrameworkInfo.role` is shown for non-MULTI_ROLE frameworks.
fn write_framework(
    m: &MasterActor,
    f: &Framework,
    w: &mut Writer,
    splices: &mut Vec<(usize, Vec<Piece>)>,
) {
    let mut used = Resources::new();
    for t in f.tasks.values() {
        if t.holds_resources {
            used.add(&t.resources);
        }
    }
    let mut offered = Resources::new();
    let mut offers: Vec<_> = f.offers.iter().filter_map(|id| m.offers.get(id)).collect();
    offers.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    for o in &offers {
        offered.add(&o.resources);
    }
    let info = &f.info;
    w.begin_object();
    w.field("id");
    w.string(f.id.as_str());
    w.field("name");
    w.string(&info.name);
    w.field("used_resources");
    write_summary(&used, w);
    w.field("offered_resources");
    write_summary(&offered, w);
    w.field("capabilities");
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
    w.field("hostname");
    w.string(info.hostname.as_deref().unwrap_or(""));
    w.field("webui_url");
    w.string(info.webui_url.as_deref().unwrap_or(""));
    w.field("active");
    w.bool(f.active);
    w.field("connected");
    w.bool(f.conn.is_some());
    w.field("recovered");
    w.bool(f.recovered);
    w.field("user");
    w.string(&info.user);
    w.field("failover_timeout");
    w.double(info.failover_timeout.unwrap_or(0.0));
    w.field("checkpoint");
    w.bool(info.checkpoint.unwrap_or(false));
    w.field("registered_time");
    w.double(f.registered_time);
    w.field("unregistered_time");
    w.double(f.unregistered_time);
    if let Some(p) = &info.principal {
        w.field("principal");
        w.string(p);
    }
    w.field("resources");
    write_summary(&used.plus(&offered), w);
    if let Some(t) = f.reregistered_time {
        if t != f.registered_time {
            w.field("reregistered_time");
            w.double(t);
        }
    }
    let multi = crate::validation::has_capability(
        info,
        mesos_proto::v1::framework_info::capability::Type::MultiRole,
    );
    if multi {
        w.field("roles");
        w.begin_array();
        for r in &info.roles {
            w.element();
            w.string(r);
        }
        w.end_array();
    } else {
        w.field("role");
        w.string(info.role.as_deref().unwrap_or("*"));
    }
    w.field("tasks");
    w.begin_array();
    for (_, t) in by_key(&f.tasks) {
        w.element();
        write_task(t, w);
    }
    w.end_array();
    w.field("unreachable_tasks");
    w.begin_array();
    w.end_array();
    w.field("completed_tasks");
    w.begin_array();
    if !f.completed_tasks.is_empty() {
        let text = std::mem::take(w).finish();
        splices.push((text.len(), f.completed_tasks.pieces()));
        *w = Writer::with_buffer(text);
    }
    w.end_array();
    w.field("offers");
    w.begin_array();
    for o in offers {
        w.element();
        w.begin_object();
        w.field("id");
        w.string(o.id.as_str());
        w.field("framework_id");
        w.string(o.framework_id.as_str());
        w.field("allocation_info");
        w.begin_object();
        w.field("role");
        w.string(&o.role);
        w.end_object();
        w.field("slave_id");
        w.string(o.agent_id.as_str());
        w.field("resources");
        write_summary(&o.resources, w);
        w.end_object();
    }
    w.end_array();
    w.field("executors");
    w.begin_array();
    w.end_array();
    if let Some(labels) = &info.labels {
        if !labels.labels.is_empty() {
            w.field("labels");
            write_labels(labels, w);
        }
    }
    w.field("offer_constraints");
    w.begin_object();
    w.end_object();
    w.end_object();
}

fn write_labels(labels: &mesos_proto::v1::Labels, w: &mut Writer) {
    w.begin_array();
    for l in &labels.labels {
        w.element();
        l.write_json(w);
    }
    w.end_array();
}

/// `t`'s entry in a `tasks` or `completed_tasks` list.
pub(crate) fn task_entry(t: &Task) -> String {
    let mut w = Writer::with_buffer(String::with_capacity(2048));
    write_task(t, &mut w);
    w.finish()
}

fn write_task(t: &Task, w: &mut Writer) {
    w.begin_object();
    w.field("id");
    w.string(&t.info.task_id.value);
    w.field("name");
    w.string(&t.info.name);
    w.field("framework_id");
    w.string(t.framework_id.as_str());
    w.field("executor_id");
    w.string(
        t.info
            .executor
            .as_ref()
            .map(|e| e.executor_id.value.as_str())
            .unwrap_or(""),
    );
    w.field("slave_id");
    w.string(t.agent_id.as_str());
    w.field("state");
    w.string(t.state.as_str_name());
    w.field("resources");
    // The task's own resources, as Mesos shows them: not `t.resources`, which for the first
    // task of a LAUNCH_GROUP also holds the executor's.
    write_resources_summary(&t.info.resources, w);
    if !t.info.limits.is_empty() {
        w.field("limits");
        w.begin_object();
        for (k, v) in &t.info.limits {
            w.key(k);
            w.double(v.value);
        }
        w.end_object();
    }
    w.field("role");
    w.string(&t.role);
    w.field("statuses");
    w.begin_array();
    // A task's statuses mostly carry one container status (its container ID and network):
    // rendered once, repeated while equal.
    let mut last = None;
    for s in &t.statuses {
        w.element();
        write_status(s, w, &mut last);
    }
    w.end_array();
    if let Some(labels) = &t.info.labels {
        if !labels.labels.is_empty() {
            w.field("labels");
            write_labels(labels, w);
        }
    }
    if let Some(d) = &t.info.discovery {
        w.field("discovery");
        d.write_json(w);
    }
    if let Some(c) = &t.info.container {
        w.field("container");
        c.write_json(w);
    }
    if let Some(h) = &t.info.health_check {
        w.field("health_check");
        h.write_json(w);
    }
    w.end_object();
}

thread_local! {
    /// The resources of the task rendered last on this thread, and their summary. A
    /// framework's tasks mostly share one shape (the instances of one app, the tasks of one
    /// job), and parsing a task's resources took a third of rendering its entry.
    static LAST_SUMMARY: RefCell<(Vec<Resource>, String)> =
        const { RefCell::new((Vec::new(), String::new())) };
}

/// The summary object of a task's own resources, as Mesos shows it.
fn write_resources_summary(resources: &[Resource], w: &mut Writer) {
    LAST_SUMMARY.with_borrow_mut(|(last, json)| {
        if json.is_empty() || last.as_slice() != resources {
            let mut summary = Writer::default();
            write_summary(&Resources::from_proto_lossy(resources), &mut summary);
            *json = summary.finish();
            last.clear();
            last.extend_from_slice(resources);
        }
        w.raw(json);
    });
}

/// One entry of a task's `statuses`. `last` holds the container status rendered last in
/// this list, and its text.
fn write_status<'a>(
    s: &'a TaskStatus,
    w: &mut Writer,
    last: &mut Option<(&'a ContainerStatus, String)>,
) {
    w.begin_object();
    w.field("state");
    w.string(
        mesos_proto::v1::TaskState::try_from(s.state)
            .map(|st| st.as_str_name())
            .unwrap_or("TASK_UNKNOWN"),
    );
    w.field("timestamp");
    w.double(s.timestamp.unwrap_or(0.0));
    if let Some(labels) = &s.labels {
        if !labels.labels.is_empty() {
            w.field("labels");
            write_labels(labels, w);
        }
    }
    if let Some(cs) = &s.container_status {
        w.field("container_status");
        match last {
            Some((prev, text)) if **prev == **cs => w.raw(text),
            _ => {
                let start = w.as_str().len();
                cs.write_json(w);
                let text = w.as_str().get(start..).unwrap_or_default().to_owned();
                *last = Some((cs, text));
            }
        }
    }
    if let Some(h) = s.healthy {
        w.field("healthy");
        w.bool(h);
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::completed::CompletedTasks;

    /// A document with two lists of `n` entries spliced in.
    fn doc(lists: &[&CompletedTasks]) -> StateDoc {
        let mut text = String::from("{");
        let mut splices = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("\"l{i}\":["));
            splices.push((text.len(), list.pieces()));
            text.push(']');
        }
        text.push('}');
        StateDoc { text, splices }
    }

    /// The body's text, and how often it paused.
    fn body_text(mut body: StateBody) -> (String, usize) {
        let mut sent = Vec::new();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut pauses = 0;
        loop {
            let frame = match Pin::new(&mut body).poll_frame(&mut cx) {
                Poll::Ready(Some(frame)) => frame,
                Poll::Ready(None) => break,
                Poll::Pending => {
                    pauses += 1;
                    continue;
                }
            };
            let data = frame.unwrap().into_data().unwrap();
            assert!(!data.is_empty());
            sent.extend_from_slice(&data);
            assert_eq!(
                body.size_hint().exact(),
                Some(body.frames.iter().map(|f| f.len() as u64).sum())
            );
        }
        assert!(body.is_end_stream());
        (String::from_utf8(sent).unwrap(), pauses)
    }

    /// A task using `cpus` with these statuses, each with a container status on `ip`.
    fn task(cpus: f64, ips: &[&str]) -> Task {
        use mesos_proto::v1::{
            network_info::IpAddress, ContainerId, NetworkInfo, TaskId as WireTaskId, TaskInfo,
            TaskState,
        };
        let info = TaskInfo {
            task_id: WireTaskId {
                value: format!("t-{cpus}"),
            },
            resources: vec![
                mesos_proto::resource::scalar("cpus", cpus),
                mesos_proto::resource::scalar("mem", 32.0),
            ],
            ..Default::default()
        };
        let statuses = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| TaskStatus {
                state: [
                    TaskState::TaskStarting,
                    TaskState::TaskRunning,
                    TaskState::TaskFinished,
                ][i % 3] as i32,
                timestamp: Some(1_764_244_000.5 + i as f64),
                container_status: Some(Box::new(ContainerStatus {
                    container_id: Some(ContainerId {
                        value: "c".into(),
                        parent: None,
                    }),
                    network_infos: vec![NetworkInfo {
                        ip_addresses: vec![IpAddress {
                            protocol: None,
                            ip_address: Some((*ip).into()),
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            })
            .map(std::sync::Arc::new)
            .collect();
        Task {
            info: std::sync::Arc::new(info),
            framework_id: mesos_proto::id::FrameworkId::generated("f"),
            agent_id: mesos_proto::id::AgentId::generated("a"),
            state: TaskState::TaskFinished,
            resources: Resources::new(),
            role: "*".into(),
            statuses,
            status_update_state: None,
            status_update_uuid: None,
            holds_resources: false,
        }
    }

    #[test]
    fn repeated_parts_of_entries_are_written_as_they_were_the_first_time() {
        let one = task(0.5, &["10.0.0.1", "10.0.0.1", "10.0.0.1"]);
        let two = task(2.0, &["10.0.0.1", "10.0.0.2", "10.0.0.1"]);
        let first = task_entry(&one);
        let other = task_entry(&two);
        assert_eq!(task_entry(&one), first);
        // Each entry shows its own resources, however the previous one looked.
        assert!(first.contains(r#""resources":{"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.5}"#));
        assert!(other.contains(r#""resources":{"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":2.0}"#));
        // A changed container status is written as it is, and the one after it too.
        let ips: Vec<&str> = other
            .match_indices("10.0.0.")
            .map(|(i, _)| &other[i..i + 8])
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.1"]);
        let cs = r#""container_status":{"container_id":{"value":"c"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"10.0.0.1"}]}]}"#;
        assert_eq!(first.matches(cs).count(), 3, "{first}");
    }

    #[test]
    fn no_resources_read_as_the_summary_writes_them() {
        assert_eq!(Resources::new().summary_json(), NO_RESOURCES);
    }

    #[test]
    fn a_snapshot_reads_the_same_as_text_and_as_a_body() {
        let entry = |n: usize| format!(r#"{{"id":"t{n}","timestamp":{n}.25}}"#);
        let mut many = CompletedTasks::default();
        for n in 0..3000 {
            many.push(&entry(n), 1000);
        }
        let empty = CompletedTasks::default();
        let mut one = CompletedTasks::default();
        one.push(&entry(7), 1000);
        let want = format!(
            r#"{{"l0":[{}],"l1":[],"l2":[{}]}}"#,
            (2000..3000).map(entry).collect::<Vec<_>>().join(","),
            entry(7)
        );
        let lists = [&many, &empty, &one];
        assert_eq!(doc(&lists).len(), want.len());
        assert_eq!(doc(&lists).into_string(), want);
        let body = doc(&lists).into_body(String::new(), "");
        assert_eq!(body.size_hint().exact(), Some(want.len() as u64));
        assert_eq!(body_text(body), (want.clone(), 0));
        let jsonp = doc(&lists).into_body("cb(".into(), ");");
        assert_eq!(body_text(jsonp), (format!("cb({want});"), 0));
    }

    #[test]
    fn a_large_body_pauses_now_and_then() {
        let text = format!("[\"{}\"]", "x".repeat(5 * BURST_BYTES));
        let doc = StateDoc {
            text: text.clone(),
            splices: Vec::new(),
        };
        let (sent, pauses) = body_text(doc.into_body(String::new(), ""));
        assert_eq!(sent, text);
        assert_eq!(pauses, 5);
    }
}
