//! The test image `berth/busybox:latest`, made without any registry.
//!
//! Machines here reach no container registry, so the image is assembled from the host's
//! statically linked busybox (Debian's `busybox-static`): `/bin/busybox`, a `/bin/<applet>`
//! symlink for each applet it lists, and the empty directories a container expects. The tar is
//! built in memory and imported through the Engine API (`POST /images/create?fromSrc=-`).
//! `scripts/make-test-image.sh` does the same with the docker CLI.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::sync::OnceCell;

use crate::docker::docker;

/// The test image's reference, as passed to `docker run`.
pub const TEST_IMAGE: &str = "berth/busybox:latest";

const REPOSITORY: &str = "berth/busybox";
const TAG: &str = "latest";

/// Where the host's static busybox lives.
const HOST_BUSYBOX: &str = "/bin/busybox";

/// The image's `PATH`, Docker's usual default.
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Empty directories in the image's root, beside `/bin`.
const EMPTY_DIRS: [&str; 6] = ["etc", "proc", "sys", "dev", "mnt", "tmp"];

/// How long an import may take; it is a 2 MB tar, so this is generous.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(120);

/// Modification time of every entry: fixed, so the tar is the same on every run.
const MTIME: u64 = 1_600_000_000;

/// Makes sure [`TEST_IMAGE`] exists in the local engine, importing it if absent, and returns its
/// reference.
///
/// Concurrent calls in one process share one check-and-import (a `OnceCell`). Another process
/// importing at the same moment is harmless: both imports succeed and the tag ends on one of
/// two equivalent images.
///
/// # Panics
///
/// When Docker is unreachable (see [`docker`]), when `/bin/busybox` is missing or not static
/// (the message says `apt-get install busybox-static`), or when the import fails.
pub async fn ensure_test_image() -> String {
    static READY: OnceCell<String> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let docker = docker().await;
            if !image_exists(&docker).await {
                import(&docker).await;
            }
            TEST_IMAGE.to_owned()
        })
        .await
        .clone()
}

async fn image_exists(docker: &Docker) -> bool {
    match docker.inspect_image(TEST_IMAGE).await {
        Ok(_) => true,
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(err) => panic!("cannot inspect the test image {TEST_IMAGE}: {err}"),
    }
}

async fn import(docker: &Docker) {
    let busybox = read_host_busybox();
    let applets = list_applets();
    let applets: Vec<&str> = applets.iter().map(String::as_str).collect();
    let tar = rootfs_tar(&busybox, &applets).expect("writing a tar into a Vec cannot fail");

    let options = CreateImageOptions {
        from_src: Some("-".to_owned()),
        repo: Some(REPOSITORY.to_owned()),
        tag: Some(TAG.to_owned()),
        message: Some("berth test image: the host's busybox-static".to_owned()),
        changes: vec![
            r#"CMD ["/bin/sh"]"#.to_owned(),
            format!("ENV PATH={IMAGE_PATH}"),
        ],
        ..Default::default()
    };
    let progress = docker
        .create_image(
            Some(options),
            Some(bollard::body_full(Bytes::from(tar))),
            None,
        )
        .try_collect::<Vec<_>>();
    let progress = match tokio::time::timeout(IMPORT_TIMEOUT, progress).await {
        Ok(Ok(progress)) => progress,
        Ok(Err(err)) => panic!("importing the test image {TEST_IMAGE} failed: {err}"),
        Err(_) => panic!("importing the test image {TEST_IMAGE} took over {IMPORT_TIMEOUT:?}"),
    };
    if let Some(detail) = progress.iter().find_map(|info| info.error_detail.as_ref()) {
        panic!("importing the test image {TEST_IMAGE} failed: {detail:?}");
    }
    assert!(
        image_exists(docker).await,
        "the engine accepted the import but has no {TEST_IMAGE}: {progress:?}"
    );
}

fn read_host_busybox() -> Vec<u8> {
    let busybox = match std::fs::read(HOST_BUSYBOX) {
        Ok(busybox) => busybox,
        Err(err) => panic!(
            "cannot read {HOST_BUSYBOX} ({err}), needed to build the test image {TEST_IMAGE}: \
             install it with `apt-get install -y busybox-static`"
        ),
    };
    assert!(
        !needs_dynamic_loader(&busybox),
        "{HOST_BUSYBOX} is dynamically linked and would not run in the test image: \
         install the static one with `apt-get install -y busybox-static`"
    );
    busybox
}

fn list_applets() -> Vec<String> {
    let output = Command::new(HOST_BUSYBOX)
        .arg("--list")
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{HOST_BUSYBOX} --list`: {err}"));
    assert!(
        output.status.success(),
        "`{HOST_BUSYBOX} --list` failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|applet| !applet.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether an ELF executable asks for a program interpreter (a `PT_INTERP` program header),
/// i.e. is dynamically linked. Understands 64-bit little-endian ELF (x86-64, aarch64); says
/// `false` for anything else rather than guessing.
fn needs_dynamic_loader(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8).map(|b| {
            let mut word = [0; 8];
            word.copy_from_slice(b);
            u64::from_le_bytes(word)
        })
    };
    // Magic, ELFCLASS64, ELFDATA2LSB.
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return false;
    };
    (0..usize::from(phnum)).any(|index| {
        let at = phoff.saturating_add(index.saturating_mul(usize::from(phentsize)));
        u32_at(at) == Some(PT_INTERP)
    })
}

/// The image's root filesystem as an uncompressed tar: `bin/busybox` (mode 755), a symlink
/// `bin/<applet>` -> `busybox` for each applet (skipping `busybox` itself and anything that
/// is not a plain file name), and the empty directories `/etc /proc /sys /dev /mnt /tmp`
/// (`/tmp` sticky and world-writable). Everything is owned by root.
pub fn rootfs_tar(busybox: &[u8], applets: &[&str]) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    append_dir(&mut tar, "bin", 0o755)?;
    for dir in EMPTY_DIRS {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        append_dir(&mut tar, dir, mode)?;
    }

    let mut header = root_header(tar::EntryType::Regular, 0o755);
    header.set_size(u64::try_from(busybox.len()).expect("a file in memory fits in u64"));
    tar.append_data(&mut header, "bin/busybox", busybox)?;

    for applet in applets {
        let plain_name = !applet.is_empty() && !applet.contains('/') && !applet.starts_with('.');
        if !plain_name || *applet == "busybox" {
            continue;
        }
        let mut header = root_header(tar::EntryType::Symlink, 0o777);
        tar.append_link(&mut header, Path::new("bin").join(applet), "busybox")?;
    }
    tar.into_inner()
}

fn append_dir(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> io::Result<()> {
    let mut header = root_header(tar::EntryType::Directory, mode);
    tar.append_data(&mut header, format!("{path}/"), io::empty())
}

fn root_header(kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header.set_size(0);
    header
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;

    /// Path -> (kind, mode, link target or contents) for every entry of a tar.
    fn entries(tar: &[u8]) -> BTreeMap<String, (tar::EntryType, u32, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        let mut found = BTreeMap::new();
        for entry in archive.entries().expect("a tar we built reads back") {
            let mut entry = entry.expect("a tar we built reads back");
            let path = entry.path().expect("paths are UTF-8").display().to_string();
            let kind = entry.header().entry_type();
            let mode = entry.header().mode().expect("modes are set");
            let data = match entry.link_name().expect("link names are valid") {
                Some(target) => target.display().to_string().into_bytes(),
                None => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).expect("entries read back");
                    data
                }
            };
            found.insert(path, (kind, mode, data));
        }
        found
    }

    #[test]
    fn rootfs_holds_busybox_its_applet_links_and_the_empty_dirs() {
        let tar = rootfs_tar(
            b"fake busybox",
            &["sh", "echo", "busybox", "../evil", "", ".."],
        )
        .expect("building in memory works");
        let found = entries(&tar);

        let busybox = &found["bin/busybox"];
        assert_eq!(busybox.0, tar::EntryType::Regular);
        assert_eq!(busybox.1, 0o755);
        assert_eq!(busybox.2, b"fake busybox");

        for applet in ["bin/sh", "bin/echo"] {
            assert_eq!(found[applet].0, tar::EntryType::Symlink, "{applet}");
            assert_eq!(found[applet].2, b"busybox", "{applet}");
        }
        for dir in ["bin/", "etc/", "proc/", "sys/", "dev/", "mnt/", "tmp/"] {
            assert_eq!(found[dir].0, tar::EntryType::Directory, "{dir}");
        }
        assert_eq!(found["tmp/"].1, 0o1777);
        assert_eq!(
            found.len(),
            1 + 2 + 7,
            "busybox itself and unsafe names get no link: {:?}",
            found.keys()
        );
    }

    #[test]
    fn needs_dynamic_loader_tells_static_from_dynamic_executables() {
        // /bin/ls is dynamically linked on every Debian machine.
        let ls = std::fs::read("/bin/ls").expect("/bin/ls exists on Debian");
        assert!(needs_dynamic_loader(&ls));
        assert!(!needs_dynamic_loader(b"#!/bin/sh\necho not elf\n"));
        assert!(!needs_dynamic_loader(b"\x7fELF\x02\x01 truncated"));
    }
}
