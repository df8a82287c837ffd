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
//! - [`eventually`](mod@eventually): polling a condition until it holds or a deadline passes,
//!   so tests never sleep for a fixed time.
//!
//! Everything here panics on failure with a message saying what went wrong: it only ever runs
//! inside tests, where a panic is the failure report.

pub mod docker;
pub mod eventually;
pub mod guard;
pub mod image;

pub use docker::docker;
pub use eventually::{eventually, Check};
pub use guard::{test_run_label, unique_name, ContainerGuard, TEST_RUN_LABEL};
pub use image::{ensure_test_image, TEST_IMAGE};
