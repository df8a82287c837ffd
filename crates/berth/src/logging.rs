//! Installs the tracing subscriber for the `berth` binary: human text, or one JSON object per
//! line shaped like the seed's log (`{"level":"info","msg":"command task","task":{...},
//! "time":"2016-08-12T11:51:39+08:00"}`). `RUST_LOG` filters as usual (default `info`).
//!
//! A field whose value is JSON text (e.g. `task = %task_json`) is embedded as a JSON value, not
//! as a string, so a logged TaskInfo reads as the object it is.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::run_args::LogFormat;

/// The seed's JSON line format.
struct SeedJson;

/// Fields in the order they were recorded, each as JSON text.
#[derive(Default)]
struct JsonFields(Vec<(String, String)>);

impl JsonFields {
    fn put(&mut self, field: &Field, json: String) {
        // tracing records the event's own message as `message`; a field that is also called
        // `message` keeps its name.
        let taken = self.0.iter().any(|(k, _)| k == "msg");
        let key = if field.name() == "message" && !taken {
            "msg"
        } else {
            field.name()
        };
        self.0.push((key.to_string(), json));
    }

    fn take(&mut self, key: &str) -> Option<String> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }
}

/// JSON text for a string value: the string itself when it is a JSON object or array (kept
/// verbatim, so a TaskInfo keeps Mesos's key order), else a JSON string.
fn embed(text: &str) -> String {
    let t = text.trim_start();
    if (t.starts_with('{') || t.starts_with('[')) && serde_json::from_str::<Value>(text).is_ok() {
        return text.trim().to_string();
    }
    Value::String(text.to_string()).to_string()
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, embed(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value).to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value).to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value).to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value).to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, embed(&format!("{value:?}")));
    }
}

impl<S, N> FormatEvent<S, N> for SeedJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let msg = fields.take("msg").unwrap_or_else(|| "\"\"".to_string());
        let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        write!(w, "{{\"level\":{},\"msg\":{msg}", Value::String(level))?;
        for (k, v) in &fields.0 {
            write!(w, ",{}:{v}", Value::String(k.clone()))?;
        }
        writeln!(w, ",\"time\":{}}}", Value::String(time))
    }
}

/// Writes one line to stderr. A closed stderr is ignored: `eprintln!` would panic on it.
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Installs the global subscriber (stderr). Safe to call once per process.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Installs the global subscriber (stderr) with `default_filter` where `RUST_LOG` is unset
/// (`berth bench` keeps per-task events quiet with `warn`).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr closed, e.g. `berth run ... 2>&1 | head`)
        // is dropped. By default the subscriber reports it with `eprintln!`, which panics on a
        // closed stderr: in whichever task logged, so `berth run` died or waited forever.
        .log_internal_errors(false);
    let result = match format {
        LogFormat::Text => {
            use std::io::IsTerminal as _;
            builder
                .with_target(false)
                .with_ansi(std::io::stderr().is_terminal())
                .try_init()
        }
        LogFormat::Json => builder.event_format(SeedJson).try_init(),
    };
    // A second init (tests) keeps the first subscriber; that is fine.
    drop(result);
}
