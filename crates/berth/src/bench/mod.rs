//! `berth bench`: berth's performance figures, each printed beside its setup and its target.
//!
//! # Layout
//!
//! * this module: [`BenchArgs`] (the flags, with the sizes as defaults), [`Figure`]
//!   (one measured number with its setup and target), the table and JSON output, and
//!   [`run`], which runs the selected benchmarks in order and never stops at a failed one.
//! * [`launch`]: `berth run` (the real binary) against the Engine API and `docker run --rm`.
//! * [`burst`]: many containers through one embedded agent against a direct Engine API loop.
//! * [`control`]: the control plane at scale: simulated agents, real schedulers over HTTP.
//! * [`allocation`]: one allocation round of berth-core's allocator, no I/O.
//! * [`decode`]: RecordIO + JSON and RecordIO + protobuf decoding of OFFERS events.
//! * [`stats`]: medians, percentiles, the process's RSS.
//!
//! Every benchmark is a library function taking its own `...Config`, so tests run them at tiny
//! sizes and check what they did (tasks finished, figures positive) rather than timings.

pub mod allocation;
pub mod burst;
pub mod control;
pub mod decode;
pub mod launch;
pub mod stats;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::run_args::{parse_duration, ContentType};

/// The benchmarks, in the order `berth bench` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchName {
    /// Allocation round alone (berth-core's allocator, no I/O).
    Allocation,
    /// Event decoding: RecordIO + JSON and RecordIO + protobuf OFFERS events.
    Decode,
    /// Control plane with simulated agents and schedulers over HTTP.
    ControlPlane,
    /// `berth run` launch overhead against the Engine API and `docker run`.
    Launch,
    /// A burst of containers through one agent against a direct Engine API loop.
    Burst,
}

impl BenchName {
    /// Every benchmark, in run order: the latency-sensitive container ones on a quiet
    /// machine first; the control plane last, since its aftermath (gigabytes freed and being
    /// returned to the OS, thousands of closed sockets) would weigh on whatever runs next.
    pub const ALL: [BenchName; 5] = [
        BenchName::Launch,
        BenchName::Burst,
        BenchName::Allocation,
        BenchName::Decode,
        BenchName::ControlPlane,
    ];

    /// The name used by `--only` and in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchName::Allocation => "allocation",
            BenchName::Decode => "decode",
            BenchName::ControlPlane => "control-plane",
            BenchName::Launch => "launch",
            BenchName::Burst => "burst",
        }
    }
}

/// `berth bench`: measure launch overhead against Docker, the control plane at scale with
/// simulated agents, the allocator and event decoding; print each figure with its setup and
/// its target (PASS/MISS).
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run only this benchmark.
    #[arg(long, value_enum)]
    pub only: Option<BenchName>,
    /// The image every container benchmark runs (must exist locally; make it with
    /// `scripts/make-test-image.sh`).
    #[arg(long, default_value = "berth/busybox:latest")]
    pub image: String,
    /// launch: measured runs of each way to start the container.
    #[arg(long = "launch-runs", default_value_t = 40)]
    pub launch_runs: u32,
    /// burst: containers launched at once.
    #[arg(long = "burst-tasks", default_value_t = 100)]
    pub burst_tasks: u32,
    /// control-plane: simulated agents.
    #[arg(long = "agents", default_value_t = 10_000)]
    pub agents: u32,
    /// control-plane: frameworks (berth's scheduler library over HTTP on 127.0.0.1).
    #[arg(long = "frameworks", default_value_t = 100)]
    pub frameworks: u32,
    /// control-plane: tasks in total, spread evenly over the frameworks.
    #[arg(long = "tasks", default_value_t = 100_000)]
    pub tasks: u64,
    /// control-plane: most tasks a framework launches on one offer.
    #[arg(long = "tasks-per-offer", default_value_t = 10)]
    pub tasks_per_offer: u32,
    /// control-plane: most tasks one framework has launched and not yet seen end.
    #[arg(long = "max-in-flight", default_value_t = 50)]
    pub max_in_flight: u64,
    /// control-plane: how long each simulated task runs.
    #[arg(long = "task-duration", value_parser = parse_duration, default_value = "0s")]
    pub task_duration: Duration,
    /// control-plane: the frameworks' encoding (the scheduler library's default, protobuf,
    /// unless told otherwise).
    #[arg(long = "content-type", value_enum, default_value_t = ContentType::Protobuf)]
    pub content_type: ContentType,
    /// control-plane: the master's allocation interval.
    #[arg(long = "allocation-interval", value_parser = parse_duration, default_value = "1s")]
    pub allocation_interval: Duration,
    /// control-plane: runs, each in a fresh `berth bench` process: the run with the median
    /// throughput is reported in full, the others' throughputs in a note. One run varies by
    /// some 15% from the next on the same machine.
    #[arg(long = "control-runs", default_value_t = 3)]
    pub control_runs: u32,
    /// control-plane: give up waiting for the tasks after this long (figures are then
    /// reported for what finished).
    #[arg(long = "control-timeout", value_parser = parse_duration, default_value = "300s")]
    pub control_timeout: Duration,
    /// allocation: agents.
    #[arg(long = "alloc-agents", default_value_t = 10_000)]
    pub alloc_agents: u32,
    /// allocation: frameworks.
    #[arg(long = "alloc-frameworks", default_value_t = 1_000)]
    pub alloc_frameworks: u32,
    /// allocation: measured rounds.
    #[arg(long = "alloc-rounds", default_value_t = 10)]
    pub alloc_rounds: u32,
    /// decode: events decoded per encoding.
    #[arg(long = "decode-events", default_value_t = 2_000)]
    pub decode_events: u32,
    /// decode: offers per OFFERS event.
    #[arg(long = "offers-per-event", default_value_t = 100)]
    pub offers_per_event: u32,
    /// Where the embedded clusters keep their work dirs (default: a fresh temporary dir).
    #[arg(long = "work-dir")]
    pub work_dir: Option<PathBuf>,
}

impl BenchArgs {
    /// Checks values clap cannot: returns an error naming the flag.
    pub fn validate(&self) -> Result<(), crate::run_args::ArgError> {
        use crate::run_args::ArgError;
        let positive: [(&'static str, u64); 12] = [
            ("--launch-runs", self.launch_runs.into()),
            ("--burst-tasks", self.burst_tasks.into()),
            ("--agents", self.agents.into()),
            ("--frameworks", self.frameworks.into()),
            ("--tasks", self.tasks),
            ("--tasks-per-offer", self.tasks_per_offer.into()),
            ("--alloc-agents", self.alloc_agents.into()),
            ("--alloc-frameworks", self.alloc_frameworks.into()),
            ("--alloc-rounds", self.alloc_rounds.into()),
            ("--decode-events", self.decode_events.into()),
            ("--max-in-flight", self.max_in_flight),
            ("--control-runs", self.control_runs.into()),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ArgError {
                flag,
                message: "'0': must be at least 1".into(),
            });
        }
        if self.offers_per_event == 0 {
            return Err(ArgError {
                flag: "--offers-per-event",
                message: "'0': must be at least 1".into(),
            });
        }
        if self.tasks < u64::from(self.frameworks) {
            return Err(ArgError {
                flag: "--tasks",
                message: format!(
                    "'{}': fewer tasks than --frameworks ({})",
                    self.tasks, self.frameworks
                ),
            });
        }
        if self.allocation_interval.is_zero() {
            return Err(ArgError {
                flag: "--allocation-interval",
                message: "must be positive".into(),
            });
        }
        Ok(())
    }
}

/// A target a figure is held against.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target as text, e.g. `<= 1.10x`.
    pub text: String,
    /// Whether the figure meets it.
    pub pass: bool,
}

/// One measured number.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The benchmark it belongs to.
    pub bench: &'static str,
    /// What it is, e.g. `berth run -> TASK_RUNNING median`.
    pub name: String,
    /// The number.
    pub value: f64,
    /// Its unit (`ms`, `tasks/s`, `MB/s`, `x`, ...).
    pub unit: Cow<'static, str>,
    /// How it was measured (sizes, repetitions).
    pub setup: String,
    /// The target, for the figures the issue sets one for.
    pub target: Option<Target>,
}

impl Figure {
    /// A figure without a target.
    pub fn new(
        bench: &'static str,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        setup: impl Into<String>,
    ) -> Self {
        Figure {
            bench,
            name: name.into(),
            value,
            unit: Cow::Borrowed(unit),
            setup: setup.into(),
            target: None,
        }
    }

    /// The same figure held against `value <= limit`.
    pub fn at_most(mut self, limit: f64) -> Self {
        self.target = Some(Target {
            text: format!("<= {} {}", fmt_value(limit), self.unit),
            pass: self.value <= limit,
        });
        self
    }

    /// The same figure held against `value < limit`.
    pub fn below(mut self, limit: f64) -> Self {
        self.target = Some(Target {
            text: format!("< {} {}", fmt_value(limit), self.unit),
            pass: self.value < limit,
        });
        self
    }

    /// The same figure held against `value >= limit`.
    pub fn at_least(mut self, limit: f64) -> Self {
        self.target = Some(Target {
            text: format!(">= {} {}", fmt_value(limit), self.unit),
            pass: self.value >= limit,
        });
        self
    }
}

/// What one benchmark produced: its figures, or why it could not run.
#[derive(Debug)]
pub struct Outcome {
    /// The benchmark.
    pub bench: BenchName,
    /// Its figures (empty when it failed).
    pub figures: Vec<Figure>,
    /// Notes worth printing (e.g. what limited a figure).
    pub notes: Vec<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Wall-clock time it took.
    pub elapsed: Duration,
}

/// Runs the selected benchmarks, one after the other (so they do not disturb each other),
/// and returns their outcomes. A benchmark that fails is reported as failed; the others run.
pub async fn run(args: &BenchArgs) -> Vec<Outcome> {
    let selected: Vec<BenchName> = match args.only {
        Some(one) => vec![one],
        None => BenchName::ALL.to_vec(),
    };
    let temp = match &args.work_dir {
        Some(_) => None,
        None => tempdir(),
    };
    let work_dir = args
        .work_dir
        .clone()
        .or_else(|| temp.clone())
        .unwrap_or_else(|| std::env::temp_dir().join("berth-bench"));
    let mut outcomes = Vec::new();
    for bench in selected {
        if !args.json {
            crate::logging::stderr_line(format_args!(
                "berth bench: running {} ...",
                bench.as_str()
            ));
        }
        let started = Instant::now();
        let result = run_one(bench, args, &work_dir).await;
        let elapsed = started.elapsed();
        let outcome = match result {
            Ok((figures, notes)) => Outcome {
                bench,
                figures,
                notes,
                error: None,
                elapsed,
            },
            Err(e) => Outcome {
                bench,
                figures: Vec::new(),
                notes: Vec::new(),
                error: Some(format!("{e:#}")),
                elapsed,
            },
        };
        if !args.json {
            crate::logging::stderr_line(format_args!(
                "berth bench: {} done in {:.1} s",
                bench.as_str(),
                elapsed.as_secs_f64()
            ));
        }
        outcomes.push(outcome);
    }
    if let Some(temp) = temp {
        let _ = std::fs::remove_dir_all(temp);
    }
    outcomes
}

/// A fresh directory under the system's temp dir.
fn tempdir() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "berth-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

async fn run_one(
    bench: BenchName,
    args: &BenchArgs,
    work_dir: &std::path::Path,
) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    match bench {
        BenchName::Allocation => {
            let config = allocation::AllocationConfig {
                agents: args.alloc_agents,
                frameworks: args.alloc_frameworks,
                rounds: args.alloc_rounds,
            };
            // CPU-bound and synchronous: off the async workers.
            let report = tokio::task::spawn_blocking(move || allocation::run(&config)).await??;
            Ok((report.figures(), Vec::new()))
        }
        BenchName::Decode => {
            let config = decode::DecodeConfig {
                events: args.decode_events,
                offers_per_event: args.offers_per_event,
            };
            let report = tokio::task::spawn_blocking(move || decode::run(&config)).await??;
            Ok((report.figures(), Vec::new()))
        }
        BenchName::ControlPlane if args.control_runs > 1 => control::repeated(args, work_dir).await,
        BenchName::ControlPlane => {
            let config = control::ControlConfig {
                agents: args.agents,
                frameworks: args.frameworks,
                tasks: args.tasks,
                tasks_per_offer: args.tasks_per_offer,
                task_duration: args.task_duration,
                allocation_interval: args.allocation_interval,
                timeout: args.control_timeout,
                work_dir: work_dir.join("control-plane"),
                content_type: args.content_type.into(),
                max_in_flight: args.max_in_flight,
            };
            let report = control::run(&config).await?;
            let notes = report.notes();
            Ok((report.figures(), notes))
        }
        BenchName::Launch => {
            let config = launch::LaunchConfig {
                runs: args.launch_runs,
                image: args.image.clone(),
                berth: std::env::current_exe()?,
            };
            let report = launch::run(&config).await?;
            Ok((report.figures(), report.notes()))
        }
        BenchName::Burst => {
            let config = burst::BurstConfig {
                tasks: args.burst_tasks,
                image: args.image.clone(),
                work_dir: work_dir.join("burst"),
            };
            let report = burst::run(&config).await?;
            Ok((report.figures(), Vec::new()))
        }
    }
}

/// A number with sensible precision for a table.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A figure's value for the table: with [`fmt_value`]'s precision, or two more decimals when
/// that would print the target's own number (`1.10 x` against `<= 1.10 x`, MISS) and hide on
/// which side of it the figure fell.
fn value_text(f: &Figure) -> String {
    let text = fmt_value(f.value);
    let limit = f.target.as_ref().and_then(|t| t.text.split(' ').nth(1));
    if limit != Some(text.as_str()) {
        return text;
    }
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len()) + 2;
    format!("{:.*}", decimals, f.value)
}

/// The outcomes as an aligned text table, with notes and errors after it.
pub fn table(outcomes: &[Outcome]) -> String {
    let header = ["BENCH", "FIGURE", "VALUE", "TARGET", "RESULT", "SETUP"];
    let mut rows: Vec<[String; 6]> = Vec::new();
    for o in outcomes {
        if let Some(e) = &o.error {
            rows.push([
                o.bench.as_str().to_owned(),
                "(failed)".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "ERROR".to_owned(),
                first_line(e),
            ]);
        }
        for f in &o.figures {
            let (target, result) = match &f.target {
                Some(t) => (
                    t.text.clone(),
                    if t.pass { "PASS" } else { "MISS" }.to_owned(),
                ),
                None => ("-".to_owned(), "".to_owned()),
            };
            rows.push([
                f.bench.to_owned(),
                f.name.clone(),
                format!("{} {}", value_text(f), f.unit),
                target,
                result,
                f.setup.clone(),
            ]);
        }
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line([
            row[0].as_str(),
            row[1].as_str(),
            row[2].as_str(),
            row[3].as_str(),
            row[4].as_str(),
            row[5].as_str(),
        ]);
    }
    let (pass, miss) = count_targets(outcomes);
    let _ = writeln!(out, "\ntargets: {pass} PASS, {miss} MISS");
    for o in outcomes {
        let _ = writeln!(
            out,
            "{}: {:.1} s",
            o.bench.as_str(),
            o.elapsed.as_secs_f64()
        );
        for n in &o.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(e) = &o.error {
            let _ = writeln!(out, "  error: {e}");
        }
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_owned()
}

/// How many targeted figures pass and miss.
pub fn count_targets(outcomes: &[Outcome]) -> (usize, usize) {
    let targets = outcomes
        .iter()
        .flat_map(|o| &o.figures)
        .filter_map(|f| f.target.as_ref());
    let (mut pass, mut miss) = (0, 0);
    for t in targets {
        if t.pass {
            pass += 1;
        } else {
            miss += 1;
        }
    }
    (pass, miss)
}

/// The outcomes as a JSON document.
pub fn to_json(outcomes: &[Outcome]) -> serde_json::Value {
    let benches: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let figures: Vec<serde_json::Value> = o
                .figures
                .iter()
                .map(|f| {
                    json!({
                        "name": f.name,
                        "value": f.value,
                        "unit": f.unit,
                        "setup": f.setup,
                        "target": f.target.as_ref().map(|t| t.text.clone()),
                        "pass": f.target.as_ref().map(|t| t.pass),
                    })
                })
                .collect();
            json!({
                "bench": o.bench.as_str(),
                "elapsed_seconds": o.elapsed.as_secs_f64(),
                "figures": figures,
                "notes": o.notes,
                "error": o.error,
            })
        })
        .collect();
    let (pass, miss) = count_targets(outcomes);
    json!({ "benches": benches, "targets": { "pass": pass, "miss": miss } })
}

/// The figures and notes of `bench`'s entry in [`to_json`]'s output (its inverse, for runs
/// made in a child process). Fails with the entry's error, if it has one.
pub fn outcome_from_json(
    bench: BenchName,
    entry: &serde_json::Value,
) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    use anyhow::Context as _;
    if let Some(error) = entry["error"].as_str() {
        anyhow::bail!("{error}");
    }
    let text = |v: &serde_json::Value, what: &str| {
        v.as_str()
            .map(str::to_owned)
            .with_context(|| format!("figure without {what}: {v}"))
    };
    let figures = entry["figures"]
        .as_array()
        .context("no figures in the run's JSON")?
        .iter()
        .map(|f| {
            Ok(Figure {
                bench: bench.as_str(),
                name: text(&f["name"], "a name")?,
                value: f["value"].as_f64().unwrap_or(f64::NAN),
                unit: text(&f["unit"], "a unit")?.into(),
                setup: text(&f["setup"], "a setup")?,
                target: match (f["target"].as_str(), f["pass"].as_bool()) {
                    (Some(t), Some(pass)) => Some(Target {
                        text: t.to_owned(),
                        pass,
                    }),
                    _ => None,
                },
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let notes = entry["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((figures, notes))
}

/// The benchmarks' task: `sh -c true` in a Docker container of `image`.
fn true_task(
    id: String,
    image: &str,
    agent_id: mesos_proto::v1::AgentId,
    resources: Vec<mesos_proto::v1::Resource>,
) -> mesos_proto::v1::TaskInfo {
    use mesos_proto::v1::{container_info, CommandInfo, ContainerInfo, TaskId, TaskInfo};
    TaskInfo {
        name: id.clone(),
        task_id: TaskId::from_str_value(id),
        agent_id,
        resources,
        command: Some(Box::new(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        })),
        container: Some(Box::new(ContainerInfo {
            r#type: container_info::Type::Docker as i32,
            docker: Some(Box::new(container_info::DockerInfo {
                image: image.to_owned(),
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_in_the_stated_direction() {
        let f = Figure::new("x", "f", 1.5, "ms", "");
        assert!(f.clone().at_most(1.5).target.unwrap().pass);
        assert!(!f.clone().below(1.5).target.unwrap().pass);
        assert!(f.clone().at_least(1.0).target.unwrap().pass);
        assert!(!f.at_least(2.0).target.unwrap().pass);
    }

    #[test]
    fn a_value_that_rounds_to_its_target_shows_which_side_it_is_on() {
        let near = Figure::new("x", "f", 1.1033, "x", "").at_most(1.10);
        assert_eq!(value_text(&near), "1.1033");
        let table = table(&[Outcome {
            bench: BenchName::Launch,
            figures: vec![near],
            notes: Vec::new(),
            error: None,
            elapsed: Duration::ZERO,
        }]);
        assert!(table.contains("1.1033 x"), "{table}");
        // Away from the target, the usual precision.
        let far = Figure::new("x", "f", 1.2345, "x", "").at_most(1.10);
        assert_eq!(value_text(&far), "1.23");
        assert_eq!(value_text(&Figure::new("x", "f", 1.2345, "x", "")), "1.23");
    }

    #[test]
    fn the_table_lists_figures_errors_and_a_tally() {
        let outcomes = vec![
            Outcome {
                bench: BenchName::Decode,
                figures: vec![
                    Figure::new("decode", "json", 120.0, "MB/s", "100 offers").at_least(100.0)
                ],
                notes: vec![],
                error: None,
                elapsed: Duration::from_secs(1),
            },
            Outcome {
                bench: BenchName::Launch,
                figures: vec![],
                notes: vec![],
                error: Some("no Docker".into()),
                elapsed: Duration::ZERO,
            },
        ];
        let text = table(&outcomes);
        assert!(text.contains("PASS"), "{text}");
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("targets: 1 PASS, 0 MISS"), "{text}");
        let json = to_json(&outcomes);
        assert_eq!(json["targets"]["pass"], 1);
        assert_eq!(json["benches"][1]["error"], "no Docker");
    }

    #[test]
    fn a_runs_json_gives_back_its_figures_and_notes() {
        let figures = vec![
            Figure::new(
                "control-plane",
                "tasks/s figure",
                21_000.5,
                "tasks/s",
                "10 agents",
            )
            .at_least(20_000.0),
            Figure::new("control-plane", "us figure", 91.25, "us", "2 cores"),
        ];
        let outcome = Outcome {
            bench: BenchName::ControlPlane,
            figures: figures.clone(),
            notes: vec!["a note".into()],
            error: None,
            elapsed: Duration::from_secs(9),
        };
        let doc = to_json(&[outcome]);
        let (back, notes) = outcome_from_json(BenchName::ControlPlane, &doc["benches"][0]).unwrap();
        assert_eq!(back, figures);
        assert_eq!(notes, vec!["a note".to_owned()]);

        let failed = serde_json::json!({ "error": "no Docker", "figures": [] });
        let err = outcome_from_json(BenchName::ControlPlane, &failed).unwrap_err();
        assert_eq!(err.to_string(), "no Docker");
    }
}
