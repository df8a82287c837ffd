//! Feeds arbitrary bytes to the RecordIO decoder in arbitrary chunks and drains the records.
//!
//! The first byte chooses the maximum record size, each following byte pair the length of the
//! next chunk; the rest is the stream. Checks: no panic, every record is non-empty and within
//! the maximum, the decoder stays failed once it has failed, and the bytes it returns plus the
//! bytes it still buffers never exceed what was fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos_proto::recordio::{encode, Decoder};

fuzz_target!(|data: &[u8]| {
    let Some((&max_byte, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(max_byte) * 16 + 1;
    let mut d = Decoder::new(max);
    let mut fed = 0usize;
    let mut taken = 0usize;
    let mut failed = false;
    let mut stream = rest;
    while !stream.is_empty() {
        let n = (usize::from(stream[0]) % 64 + 1).min(stream.len());
        let (chunk, tail) = stream.split_at(n);
        stream = tail;
        d.feed(chunk);
        fed += chunk.len();
        loop {
            match d.next_record() {
                Ok(Some(r)) => {
                    assert!(!failed, "a failed decoder returned a record");
                    assert!(!r.is_empty() && r.len() <= max);
                    // A record re-encodes to its frame, which was in the input.
                    taken += encode(&r).len();
                }
                Ok(None) => {
                    assert!(!failed, "a failed decoder recovered");
                    break;
                }
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            assert!(taken + d.buffered() <= fed);
        }
    }
    let _ = d.finish();
});
