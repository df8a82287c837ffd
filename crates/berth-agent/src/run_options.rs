//! The container a task becomes: Mesos's `Docker::RunOptions::create` (mesos-v1.md §5.4–5.7),
//! producing the Engine API's create body instead of a `docker run` argv.
//!
//! Pure: a [`TaskInfo`] and a [`RunContext`] in, a [`ContainerCreateBody`] or a
//! [`RunOptionsError`] (whose `Display` is Mesos's text) out.
//!
//! Each `docker run` flag Mesos would pass maps to the Engine API field the docker CLI fills
//! for it; `DockerInfo.parameters` (`--key=value` argv items in Mesos) are mapped the same way
//! and applied after Mesos's own flags, so that, as with the CLI, a later setting wins. A
//! parameter berth cannot map is an error naming the key, never silently dropped.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigLogConfig, NetworkingConfig, PortBinding, ResourcesUlimits,
};
use mesos_proto::resource::{ranges_contain, ranges_of, scalar_sum};
use mesos_proto::v1::container_info::docker_info::Network;
use mesos_proto::v1::environment::variable::Type as VariableType;
use mesos_proto::v1::volume::source::Type as SourceType;
use mesos_proto::v1::volume::Mode;
use mesos_proto::v1::{container_info, ContainerInfo, TaskInfo};

/// Shares per cpu (`CPU_SHARES_PER_CPU`).
const CPU_SHARES_PER_CPU: f64 = 1024.0;
/// Smallest `--cpu-shares` Mesos passes.
const MIN_CPU_SHARES: i64 = 2;
/// CFS period, µs.
const CPU_CFS_PERIOD_US: f64 = 100_000.0;
/// Smallest CFS quota, µs.
const MIN_CPU_CFS_QUOTA_US: i64 = 1_000;
/// Smallest `--memory`, bytes (32 MB).
const MIN_MEMORY_BYTES: i64 = 32 * 1024 * 1024;
const MB: f64 = 1024.0 * 1024.0;

/// What the builder needs besides the task.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    /// The container name (`mesos-<agent id>.<container id>`).
    pub container_name: &'a str,
    /// The sandbox on the host.
    pub host_sandbox: &'a Path,
    /// The sandbox inside the container (`/mnt/mesos/sandbox`).
    pub mapped_sandbox: &'a str,
    /// Labels every container of this agent carries.
    pub labels: &'a BTreeMap<String, String>,
    /// The host's memory, for `--oom-score-adj` (§5.6); `None` skips it.
    pub host_memory_bytes: Option<u64>,
}

/// Why a task cannot become a container; `Display` is Mesos's text where Mesos has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunOptionsError {
    /// The task has no `command` (custom executors are not supported).
    #[error("Only command tasks are supported: the task has no CommandInfo")]
    NoCommand,
    /// `ContainerInfo` is missing or not of type DOCKER.
    #[error("Only DOCKER containers are supported")]
    NotDocker,
    /// `shell` true and no `value`.
    #[error("Shell specified but no command value provided")]
    ShellWithoutValue,
    /// A volume whose host and container paths are both relative.
    #[error("Both host_path '{host_path}' and container_path '{container_path}' of a volume are relative")]
    BothPathsRelative {
        /// `host_path`.
        host_path: String,
        /// `container_path`.
        container_path: String,
    },
    /// Two volumes name different Docker volume drivers.
    #[error("Only one volume driver is supported")]
    MultipleVolumeDrivers,
    /// A volume with neither `host_path` nor `source`.
    #[error("Host path or volume source is required")]
    NoVolumeSource,
    /// USER network without `network_infos`.
    #[error("No network info found in container info")]
    NoNetworkInfo,
    /// USER network with several `network_infos`.
    #[error("Only a single network can be defined in Docker run")]
    MultipleNetworks,
    /// USER network whose `network_infos[0]` has no name.
    #[error("No network name found in network info")]
    NoNetworkName,
    /// `hostname` with host networking.
    #[error("Unable to set hostname with host network mode")]
    HostnameWithHostNetwork,
    /// Port mappings with host or none networking.
    #[error("Port mappings are only supported for bridge and user-defined networks")]
    PortMappingsNeedBridgeOrUser,
    /// Port mappings on a task without resources.
    #[error("Port mappings require resources")]
    PortMappingsRequireResources,
    /// Port mappings on a task without a `ports` resource.
    #[error("Port mappings require port resources")]
    PortMappingsRequirePortResources,
    /// A `host_port` outside the task's `ports`.
    #[error("Port [{0}] not included in resources")]
    PortNotInResources(u32),
    /// A parameter berth has no Engine API equivalent for (berth only: the docker CLI
    /// would have refused an unknown flag).
    #[error("Unsupported docker parameter '{key}'")]
    UnsupportedParameter {
        /// The parameter key.
        key: String,
    },
    /// A parameter value that does not parse (berth only).
    #[error("Invalid value '{value}' for docker parameter '{key}': {reason}")]
    BadParameter {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A parameter Mesos forbids or berth cannot honour (berth only).
    #[error("Docker parameter '{key}' is not allowed: {reason}")]
    ForbiddenParameter {
        /// The key.
        key: String,
        /// Why.
        reason: &'static str,
    },
}

/// The network mode Mesos would pass as `--net`, before parameters.
fn network_mode(
    container: &ContainerInfo,
    docker: &container_info::DockerInfo,
) -> Result<String, RunOptionsError> {
    let network = docker
        .network
        .and_then(|n| Network::try_from(n).ok())
        .unwrap_or(Network::Host);
    match network {
        Network::Host => Ok("host".to_owned()),
        Network::Bridge => Ok("bridge".to_owned()),
        Network::None => Ok("none".to_owned()),
        Network::User => {
            let first = container
                .network_infos
                .first()
                .ok_or(RunOptionsError::NoNetworkInfo)?;
            if container.network_infos.len() > 1 {
                return Err(RunOptionsError::MultipleNetworks);
            }
            first
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or(RunOptionsError::NoNetworkName)
        }
    }
}

/// The environment Mesos passes (§5.4), sorted by name.
pub fn environment(
    task: &TaskInfo,
    container_name: &str,
    mapped_sandbox: &str,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    // The hook-provided base map is empty for command tasks, so every variable is taken;
    // a later duplicate replaces an earlier one (std::map assignment in Mesos).
    if let Some(vars) = task.command.as_ref().and_then(|c| c.environment.as_ref()) {
        for var in &vars.variables {
            let value = match var.r#type.and_then(|t| VariableType::try_from(t).ok()) {
                // Secrets are not resolved by the Docker containerizer: empty value.
                Some(VariableType::Secret) => String::new(),
                _ => var.value.clone().unwrap_or_default(),
            };
            env.insert(var.name.clone(), value);
        }
    }
    env.insert("MESOS_SANDBOX".to_owned(), mapped_sandbox.to_owned());
    env.insert("MESOS_CONTAINER_NAME".to_owned(), container_name.to_owned());
    if let Some(first) = task.resources.first() {
        env.insert("MESOS_ALLOCATION_ROLE".to_owned(), allocation_role(first));
    }
    env
}

/// A resource's allocation role: `allocation_info.role`, else the (deprecated) `role`, else `*`.
#[allow(deprecated)] // `Resource.role` is how pre-MULTI_ROLE frameworks say it
pub fn allocation_role(resource: &mesos_proto::v1::Resource) -> String {
    resource
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .or_else(|| resource.role.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "*".to_owned())
}

/// Builds the create body for `task` (§5.4–5.7).
pub fn build(
    task: &TaskInfo,
    ctx: &RunContext<'_>,
) -> Result<ContainerCreateBody, RunOptionsError> {
    let command = task.command.as_ref().ok_or(RunOptionsError::NoCommand)?;
    let container = task.container.as_ref().ok_or(RunOptionsError::NotDocker)?;
    if container.r#type != container_info::Type::Docker as i32 {
        return Err(RunOptionsError::NotDocker);
    }
    let docker = container
        .docker
        .as_ref()
        .ok_or(RunOptionsError::NotDocker)?;

    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let mut host = HostConfig::default();

    // §5.5 command.
    if command.shell.unwrap_or(true) {
        let value = command
            .value
            .clone()
            .ok_or(RunOptionsError::ShellWithoutValue)?;
        body.entrypoint = Some(vec!["/bin/sh".to_owned()]);
        body.cmd = Some(vec!["-c".to_owned(), value]);
    } else {
        let args: Vec<String> = command
            .value
            .iter()
            .chain(command.arguments.iter())
            .cloned()
            .collect();
        if !args.is_empty() {
            body.cmd = Some(args);
        }
    }

    // §5.4 environment.
    body.env = Some(
        environment(task, ctx.container_name, ctx.mapped_sandbox)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    );

    // §5.6 resources.
    apply_resources(task, ctx, &mut host);

    // §5.7 volumes, then the sandbox.
    let mut binds = Vec::new();
    let mut volume_driver: Option<String> = None;
    #[allow(deprecated)] // DockerInfo.volume_driver still changes how relative host paths read
    let legacy_driver = docker.volume_driver.clone();
    for volume in &container.volumes {
        let target = if volume.container_path.starts_with('/') {
            volume.container_path.clone()
        } else {
            format!("{}/{}", ctx.mapped_sandbox, volume.container_path)
        };
        let mode = if volume.mode == Mode::Ro as i32 {
            "ro"
        } else {
            "rw"
        };
        let source = if let Some(host_path) = &volume.host_path {
            let host_relative = !host_path.starts_with('/');
            if host_relative && !volume.container_path.starts_with('/') {
                return Err(RunOptionsError::BothPathsRelative {
                    host_path: host_path.clone(),
                    container_path: volume.container_path.clone(),
                });
            }
            if host_relative && legacy_driver.is_none() {
                ctx.host_sandbox.join(host_path).display().to_string()
            } else {
                host_path.clone()
            }
        } else if let Some(source) = &volume.source {
            match source.r#type.and_then(|t| SourceType::try_from(t).ok()) {
                Some(SourceType::DockerVolume) => {
                    let Some(dv) = &source.docker_volume else {
                        return Err(RunOptionsError::NoVolumeSource);
                    };
                    if let Some(driver) = &dv.driver {
                        if volume_driver.as_ref().is_some_and(|d| d != driver) {
                            return Err(RunOptionsError::MultipleVolumeDrivers);
                        }
                        volume_driver = Some(driver.clone());
                    }
                    dv.name.clone()
                }
                // Other source types are silently skipped by Mesos's Docker containerizer.
                _ => continue,
            }
        } else {
            return Err(RunOptionsError::NoVolumeSource);
        };
        binds.push(format!("{source}:{target}:{mode}"));
    }
    binds.push(format!(
        "{}:{}",
        ctx.host_sandbox.display(),
        ctx.mapped_sandbox
    ));
    host.binds = Some(binds);
    host.volume_driver = volume_driver.or(legacy_driver);

    // Network: the first `net`/`network` parameter replaces DockerInfo's.
    let network_param = docker
        .parameters
        .iter()
        .position(|p| p.key == "net" || p.key == "network");
    let network = match network_param {
        Some(i) => docker.parameters[i].value.clone(),
        None => network_mode(container, docker)?,
    };
    host.network_mode = Some(network.clone());

    if let Some(hostname) = &container.hostname {
        if network == "host" {
            return Err(RunOptionsError::HostnameWithHostNetwork);
        }
        body.hostname = Some(hostname.clone());
    }

    // Port mappings, checked against the task's `ports`.
    if !docker.port_mappings.is_empty() {
        if network == "host" || network == "none" {
            return Err(RunOptionsError::PortMappingsNeedBridgeOrUser);
        }
        if task.resources.is_empty() {
            return Err(RunOptionsError::PortMappingsRequireResources);
        }
        let ports = ranges_of(&task.resources, "ports");
        if ports.is_empty() {
            return Err(RunOptionsError::PortMappingsRequirePortResources);
        }
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut exposed = Vec::new();
        for mapping in &docker.port_mappings {
            if !ranges_contain(&ports, u64::from(mapping.host_port)) {
                return Err(RunOptionsError::PortNotInResources(mapping.host_port));
            }
            let proto = mapping
                .protocol
                .as_deref()
                .map_or_else(|| "tcp".to_owned(), str::to_lowercase);
            let key = format!("{}/{proto}", mapping.container_port);
            add_binding(
                &mut bindings,
                &mut exposed,
                key,
                None,
                mapping.host_port.to_string(),
            );
        }
        host.port_bindings = Some(bindings);
        body.exposed_ports = Some(exposed);
    }

    if docker.privileged.unwrap_or(false) {
        host.privileged = Some(true);
    }

    let mut labels: HashMap<String, String> = ctx
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut endpoint: Option<EndpointSettings> = None;

    for (index, param) in docker.parameters.iter().enumerate() {
        if Some(index) == network_param {
            continue;
        }
        apply_parameter(
            &param.key,
            &param.value,
            &mut body,
            &mut host,
            &mut labels,
            &mut endpoint,
        )?;
    }

    if let Some(endpoint) = endpoint {
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network, endpoint)])),
        });
    }
    body.labels = Some(labels);
    body.host_config = Some(host);
    Ok(body)
}

fn add_binding(
    bindings: &mut HashMap<String, Option<Vec<PortBinding>>>,
    exposed: &mut Vec<String>,
    key: String,
    host_ip: Option<String>,
    host_port: String,
) {
    if !exposed.contains(&key) {
        exposed.push(key.clone());
    }
    bindings
        .entry(key)
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding {
            host_ip: Some(host_ip.unwrap_or_default()),
            host_port: Some(host_port),
        });
}

/// §5.6: cpus, mem and limits of the task's resources.
#[allow(clippy::cast_possible_truncation)] // values are clamped to sane ranges first
fn apply_resources(task: &TaskInfo, ctx: &RunContext<'_>, host: &mut HostConfig) {
    let has = |name: &str| task.resources.iter().any(|r| r.name == name);
    let cpus = has("cpus").then(|| scalar_sum(&task.resources, "cpus"));
    let mem = has("mem").then(|| scalar_sum(&task.resources, "mem"));
    let cpu_limit = task.limits.get("cpus").map(|s| s.value);
    let mem_limit = task.limits.get("mem").map(|s| s.value);

    if let Some(cpus) = cpus {
        host.cpu_shares = Some(((CPU_SHARES_PER_CPU * cpus).floor() as i64).max(MIN_CPU_SHARES));
    }
    if let Some(limit) = cpu_limit.filter(|l| l.is_finite()) {
        host.cpu_quota =
            Some(((CPU_CFS_PERIOD_US * limit).floor() as i64).max(MIN_CPU_CFS_QUOTA_US));
    }
    let mem_bytes = mem.map(|m| ((m * MB).floor() as i64).max(MIN_MEMORY_BYTES));
    match mem_limit {
        None => host.memory = mem_bytes,
        Some(limit) => {
            if limit.is_finite() {
                host.memory = Some(((limit.floor() * MB) as i64).max(MIN_MEMORY_BYTES));
            }
            if let Some(mem_bytes) = mem_bytes {
                host.memory_reservation = Some(mem_bytes);
                let below_limit = !limit.is_finite() || mem.unwrap_or(0.0) < limit;
                if let (true, Some(total)) = (below_limit, ctx.host_memory_bytes.filter(|t| *t > 0))
                {
                    #[allow(clippy::cast_precision_loss)]
                    let adj = 1000.0 - 1000.0 * mem_bytes as f64 / total as f64;
                    host.oom_score_adj = Some(adj.floor().clamp(-1000.0, 1000.0) as i64);
                }
            }
        }
    }
}

fn bad(key: &str, value: &str, reason: &'static str) -> RunOptionsError {
    RunOptionsError::BadParameter {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    }
}

fn push(list: &mut Option<Vec<String>>, value: &str) {
    list.get_or_insert_with(Vec::new).push(value.to_owned());
}

fn key_value<'v>(key: &str, value: &'v str) -> Result<(&'v str, &'v str), RunOptionsError> {
    value
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| bad(key, value, "expected NAME=VALUE"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, RunOptionsError> {
    match value {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(key, value, "expected true or false")),
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64, RunOptionsError> {
    value
        .parse()
        .map_err(|_| bad(key, value, "expected an integer"))
}

/// A byte size as the docker CLI reads it (`512m`, `1g`, `1024`, `64kb`; binary units);
/// `-1` is passed through (unlimited swap).
pub fn parse_size(value: &str) -> Option<i64> {
    let lower = value.trim().to_ascii_lowercase();
    if lower == "-1" {
        return Some(-1);
    }
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    #[allow(clippy::cast_possible_truncation)]
    let bytes = (number * factor).floor() as i64;
    (bytes >= 0).then_some(bytes)
}

fn parse_size_param(key: &str, value: &str) -> Result<i64, RunOptionsError> {
    parse_size(value).ok_or_else(|| bad(key, value, "expected a size such as 512m or 1g"))
}

/// Maps one `--key=value` the way the docker CLI fills the create body for it.
fn apply_parameter(
    key: &str,
    value: &str,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
    labels: &mut HashMap<String, String>,
    endpoint: &mut Option<EndpointSettings>,
) -> Result<(), RunOptionsError> {
    let forbidden = |reason| {
        Err(RunOptionsError::ForbiddenParameter {
            key: key.to_owned(),
            reason,
        })
    };
    match key {
        "name" => return forbidden("Mesos names the container"),
        "net" | "network" => {
            return forbidden(
                "only the first net/network parameter is used (one network per container)",
            )
        }
        "rm" => return forbidden("the agent removes containers itself after docker_remove_delay"),
        "restart" => return forbidden("a restarting container would hide the task's exit status"),
        "detach" | "d" => return forbidden("the agent always runs containers detached"),
        "env-file" | "label-file" => return forbidden("files on the agent host are not read"),
        "label" | "l" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            labels.insert(k.to_owned(), v.to_owned());
        }
        "env" | "e" => {
            let env = body.env.get_or_insert_with(Vec::new);
            // `--env=NAME` without a value passes the variable only if set in the CLI's own
            // environment; the agent has no such environment to pass from.
            if !value.contains('=') {
                return Err(bad(key, value, "expected NAME=VALUE"));
            }
            env.push(value.to_owned());
        }
        "cap-add" => push(&mut host.cap_add, value),
        "cap-drop" => push(&mut host.cap_drop, value),
        "user" | "u" => body.user = Some(value.to_owned()),
        "workdir" | "w" => body.working_dir = Some(value.to_owned()),
        "hostname" | "h" => body.hostname = Some(value.to_owned()),
        "domainname" => body.domainname = Some(value.to_owned()),
        "entrypoint" => body.entrypoint = Some(vec![value.to_owned()]),
        "stop-signal" => body.stop_signal = Some(value.to_owned()),
        "stop-timeout" => body.stop_timeout = Some(parse_int(key, value)?),
        "tty" | "t" => body.tty = Some(parse_bool(key, value)?),
        "interactive" | "i" => body.open_stdin = Some(parse_bool(key, value)?),
        "expose" => {
            let port = if value.contains('/') {
                value.to_owned()
            } else {
                format!("{value}/tcp")
            };
            let exposed = body.exposed_ports.get_or_insert_with(Vec::new);
            if !exposed.contains(&port) {
                exposed.push(port);
            }
        }
        "publish" | "p" => {
            let (spec, proto) = value.split_once('/').unwrap_or((value, "tcp"));
            let parts: Vec<&str> = spec.split(':').collect();
            let (ip, host_port, container_port) = match parts.as_slice() {
                [c] => (None, "", *c),
                [h, c] => (None, *h, *c),
                [ip, h, c] => (Some((*ip).to_owned()), *h, *c),
                _ => {
                    return Err(bad(
                        key,
                        value,
                        "expected [ip:][hostPort:]containerPort[/proto]",
                    ))
                }
            };
            let numeric = |s: &str| s.is_empty() || s.parse::<u16>().is_ok();
            if container_port.parse::<u16>().is_err() || !numeric(host_port) {
                return Err(bad(key, value, "port ranges and names are not supported"));
            }
            let mut exposed = body.exposed_ports.take().unwrap_or_default();
            add_binding(
                host.port_bindings.get_or_insert_with(HashMap::new),
                &mut exposed,
                format!("{container_port}/{}", proto.to_lowercase()),
                ip,
                host_port.to_owned(),
            );
            body.exposed_ports = Some(exposed);
        }
        "publish-all" | "P" => host.publish_all_ports = Some(parse_bool(key, value)?),
        "volume" | "v" => push(&mut host.binds, value),
        "volumes-from" => push(&mut host.volumes_from, value),
        "volume-driver" => host.volume_driver = Some(value.to_owned()),
        "tmpfs" => {
            let (path, opts) = value.split_once(':').unwrap_or((value, ""));
            host.tmpfs
                .get_or_insert_with(HashMap::new)
                .insert(path.to_owned(), opts.to_owned());
        }
        "memory" | "m" => host.memory = Some(parse_size_param(key, value)?),
        "memory-swap" => host.memory_swap = Some(parse_size_param(key, value)?),
        "memory-reservation" => host.memory_reservation = Some(parse_size_param(key, value)?),
        "memory-swappiness" => host.memory_swappiness = Some(parse_int(key, value)?),
        "shm-size" => host.shm_size = Some(parse_size_param(key, value)?),
        "kernel-memory" => return forbidden("kernel memory limits are deprecated"),
        "oom-kill-disable" => host.oom_kill_disable = Some(parse_bool(key, value)?),
        "oom-score-adj" => host.oom_score_adj = Some(parse_int(key, value)?),
        "cpu-shares" | "c" => host.cpu_shares = Some(parse_int(key, value)?),
        "cpu-period" => host.cpu_period = Some(parse_int(key, value)?),
        "cpu-quota" => host.cpu_quota = Some(parse_int(key, value)?),
        "cpus" => {
            let cpus: f64 = value
                .parse()
                .map_err(|_| bad(key, value, "expected a number of cpus"))?;
            #[allow(clippy::cast_possible_truncation)]
            let nano = (cpus * 1e9).round() as i64;
            host.nano_cpus = Some(nano);
        }
        "cpuset-cpus" => host.cpuset_cpus = Some(value.to_owned()),
        "cpuset-mems" => host.cpuset_mems = Some(value.to_owned()),
        "blkio-weight" => {
            host.blkio_weight = Some(
                value
                    .parse()
                    .map_err(|_| bad(key, value, "expected 10 to 1000"))?,
            )
        }
        "pids-limit" => host.pids_limit = Some(parse_int(key, value)?),
        "ulimit" => {
            let (name, limits) = key_value(key, value)?;
            let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
            let soft = parse_int(key, soft)?;
            let hard = parse_int(key, hard)?;
            host.ulimits
                .get_or_insert_with(Vec::new)
                .push(ResourcesUlimits {
                    name: Some(name.to_owned()),
                    soft: Some(soft),
                    hard: Some(hard),
                });
        }
        "dns" => push(&mut host.dns, value),
        "dns-search" => push(&mut host.dns_search, value),
        "dns-opt" | "dns-option" => push(&mut host.dns_options, value),
        "add-host" => push(&mut host.extra_hosts, value),
        "security-opt" => push(&mut host.security_opt, value),
        "device" => {
            let parts: Vec<&str> = value.split(':').collect();
            let (on_host, in_container, perms) = match parts.as_slice() {
                [h] => (*h, *h, "rwm"),
                [h, c] if c.starts_with('/') => (*h, *c, "rwm"),
                [h, p] => (*h, *h, *p),
                [h, c, p] => (*h, *c, *p),
                _ => return Err(bad(key, value, "expected host[:container[:permissions]]")),
            };
            host.devices
                .get_or_insert_with(Vec::new)
                .push(DeviceMapping {
                    path_on_host: Some(on_host.to_owned()),
                    path_in_container: Some(in_container.to_owned()),
                    cgroup_permissions: Some(perms.to_owned()),
                });
        }
        "device-cgroup-rule" => push(&mut host.device_cgroup_rules, value),
        "sysctl" => {
            let (k, v) = key_value(key, value)?;
            host.sysctls
                .get_or_insert_with(HashMap::new)
                .insert(k.to_owned(), v.to_owned());
        }
        "storage-opt" => {
            let (k, v) = key_value(key, value)?;
            host.storage_opt
                .get_or_insert_with(HashMap::new)
                .insert(k.to_owned(), v.to_owned());
        }
        "read-only" => host.readonly_rootfs = Some(parse_bool(key, value)?),
        "init" => host.init = Some(parse_bool(key, value)?),
        "privileged" => host.privileged = Some(parse_bool(key, value)?),
        "ipc" => host.ipc_mode = Some(value.to_owned()),
        "pid" => host.pid_mode = Some(value.to_owned()),
        "uts" => host.uts_mode = Some(value.to_owned()),
        "userns" => host.userns_mode = Some(value.to_owned()),
        "cgroup-parent" => host.cgroup_parent = Some(value.to_owned()),
        "runtime" => host.runtime = Some(value.to_owned()),
        "group-add" => push(&mut host.group_add, value),
        "link" => push(&mut host.links, value),
        "log-driver" => {
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .typ = Some(value.to_owned());
        }
        "log-opt" => {
            let (k, v) = key_value(key, value)?;
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .config
                .get_or_insert_with(HashMap::new)
                .insert(k.to_owned(), v.to_owned());
        }
        "ip" => {
            endpoint
                .get_or_insert_with(EndpointSettings::default)
                .ipam_config
                .get_or_insert_with(EndpointIpamConfig::default)
                .ipv4_address = Some(value.to_owned());
        }
        "ip6" => {
            endpoint
                .get_or_insert_with(EndpointSettings::default)
                .ipam_config
                .get_or_insert_with(EndpointIpamConfig::default)
                .ipv6_address = Some(value.to_owned());
        }
        "network-alias" | "net-alias" => {
            push(
                &mut endpoint
                    .get_or_insert_with(EndpointSettings::default)
                    .aliases,
                value,
            );
        }
        _ => {
            return Err(RunOptionsError::UnsupportedParameter {
                key: key.to_owned(),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::{ports, scalar};
    use mesos_proto::v1::container_info::docker_info::PortMapping;
    use mesos_proto::v1::container_info::DockerInfo;
    use mesos_proto::v1::{environment, CommandInfo, Environment, NetworkInfo, Parameter, Volume};
    use std::path::PathBuf;

    const NAME: &str = "mesos-agent-S0.460c5853-e4e6-4879-ae65-72c14e36bfad";

    fn seed_task() -> TaskInfo {
        TaskInfo {
            name: "DockerContainerTask-1".into(),
            task_id: mesos_proto::v1::TaskId::from_str_value("DockerContainerTask-1"),
            resources: vec![scalar("cpus", 0.5), scalar("mem", 100.0)],
            command: Some(Box::new(CommandInfo {
                value: Some("env && while true; do echo command running; sleep 3; done".into()),
                ..Default::default()
            })),
            container: Some(Box::new(ContainerInfo {
                r#type: container_info::Type::Docker as i32,
                docker: Some(Box::new(DockerInfo {
                    image: "berth/busybox:latest".into(),
                    network: Some(Network::Bridge as i32),
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn docker_mut(task: &mut TaskInfo) -> &mut DockerInfo {
        task.container.as_mut().unwrap().docker.as_mut().unwrap()
    }

    fn run(task: &TaskInfo) -> Result<ContainerCreateBody, RunOptionsError> {
        let labels = BTreeMap::from([("berth.agent-id".to_owned(), "agent-S0".to_owned())]);
        let sandbox = PathBuf::from("/work/sandbox");
        build(
            task,
            &RunContext {
                container_name: NAME,
                host_sandbox: &sandbox,
                mapped_sandbox: "/mnt/mesos/sandbox",
                labels: &labels,
                host_memory_bytes: Some(8 * 1024 * 1024 * 1024),
            },
        )
    }

    fn param(key: &str, value: &str) -> Parameter {
        Parameter {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn seed_task_becomes_the_container_mesos_runs() {
        let body = run(&seed_task()).unwrap();
        assert_eq!(body.entrypoint, Some(vec!["/bin/sh".to_owned()]));
        assert_eq!(
            body.cmd,
            Some(vec![
                "-c".to_owned(),
                "env && while true; do echo command running; sleep 3; done".to_owned()
            ])
        );
        assert_eq!(
            body.env.unwrap(),
            [
                "MESOS_ALLOCATION_ROLE=*".to_owned(),
                format!("MESOS_CONTAINER_NAME={NAME}"),
                "MESOS_SANDBOX=/mnt/mesos/sandbox".to_owned(),
            ]
        );
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        assert_eq!(host.cpu_shares, Some(512));
        assert_eq!(host.memory, Some(104_857_600));
        assert_eq!(
            host.binds.unwrap(),
            ["/work/sandbox:/mnt/mesos/sandbox".to_owned()]
        );
        assert_eq!(host.privileged, None);
        assert_eq!(body.labels.unwrap()["berth.agent-id"], "agent-S0");
    }

    #[test]
    fn environment_lets_mesos_variables_win_and_sorts_by_name() {
        let mut task = seed_task();
        task.command.as_mut().unwrap().environment = Some(Environment {
            variables: vec![
                environment::Variable {
                    name: "ZED".into(),
                    value: Some("1".into()),
                    ..Default::default()
                },
                environment::Variable {
                    name: "MESOS_SANDBOX".into(),
                    value: Some("/elsewhere".into()),
                    ..Default::default()
                },
                environment::Variable {
                    name: "ALPHA".into(),
                    value: Some("first".into()),
                    ..Default::default()
                },
                environment::Variable {
                    name: "ALPHA".into(),
                    value: Some("second".into()),
                    ..Default::default()
                },
                environment::Variable {
                    name: "TOKEN".into(),
                    r#type: Some(VariableType::Secret as i32),
                    ..Default::default()
                },
            ],
        });
        let env = environment(&task, NAME, "/mnt/mesos/sandbox");
        let keys: Vec<_> = env.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "ALPHA",
                "MESOS_ALLOCATION_ROLE",
                "MESOS_CONTAINER_NAME",
                "MESOS_SANDBOX",
                "TOKEN",
                "ZED"
            ]
        );
        assert_eq!(env["ALPHA"], "second");
        assert_eq!(env["MESOS_SANDBOX"], "/mnt/mesos/sandbox");
        assert_eq!(env["TOKEN"], "");
    }

    #[test]
    fn allocation_role_prefers_allocation_info_then_role() {
        let mut r = scalar("cpus", 1.0);
        assert_eq!(allocation_role(&r), "*");
        #[allow(deprecated)]
        {
            r.role = Some("legacy".into());
        }
        assert_eq!(allocation_role(&r), "legacy");
        r.allocation_info = Some(mesos_proto::v1::resource::AllocationInfo {
            role: Some("web".into()),
        });
        assert_eq!(allocation_role(&r), "web");
        let mut task = seed_task();
        task.resources.clear();
        assert!(!environment(&task, NAME, "/s").contains_key("MESOS_ALLOCATION_ROLE"));
    }

    #[test]
    fn command_without_shell_passes_value_and_all_arguments() {
        let mut task = seed_task();
        let command = task.command.as_mut().unwrap();
        command.shell = Some(false);
        command.value = Some("echo".into());
        command.arguments = vec!["echo".into(), "hi".into()];
        let body = run(&task).unwrap();
        assert_eq!(body.entrypoint, None);
        assert_eq!(
            body.cmd,
            Some(vec!["echo".into(), "echo".into(), "hi".into()])
        );

        let command = task.command.as_mut().unwrap();
        command.value = None;
        command.arguments.clear();
        assert_eq!(run(&task).unwrap().cmd, None, "image default CMD");

        task.command.as_mut().unwrap().shell = Some(true);
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Shell specified but no command value provided"
        );
    }

    #[test]
    fn resources_and_limits_follow_mesos_formulas() {
        let mut task = seed_task();
        task.resources = vec![scalar("cpus", 0.001), scalar("mem", 8.0)];
        let host = run(&task).unwrap().host_config.unwrap();
        assert_eq!(host.cpu_shares, Some(2));
        assert_eq!(host.memory, Some(32 * 1024 * 1024));
        assert_eq!(host.cpu_quota, None);

        task.resources = vec![scalar("cpus", 0.5), scalar("mem", 128.0)];
        task.limits
            .insert("cpus".into(), mesos_proto::v1::value::Scalar { value: 1.5 });
        task.limits.insert(
            "mem".into(),
            mesos_proto::v1::value::Scalar { value: 256.0 },
        );
        let host = run(&task).unwrap().host_config.unwrap();
        assert_eq!(host.cpu_quota, Some(150_000));
        assert_eq!(host.memory, Some(256 * 1024 * 1024));
        assert_eq!(host.memory_reservation, Some(128 * 1024 * 1024));
        // 1000 - 1000 * 128 MB / 8 GB
        assert_eq!(host.oom_score_adj, Some(984));

        task.limits.insert(
            "cpus".into(),
            mesos_proto::v1::value::Scalar {
                value: f64::INFINITY,
            },
        );
        task.limits.insert(
            "mem".into(),
            mesos_proto::v1::value::Scalar {
                value: f64::INFINITY,
            },
        );
        let host = run(&task).unwrap().host_config.unwrap();
        assert_eq!(host.cpu_quota, None);
        assert_eq!(host.memory, None);
        assert_eq!(host.memory_reservation, Some(128 * 1024 * 1024));
    }

    fn volume(container: &str, host: Option<&str>, mode: Mode) -> Volume {
        Volume {
            mode: mode as i32,
            container_path: container.into(),
            host_path: host.map(Into::into),
            ..Default::default()
        }
    }

    fn docker_volume(container: &str, name: &str, driver: Option<&str>) -> Volume {
        use mesos_proto::v1::volume::{source, Source};
        Volume {
            mode: Mode::Rw as i32,
            container_path: container.into(),
            source: Some(Box::new(Source {
                r#type: Some(SourceType::DockerVolume as i32),
                docker_volume: Some(source::DockerVolume {
                    driver: driver.map(Into::into),
                    name: name.into(),
                    driver_options: None,
                }),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn volumes_map_like_mesos_with_the_sandbox_last() {
        let mut task = seed_task();
        task.container.as_mut().unwrap().volumes = vec![
            volume("/data", Some("/srv/data"), Mode::Ro),
            volume("logs", Some("/var/log/app"), Mode::Rw),
            volume("/cache", Some("cache"), Mode::Rw),
            docker_volume("/vol", "named", Some("local")),
        ];
        let host = run(&task).unwrap().host_config.unwrap();
        assert_eq!(
            host.binds.unwrap(),
            [
                "/srv/data:/data:ro",
                "/var/log/app:/mnt/mesos/sandbox/logs:rw",
                "/work/sandbox/cache:/cache:rw",
                "named:/vol:rw",
                "/work/sandbox:/mnt/mesos/sandbox",
            ]
        );
        assert_eq!(host.volume_driver.as_deref(), Some("local"));
    }

    #[test]
    fn volume_errors_carry_mesos_texts() {
        let mut task = seed_task();
        task.container.as_mut().unwrap().volumes = vec![volume("a", Some("b"), Mode::Rw)];
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Both host_path 'b' and container_path 'a' of a volume are relative"
        );
        task.container.as_mut().unwrap().volumes = vec![volume("/a", None, Mode::Rw)];
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Host path or volume source is required"
        );
        task.container.as_mut().unwrap().volumes = vec![
            docker_volume("/a", "x", Some("local")),
            docker_volume("/b", "y", Some("other")),
        ];
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Only one volume driver is supported"
        );
    }

    #[test]
    fn networks_map_like_mesos() {
        let mut task = seed_task();
        let net = |task: &TaskInfo| run(task).map(|b| b.host_config.unwrap().network_mode.unwrap());
        docker_mut(&mut task).network = None;
        assert_eq!(net(&task).unwrap(), "host");
        docker_mut(&mut task).network = Some(Network::None as i32);
        assert_eq!(net(&task).unwrap(), "none");
        docker_mut(&mut task).network = Some(Network::User as i32);
        assert_eq!(
            net(&task).unwrap_err().to_string(),
            "No network info found in container info"
        );
        task.container.as_mut().unwrap().network_infos = vec![NetworkInfo::default()];
        assert_eq!(
            net(&task).unwrap_err().to_string(),
            "No network name found in network info"
        );
        task.container.as_mut().unwrap().network_infos = vec![
            NetworkInfo {
                name: Some("mynet".into()),
                ..Default::default()
            },
            NetworkInfo::default(),
        ];
        assert_eq!(
            net(&task).unwrap_err().to_string(),
            "Only a single network can be defined in Docker run"
        );
        task.container.as_mut().unwrap().network_infos.truncate(1);
        assert_eq!(net(&task).unwrap(), "mynet");
        docker_mut(&mut task).parameters = vec![param("net", "none"), param("network", "x")];
        assert!(matches!(
            net(&task),
            Err(RunOptionsError::ForbiddenParameter { .. })
        ));
        docker_mut(&mut task).parameters.truncate(1);
        assert_eq!(net(&task).unwrap(), "none");
    }

    #[test]
    fn hostname_is_refused_with_host_network() {
        let mut task = seed_task();
        task.container.as_mut().unwrap().hostname = Some("web-1".into());
        assert_eq!(run(&task).unwrap().hostname.as_deref(), Some("web-1"));
        docker_mut(&mut task).network = Some(Network::Host as i32);
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Unable to set hostname with host network mode"
        );
    }

    #[test]
    fn port_mappings_are_checked_against_the_task_ports() {
        let mut task = seed_task();
        docker_mut(&mut task).port_mappings = vec![
            PortMapping {
                host_port: 31001,
                container_port: 80,
                protocol: None,
            },
            PortMapping {
                host_port: 31002,
                container_port: 53,
                protocol: Some("UDP".into()),
            },
        ];
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Port mappings require port resources"
        );
        task.resources.push(ports(&[(31000, 31001)]));
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Port [31002] not included in resources"
        );
        task.resources.pop();
        task.resources.push(ports(&[(31000, 31005)]));
        let body = run(&task).unwrap();
        let mut exposed = body.exposed_ports.clone().unwrap();
        exposed.sort();
        assert_eq!(exposed, ["53/udp", "80/tcp"]);
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        assert_eq!(
            bindings["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("31001")
        );
        let saved = task.resources.clone();
        task.resources.clear();
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Port mappings require resources"
        );
        task.resources = saved;
        docker_mut(&mut task).network = Some(Network::Host as i32);
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Port mappings are only supported for bridge and user-defined networks"
        );
    }

    #[test]
    fn parameters_map_to_engine_settings_in_order() {
        let mut task = seed_task();
        docker_mut(&mut task).parameters = vec![
            param("label", "team=infra"),
            param("env", "EXTRA=1"),
            param("cap-add", "NET_ADMIN"),
            param("cap-add", "SYS_TIME"),
            param("cap-drop", "MKNOD"),
            param("user", "nobody"),
            param("workdir", "/tmp"),
            param("memory-swap", "512m"),
            param("shm-size", "64m"),
            param("ulimit", "nofile=1024:2048"),
            param("dns", "1.1.1.1"),
            param("dns-search", "example.com"),
            param("dns-opt", "ndots:2"),
            param("add-host", "db:10.0.0.2"),
            param("tmpfs", "/run:size=1m"),
            param("sysctl", "net.ipv4.ip_forward=1"),
            param("pids-limit", "64"),
            param("read-only", "true"),
            param("init", "true"),
            param("memory", "200m"),
            param("log-driver", "json-file"),
            param("log-opt", "max-size=1m"),
            param("stop-signal", "SIGINT"),
            param("publish", "127.0.0.1:8080:80/tcp"),
            param("expose", "9000"),
        ];
        let body = run(&task).unwrap();
        let host = body.host_config.as_ref().unwrap();
        assert_eq!(body.labels.as_ref().unwrap()["team"], "infra");
        assert_eq!(body.env.as_ref().unwrap().last().unwrap(), "EXTRA=1");
        assert_eq!(host.cap_add.as_ref().unwrap(), &["NET_ADMIN", "SYS_TIME"]);
        assert_eq!(host.cap_drop.as_ref().unwrap(), &["MKNOD"]);
        assert_eq!(body.user.as_deref(), Some("nobody"));
        assert_eq!(body.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(host.memory_swap, Some(512 * 1024 * 1024));
        assert_eq!(host.shm_size, Some(64 * 1024 * 1024));
        assert_eq!(host.ulimits.as_ref().unwrap()[0].hard, Some(2048));
        assert_eq!(host.dns.as_ref().unwrap(), &["1.1.1.1"]);
        assert_eq!(host.dns_search.as_ref().unwrap(), &["example.com"]);
        assert_eq!(host.dns_options.as_ref().unwrap(), &["ndots:2"]);
        assert_eq!(host.extra_hosts.as_ref().unwrap(), &["db:10.0.0.2"]);
        assert_eq!(host.tmpfs.as_ref().unwrap()["/run"], "size=1m");
        assert_eq!(host.sysctls.as_ref().unwrap()["net.ipv4.ip_forward"], "1");
        assert_eq!(host.pids_limit, Some(64));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.init, Some(true));
        assert_eq!(
            host.memory,
            Some(200 * 1024 * 1024),
            "a later --memory wins"
        );
        assert_eq!(
            host.log_config.as_ref().unwrap().typ.as_deref(),
            Some("json-file")
        );
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
        let binding = &host.port_bindings.as_ref().unwrap()["80/tcp"]
            .as_ref()
            .unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("8080"));
        let exposed = body.exposed_ports.as_ref().unwrap();
        assert!(exposed.contains(&"9000/tcp".to_owned()));
    }

    #[test]
    fn unknown_or_bad_parameters_fail_naming_the_key() {
        let mut task = seed_task();
        docker_mut(&mut task).parameters = vec![param("frobnicate", "yes")];
        assert_eq!(
            run(&task).unwrap_err().to_string(),
            "Unsupported docker parameter 'frobnicate'"
        );
        docker_mut(&mut task).parameters = vec![param("memory-swap", "lots")];
        assert!(run(&task)
            .unwrap_err()
            .to_string()
            .contains("'memory-swap'"));
        docker_mut(&mut task).parameters = vec![param("name", "x")];
        assert!(run(&task).unwrap_err().to_string().contains("'name'"));
    }

    #[test]
    fn parse_size_reads_docker_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("64kb"), Some(65536));
        assert_eq!(parse_size("1.5g"), Some(1_610_612_736));
        assert_eq!(parse_size("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(parse_size("-1"), Some(-1));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("5q"), None);
    }

    #[test]
    fn non_docker_tasks_are_refused() {
        let mut task = seed_task();
        task.container.as_mut().unwrap().r#type = container_info::Type::Mesos as i32;
        assert_eq!(run(&task).unwrap_err(), RunOptionsError::NotDocker);
        task.container = None;
        assert_eq!(run(&task).unwrap_err(), RunOptionsError::NotDocker);
        task.command = None;
        assert_eq!(run(&task).unwrap_err(), RunOptionsError::NoCommand);
    }
}
