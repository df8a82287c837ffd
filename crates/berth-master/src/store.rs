//! Persistence: `<work_dir>/master.db` (SQLite, schema versioned) keeps the master's identity
//! and counters, one record per framework and one per registered agent, so a restarted master
//! keeps its ID, does not reuse agent, framework or offer numbers, recognises re-subscribing
//! frameworks, refuses removed ones, and knows which agents are still to re-register (Mesos's
//! registry).
//!
//! Schema history: 1 = `master`, `frameworks`; 2 adds `agents`.
//!
//! Writes are synchronous and small; the master actor calls them *before* emitting the event
//! that announces the change.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use mesos_proto::v1::FrameworkInfo;
use mesos_proto::{decode_checked, Message};
use rusqlite::{params, Connection, OptionalExtension};

/// The schema this code reads and writes.
pub const SCHEMA_VERSION: i64 = 2;

/// How many offer numbers are reserved per write (offers are frequent; a restart skips the
/// unused rest of a block).
const OFFER_BLOCK: u64 = 1000;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The work dir could not be created.
    #[error("creating work dir: {0}")]
    Io(#[from] std::io::Error),
    /// The file was written by a newer berth.
    #[error("master.db has schema version {found}, this berth supports {SCHEMA_VERSION}")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
    },
    /// A stored framework record does not decode.
    #[error("stored FrameworkInfo of {framework_id} is corrupt: {reason}")]
    Corrupt {
        /// The framework.
        framework_id: String,
        /// The decode error.
        reason: String,
    },
}

impl StoreError {
    /// Whether trying again may help (a busy or locked database).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            StoreError::Sqlite(_)
            | StoreError::SchemaTooNew { .. }
            | StoreError::Corrupt { .. } => false,
            StoreError::Io(_) => true,
        }
    }
}

/// A framework as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameworkRecord {
    /// The framework ID.
    pub id: String,
    /// Its latest `FrameworkInfo`.
    pub info: FrameworkInfo,
    /// `failover_timeout` in seconds.
    pub failover_timeout: f64,
    /// First registration (seconds since the epoch).
    pub registered_time: f64,
    /// Torn down or timed out: re-subscription is refused.
    pub removed: bool,
    /// When it was removed (seconds since the epoch), 0 if not.
    pub unregistered_time: f64,
}

/// An agent as stored (enough to list it while it has not re-registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// The agent ID.
    pub id: String,
    /// Its hostname.
    pub hostname: String,
    /// Its port.
    pub port: u16,
}

/// The master's identity and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The master ID (a UUID, kept across restarts).
    pub master_id: String,
    /// Next framework number.
    pub next_framework: u64,
    /// Next agent number.
    pub next_agent: u64,
    /// Next offer number.
    pub next_offer: u64,
}

/// How hard the store works to survive a crash of the process or of the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Write-ahead log, `synchronous=NORMAL`: a crash of the process loses nothing, one of
    /// the machine at most the last commits; the file is never corrupt. For `berth cluster`.
    #[default]
    Durable,
    /// The records live in the process's memory only (plain maps, no SQLite): for a master
    /// whose work dir is thrown away when its process ends (`berth run`'s embedded cluster)
    /// and so is never reopened. Reads and writes behave exactly as with
    /// [`Durability::Durable`] while the process lives, without touching the disk (creating a
    /// WAL database costs several fsyncs, 20-40 ms on an ordinary disk) or SQLite (opening
    /// even an in-memory database and creating its schema takes about half a millisecond),
    /// both on every `berth run`'s path.
    Ephemeral,
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    backend: Backend,
    /// Offer numbers below this are reserved on disk.
    offer_reserved_until: u64,
}

/// Where the records are.
#[derive(Debug)]
enum Backend {
    /// `master.db` ([`Durability::Durable`]).
    Sqlite(Connection),
    /// The process's memory ([`Durability::Ephemeral`]).
    Memory(Memory),
}

/// The ephemeral store's tables.
#[derive(Debug, Default)]
struct Memory {
    master: HashMap<String, String>,
    frameworks: BTreeMap<String, FrameworkRecord>,
    agents: BTreeMap<String, AgentRecord>,
}

impl Store {
    /// Opens (creating if needed) `<work_dir>/master.db`, migrating the schema, and returns it
    /// with the identity (a fresh master ID on first use).
    pub fn open(work_dir: &Path) -> Result<(Store, Identity), StoreError> {
        Store::open_with(work_dir, Durability::Durable)
    }

    /// [`Store::open`] with the given durability ([`Durability::Ephemeral`] creates nothing
    /// under `work_dir`).
    pub fn open_with(
        work_dir: &Path,
        durability: Durability,
    ) -> Result<(Store, Identity), StoreError> {
        let backend = match durability {
            Durability::Durable => {
                std::fs::create_dir_all(work_dir)?;
                let conn = Connection::open(work_dir.join("master.db"))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                Backend::Sqlite(migrate(conn)?)
            }
            Durability::Ephemeral => Backend::Memory(Memory::default()),
        };
        let mut store = Store {
            backend,
            offer_reserved_until: 0,
        };
        let master_id = match store.get("master_id")? {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                store.set("master_id", &id)?;
                id
            }
        };
        let num = |s: Option<String>| s.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let identity = Identity {
            master_id,
            next_framework: num(store.get("next_framework")?),
            next_agent: num(store.get("next_agent")?),
            next_offer: num(store.get("next_offer")?),
        };
        store.offer_reserved_until = identity.next_offer;
        Ok((store, identity))
    }

    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn
                .query_row("SELECT value FROM master WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?),
            Backend::Memory(m) => Ok(m.master.get(key).cloned()),
        }
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute(
                    "INSERT INTO master (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
            }
            Backend::Memory(m) => {
                m.master.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(())
    }

    /// Records that framework numbers below `next` are used.
    pub fn set_next_framework(&mut self, next: u64) -> Result<(), StoreError> {
        self.set("next_framework", &next.to_string())
    }

    /// Records that agent numbers below `next` are used.
    pub fn set_next_agent(&mut self, next: u64) -> Result<(), StoreError> {
        self.set("next_agent", &next.to_string())
    }

    /// Makes sure offer number `n` is covered by a reservation on disk (one write per block).
    pub fn reserve_offer(&mut self, n: u64) -> Result<(), StoreError> {
        if n >= self.offer_reserved_until {
            let until = n + OFFER_BLOCK;
            self.set("next_offer", &until.to_string())?;
            self.offer_reserved_until = until;
        }
        Ok(())
    }

    /// Inserts or replaces a framework record (an existing one keeps its `registered_time`).
    pub fn put_framework(&mut self, rec: &FrameworkRecord) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute(
                    "INSERT INTO frameworks (id, info, failover_timeout, registered_time, removed, unregistered_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET info = excluded.info,
                         failover_timeout = excluded.failover_timeout,
                         removed = excluded.removed,
                         unregistered_time = excluded.unregistered_time",
                    params![
                        rec.id,
                        rec.info.encode_to_vec(),
                        rec.failover_timeout,
                        rec.registered_time,
                        i64::from(rec.removed),
                        rec.unregistered_time
                    ],
                )?;
            }
            Backend::Memory(m) => {
                let registered_time = m
                    .frameworks
                    .get(&rec.id)
                    .map_or(rec.registered_time, |old| old.registered_time);
                m.frameworks.insert(
                    rec.id.clone(),
                    FrameworkRecord {
                        registered_time,
                        ..rec.clone()
                    },
                );
            }
        }
        Ok(())
    }

    /// Marks a framework removed (TEARDOWN, failover timeout).
    pub fn mark_removed(&mut self, id: &str, when: f64) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute(
                    "UPDATE frameworks SET removed = 1, unregistered_time = ?2 WHERE id = ?1",
                    params![id, when],
                )?;
            }
            Backend::Memory(m) => {
                if let Some(rec) = m.frameworks.get_mut(id) {
                    rec.removed = true;
                    rec.unregistered_time = when;
                }
            }
        }
        Ok(())
    }

    /// Records a registered agent.
    pub fn put_agent(&mut self, rec: &AgentRecord) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute(
                    "INSERT INTO agents (id, hostname, port) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO UPDATE SET hostname = excluded.hostname, port = excluded.port",
                    params![rec.id, rec.hostname, i64::from(rec.port)],
                )?;
            }
            Backend::Memory(m) => {
                m.agents.insert(rec.id.clone(), rec.clone());
            }
        }
        Ok(())
    }

    /// Forgets an agent (it unregistered, or never came back).
    pub fn remove_agent(&mut self, id: &str) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                conn.execute("DELETE FROM agents WHERE id = ?1", [id])?;
            }
            Backend::Memory(m) => {
                m.agents.remove(id);
            }
        }
        Ok(())
    }

    /// Every stored agent, by ID.
    pub fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let conn = match &self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Memory(m) => return Ok(m.agents.values().cloned().collect()),
        };
        let mut stmt = conn.prepare("SELECT id, hostname, port FROM agents ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(AgentRecord {
                id: r.get(0)?,
                hostname: r.get(1)?,
                port: u16::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every stored framework, by ID.
    pub fn frameworks(&self) -> Result<Vec<FrameworkRecord>, StoreError> {
        let conn = match &self.backend {
            Backend::Sqlite(conn) => conn,
            Backend::Memory(m) => return Ok(m.frameworks.values().cloned().collect()),
        };
        let mut stmt = conn.prepare(
            "SELECT id, info, failover_timeout, registered_time, removed, unregistered_time
             FROM frameworks ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, f64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, info, failover_timeout, registered_time, removed, unregistered_time) = row?;
            let info: FrameworkInfo = decode_checked(&info).map_err(|e| StoreError::Corrupt {
                framework_id: id.clone(),
                reason: e.to_string(),
            })?;
            out.push(FrameworkRecord {
                id,
                info,
                failover_timeout,
                registered_time,
                removed: removed != 0,
                unregistered_time,
            });
        }
        Ok(out)
    }
}

/// Creates or upgrades the schema of `master.db`.
fn migrate(conn: Connection) -> Result<Connection, StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")?;
    let version: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()?;
    match version {
        None => {
            conn.execute_batch(
                "BEGIN;
                     CREATE TABLE master (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                     CREATE TABLE frameworks (
                         id TEXT PRIMARY KEY,
                         info BLOB NOT NULL,
                         failover_timeout REAL NOT NULL,
                         registered_time REAL NOT NULL,
                         removed INTEGER NOT NULL DEFAULT 0,
                         unregistered_time REAL NOT NULL DEFAULT 0
                     );
                     CREATE TABLE agents (
                         id TEXT PRIMARY KEY,
                         hostname TEXT NOT NULL,
                         port INTEGER NOT NULL
                     );
                     INSERT INTO schema_version (version) VALUES (2);
                     COMMIT;",
            )?;
        }
        Some(1) => {
            conn.execute_batch(
                "BEGIN;
                     CREATE TABLE agents (
                         id TEXT PRIMARY KEY,
                         hostname TEXT NOT NULL,
                         port INTEGER NOT NULL
                     );
                     UPDATE schema_version SET version = 2;
                     COMMIT;",
            )?;
        }
        Some(v) if v > SCHEMA_VERSION => return Err(StoreError::SchemaTooNew { found: v }),
        Some(_) => {}
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_frameworks_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, id) = Store::open(dir.path()).expect("open");
        assert_eq!(id.next_framework, 0);
        s.set_next_framework(3).expect("write");
        s.set_next_agent(2).expect("write");
        s.reserve_offer(0).expect("write");
        let rec = FrameworkRecord {
            id: format!("{}-0000", id.master_id),
            info: FrameworkInfo {
                user: "root".into(),
                name: "f".into(),
                ..Default::default()
            },
            failover_timeout: 60.0,
            registered_time: 1.0,
            removed: false,
            unregistered_time: 0.0,
        };
        s.put_framework(&rec).expect("write");
        s.mark_removed(&rec.id, 2.0).expect("write");
        drop(s);
        let (s2, id2) = Store::open(dir.path()).expect("reopen");
        assert_eq!(id2.master_id, id.master_id);
        assert_eq!(id2.next_framework, 3);
        assert_eq!(id2.next_agent, 2);
        assert_eq!(id2.next_offer, OFFER_BLOCK);
        let fws = s2.frameworks().expect("read");
        assert_eq!(fws.len(), 1);
        assert!(fws[0].removed);
        assert_eq!(fws[0].info, rec.info);
        assert_eq!(fws[0].unregistered_time, 2.0);
    }

    #[test]
    fn agents_are_kept_until_removed_and_v1_files_migrate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, _) = Store::open(dir.path()).expect("open");
        let a = AgentRecord {
            id: "M-S0".into(),
            hostname: "h".into(),
            port: 5051,
        };
        s.put_agent(&a).expect("write");
        s.put_agent(&AgentRecord {
            id: "M-S1".into(),
            ..a.clone()
        })
        .expect("write");
        s.remove_agent("M-S1").expect("delete");
        drop(s);
        let (s, _) = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.agents().expect("read"), vec![a]);
        drop(s);
        // A version 1 file (no agents table) is migrated.
        let conn = Connection::open(dir.path().join("master.db")).expect("raw");
        conn.execute_batch("DROP TABLE agents; UPDATE schema_version SET version = 1;")
            .expect("downgrade");
        drop(conn);
        let (s, _) = Store::open(dir.path()).expect("migrate");
        assert!(s.agents().expect("read").is_empty());
    }

    /// The same writes give the same reads on disk and in memory.
    #[test]
    fn durable_and_ephemeral_stores_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores = [
            Store::open(dir.path()).expect("open").0,
            Store::open_with(dir.path(), Durability::Ephemeral)
                .expect("open")
                .0,
        ];
        let reads = stores.map(|mut s| {
            let framework = |id: &str, registered_time: f64, name: &str| FrameworkRecord {
                id: id.into(),
                info: FrameworkInfo {
                    user: "root".into(),
                    name: name.into(),
                    ..Default::default()
                },
                failover_timeout: 60.0,
                registered_time,
                removed: false,
                unregistered_time: 0.0,
            };
            s.put_framework(&framework("M-0001", 1.0, "b"))
                .expect("write");
            s.put_framework(&framework("M-0000", 2.0, "a"))
                .expect("write");
            // A re-subscription: the new info, the first registration time.
            s.put_framework(&framework("M-0001", 5.0, "b2"))
                .expect("write");
            s.mark_removed("M-0000", 7.0).expect("write");
            s.mark_removed("M-9999", 7.0)
                .expect("unknown id: nothing to mark");
            for (id, port) in [("M-S1", 5052), ("M-S0", 5051), ("M-S2", 5053)] {
                s.put_agent(&AgentRecord {
                    id: id.into(),
                    hostname: "h".into(),
                    port,
                })
                .expect("write");
            }
            s.remove_agent("M-S2").expect("write");
            s.set_next_agent(3).expect("write");
            (
                s.frameworks().expect("read"),
                s.agents().expect("read"),
                s.get("next_agent").expect("read"),
            )
        });
        assert_eq!(reads[0], reads[1]);
        let (frameworks, agents, _) = &reads[1];
        assert_eq!(frameworks[1].registered_time, 1.0);
        assert_eq!(frameworks[1].info.name, "b2");
        assert!(frameworks[0].removed);
        assert_eq!(agents.len(), 2);
    }

    #[test]
    fn an_ephemeral_store_reads_back_what_it_wrote_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work_dir = dir.path().join("master");
        let (mut s, id) = Store::open_with(&work_dir, Durability::Ephemeral).expect("open");
        assert!(!id.master_id.is_empty());
        s.set_next_framework(7).expect("write");
        s.reserve_offer(0).expect("write");
        let rec = AgentRecord {
            id: "M-S0".into(),
            hostname: "h".into(),
            port: 5051,
        };
        s.put_agent(&rec).expect("write");
        assert_eq!(s.agents().expect("read"), vec![rec]);
        assert!(
            !work_dir.exists(),
            "an ephemeral store writes nothing to disk"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Store::open(dir.path()).expect("open"));
        let conn = Connection::open(dir.path().join("master.db")).expect("open raw");
        conn.execute("UPDATE schema_version SET version = 99", [])
            .expect("update");
        drop(conn);
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::SchemaTooNew { found: 99 })
        ));
    }
}
