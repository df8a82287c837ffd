//! Task validation at ACCEPT time (spec §4.3, table rows 1-16, in Mesos's order and with its
//! texts; the text becomes the `message` of the `TASK_ERROR` update) and `FrameworkInfo`
//! validation at SUBSCRIBE / UPDATE_FRAMEWORK time. Pure functions.

use berth_core::resources::Resources;
use mesos_proto::id;
use mesos_proto::v1::{
    container_info, environment, executor_info, framework_info, health_check, ContainerInfo,
    FrameworkInfo, TaskInfo,
};

/// What a task is checked against.
#[derive(Debug)]
pub struct TaskContext<'a> {
    /// The framework launching it.
    pub framework_id: &'a str,
    /// The agent of the offers.
    pub agent_id: &'a str,
    /// Whether a live task of the framework already has this ID.
    pub is_duplicate: bool,
    /// What is left of the offered resources (earlier operations of the call consumed the rest).
    pub available: &'a Resources,
    /// The offers' allocation role (for the resource texts).
    pub role: &'a str,
}

/// Validates one task of a LAUNCH; on success returns the resources of task and executor.
pub fn validate_task(task: &TaskInfo, cx: &TaskContext<'_>) -> Result<Resources, String> {
    // 1. ID.
    id::validate(&task.task_id.value).map_err(|e| e.to_string())?;
    // 2. Duplicate.
    if cx.is_duplicate {
        return Err(format!("Task has duplicate ID: {}", task.task_id.value));
    }
    // 3. Agent.
    if task.agent_id.value != cx.agent_id {
        return Err(format!(
            "Task uses invalid agent {} while agent {} is expected",
            task.agent_id.value, cx.agent_id
        ));
    }
    // 4. Kill policy.
    if let Some(gp) = task
        .kill_policy
        .as_ref()
        .and_then(|k| k.grace_period.as_ref())
    {
        if gp.nanoseconds < 0 {
            return Err("Task's 'kill_policy.grace_period' must be non-negative".into());
        }
    }
    // 5. Max completion time.
    if task
        .max_completion_time
        .as_ref()
        .is_some_and(|d| d.nanoseconds < 0)
    {
        return Err("Task's `max_completion_time` must be non-negative".into());
    }
    // 6. Check.
    if let Some(check) = &task.check {
        validate_check(check).map_err(|e| format!("Task uses invalid check: {e}"))?;
    }
    // 7. Health check.
    if let Some(hc) = &task.health_check {
        validate_health_check(hc).map_err(|e| format!("Task uses invalid health check: {e}"))?;
    }
    // 8. Resources.
    if task.resources.is_empty() {
        return Err("Task uses no resources".into());
    }
    let task_res = Resources::from_proto(&task.resources)
        .map_err(|e| format!("Task uses invalid resources: {e}"))?;
    // 9. Environment.
    if let Some(env) = task.command.as_ref().and_then(|c| c.environment.as_ref()) {
        validate_environment(env).map_err(|e| format!("Task's `CommandInfo` is invalid: {e}"))?;
    }
    // 10. Container.
    if let Some(c) = &task.container {
        validate_container(c).map_err(|e| format!("Task's `ContainerInfo` is invalid: {e}"))?;
    }
    // 11. Limits.
    validate_limits(task, &task_res)?;
    // 12. Command xor executor.
    if task.command.is_some() == task.executor.is_some() {
        return Err(
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                .into(),
        );
    }
    // 13/14. Executor.
    let mut total = task_res.clone();
    if let Some(ex) = &task.executor {
        id::validate(&ex.executor_id.value).map_err(|e| e.to_string())?;
        if let Some(fid) = &ex.framework_id {
            if fid.value != cx.framework_id {
                return Err(format!(
                    "ExecutorInfo has an invalid FrameworkID (Actual: {} vs Expected: {})",
                    fid.value, cx.framework_id
                ));
            }
        }
        if let Some(t) = ex.r#type {
            if t != executor_info::Type::Custom as i32 {
                return Err("'ExecutorInfo.type' must be 'CUSTOM'".into());
            }
        }
        if ex.command.is_none() {
            return Err("'ExecutorInfo.command' must be set".into());
        }
        let ex_res = Resources::from_proto(&ex.resources)
            .map_err(|e| format!("Task and its executor use invalid resources: {e}"))?;
        if task_res.intersects(&ex_res) {
            return Err(format!(
                "There are overlapping resources in the task resources {task_res} and executor resources {ex_res}"
            ));
        }
        total.add(&ex_res);
    }
    // 15. Enough resources.
    if !cx.available.contains(&total) {
        return Err(format!(
            "Total resources {} required by task and its executor is more than available {}",
            total.display_allocated(cx.role),
            cx.available.display_allocated(cx.role)
        ));
    }
    // 16. share_cgroups.
    if task
        .container
        .as_ref()
        .and_then(|c| c.linux_info.as_ref())
        .and_then(|l| l.share_cgroups)
        == Some(false)
    {
        return Err("Only tasks in a task group may have 'share_cgroups' set to 'false'".into());
    }
    Ok(total)
}

fn validate_check(check: &mesos_proto::v1::CheckInfo) -> Result<(), String> {
    use mesos_proto::v1::check_info::Type;
    match check.r#type.and_then(|t| Type::try_from(t).ok()) {
        None | Some(Type::Unknown) => Err("CheckInfo must specify 'type'".into()),
        Some(Type::Command) if check.command.is_none() => {
            Err("Expecting 'command' to be set for COMMAND check".into())
        }
        Some(Type::Http) if check.http.is_none() => {
            Err("Expecting 'http' to be set for HTTP check".into())
        }
        Some(Type::Tcp) if check.tcp.is_none() => {
            Err("Expecting 'tcp' to be set for TCP check".into())
        }
        Some(_) => Ok(()),
    }
}

fn validate_health_check(hc: &mesos_proto::v1::HealthCheck) -> Result<(), String> {
    match hc.r#type.and_then(|t| health_check::Type::try_from(t).ok()) {
        None | Some(health_check::Type::Unknown) => {
            return Err("HealthCheck must specify 'type'".into())
        }
        Some(health_check::Type::Command) => match &hc.command {
            None => return Err("Expecting 'command' to be set for COMMAND health check".into()),
            Some(c) if c.shell.unwrap_or(true) && c.value.is_none() => {
                return Err("Command health check must contain 'shell command'".into())
            }
            Some(_) => {}
        },
        Some(health_check::Type::Http) => match &hc.http {
            None => return Err("Expecting 'http' to be set for HTTP health check".into()),
            Some(h) => {
                if let Some(s) = &h.scheme {
                    if s != "http" && s != "https" {
                        return Err(format!("Unsupported HTTP health check scheme: '{s}'"));
                    }
                }
                if let Some(p) = &h.path {
                    if !p.starts_with('/') {
                        return Err(format!(
                            "The path '{p}' of HTTP health check must start with '/'"
                        ));
                    }
                }
            }
        },
        Some(health_check::Type::Tcp) => {
            if hc.tcp.is_none() {
                return Err("Expecting 'tcp' to be set for TCP health check".into());
            }
        }
    }
    for (name, v) in [
        ("delay", hc.delay_seconds),
        ("interval", hc.interval_seconds),
        ("timeout", hc.timeout_seconds),
        ("grace_period", hc.grace_period_seconds),
    ] {
        if v.is_some_and(|v| v < 0.0) {
            return Err(format!("Expecting '{name}_seconds' to be non-negative"));
        }
    }
    Ok(())
}

fn validate_environment(env: &mesos_proto::v1::Environment) -> Result<(), String> {
    for v in &env.variables {
        let ty = v
            .r#type
            .and_then(|t| environment::variable::Type::try_from(t).ok())
            .unwrap_or(environment::variable::Type::Value);
        match ty {
            environment::variable::Type::Value => {
                if v.value.is_none() {
                    return Err(format!(
                        "Environment variable '{}' of type 'VALUE' must have a value set",
                        v.name
                    ));
                }
                if v.secret.is_some() {
                    return Err(format!(
                        "Environment variable '{}' of type 'VALUE' must not have a secret set",
                        v.name
                    ));
                }
            }
            environment::variable::Type::Secret => {
                if v.secret.is_none() {
                    return Err(format!(
                        "Environment variable '{}' of type 'SECRET' must have a secret set",
                        v.name
                    ));
                }
                if v.value.is_some() {
                    return Err(format!(
                        "Environment variable '{}' of type 'SECRET' must not have a value set",
                        v.name
                    ));
                }
            }
            environment::variable::Type::Unknown => {
                return Err(format!(
                    "Environment variable '{}' of type 'UNKNOWN' is not supported",
                    v.name
                ))
            }
        }
    }
    Ok(())
}

fn validate_container(c: &ContainerInfo) -> Result<(), String> {
    for v in &c.volumes {
        let set = [v.host_path.is_some(), v.image.is_some(), v.source.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if set > 1 {
            return Err(
                "Invalid volume: Only one of them should be set: 'host_path', 'image' and 'source'"
                    .into(),
            );
        }
        if let Some(src) = &v.source {
            use mesos_proto::v1::volume::source::Type;
            let missing = match src.r#type.and_then(|t| Type::try_from(t).ok()) {
                Some(Type::DockerVolume) if src.docker_volume.is_none() => {
                    Some(("docker_volume", "DOCKER_VOLUME"))
                }
                Some(Type::HostPath) if src.host_path.is_none() => Some(("host_path", "HOST_PATH")),
                Some(Type::SandboxPath) if src.sandbox_path.is_none() => {
                    Some(("sandbox_path", "SANDBOX_PATH"))
                }
                Some(Type::Secret) if src.secret.is_none() => Some(("secret", "SECRET")),
                Some(Type::CsiVolume) if src.csi_volume.is_none() => {
                    Some(("csi_volume", "CSI_VOLUME"))
                }
                _ => None,
            };
            if let Some((field, ty)) = missing {
                return Err(format!(
                    "Invalid volume: 'source.{field}' is not set for {ty} volume"
                ));
            }
        }
    }
    if c.r#type == container_info::Type::Docker as i32 {
        let Some(docker) = &c.docker else {
            return Err("DockerInfo 'docker' is not set for DOCKER typed ContainerInfo".into());
        };
        if docker.parameters.iter().any(|p| p.key == "name") {
            return Err("Parameter in DockerInfo must not be 'name'".into());
        }
    }
    Ok(())
}

fn validate_limits(task: &TaskInfo, res: &Resources) -> Result<(), String> {
    if task.limits.is_empty() {
        return Ok(());
    }
    if task.limits.keys().any(|k| k != "cpus" && k != "mem") {
        return Err("Only cpus and mem may be included in a task's resource limits".into());
    }
    if let Some(cpu) = task.limits.get("cpus") {
        let req = res.scalar("cpus");
        if req == 0.0 {
            return Err(
                "When a CPU limit is specified, a CPU request must also be specified".into(),
            );
        }
        if cpu.value < req {
            return Err("The cpu limit must be greater than or equal to the cpu request".into());
        }
    }
    if let Some(mem) = task.limits.get("mem") {
        let req = res.scalar("mem");
        if req == 0.0 {
            return Err(
                "When a memory limit is specified, a memory request must also be specified".into(),
            );
        }
        if mem.value < req {
            return Err(
                "The memory limit must be greater than or equal to the memory request".into(),
            );
        }
    }
    Ok(())
}

/// Mesos's role name rules (`roles::validate`).
pub fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return Err("Empty role name is invalid".into());
    }
    if role.starts_with('/') {
        return Err(format!("Role '{role}' cannot start with a slash"));
    }
    if role.ends_with('/') {
        return Err(format!("Role '{role}' cannot end with a slash"));
    }
    if role.contains("//") {
        return Err(format!("Role '{role}' cannot contain two adjacent slashes"));
    }
    for c in role.split('/') {
        if c == "." || c == ".." {
            return Err(format!(
                "Role '{role}' cannot include '.' or '..' as a component"
            ));
        }
        if c == "*" {
            return Err(format!("Role '{role}' cannot include '*' as a component"));
        }
        if c.starts_with('-') {
            return Err(format!(
                "Role component '{c}' is invalid because it starts with a dash"
            ));
        }
        if c.chars()
            .any(|ch| ch.is_whitespace() || ch == '\u{8}' || ch.is_control())
        {
            return Err(format!(
                "Role component '{c}' is invalid because it contains backspace or whitespace"
            ));
        }
    }
    Ok(())
}

/// Whether the framework declared `cap`.
pub fn has_capability(info: &FrameworkInfo, cap: framework_info::capability::Type) -> bool {
    info.capabilities
        .iter()
        .any(|c| c.r#type == Some(cap as i32))
}

/// The framework's roles: `roles` for MULTI_ROLE frameworks, else `role` (default `*`).
#[allow(deprecated)] // `FrameworkInfo.role` is what non-MULTI_ROLE frameworks use.
pub fn framework_roles(info: &FrameworkInfo) -> Vec<String> {
    if has_capability(info, framework_info::capability::Type::MultiRole) {
        info.roles.clone()
    } else {
        vec![info.role.clone().unwrap_or_else(|| "*".to_string())]
    }
}

/// `FrameworkInfo` checks of SUBSCRIBE (refusal texts of spec §1.4).
#[allow(deprecated)] // `FrameworkInfo.role` is what non-MULTI_ROLE frameworks use.
pub fn validate_framework_info(info: &FrameworkInfo) -> Result<(), String> {
    let multi = has_capability(info, framework_info::capability::Type::MultiRole);
    if multi && info.role.is_some() {
        return Err(
            "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable".into(),
        );
    }
    if !multi && !info.roles.is_empty() {
        return Err(
            "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
                .into(),
        );
    }
    if multi {
        let mut seen = std::collections::BTreeSet::new();
        let dups: Vec<&str> = info
            .roles
            .iter()
            .filter(|r| !seen.insert(r.as_str()))
            .map(String::as_str)
            .collect();
        if !dups.is_empty() {
            return Err(format!(
                "'FrameworkInfo.roles' contains duplicate items: {}",
                dups.join(", ")
            ));
        }
        for r in &info.roles {
            validate_role(r)
                .map_err(|e| format!("'FrameworkInfo.roles' contains invalid role: {e}"))?;
        }
    } else if let Some(r) = &info.role {
        validate_role(r).map_err(|e| format!("'FrameworkInfo.role' is not a valid role: {e}"))?;
    }
    if let Some(id) = &info.id {
        id::validate(&id.value).map_err(|e| e.to_string())?;
    }
    if let Some(t) = info.failover_timeout {
        if !t.is_finite() || t < 0.0 {
            return Err(format!("The framework failover_timeout ({t}) is invalid"));
        }
    }
    Ok(())
}

/// Suppressed roles must be a subset of the framework's roles.
pub fn validate_suppressed(roles: &[String], suppressed: &[String]) -> Result<(), String> {
    let extra: Vec<&str> = suppressed
        .iter()
        .filter(|r| !roles.contains(r))
        .map(String::as_str)
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Suppressed roles {{ {} }} are not contained in the set of roles",
            extra.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::scalar;
    use mesos_proto::v1::{container_info::DockerInfo, CommandInfo, Parameter};
    use mesos_proto::MesosJson;

    fn seed_task() -> TaskInfo {
        TaskInfo::from_json_str(
            r#"{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"S0"},
                "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5}},
                             {"name":"mem","type":"SCALAR","scalar":{"value":100}}],
                "command":{"value":"sleep 1"},
                "container":{"type":"DOCKER","docker":{"image":"busybox","network":"BRIDGE"}}}"#,
        )
        .expect("task json")
    }

    fn check(task: &TaskInfo) -> Result<Resources, String> {
        let avail =
            Resources::from_proto(&[scalar("cpus", 2.0), scalar("mem", 1024.0)]).expect("res");
        validate_task(
            task,
            &TaskContext {
                framework_id: "F",
                agent_id: "S0",
                is_duplicate: false,
                available: &avail,
                role: "*",
            },
        )
    }

    #[test]
    fn the_seed_task_is_valid() {
        let r = check(&seed_task()).expect("valid");
        assert_eq!(r.scalar("cpus"), 0.5);
    }

    #[test]
    fn invalid_tasks_get_mesos_texts() {
        let mut t = seed_task();
        t.task_id.value = "a/b".into();
        assert_eq!(check(&t).unwrap_err(), "'a/b' contains invalid characters");
        let mut t = seed_task();
        t.agent_id.value = "S9".into();
        assert_eq!(
            check(&t).unwrap_err(),
            "Task uses invalid agent S9 while agent S0 is expected"
        );
        let mut t = seed_task();
        t.resources.clear();
        assert_eq!(check(&t).unwrap_err(), "Task uses no resources");
        let mut t = seed_task();
        t.resources = vec![scalar("cpus", -1.0)];
        assert_eq!(
            check(&t).unwrap_err(),
            "Task uses invalid resources: Invalid scalar resource: value <= 0"
        );
        let mut t = seed_task();
        t.resources = vec![scalar("cpus", 3.0)];
        assert_eq!(
            check(&t).unwrap_err(),
            "Total resources cpus(allocated: *):3 required by task and its executor is more than available cpus(allocated: *):2; mem(allocated: *):1024"
        );
        let mut t = seed_task();
        t.command = None;
        assert_eq!(
            check(&t).unwrap_err(),
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        );
        let mut t = seed_task();
        if let Some(c) = t.container.as_mut() {
            c.docker = Some(Box::new(DockerInfo {
                image: "busybox".into(),
                parameters: vec![Parameter {
                    key: "name".into(),
                    value: "x".into(),
                }],
                ..Default::default()
            }));
        }
        assert_eq!(
            check(&t).unwrap_err(),
            "Task's `ContainerInfo` is invalid: Parameter in DockerInfo must not be 'name'"
        );
        let mut t = seed_task();
        if let Some(c) = t.container.as_mut() {
            c.docker = None;
        }
        assert_eq!(
            check(&t).unwrap_err(),
            "Task's `ContainerInfo` is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"
        );
        let mut t = seed_task();
        t.command = Some(Box::new(CommandInfo {
            value: Some("x".into()),
            environment: Some(mesos_proto::v1::Environment {
                variables: vec![environment::Variable {
                    name: "A".into(),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }));
        assert_eq!(
            check(&t).unwrap_err(),
            "Task's `CommandInfo` is invalid: Environment variable 'A' of type 'VALUE' must have a value set"
        );
    }

    #[test]
    fn roles_follow_mesos_rules() {
        assert!(validate_role("*").is_ok());
        assert!(validate_role("a/b").is_ok());
        assert!(validate_role("/a").is_err());
        assert!(validate_role("a//b").is_err());
        assert!(validate_role("-a").is_err());
        assert!(validate_role("a b").is_err());
    }
}
