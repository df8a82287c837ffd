//! Test support for berth's crates. A dev-dependency only (`publish = false`).
//!
//! # Layout
//!
//! - [`docker`](mod@docker): connecting to the local Docker engine with the API version
//!   negotiated, and panicking with instructions when it is not running.
//! - [`image`]: the tiny `berth/busybox:latest` test image, built from the host's static
//!   busybox and imported without any registry.
//! - [`guard`]: [`ContainerGuard`], which removes the containers a test made even when the test
//!   panics, plus [`test_run_label`] and [`unique_name`] for naming them.
//! - [`registry`]: a private Docker registry (Debian's `docker-registry`) for pull tests.
//! - [`eventually`](mod@eventually): polling a condition until it holds or a deadline passes,
//!   so tests never sleep for a fixed time.
//! - [`test_agent`]: an in-process agent speaking `berth_core::msg` with scripted task states,
//!   update retries and resends, for master tests.
//! - [`fake_master`]: a scripted Mesos master on 127.0.0.1 for scheduler-client tests:
//!   scripted SUBSCRIBE answers (status, 307, event streams), call replies, recorded requests.
//!
//! Everything here panics on failure with a message saying what went wrong: it only ever runs
//! inside tests, where a panic is the failure report.

pub mod docker;
pub mod eventually;
pub mod fake_master;
pub mod guard;
pub mod image;
pub mod registry;
pub mod test_agent;

pub use docker::docker;
pub use eventually::{eventually, Check};
pub use guard::{test_run_label, unique_name, ContainerGuard, TEST_RUN_LABEL};
pub use image::{ensure_test_image, TEST_IMAGE};
