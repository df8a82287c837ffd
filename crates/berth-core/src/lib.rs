//! berth's pure domain logic, shared by the master and the agents. Synchronous, no I/O: time is
//! always an argument, so every decision can be tested without clocks, sockets or Docker.
//!
//! # Layout
//!
//! * [`msg`]: the messages between master and agents (the only link between the two crates).
//! * [`resources`]: resource arithmetic (scalars to 3 decimals, ranges, sets).
//! * [`allocator`]: offers: which framework gets which agent's free resources (DRF, filters,
//!   suppression).
//! * [`task`]: the task state machine.
//! * [`ledger`]: the agent's per-task status-update streams (one unacknowledged update in
//!   flight, retry backoff).

pub mod allocator;
pub mod ledger;
pub mod msg;
pub mod resources;
pub mod task;
