//! The `berth` command: `berth run` launches a task like `mesos-execute` (on an embedded
//! cluster by default, or on any Mesos master with `--master`); `berth cluster` serves the
//! embedded master and its Docker agents as a daemon.

use berth::{bench, cluster_args, embedded, logging, run, run_args};

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc (configured in `.cargo/config.toml`): glibc's malloc was a fifth of the control
/// plane's CPU and kept a burst's freed memory resident.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit code for flags that cannot be used (as clap uses for usage errors).
const EXIT_USAGE: u8 = 2;

/// Writes to stdout; a closed stdout (`berth bench | head -1`) is not an error worth a panic,
/// which is what `println!` would make of it.
fn say_raw(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `println!` without the panic on a closed stdout.
macro_rules! say {
    ($($arg:tt)*) => {
        say_raw(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` without the panic on a closed stderr.
macro_rules! say_err {
    ($($arg:tt)*) => {
        logging::stderr_line(format_args!($($arg)*))
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Run Docker containers as tasks, the Apache Mesos way"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Launch one task and follow it to its end (like mesos-execute).
    Run(Box<run_args::RunArgs>),
    /// Serve the embedded master and its Docker agents.
    Cluster(cluster_args::ClusterArgs),
    /// Measure launch overhead against Docker, the control plane at scale, allocation and
    /// event decoding; print each figure with its setup and target.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Run(_) = cli.command {
        // With transparent huge pages the kernel zeroes a whole 2 MiB page the first time any
        // of it is touched: milliseconds at a time on `berth run`'s launch path (an
        // allocation in the middle of it lands on a fresh page), for a process whose heap
        // stays small. Without THP a first touch costs one 4 KiB page. Best effort.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
    // `berth run` follows one task: on one thread, the hops of its launch (agent, master,
    // HTTP, scheduler) run back to back, where a pool hands each to another thread to wake,
    // which costs milliseconds apiece while the engine keeps the CPUs busy with the container.
    let mut builder = match cli.command {
        Command::Run(_) => tokio::runtime::Builder::new_current_thread(),
        Command::Cluster(_) | Command::Bench(_) => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run(args) => {
            // Every flag is checked before anything starts.
            let template = match args.task_info() {
                Ok(t) => t,
                Err(e) => {
                    say_err!("berth run: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            if args.dry_run {
                use mesos_proto::MesosJson as _;
                let v = template.to_json_value();
                say!(
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_else(|_| template.to_json_string())
                );
                return ExitCode::SUCCESS;
            }
            logging::init(args.log_format);
            match runtime.block_on(run::run(*args, template)) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                Err(e) => {
                    tracing::error!("{e:#}");
                    say_err!("berth run: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench(args) => {
            if let Err(e) = args.validate() {
                say_err!("berth bench: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
            // Per-task logs would swamp the figures: warnings only, unless RUST_LOG says more.
            logging::init_with_default(run_args::LogFormat::Text, "warn");
            let outcomes = runtime.block_on(bench::run(&args));
            if args.json {
                let doc = bench::to_json(&outcomes);
                say!(
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
                );
            } else {
                say_raw(&bench::table(&outcomes));
            }
            if outcomes.iter().any(|o| o.error.is_some()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Cluster(args) => {
            if let Err(e) = args.validate() {
                say_err!("berth cluster: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
            logging::init(args.log_format);
            match runtime.block_on(cluster(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    say_err!("berth cluster: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn cluster(args: cluster_args::ClusterArgs) -> anyhow::Result<()> {
    let mut cfg = embedded::EmbeddedConfig::new(args.listen, args.work_dir.clone());
    cfg.agents = args.agents;
    cfg.resources = args.resources.clone();
    cfg.hostname = args.hostname.clone();
    cfg.heartbeat_interval = args.heartbeat_interval;
    cfg.allocation_interval = args.allocation_interval;
    cfg.docker_remove_delay = args.docker_remove_delay;
    cfg.container_labels = run_args::parse_labels("--container-label", &args.container_label)?;
    cfg.simulated_agents = args.simulated_agents;
    cfg.simulated = args.simulated_config();
    cfg.simulated_resources = args.simulated_resources.clone();
    let cluster = embedded::Embedded::start(cfg).await?;
    tracing::info!(
        master = %cluster.url(),
        agents = args.agents,
        simulated_agents = args.simulated_agents,
        work_dir = %args.work_dir.display(),
        "berth cluster serving the Mesos v1 scheduler API at {}/api/v1/scheduler",
        cluster.url()
    );
    let token = cluster.shutdown_token();
    tokio::spawn(async move {
        // First SIGINT/SIGTERM: graceful shutdown; second: exit at once.
        run::interruption().await;
        tracing::info!("shutting down (signal again to exit at once)");
        token.cancel();
        run::interruption().await;
        std::process::exit(run::EXIT_INTERRUPTED);
    });
    cluster.wait().await;
    tracing::info!("berth cluster stopped");
    Ok(())
}
