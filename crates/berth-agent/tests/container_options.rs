//! How TaskInfo fields become container settings on the real engine (mesos-v1.md §5.4–5.7),
//! and the TASK_FAILED texts for the ones that cannot.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use berth_testkit::{
    docker, ensure_test_image, eventually, test_run_label, unique_name, ContainerGuard,
};
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use common::*;
use mesos_proto::resource::{ports, scalar};
use mesos_proto::v1::container_info::docker_info::{Network, PortMapping};
use mesos_proto::v1::environment::Variable;
use mesos_proto::v1::task_status::Source;
use mesos_proto::v1::volume::{source, Mode, Source as VolumeSource};
use mesos_proto::v1::{Environment, NetworkInfo, Parameter, TaskState, Volume};

fn param(key: &str, value: &str) -> Parameter {
    Parameter {
        key: key.into(),
        value: value.into(),
    }
}

fn var(name: &str, value: &str) -> Variable {
    Variable {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_command_and_parameters_reach_the_container() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut options = Options::new(work.path());
    options.remove_delay = Duration::from_secs(600);
    let mut agent = Harness::start(options, &guard).await;

    // shell=false: value and all arguments become Cmd, no entrypoint override.
    let mut task = shell_task("env", &agent.agent_id, "env");
    let command = task.command.as_mut().unwrap();
    command.shell = Some(false);
    command.arguments = vec!["-u".into(), "UNSET_ME".into()];
    command.environment = Some(Environment {
        variables: vec![
            var("ZED", "last"),
            var("MESOS_SANDBOX", "/not/the/sandbox"),
            var("ALPHA", "first"),
            var("UNSET_ME", "x"),
        ],
    });
    docker_info(&mut task).parameters = vec![
        param("env", "FROM_PARAM=1"),
        param("label", "team=infra"),
        param("cap-add", "NET_ADMIN"),
        param("cap-drop", "MKNOD"),
        param("workdir", "/tmp"),
        param("ulimit", "nofile=1024:2048"),
        param("add-host", "db.internal:10.1.2.3"),
        param("dns", "10.0.0.53"),
        param("tmpfs", "/scratch:size=1m"),
        param("pids-limit", "64"),
        param("shm-size", "16m"),
        param("memory-swap", "400m"),
        param("stop-signal", "SIGINT"),
        param("init", "true"),
        param("read-only", "true"),
        param("security-opt", "no-new-privileges"),
    ];
    agent.launch(task).await;
    let statuses = agent.run_to_end("env").await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ],
        "{statuses:?}"
    );
    let name = agent.container_name(&statuses[0]);
    let inspect = inspect(&docker, &name).await;
    let config = inspect.config.clone().unwrap();
    assert_eq!(config.entrypoint, None);
    assert_eq!(config.cmd.unwrap(), ["env", "-u", "UNSET_ME"]);
    assert_eq!(
        config.env.clone().unwrap()[..6],
        [
            "ALPHA=first".to_owned(),
            "MESOS_ALLOCATION_ROLE=*".to_owned(),
            format!("MESOS_CONTAINER_NAME={name}"),
            "MESOS_SANDBOX=/mnt/mesos/sandbox".to_owned(),
            "UNSET_ME=x".to_owned(),
            "ZED=last".to_owned(),
        ]
    );
    assert!(config.env.unwrap().contains(&"FROM_PARAM=1".to_owned()));
    assert_eq!(config.labels.as_ref().unwrap()["team"], "infra");
    assert_eq!(config.working_dir.as_deref(), Some("/tmp"));
    assert_eq!(config.stop_signal.as_deref(), Some("SIGINT"));
    let host = inspect.host_config.unwrap();
    assert_eq!(host.cap_add.unwrap(), ["NET_ADMIN"]);
    assert_eq!(host.cap_drop.unwrap(), ["MKNOD"]);
    let ulimit = &host.ulimits.unwrap()[0];
    assert_eq!((ulimit.soft, ulimit.hard), (Some(1024), Some(2048)));
    assert_eq!(host.extra_hosts.unwrap(), ["db.internal:10.1.2.3"]);
    assert_eq!(host.dns.unwrap(), ["10.0.0.53"]);
    assert_eq!(host.tmpfs.unwrap()["/scratch"], "size=1m");
    assert_eq!(host.pids_limit, Some(64));
    assert_eq!(host.shm_size, Some(16 * 1024 * 1024));
    assert_eq!(host.memory_swap, Some(400 * 1024 * 1024));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.security_opt.unwrap(), ["no-new-privileges"]);

    // What the process saw: `env -u UNSET_ME` prints the environment minus that variable.
    let stdout =
        std::fs::read_to_string(sandbox(&agent, "env", &statuses[0]).join("stdout")).unwrap();
    assert!(
        stdout.contains("MESOS_SANDBOX=/mnt/mesos/sandbox\n"),
        "{stdout}"
    );
    assert!(stdout.contains("FROM_PARAM=1\n"), "{stdout}");
    assert!(!stdout.contains("UNSET_ME"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_bound_like_mesos_binds_them() {
    ensure_test_image().await;
    let docker = docker().await;
    let objects = ObjectGuard::default();
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("hello.txt"), "from the host\n").unwrap();
    let volume_name = unique_name("berth-test-volume");
    objects.volumes.lock().unwrap().push(volume_name.clone());

    let mut options = Options::new(work.path());
    options.remove_delay = Duration::from_secs(600);
    let mut agent = Harness::start(options, &guard).await;
    let mut task = shell_task(
        "volumes",
        &agent.agent_id,
        "cat /host/hello.txt && echo sandboxed > $MESOS_SANDBOX/rel/out.txt && \
         echo named > /named/file && (touch /host/nope 2>/dev/null && echo writable || echo read-only)",
    );
    task.container.as_mut().unwrap().volumes = vec![
        Volume {
            mode: Mode::Ro as i32,
            container_path: "/host".into(),
            host_path: Some(shared.path().display().to_string()),
            ..Default::default()
        },
        Volume {
            mode: Mode::Rw as i32,
            container_path: "rel".into(),
            host_path: Some(shared.path().join("rel").display().to_string()),
            ..Default::default()
        },
        Volume {
            mode: Mode::Rw as i32,
            container_path: "/named".into(),
            source: Some(Box::new(VolumeSource {
                r#type: Some(source::Type::DockerVolume as i32),
                docker_volume: Some(source::DockerVolume {
                    driver: Some("local".into()),
                    name: volume_name.clone(),
                    driver_options: None,
                }),
                ..Default::default()
            })),
            ..Default::default()
        },
    ];
    agent.launch(task).await;
    let statuses = agent.run_to_end("volumes").await;
    assert_eq!(
        state(statuses.last().unwrap()),
        TaskState::TaskFinished,
        "{statuses:?}"
    );
    let sandbox = sandbox(&agent, "volumes", &statuses[0]);
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert_eq!(stdout, "from the host\nread-only\n");
    assert_eq!(
        std::fs::read_to_string(shared.path().join("rel/out.txt")).unwrap(),
        "sandboxed\n"
    );

    let inspect = inspect(&docker, &agent.container_name(&statuses[0])).await;
    let mounts: HashMap<String, (Option<String>, Option<bool>)> = inspect
        .mounts
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.destination.clone().unwrap(),
                (m.name.clone().or(m.source.clone()), m.rw),
            )
        })
        .collect();
    assert_eq!(
        mounts["/host"],
        (Some(shared.path().display().to_string()), Some(false))
    );
    assert_eq!(mounts["/mnt/mesos/sandbox/rel"].1, Some(true));
    assert_eq!(mounts["/named"], (Some(volume_name.clone()), Some(true)));
    assert_eq!(
        mounts["/mnt/mesos/sandbox"],
        (Some(sandbox.display().to_string()), Some(true))
    );
    assert_eq!(
        inspect.host_config.unwrap().binds.unwrap().last().unwrap(),
        &format!("{}:/mnt/mesos/sandbox", sandbox.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_hostname_and_ports_follow_docker_info() {
    ensure_test_image().await;
    let docker = docker().await;
    let objects = ObjectGuard::default();
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let network = unique_name("berth-test-net");
    let (run_key, run_value) = test_run_label();
    // A user network with its own subnet, so a fixed `ip` parameter is allowed; another
    // subnet is tried when one overlaps a network that already exists.
    let mut subnet_prefix = None;
    for attempt in 0..8u32 {
        let third = (std::process::id() + attempt * 37) % 250 + 1;
        let prefix = format!("10.231.{third}");
        let created = docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from([(run_key.to_owned(), run_value.to_owned())])),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(format!("{prefix}.0/24")),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => {
                subnet_prefix = Some(prefix);
                break;
            }
            Err(err) => eprintln!("creating {network} on {prefix}.0/24: {err}"),
        }
    }
    let subnet_prefix = subnet_prefix.expect("a free subnet for the user network");
    objects.networks.lock().unwrap().push(network.clone());

    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let id = agent.agent_id.clone();

    let mut host = seed_task("host", &id);
    docker_info(&mut host).network = Some(Network::Host as i32);
    let mut none = seed_task("none", &id);
    docker_info(&mut none).network = Some(Network::None as i32);
    let mut user = seed_task("user", &id);
    docker_info(&mut user).network = Some(Network::User as i32);
    user.container.as_mut().unwrap().network_infos = vec![NetworkInfo {
        name: Some(network.clone()),
        ..Default::default()
    }];
    user.container.as_mut().unwrap().hostname = Some("web-1".into());
    let fixed_ip = format!("{subnet_prefix}.77");
    docker_info(&mut user).parameters = vec![param("network-alias", "web"), param("ip", &fixed_ip)];
    // A free port in the task's range: ask the kernel, then map 8080 to it.
    let host_port = {
        let probe = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut bridge = seed_task("bridge", &id);
    bridge
        .resources
        .push(ports(&[(u64::from(host_port), u64::from(host_port))]));
    docker_info(&mut bridge).port_mappings = vec![PortMapping {
        host_port: u32::from(host_port),
        container_port: 8080,
        protocol: Some("TCP".into()),
    }];

    for task in [host, none, user, bridge] {
        agent.launch(task).await;
    }
    let mut running = HashMap::new();
    while running.len() < 4 {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        match state(&status) {
            TaskState::TaskStarting => {}
            TaskState::TaskRunning => {
                running.insert(status.task_id.value.clone(), status);
            }
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }

    let host_inspect = inspect(&docker, &agent.container_name(&running["host"])).await;
    assert_eq!(
        host_inspect.host_config.unwrap().network_mode.as_deref(),
        Some("host")
    );
    assert_eq!(
        ips(&running["host"]),
        ["127.0.0.1"],
        "host networking reports the agent's IP"
    );

    let none_inspect = inspect(&docker, &agent.container_name(&running["none"])).await;
    assert_eq!(
        none_inspect.host_config.unwrap().network_mode.as_deref(),
        Some("none")
    );

    let user_inspect = inspect(&docker, &agent.container_name(&running["user"])).await;
    assert_eq!(
        user_inspect.host_config.unwrap().network_mode.as_deref(),
        Some(network.as_str())
    );
    assert_eq!(
        user_inspect.config.unwrap().hostname.as_deref(),
        Some("web-1")
    );
    let endpoint = &user_inspect.network_settings.unwrap().networks.unwrap()[&network];
    assert!(endpoint
        .aliases
        .as_ref()
        .unwrap()
        .contains(&"web".to_owned()));
    assert_eq!(endpoint.ip_address.as_deref(), Some(fixed_ip.as_str()));
    assert_eq!(ips(&running["user"]), [fixed_ip]);
    let infos = &running["user"]
        .container_status
        .as_ref()
        .unwrap()
        .network_infos;
    assert_eq!(
        infos[0].name.as_deref(),
        Some(network.as_str()),
        "a copy of network_infos[0]"
    );

    let bridge_inspect = inspect(&docker, &agent.container_name(&running["bridge"])).await;
    let bridge_host = bridge_inspect.host_config.unwrap();
    assert_eq!(bridge_host.privileged, Some(false));
    let binding = &bridge_host.port_bindings.unwrap()["8080/tcp"]
        .clone()
        .unwrap()[0];
    assert_eq!(binding.host_port, Some(host_port.to_string()));
    assert!(bridge_inspect
        .config
        .unwrap()
        .exposed_ports
        .unwrap()
        .contains(&"8080/tcp".to_owned()));

    for task in ["host", "none", "user", "bridge"] {
        agent.kill(task, Some(Duration::ZERO)).await;
    }
    let mut killed = 0;
    while killed < 4 {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        if state(&status) == TaskState::TaskKilled {
            killed += 1;
        }
    }
    // The network can only go once its containers are gone.
    for status in running.values() {
        let name = agent.container_name(status);
        eventually(
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async { !exists(&docker, &name).await },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_options_fail_after_starting_with_mesos_texts() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let id = agent.agent_id.clone();

    let mut cases = Vec::new();
    let mut case = |name: &str, expected: &str, edit: &dyn Fn(&mut mesos_proto::v1::TaskInfo)| {
        let mut task = seed_task(name, &id);
        edit(&mut task);
        cases.push((task, expected.to_owned()));
    };
    case(
        "no-value",
        "Shell specified but no command value provided",
        &|t| {
            t.command.as_mut().unwrap().value = None;
        },
    );
    case(
        "relative",
        "Both host_path 'a' and container_path 'b' of a volume are relative",
        &|t| {
            t.container.as_mut().unwrap().volumes = vec![Volume {
                mode: Mode::Rw as i32,
                container_path: "b".into(),
                host_path: Some("a".into()),
                ..Default::default()
            }];
        },
    );
    case(
        "no-source",
        "Host path or volume source is required",
        &|t| {
            t.container.as_mut().unwrap().volumes = vec![Volume {
                mode: Mode::Rw as i32,
                container_path: "/x".into(),
                ..Default::default()
            }];
        },
    );
    case("two-drivers", "Only one volume driver is supported", &|t| {
        let volume = |driver: &str, name: &str| Volume {
            mode: Mode::Rw as i32,
            container_path: format!("/{name}"),
            source: Some(Box::new(VolumeSource {
                r#type: Some(source::Type::DockerVolume as i32),
                docker_volume: Some(source::DockerVolume {
                    driver: Some(driver.into()),
                    name: name.into(),
                    driver_options: None,
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        t.container.as_mut().unwrap().volumes = vec![volume("local", "a"), volume("other", "b")];
    });
    case(
        "user-no-info",
        "No network info found in container info",
        &|t| {
            docker_info(t).network = Some(Network::User as i32);
        },
    );
    case(
        "user-two",
        "Only a single network can be defined in Docker run",
        &|t| {
            docker_info(t).network = Some(Network::User as i32);
            let info = NetworkInfo {
                name: Some("n".into()),
                ..Default::default()
            };
            t.container.as_mut().unwrap().network_infos = vec![info.clone(), info];
        },
    );
    case(
        "user-no-name",
        "No network name found in network info",
        &|t| {
            docker_info(t).network = Some(Network::User as i32);
            t.container.as_mut().unwrap().network_infos = vec![NetworkInfo::default()];
        },
    );
    case(
        "host-hostname",
        "Unable to set hostname with host network mode",
        &|t| {
            docker_info(t).network = Some(Network::Host as i32);
            t.container.as_mut().unwrap().hostname = Some("h".into());
        },
    );
    let mapping = PortMapping {
        host_port: 31000,
        container_port: 80,
        protocol: None,
    };
    case(
        "ports-host",
        "Port mappings are only supported for bridge and user-defined networks",
        &|t| {
            docker_info(t).network = Some(Network::Host as i32);
            docker_info(t).port_mappings = vec![mapping.clone()];
        },
    );
    case(
        "ports-no-resources",
        "Port mappings require resources",
        &|t| {
            t.resources.clear();
            docker_info(t).port_mappings = vec![mapping.clone()];
        },
    );
    case(
        "ports-no-ports",
        "Port mappings require port resources",
        &|t| {
            docker_info(t).port_mappings = vec![mapping.clone()];
        },
    );
    case(
        "ports-outside",
        "Port [31000] not included in resources",
        &|t| {
            t.resources.push(ports(&[(31001, 31002)]));
            docker_info(t).port_mappings = vec![mapping.clone()];
        },
    );
    case(
        "unknown-param",
        "Unsupported docker parameter 'frobnicate'",
        &|t| {
            docker_info(t).parameters = vec![param("frobnicate", "yes")];
        },
    );
    case(
        "bad-param",
        "Invalid value 'lots' for docker parameter 'memory-swap': expected a size such as 512m or 1g",
        &|t| {
            docker_info(t).parameters = vec![param("memory-swap", "lots")];
        },
    );

    let expected: HashMap<String, String> = cases
        .iter()
        .map(|(t, e)| (t.task_id.value.clone(), e.clone()))
        .collect();
    for (task, _) in cases {
        agent.launch(task).await;
    }
    let mut failed = HashMap::new();
    let mut started = std::collections::HashSet::new();
    while failed.len() < expected.len() {
        let status = agent.next_update().await;
        agent.ack(&status).await;
        let task = status.task_id.value.clone();
        match state(&status) {
            TaskState::TaskStarting => {
                started.insert(task);
            }
            TaskState::TaskFailed => {
                assert!(started.contains(&task), "{task}: TASK_STARTING comes first");
                assert_eq!(status.source, Some(Source::Executor as i32));
                failed.insert(task, status.message.unwrap_or_default());
            }
            other => panic!("{task}: unexpected {other:?}"),
        }
    }
    for (task, message) in failed {
        assert_eq!(
            message,
            format!("Failed to create docker run options: {}", expected[&task]),
            "{task}"
        );
    }
    // The agent's resources claim is not touched by any of this.
    let _ = scalar("cpus", 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_user_network_fails_the_run_with_dockers_text() {
    ensure_test_image().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut agent = Harness::start(Options::new(work.path()), &guard).await;
    let mut task = seed_task("no-such-net", &agent.agent_id);
    docker_info(&mut task).network = Some(Network::User as i32);
    task.container.as_mut().unwrap().network_infos = vec![NetworkInfo {
        name: Some("berth-no-such-network".into()),
        ..Default::default()
    }];
    agent.launch(task).await;
    let statuses = agent.run_to_end("no-such-net").await;
    assert_eq!(
        states(&statuses),
        [TaskState::TaskStarting, TaskState::TaskFailed]
    );
    let message = statuses[1].message.clone().unwrap();
    assert!(
        message.starts_with("Failed to run docker container: "),
        "{message}"
    );
    assert!(message.contains("berth-no-such-network"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_reaches_the_container_config() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let mut options = Options::new(work.path());
    // Keep the container after it ends, to inspect it.
    options.remove_delay = Duration::from_secs(600);
    let mut agent = Harness::start(options, &guard).await;
    let mut task = shell_task("privileged", &agent.agent_id, "true");
    docker_info(&mut task).privileged = Some(true);
    agent.launch(task).await;
    let statuses = agent.run_to_end("privileged").await;
    // An engine that itself runs without full capabilities refuses to start privileged
    // containers ("unable to apply caps"); the agent reports Docker's words. Either way the
    // container was created privileged.
    let last = statuses.last().unwrap();
    match state(last) {
        TaskState::TaskFinished => {}
        TaskState::TaskFailed => {
            let message = last.message.clone().unwrap();
            assert!(
                message.starts_with("Failed to run docker container: "),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let inspect = inspect(&docker, &agent.container_name(&statuses[0])).await;
    assert_eq!(inspect.host_config.unwrap().privileged, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_parameters_reach_the_container_config() {
    ensure_test_image().await;
    let docker = docker().await;
    let guard = ContainerGuard::new();
    let work = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let mut options = Options::new(work.path());
    options.remove_delay = Duration::from_secs(600);
    let mut agent = Harness::start(options, &guard).await;
    let mut task = shell_task("params", &agent.agent_id, "ignored");
    docker_info(&mut task).parameters = vec![
        param("entrypoint", "/bin/echo"),
        param("hostname", "from-param"),
        param("volume", &format!("{}:/extra:ro", shared.path().display())),
        param("publish", "127.0.0.1::9090/udp"),
        param("expose", "7070/tcp"),
        param("device", "/dev/null:/dev/also-null:r"),
        param("group-add", "1234"),
        param("ipc", "private"),
        param("oom-kill-disable", "false"),
        param("cpuset-cpus", "0"),
        param("cpu-period", "50000"),
        param("cpu-quota", "25000"),
        param("memory-reservation", "64m"),
        param("log-driver", "json-file"),
        param("log-opt", "max-size=1m"),
        param("dns-search", "example.test"),
        param("dns-option", "ndots:1"),
        param("user", "65534:65534"),
        param("cap-drop", "ALL"),
    ];
    docker_info(&mut task).network = Some(Network::Bridge as i32);
    agent.launch(task).await;
    let statuses = agent.run_to_end("params").await;
    // The entrypoint override makes the command `echo -c ignored`.
    assert_eq!(
        state(statuses.last().unwrap()),
        TaskState::TaskFinished,
        "{statuses:?}"
    );
    let stdout =
        std::fs::read_to_string(sandbox(&agent, "params", &statuses[0]).join("stdout")).unwrap();
    assert_eq!(stdout, "-c ignored\n");
    let inspect = inspect(&docker, &agent.container_name(&statuses[0])).await;
    let config = inspect.config.unwrap();
    assert_eq!(config.entrypoint.unwrap(), ["/bin/echo"]);
    assert_eq!(config.hostname.as_deref(), Some("from-param"));
    assert_eq!(config.user.as_deref(), Some("65534:65534"));
    let exposed = config.exposed_ports.unwrap();
    assert!(exposed.contains(&"9090/udp".to_owned()) && exposed.contains(&"7070/tcp".to_owned()));
    let host = inspect.host_config.unwrap();
    assert!(host
        .binds
        .unwrap()
        .contains(&format!("{}:/extra:ro", shared.path().display())));
    let binding = &host.port_bindings.unwrap()["9090/udp"].clone().unwrap()[0];
    assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    let device = &host.devices.unwrap()[0];
    assert_eq!(device.path_in_container.as_deref(), Some("/dev/also-null"));
    assert_eq!(device.cgroup_permissions.as_deref(), Some("r"));
    assert_eq!(host.group_add.unwrap(), ["1234"]);
    assert_eq!(host.ipc_mode.as_deref(), Some("private"));
    assert_eq!(host.oom_kill_disable, Some(false));
    assert_eq!(host.cpuset_cpus.as_deref(), Some("0"));
    assert_eq!(host.cpu_period, Some(50_000));
    assert_eq!(host.cpu_quota, Some(25_000));
    assert_eq!(host.memory_reservation, Some(64 * 1024 * 1024));
    let log = host.log_config.unwrap();
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(log.config.unwrap()["max-size"], "1m");
    assert_eq!(host.dns_search.unwrap(), ["example.test"]);
    assert_eq!(host.dns_options.unwrap(), ["ndots:1"]);
    assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
}
