//! `berth run`'s flags and the TaskInfo they describe. Pure: flags in, TaskInfo or a clear error
//! naming the bad value out; nothing starts before this has succeeded.
//!
//! Flags follow `mesos-execute` where it has them (`--master`, `--name`, `--command`,
//! `--shell`, `--resources`, `--env`, `--role`, `--framework-name`, `--kill-after`,
//! `--content-type`, `--task`).

use std::time::Duration;

use clap::{Args, ValueEnum};
use mesos_proto::v1::container_info::docker_info::{Network, PortMapping};
use mesos_proto::v1::container_info::{self, DockerInfo};
use mesos_proto::v1::{
    environment, volume, AgentId, CommandInfo, ContainerInfo, DurationInfo, Environment,
    KillPolicy, NetworkInfo, Parameter, TaskId, TaskInfo, Volume,
};
use mesos_proto::{resource, MesosJson};

/// Encoding used on the wire to the master: protobuf unless told otherwise, like mesos-execute
/// and the scheduler library's default ([`mesos_scheduler::ContentType`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContentType {
    /// `application/json`
    Json,
    /// `application/x-protobuf`
    Protobuf,
}

impl ContentType {
    /// The flag's value naming this encoding (`--content-type json`).
    pub fn arg(self) -> &'static str {
        match self {
            ContentType::Json => "json",
            ContentType::Protobuf => "protobuf",
        }
    }
}

impl From<ContentType> for mesos_scheduler::ContentType {
    fn from(value: ContentType) -> Self {
        match value {
            ContentType::Json => mesos_scheduler::ContentType::Json,
            ContentType::Protobuf => mesos_scheduler::ContentType::Protobuf,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`level`, `msg`, fields, `time`), like the seed's log.
    Json,
}

/// `berth run`: launch one task the way `mesos-execute` does and follow it to the end.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Master to use (`http://host:5050`); without it, an embedded cluster runs in this process.
    #[arg(long)]
    pub master: Option<String>,
    /// Task name (also the task ID).
    #[arg(long)]
    pub name: Option<String>,
    /// Docker image; makes it a Docker task (ContainerInfo type DOCKER).
    #[arg(long)]
    pub image: Option<String>,
    /// The command (alternative to the trailing command).
    #[arg(long)]
    pub command: Option<String>,
    /// Run the command through `/bin/sh -c` (default).
    #[arg(long, overrides_with = "no_shell")]
    pub shell: bool,
    /// Run the command as an executable with the trailing words as its arguments.
    #[arg(long = "no-shell")]
    pub no_shell: bool,
    /// Task resources, Mesos text format.
    #[arg(long, default_value = "cpus:1;mem:128")]
    pub resources: String,
    /// CPUs (overrides `cpus` in --resources).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory in MB (overrides `mem` in --resources).
    #[arg(long)]
    pub mem: Option<f64>,
    /// Environment variable for the task, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Volume `HOST:CONTAINER[:ro|:rw]` (repeatable).
    #[arg(long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volume: Vec<String>,
    /// Docker network: host, bridge, none or user:NAME.
    #[arg(long)]
    pub network: Option<String>,
    /// Port mapping `HOST:CONTAINER[/PROTO]` (repeatable); host ports are taken from the offer.
    #[arg(long = "port", value_name = "HOST:CONTAINER[/PROTO]")]
    pub port: Vec<String>,
    /// Run the container privileged.
    #[arg(long)]
    pub privileged: bool,
    /// Docker parameter `KEY=VALUE` (repeatable), as DockerInfo.parameters.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub param: Vec<String>,
    /// Pull the image even when it is present.
    #[arg(long = "force-pull")]
    pub force_pull: bool,
    /// Kill the task after this long (e.g. `30s`, `2m`).
    #[arg(long = "kill-after", value_parser = parse_duration)]
    pub kill_after: Option<Duration>,
    /// Grace period between SIGTERM and SIGKILL when the task is killed.
    #[arg(long = "grace-period", value_parser = parse_duration)]
    pub grace_period: Option<Duration>,
    /// Framework role.
    #[arg(long, default_value = "*")]
    pub role: String,
    /// Framework name.
    #[arg(long = "framework-name", default_value = "berth-run")]
    pub framework_name: String,
    /// Encoding of calls and events.
    #[arg(long = "content-type", value_enum, default_value_t = ContentType::Protobuf)]
    pub content_type: ContentType,
    /// A TaskInfo in Mesos JSON (a file path, `file://` URL, or the JSON itself), like
    /// mesos-execute's `--task`. Its `agent_id` is replaced by the offer's.
    #[arg(long)]
    pub task: Option<String>,
    /// Only launch on this agent (also fills `agent_id` in --dry-run output).
    #[arg(long = "agent-id")]
    pub agent_id: Option<String>,
    /// Print the TaskInfo that would be launched, as Mesos JSON, and exit.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Log format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Label `KEY=VALUE` put on the containers of the embedded cluster (repeatable; ignored
    /// with --master).
    #[arg(long = "container-label", value_name = "KEY=VALUE")]
    pub container_label: Vec<String>,
    /// The command and its arguments (after `--`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub args: Vec<String>,
}

/// A flag value that cannot be used; the message names the flag and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct ArgError {
    /// The flag, e.g. `--volume`.
    pub flag: &'static str,
    /// What is wrong, quoting the value.
    pub message: String,
}

fn bad(flag: &'static str, message: impl Into<String>) -> ArgError {
    ArgError {
        flag,
        message: message.into(),
    }
}

/// Parses `30s`, `2m`, `1h30m`, `1.5s`, `500ms` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("'{s}' is not a valid duration"));
    }
    if let Some(secs) = t.strip_suffix('s').and_then(|n| n.parse::<f64>().ok()) {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(t).map_err(|e| format!("'{s}' is not a valid duration ({e})"))
}

/// Parses `KEY=VALUE` labels for `flag`.
pub fn parse_labels(
    flag: &'static str,
    items: &[String],
) -> Result<std::collections::BTreeMap<String, String>, ArgError> {
    let mut out = std::collections::BTreeMap::new();
    for kv in items {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => return Err(bad(flag, format!("'{kv}' is not KEY=VALUE"))),
        }
    }
    Ok(out)
}

/// `cpus:0.5;mem:100` for messages.
pub fn describe_resources(resources: &[mesos_proto::v1::Resource]) -> String {
    resources
        .iter()
        .map(|r| match (&r.scalar, &r.ranges) {
            (Some(s), _) => format!("{}:{}", r.name, s.value),
            (None, Some(rs)) => format!(
                "{}:[{}]",
                r.name,
                rs.range
                    .iter()
                    .map(|x| format!("{}-{}", x.begin, x.end))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => r.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn duration_info(d: Duration) -> DurationInfo {
    DurationInfo {
        nanoseconds: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

impl RunArgs {
    fn shell(&self) -> bool {
        !self.no_shell
    }

    /// Reads the `--task` value: inline JSON, `file://PATH` or a path.
    fn read_task_file(spec: &str) -> Result<TaskInfo, ArgError> {
        let text = if spec.trim_start().starts_with('{') {
            spec.to_string()
        } else {
            let path = spec.strip_prefix("file://").unwrap_or(spec);
            std::fs::read_to_string(path)
                .map_err(|e| bad("--task", format!("cannot read '{path}': {e}")))?
        };
        match TaskInfo::from_json_str(&text) {
            Ok(t) => Ok(t),
            // Like mesos-execute, the agent comes from the offer: a missing agent_id is fine.
            Err(mesos_proto::JsonError::MissingRequired(paths))
                if paths
                    .iter()
                    .all(|p| p == "agent_id" || p == "agent_id.value") =>
            {
                let mut v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| bad("--task", format!("'{spec}' is not JSON: {e}")))?;
                v["agent_id"] = serde_json::json!({"value": ""});
                TaskInfo::from_json_value(&v)
                    .map_err(|e| bad("--task", format!("'{spec}' is not a valid TaskInfo: {e}")))
            }
            Err(e) => Err(bad(
                "--task",
                format!("'{spec}' is not a valid TaskInfo: {e}"),
            )),
        }
    }

    /// The TaskInfo these flags describe (`agent_id` empty unless `--agent-id`), after checking
    /// every flag value.
    pub fn task_info(&self) -> Result<TaskInfo, ArgError> {
        let agent_id = AgentId {
            value: self.agent_id.clone().unwrap_or_default(),
        };
        if let Some(spec) = &self.task {
            let mut task = Self::read_task_file(spec)?;
            if let Some(id) = &self.agent_id {
                task.agent_id = AgentId { value: id.clone() };
            }
            if task.command.is_none() && task.executor.is_none() {
                return Err(bad(
                    "--task",
                    "the TaskInfo has neither `command` nor `executor`",
                ));
            }
            return Ok(task);
        }

        parse_labels("--container-label", &self.container_label)?;
        let name = self
            .name
            .clone()
            .ok_or_else(|| bad("--name", "a task name is required"))?;
        mesos_proto::id::validate(&name).map_err(|e| bad("--name", format!("'{name}': {e}")))?;

        let command = self.command_info()?;
        let resources = self.resources()?;

        let container = match &self.image {
            Some(image) => Some(Box::new(self.container_info(image)?)),
            None => {
                self.require_docker_only_flags_absent()?;
                None
            }
        };
        let kill_policy = self.grace_period.map(|g| KillPolicy {
            grace_period: Some(duration_info(g)),
        });
        Ok(TaskInfo {
            name: name.clone(),
            task_id: TaskId { value: name },
            agent_id,
            resources,
            command: Some(Box::new(command)),
            container,
            kill_policy,
            ..Default::default()
        })
    }

    fn command_info(&self) -> Result<CommandInfo, ArgError> {
        if self.command.is_some() && !self.args.is_empty() {
            return Err(bad(
                "--command",
                format!("give the command either with --command or after `--`, not both (got trailing '{}')", self.args.join(" ")),
            ));
        }
        let mut variables = Vec::new();
        for kv in &self.env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad("--env", format!("'{kv}' is not KEY=VALUE")))?;
            if k.is_empty() {
                return Err(bad("--env", format!("'{kv}' has an empty name")));
            }
            variables.push(environment::Variable {
                name: k.to_string(),
                r#type: Some(environment::variable::Type::Value as i32),
                value: Some(v.to_string()),
                secret: None,
            });
        }
        let environment = (!variables.is_empty()).then_some(Environment { variables });
        let (value, arguments) = if self.shell() {
            let value = match (&self.command, self.args.is_empty()) {
                (Some(c), _) => c.clone(),
                (None, false) => self.args.join(" "),
                (None, true) if self.image.is_some() || self.task.is_some() => {
                    return Err(bad(
                        "--command",
                        "no command given; use --no-shell to run the image's default command",
                    ))
                }
                (None, true) => return Err(bad("--command", "no command given")),
            };
            if value.trim().is_empty() {
                return Err(bad("--command", "the command is empty"));
            }
            (Some(value), Vec::new())
        } else {
            match &self.command {
                Some(c) => (Some(c.clone()), self.args.clone()),
                None => {
                    let mut it = self.args.iter().cloned();
                    match it.next() {
                        Some(first) if self.image.is_none() => (Some(first), it.collect()),
                        // Docker: value + arguments are all appended to the image's entrypoint.
                        Some(first) => (Some(first), it.collect()),
                        None if self.image.is_some() => (None, Vec::new()),
                        None => return Err(bad("--no-shell", "no executable given")),
                    }
                }
            }
        };
        Ok(CommandInfo {
            environment,
            shell: if self.shell() { None } else { Some(false) },
            value,
            arguments,
            ..Default::default()
        })
    }

    fn resources(&self) -> Result<Vec<mesos_proto::v1::Resource>, ArgError> {
        let mut resources = resource::parse(&self.resources)
            .map_err(|e| bad("--resources", format!("'{}': {e}", self.resources)))?;
        for (flag, name, amount) in [("--cpus", "cpus", self.cpus), ("--mem", "mem", self.mem)] {
            let Some(amount) = amount else { continue };
            if !amount.is_finite() || amount <= 0.0 {
                return Err(bad(flag, format!("'{amount}' must be a positive number")));
            }
            match resources.iter_mut().find(|r| r.name == name) {
                Some(r) => *r = resource::scalar(name, amount),
                None => resources.push(resource::scalar(name, amount)),
            }
        }
        for r in &resources {
            if let Some(s) = &r.scalar {
                if s.value <= 0.0 {
                    return Err(bad(
                        "--resources",
                        format!("'{}' must be positive in '{}'", r.name, self.resources),
                    ));
                }
            }
        }
        if resources.is_empty() {
            return Err(bad(
                "--resources",
                format!("'{}' names no resources", self.resources),
            ));
        }
        // Host ports of --port mappings are resources the task must hold.
        let ports = self.port_mappings()?;
        if !ports.is_empty() && resources.iter().all(|r| r.name != "ports") {
            let bounds: Vec<(u64, u64)> = ports
                .iter()
                .map(|p| (u64::from(p.host_port), u64::from(p.host_port)))
                .collect();
            resources.push(resource::ports(&bounds));
        }
        Ok(resources)
    }

    fn port_mappings(&self) -> Result<Vec<PortMapping>, ArgError> {
        let mut out = Vec::new();
        for spec in &self.port {
            let (ports, proto) = match spec.split_once('/') {
                Some((p, proto)) => (p, Some(proto.to_ascii_lowercase())),
                None => (spec.as_str(), None),
            };
            if let Some(p) = &proto {
                if p != "tcp" && p != "udp" && p != "sctp" {
                    return Err(bad(
                        "--port",
                        format!("'{spec}': protocol must be tcp, udp or sctp"),
                    ));
                }
            }
            let (h, c) = ports
                .split_once(':')
                .ok_or_else(|| bad("--port", format!("'{spec}' is not HOST:CONTAINER[/PROTO]")))?;
            let parse = |s: &str| -> Result<u32, ArgError> {
                s.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .map(u32::from)
                    .ok_or_else(|| bad("--port", format!("'{spec}': '{s}' is not a port number")))
            };
            out.push(PortMapping {
                host_port: parse(h)?,
                container_port: parse(c)?,
                protocol: proto,
            });
        }
        Ok(out)
    }

    fn require_docker_only_flags_absent(&self) -> Result<(), ArgError> {
        let checks: [(&'static str, bool); 6] = [
            ("--network", self.network.is_some()),
            ("--port", !self.port.is_empty()),
            ("--privileged", self.privileged),
            ("--param", !self.param.is_empty()),
            ("--force-pull", self.force_pull),
            ("--volume", !self.volume.is_empty()),
        ];
        match checks.iter().find(|(_, set)| *set) {
            Some((flag, _)) => Err(bad(
                flag,
                "needs --image (it configures the Docker container)",
            )),
            None => Ok(()),
        }
    }

    fn container_info(&self, image: &str) -> Result<ContainerInfo, ArgError> {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return Err(bad("--image", format!("'{image}' is not an image name")));
        }
        let mut network_infos = Vec::new();
        let network = match self
            .network
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => None,
            Some("host") => Some(Network::Host),
            Some("bridge") => Some(Network::Bridge),
            Some("none") => Some(Network::None),
            Some(other) => match other.strip_prefix("user:") {
                Some(name) if !name.is_empty() => {
                    let original = self.network.as_deref().unwrap_or_default();
                    network_infos.push(NetworkInfo {
                        name: Some(original["user:".len()..].to_string()),
                        ..Default::default()
                    });
                    Some(Network::User)
                }
                _ => {
                    return Err(bad(
                        "--network",
                        format!(
                            "'{}' is not host, bridge, none or user:NAME",
                            self.network.as_deref().unwrap_or_default()
                        ),
                    ))
                }
            },
        };
        let port_mappings = self.port_mappings()?;
        if !port_mappings.is_empty()
            && matches!(network, None | Some(Network::Host) | Some(Network::None))
        {
            return Err(bad(
                "--port",
                "port mappings need --network bridge or user:NAME",
            ));
        }
        let mut parameters = Vec::new();
        for kv in &self.param {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad("--param", format!("'{kv}' is not KEY=VALUE")))?;
            if k.is_empty() {
                return Err(bad("--param", format!("'{kv}' has an empty key")));
            }
            if k == "name" {
                return Err(bad(
                    "--param",
                    "'name' cannot be set: berth names the container",
                ));
            }
            parameters.push(Parameter {
                key: k.to_string(),
                value: v.to_string(),
            });
        }
        let mut volumes = Vec::new();
        for spec in &self.volume {
            let parts: Vec<&str> = spec.split(':').collect();
            let (host, container, mode) = match parts.as_slice() {
                [h, c] => (*h, *c, volume::Mode::Rw),
                [h, c, "ro"] => (*h, *c, volume::Mode::Ro),
                [h, c, "rw"] => (*h, *c, volume::Mode::Rw),
                _ => {
                    return Err(bad(
                        "--volume",
                        format!("'{spec}' is not HOST:CONTAINER[:ro|:rw]"),
                    ))
                }
            };
            if host.is_empty() || container.is_empty() {
                return Err(bad("--volume", format!("'{spec}' has an empty path")));
            }
            if !container.starts_with('/') && !host.starts_with('/') {
                return Err(bad(
                    "--volume",
                    format!("'{spec}': host and container paths are both relative"),
                ));
            }
            volumes.push(Volume {
                mode: mode as i32,
                container_path: container.to_string(),
                host_path: Some(host.to_string()),
                ..Default::default()
            });
        }
        Ok(ContainerInfo {
            r#type: container_info::Type::Docker as i32,
            volumes,
            docker: Some(Box::new(DockerInfo {
                image: image.to_string(),
                network: network.map(|n| n as i32),
                port_mappings,
                privileged: self.privileged.then_some(true),
                parameters,
                force_pull_image: self.force_pull.then_some(true),
                ..Default::default()
            })),
            network_infos,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn args(a: &[&str]) -> RunArgs {
        let mut v = vec!["berth-run"];
        v.extend_from_slice(a);
        Cli::try_parse_from(v).expect("flags parse").run
    }

    const SEED_COMMAND: &str = "env && while true; do echo command running; sleep 3; done";

    #[test]
    fn content_type_args_parse_back() {
        for ct in [ContentType::Json, ContentType::Protobuf] {
            assert_eq!(ContentType::from_str(ct.arg(), false), Ok(ct));
        }
    }

    #[test]
    fn seed_flags_build_the_seed_task_info() {
        let a = args(&[
            "--name",
            "DockerContainerTask-1",
            "--agent-id",
            "f6f7b9a4-235d-4855-877f-a49e62294c2b-S0",
            "--image",
            "ugistry.ucloud.cn/library/centos:6.6",
            "--network",
            "bridge",
            "--cpus",
            "0.5",
            "--mem",
            "100",
            "--",
            SEED_COMMAND,
        ]);
        let json = a.task_info().unwrap().to_json_value();
        let expected = serde_json::json!({
            "name": "DockerContainerTask-1",
            "task_id": {"value": "DockerContainerTask-1"},
            "agent_id": {"value": "f6f7b9a4-235d-4855-877f-a49e62294c2b-S0"},
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 100.0}}
            ],
            "command": {"shell": true, "value": SEED_COMMAND},
            "container": {"type": "DOCKER", "docker": {
                "image": "ugistry.ucloud.cn/library/centos:6.6", "network": "BRIDGE", "privileged": false
            }}
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn bad_values_are_refused_naming_flag_and_value() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--name", "t", "--volume", "/a", "--image", "i", "--", "x"],
                "--volume: '/a' is not HOST:CONTAINER[:ro|:rw]",
            ),
            (
                &["--name", "t", "--env", "NOVALUE", "--", "x"],
                "--env: 'NOVALUE' is not KEY=VALUE",
            ),
            (
                &["--name", "t", "--resources", "cpus:x", "--", "x"],
                "--resources: 'cpus:x': bad value 'x' for resource 'cpus'",
            ),
            (
                &[
                    "--name",
                    "t",
                    "--image",
                    "i",
                    "--network",
                    "weird",
                    "--",
                    "x",
                ],
                "--network: 'weird' is not host, bridge, none or user:NAME",
            ),
            (
                &[
                    "--name",
                    "t",
                    "--image",
                    "i",
                    "--network",
                    "bridge",
                    "--port",
                    "80",
                    "--",
                    "x",
                ],
                "--port: '80' is not HOST:CONTAINER[/PROTO]",
            ),
            (
                &[
                    "--name", "t", "--image", "i", "--param", "name=x", "--", "x",
                ],
                "--param: 'name' cannot be set: berth names the container",
            ),
            (
                &["--name", "t", "--privileged", "--", "x"],
                "--privileged: needs --image (it configures the Docker container)",
            ),
            (
                &["--name", "a/b", "--", "x"],
                "--name: 'a/b': 'a/b' contains invalid characters",
            ),
            (&["--name", "t"], "--command: no command given"),
            (
                &["--name", "t", "--cpus", "-1", "--", "x"],
                "--cpus: '-1' must be a positive number",
            ),
        ];
        for (flags, message) in cases {
            let err = args(flags).task_info().unwrap_err();
            assert_eq!(err.to_string(), *message, "flags {flags:?}");
        }
    }

    #[test]
    fn docker_flags_fill_docker_info() {
        let a = args(&[
            "--name",
            "t",
            "--image",
            "img",
            "--network",
            "user:mynet",
            "--port",
            "31001:80/UDP",
            "--privileged",
            "--param",
            "label=a=b",
            "--force-pull",
            "--volume",
            "/h:/c:ro",
            "--env",
            "A=1",
            "--grace-period",
            "2s",
            "--no-shell",
            "--",
            "echo",
            "hi",
        ]);
        let t = a.task_info().unwrap();
        let v = t.to_json_value();
        assert_eq!(v["container"]["docker"]["network"], "USER");
        assert_eq!(v["container"]["network_infos"][0]["name"], "mynet");
        assert_eq!(
            v["container"]["docker"]["port_mappings"][0]["protocol"],
            "udp"
        );
        assert_eq!(v["container"]["docker"]["parameters"][0]["value"], "a=b");
        assert_eq!(v["container"]["volumes"][0]["mode"], "RO");
        assert_eq!(v["command"]["shell"], false);
        assert_eq!(v["command"]["value"], "echo");
        assert_eq!(v["command"]["arguments"][0], "hi");
        assert_eq!(
            v["kill_policy"]["grace_period"]["nanoseconds"],
            2_000_000_000i64
        );
        assert_eq!(
            mesos_proto::resource::ranges_of(&t.resources, "ports"),
            vec![(31001, 31001)]
        );
    }

    #[test]
    fn durations_accept_mesos_and_human_forms() {
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
    }
}
