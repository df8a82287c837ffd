//! [`CompletedTasks`]: a framework's completed tasks as `/state` lists them, kept as their JSON
//! entries only, LZ4-compressed in blocks.
//!
//! A completed task never changes, and neither does anything its `/state` entry shows, so the
//! master renders the entry once, when the task completes, and drops the task. The master keeps
//! up to `max_completed_tasks_per_framework` of them for every framework (100,000 at 100
//! frameworks), and nearly all of a large `/state` is these entries: kept as text they would
//! cost ~1 KB a task; consecutive entries differ in little more than IDs and timestamps, so a
//! block of them compresses about tenfold, and decompresses at several GB/s when `/state` is
//! asked for.
//!
//! Blocks are shared (`Arc`) with the `/state` snapshots that take them, so a snapshot costs the
//! actor a pointer per block; the block still being filled is copied before it changes if a
//! snapshot holds it.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

/// Entries go into a block until it holds this many bytes (or one larger entry); then it is
/// compressed. Larger blocks compress better (32 KiB: ~110 bytes an entry for the bench's
/// tasks, 8 KiB: ~160), but the block being filled stays uncompressed.
const BLOCK_BYTES: usize = 32 * 1024;
/// A framework's first block starts this small: most frameworks complete few tasks.
const FIRST_BLOCK_BYTES: usize = 4 * 1024;

/// A block's entries, each after a comma: `,{..},{..}`.
#[derive(Debug)]
enum Text {
    /// Being filled.
    Plain(String),
    /// Full: LZ4 block format, `len` bytes once decompressed.
    Lz4 { data: Box<[u8]>, len: usize },
}

#[derive(Debug)]
struct Block {
    text: Text,
    /// Where each entry's comma is, in order.
    starts: Vec<usize>,
}

impl Block {
    fn len(&self) -> usize {
        match &self.text {
            Text::Plain(s) => s.len(),
            Text::Lz4 { len, .. } => *len,
        }
    }
}

thread_local! {
    /// Where blocks are compressed before being copied out at their size: `compress` would
    /// zero a new buffer of the worst-case size for each block, then shrink it (a copy).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `text`, compressed.
fn compressed(text: &str) -> Text {
    let input = text.as_bytes();
    let max = lz4_flex::block::get_maximum_output_size(input.len());
    // A block of one outsized entry is not worth a buffer kept for good.
    let data = if max > 2 * BLOCK_BYTES {
        lz4_flex::block::compress(input).into_boxed_slice()
    } else {
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < max {
                scratch.resize(max, 0);
            }
            match lz4_flex::block::compress_into(input, scratch) {
                Ok(n) => Box::<[u8]>::from(&scratch[..n]),
                // Cannot happen (the buffer has the worst case's size); the allocating form then.
                Err(_) => lz4_flex::block::compress(input).into_boxed_slice(),
            }
        })
    };
    Text::Lz4 {
        data,
        len: text.len(),
    }
}

/// A framework's completed tasks' `/state` entries, oldest first, at most `max` (the master's
/// `max_completed_tasks_per_framework`).
#[derive(Debug, Default)]
pub(crate) struct CompletedTasks {
    blocks: VecDeque<Arc<Block>>,
    /// Entries dropped from the front of the first block.
    skip: usize,
    len: usize,
}

impl CompletedTasks {
    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps `entry` (one JSON value), dropping the oldest entries beyond `max`.
    pub fn push(&mut self, entry: &str, max: usize) {
        let need = entry.len() + 1;
        let fits = self
            .blocks
            .back()
            .is_some_and(|b| matches!(b.text, Text::Plain(_)) && b.len() + need <= BLOCK_BYTES);
        if !fits {
            if let Some(last) = self.blocks.back_mut() {
                if let Text::Plain(plain) = &last.text {
                    let text = compressed(plain);
                    match Arc::get_mut(last) {
                        Some(block) => block.text = text,
                        // A snapshot holds the plain block: it keeps that one.
                        None => {
                            *last = Arc::new(Block {
                                text,
                                starts: last.starts.clone(),
                            })
                        }
                    }
                }
            }
            let capacity = if self.blocks.is_empty() {
                FIRST_BLOCK_BYTES
            } else {
                BLOCK_BYTES
            };
            self.blocks.push_back(Arc::new(Block {
                text: Text::Plain(String::with_capacity(capacity.max(need))),
                starts: Vec::new(),
            }));
        }
        if let Some(shared) = self.blocks.back_mut() {
            if Arc::get_mut(shared).is_none() {
                // A snapshot holds this block: it keeps that text, entries go to a copy.
                if let Text::Plain(s) = &shared.text {
                    let mut text = String::with_capacity(s.capacity().max(s.len() + need));
                    text.push_str(s);
                    *shared = Arc::new(Block {
                        text: Text::Plain(text),
                        starts: shared.starts.clone(),
                    });
                }
            }
            if let Some(Block {
                text: Text::Plain(text),
                starts,
            }) = Arc::get_mut(shared)
            {
                starts.push(text.len());
                text.push(',');
                text.push_str(entry);
                self.len += 1;
            }
        }
        self.truncate_front(max);
    }

    /// Drops the oldest entries beyond `max`.
    fn truncate_front(&mut self, max: usize) {
        while self.len > max {
            self.len -= 1;
            self.skip += 1;
            if self
                .blocks
                .front()
                .is_some_and(|b| self.skip >= b.starts.len())
            {
                self.blocks.pop_front();
                self.skip = 0;
            }
        }
    }

    /// The entries, comma-separated, as pieces of the shared blocks.
    pub fn pieces(&self) -> Vec<Piece> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| Piece {
                block: Arc::clone(b),
                // The first piece starts after the comma of its first entry kept.
                start: if i == 0 {
                    b.starts.get(self.skip).map_or(b.len(), |s| s + 1)
                } else {
                    0
                },
            })
            .collect()
    }
}

/// The end of a shared block, from byte `start` of its (decompressed) text.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    block: Arc<Block>,
    start: usize,
}

impl Piece {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.block.len().saturating_sub(self.start)
    }

    /// Its bytes: shared if the block is plain, else decompressed into a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        match &self.block.text {
            Text::Plain(_) => Bytes::from_owner(self.clone()),
            Text::Lz4 { data, len } => {
                let mut out = vec![0; *len];
                decompress(data, &mut out);
                Bytes::from(out).slice(self.start.min(*len)..)
            }
        }
    }

    /// Appends its bytes to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        match &self.block.text {
            Text::Plain(s) => {
                out.extend_from_slice(s.as_bytes().get(self.start..).unwrap_or_default())
            }
            Text::Lz4 { data, len } if self.start == 0 => {
                let at = out.len();
                out.resize(at + len, 0);
                decompress(data, &mut out[at..]);
            }
            Text::Lz4 { .. } => out.extend_from_slice(&self.to_bytes()),
        }
    }
}

/// For [`Bytes::from_owner`]: a plain piece's bytes.
impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        match &self.block.text {
            Text::Plain(s) => s.as_bytes().get(self.start..).unwrap_or_default(),
            Text::Lz4 { .. } => &[],
        }
    }
}

fn decompress(data: &[u8], out: &mut [u8]) {
    let n = lz4_flex::block::decompress_into(data, out)
        .expect("a block decompresses to its length: the master compressed it");
    debug_assert_eq!(n, out.len());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(n: usize) -> String {
        format!(r#"{{"id":"task-{n}","statuses":[{{"state":"TASK_FINISHED","timestamp":{n}.5}}]}}"#)
    }

    /// `[..]` as the pieces give it, both ways (appended, and as bytes).
    fn listed(c: &CompletedTasks) -> String {
        let pieces = c.pieces();
        let mut appended = b"[".to_vec();
        let mut as_bytes = b"[".to_vec();
        for p in &pieces {
            p.append_to(&mut appended);
            let bytes = p.to_bytes();
            assert_eq!(bytes.len(), p.len());
            as_bytes.extend_from_slice(&bytes);
        }
        appended.push(b']');
        as_bytes.push(b']');
        assert_eq!(appended, as_bytes);
        String::from_utf8(appended).unwrap()
    }

    fn expected(range: std::ops::Range<usize>) -> String {
        format!("[{}]", range.map(entry).collect::<Vec<_>>().join(","))
    }

    #[test]
    fn the_newest_entries_are_kept_in_order() {
        let mut c = CompletedTasks::default();
        assert!(c.is_empty());
        assert_eq!(listed(&c), "[]");
        c.push(&entry(0), 1000);
        assert_eq!(c.len, 1);
        assert_eq!(listed(&c), expected(0..1));
        // Enough to compress several blocks, then to drop whole blocks from the front.
        for n in 1..5000 {
            c.push(&entry(n), 1000);
            if n % 499 == 0 {
                assert_eq!(listed(&c), expected(n.saturating_sub(999)..n + 1));
            }
        }
        assert_eq!(c.len, 1000);
        assert!(c.blocks.len() > 2);
        assert!(c
            .blocks
            .iter()
            .rev()
            .skip(1)
            .all(|b| matches!(b.text, Text::Lz4 { .. })));
        assert_eq!(listed(&c), expected(4000..5000));
    }

    #[test]
    fn a_snapshot_is_not_changed_by_later_entries() {
        let mut c = CompletedTasks::default();
        for n in 0..10 {
            c.push(&entry(n), 5);
        }
        let before = c.pieces();
        // Into the block the snapshot holds, then past it (sealing it).
        for n in 10..2000 {
            c.push(&entry(n), 5);
        }
        let mut text = b"[".to_vec();
        for p in &before {
            p.append_to(&mut text);
        }
        text.push(b']');
        assert_eq!(String::from_utf8(text).unwrap(), expected(5..10));
        assert_eq!(listed(&c), expected(1995..2000));
    }

    #[test]
    fn nothing_is_kept_with_a_zero_cap() {
        let mut c = CompletedTasks::default();
        c.push(&entry(0), 0);
        assert!(c.is_empty());
        assert_eq!(listed(&c), "[]");
    }

    #[test]
    fn an_entry_larger_than_a_block_gets_one_of_its_own() {
        let mut c = CompletedTasks::default();
        let big = format!(r#"{{"id":"{}"}}"#, "x".repeat(3 * BLOCK_BYTES));
        c.push(&entry(0), 10);
        c.push(&big, 10);
        c.push(&entry(1), 10);
        assert_eq!(listed(&c), format!("[{},{big},{}]", entry(0), entry(1)));
    }
}
