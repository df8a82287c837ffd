//! Transparent huge pages for the long-running modes (`berth cluster`, `berth bench`).
//!
//! A master with 10,000 agents and 100,000 tasks touches hundreds of MB at random; with 4 KiB
//! pages many of its cache misses also miss the TLB. jemalloc asks the kernel for huge pages
//! (`madvise`, which is all the usual THP mode "madvise" grants) when started with
//! `thp:always`. In alternating control-plane runs this took 9-14% off the CPU per task (9 of 11
//! pairs), for ~0.1 KiB more RSS per tracked task.
//!
//! jemalloc reads its settings once, when it starts, before `main`. The setting is not compiled
//! in (`.cargo/config.toml`) because it would cost `berth run`, a short process on a launch
//! path, the zeroing of a fresh 2 MiB page for each arena it touches: about 4 ms of CPU a run,
//! measured with `perf`. So the long-running modes execute themselves again with it added to
//! the environment ([`reexec`]), and processes they start get the environment back as it was
//! ([`child_conf`]).

use std::ffi::OsString;

/// The environment variable jemalloc (built with the `_rjem_` prefix) reads its settings from.
pub const MALLOC_CONF_VAR: &str = "_RJEM_MALLOC_CONF";

/// What [`reexec`] adds to jemalloc's settings.
pub const HUGE_PAGE_CONF: &str = "thp:always,metadata_thp:auto";

/// `current` with [`HUGE_PAGE_CONF`] added, or `None` when it already says something about THP
/// (set by [`reexec`] or by the user: left alone).
fn with_huge_pages(current: &str) -> Option<String> {
    if current.contains("thp:") {
        None
    } else if current.is_empty() {
        Some(HUGE_PAGE_CONF.to_owned())
    } else {
        Some(format!("{current},{HUGE_PAGE_CONF}"))
    }
}

/// `current` without what [`with_huge_pages`] added; `None`: no setting at all.
fn without_huge_pages(current: &str) -> Option<String> {
    let before = if current == HUGE_PAGE_CONF {
        ""
    } else {
        current
            .strip_suffix(HUGE_PAGE_CONF)
            .and_then(|s| s.strip_suffix(','))
            .unwrap_or(current)
    };
    (!before.is_empty()).then(|| before.to_owned())
}

/// Executes this same program again (same PID, arguments and descriptors) with
/// [`HUGE_PAGE_CONF`] added to jemalloc's settings. Returns when there is nothing to do (the
/// settings already mention THP: this is the second run, or the user chose), or with the error
/// when the exec failed; the caller then goes on as it is.
pub fn reexec() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt as _;
    let current = std::env::var_os(MALLOC_CONF_VAR).unwrap_or_default();
    let conf = with_huge_pages(&current.to_string_lossy())?;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Some(e),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // `exec` only returns on failure.
    Some(command.args(args).env(MALLOC_CONF_VAR, conf).exec())
}

/// The jemalloc settings a process started from this one should get: this process's own,
/// without what [`reexec`] added. `None`: the variable should be unset.
pub fn child_conf() -> Option<OsString> {
    let current = std::env::var_os(MALLOC_CONF_VAR)?;
    without_huge_pages(&current.to_string_lossy()).map(OsString::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_and_removing_the_setting_round_trip() {
        for before in ["", "narenas:2", "background_thread:false,narenas:2"] {
            let with = with_huge_pages(before).expect("nothing about THP before");
            assert!(with.contains(HUGE_PAGE_CONF), "{with}");
            let back = without_huge_pages(&with);
            assert_eq!(back.as_deref(), (!before.is_empty()).then_some(before));
        }
    }

    #[test]
    fn a_thp_setting_already_there_is_left_alone() {
        assert_eq!(with_huge_pages("thp:never"), None);
        assert_eq!(with_huge_pages(HUGE_PAGE_CONF), None);
        assert_eq!(
            without_huge_pages("thp:never").as_deref(),
            Some("thp:never")
        );
    }
}
