//! The `berth` binary's library half: everything `berth run`, `berth cluster` and `berth bench`
//! do, so that integration tests can embed a cluster in-process.
//!
//! # Layout
//!
//! * [`run_args`], [`cluster_args`]: the flags, validated before anything starts.
//! * [`run`]: the one-task framework behind `berth run`.
//! * [`files`]: sandbox files over HTTP (`/files/read`), served per agent and read by
//!   `berth run`.
//! * [`embedded`]: the master + agents wiring shared by both commands.
//! * [`logging`]: text or seed-style JSON log lines.
//! * [`bench`]: `berth bench`, the performance figures (launch overhead against Docker, burst
//!   throughput, the control plane with simulated agents, allocation, event decoding).

pub mod bench;
pub mod cluster_args;
pub mod embedded;
pub mod files;
pub mod logging;
pub mod run;
pub mod run_args;
