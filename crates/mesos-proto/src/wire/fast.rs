//! The fast path of [`decode_checked`](super::decode_checked): one pass over the bytes that
//! decodes exactly as prost does and notes the required fields as they arrive.
//!
//! The reference path decodes with prost and then walks the bytes a second time against the
//! schema table to find missing required fields. Here each message's generated `merge_wire`
//! does both at once: every field is merged the way prost's generated `merge_field` merges it
//! (prost's own `encoding` functions for scalars; strings, bytes and sub-messages the same way
//! by hand), and a bit per required field records its presence in each encoded occurrence of the
//! message, which is what the reference walk checks. Repeated message fields also get their
//! vector sized once, from a count of the remaining occurrences.
//!
//! It answers only for input the reference accepts. Anything else (malformed input, a group,
//! a missing required field, nesting deeper than [`MAX_DEPTH`]) makes it decline with `None`,
//! and the caller takes the reference path, which gives the exact error.

use prost::encoding::{DecodeContext, WireType};

/// Deepest message nesting this path handles; deeper input is left to the reference path,
/// whose prost recursion limit (100) then applies exactly.
pub(crate) const MAX_DEPTH: u32 = 64;

/// Generated for every message: merges one encoded occurrence of the message.
pub(crate) trait FastWire: Default {
    /// Merges the encoded message `buf` (without its length prefix) into `self`, at nesting
    /// depth `depth`; `None` declines.
    fn merge_wire(&mut self, buf: &[u8], depth: u32) -> Option<()>;
}

impl<T: FastWire> FastWire for Box<T> {
    fn merge_wire(&mut self, buf: &[u8], depth: u32) -> Option<()> {
        (**self).merge_wire(buf, depth)
    }
}

/// Decodes a whole message with the fast path; `None` when it declines.
pub(crate) fn decode<T: FastWire>(bytes: &[u8]) -> Option<T> {
    let mut m = T::default();
    m.merge_wire(bytes, 0)?;
    Some(m)
}

/// A varint, exactly as prost's `decode_varint` reads it (at most ten bytes, the tenth below 2),
/// with the one-byte case (almost every key and length) inline.
#[inline(always)]
fn varint(buf: &mut &[u8]) -> Option<u64> {
    match buf.split_first() {
        Some((&b, rest)) if b < 0x80 => {
            *buf = rest;
            Some(u64::from(b))
        }
        _ => long_varint(buf),
    }
}

fn long_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i == 9 && b >= 0x02 {
                return None; // overflows 64 bits
            }
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

/// A field key, as prost's `decode_key` reads it; groups (which the reference check refuses)
/// and invalid keys decline.
#[inline]
pub(crate) fn key(buf: &mut &[u8]) -> Option<(u32, WireType)> {
    let key = u32::try_from(varint(buf)?).ok()?;
    let wire_type = match key & 7 {
        0 => WireType::Varint,
        1 => WireType::SixtyFourBit,
        2 => WireType::LengthDelimited,
        5 => WireType::ThirtyTwoBit,
        _ => return None,
    };
    let tag = key >> 3;
    (tag != 0).then_some((tag, wire_type))
}

/// The payload of a length-delimited field.
#[inline]
pub(crate) fn payload<'a>(wire_type: WireType, buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    if wire_type != WireType::LengthDelimited {
        return None;
    }
    let len = usize::try_from(varint(buf)?).ok()?;
    if len > buf.len() {
        return None;
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Some(head)
}

/// Skips a field this message does not know.
#[inline]
pub(crate) fn skip(wire_type: WireType, buf: &mut &[u8]) -> Option<()> {
    let n = match wire_type {
        WireType::Varint => return varint(buf).map(drop),
        WireType::LengthDelimited => return payload(wire_type, buf).map(drop),
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::StartGroup | WireType::EndGroup => return None,
    };
    *buf = buf.get(n..)?;
    Some(())
}

/// A singular varint field (`int32`, `int64`, `uint32`, `uint64`, `bool`, enums): the value
/// read with the inlined [`varint`] and converted as prost's `merge` converts it (`as` casts;
/// `!= 0` for `bool`). prost's out-of-line varint reader was a few percent of decoding offers.
#[inline]
pub(crate) fn varint_field<T>(
    slot: &mut T,
    wire_type: WireType,
    buf: &mut &[u8],
    convert: impl FnOnce(u64) -> T,
) -> Option<()> {
    if wire_type != WireType::Varint {
        return None;
    }
    *slot = convert(varint(buf)?);
    Some(())
}

/// A singular fixed-width field of `N` little-endian bytes sent as `expected` (`double`:
/// 8 bytes as `SixtyFourBit`, read with `f64::from_le_bytes`; `float`: 4 as `ThirtyTwoBit`).
#[inline]
pub(crate) fn fixed_field<const N: usize, T>(
    slot: &mut T,
    wire_type: WireType,
    expected: WireType,
    buf: &mut &[u8],
    convert: impl FnOnce([u8; N]) -> T,
) -> Option<()> {
    if wire_type != expected {
        return None;
    }
    let (bytes, rest) = buf.split_first_chunk::<N>()?;
    *slot = convert(*bytes);
    *buf = rest;
    Some(())
}

/// A scalar field, by prost's own `merge`/`merge_repeated` for its type.
#[inline]
pub(crate) fn scalar<'a, T>(
    merge: impl FnOnce(WireType, &mut T, &mut &'a [u8], DecodeContext) -> Result<(), prost::DecodeError>,
    slot: &mut T,
    wire_type: WireType,
    buf: &mut &'a [u8],
) -> Option<()> {
    merge(wire_type, slot, buf, DecodeContext::default()).ok()
}

/// A `string` field: replaced by the new value, which must be UTF-8 (prost's `string::merge`).
#[inline]
pub(crate) fn string(slot: &mut String, wire_type: WireType, buf: &mut &[u8]) -> Option<()> {
    let text = utf8(payload(wire_type, buf)?)?;
    // A fresh allocation of the exact size: the field is nearly always empty here, and growing
    // an empty `String` takes the slower reallocation path.
    *slot = text.to_owned();
    Some(())
}

/// `bytes` as a `str` if they are UTF-8 (what `std::str::from_utf8` accepts). Nearly every
/// string in Mesos's messages is ASCII (IDs, names, roles, hostnames), short, and many to an
/// event: checking them with the inlined `is_ascii` instead of calling `from_utf8`'s general
/// validator took the protobuf decode of a 100-offer OFFERS event from about 64 to 48 us. This
/// is the workspace's one `unsafe` block (the workspace denies `unsafe_code`; see Cargo.toml).
#[inline(always)]
#[allow(unsafe_code)]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8, the only requirement of
        // `from_utf8_unchecked`.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// One element of a repeated `string` field.
pub(crate) fn strings(slot: &mut Vec<String>, wire_type: WireType, buf: &mut &[u8]) -> Option<()> {
    let mut s = String::new();
    string(&mut s, wire_type, buf)?;
    slot.push(s);
    Some(())
}

/// A `bytes` field: replaced by the new value (prost's `bytes::merge`).
#[inline]
pub(crate) fn bytes(slot: &mut Vec<u8>, wire_type: WireType, buf: &mut &[u8]) -> Option<()> {
    *slot = payload(wire_type, buf)?.to_vec();
    Some(())
}

/// One element of a repeated `bytes` field.
#[allow(dead_code)] // the generator supports every proto type; not all are used
pub(crate) fn bytes_list(
    slot: &mut Vec<Vec<u8>>,
    wire_type: WireType,
    buf: &mut &[u8],
) -> Option<()> {
    let mut b = Vec::new();
    bytes(&mut b, wire_type, buf)?;
    slot.push(b);
    Some(())
}

/// A singular message field: merged into what is there (prost's `message::merge`).
#[inline]
pub(crate) fn message<M: FastWire>(
    slot: &mut M,
    wire_type: WireType,
    buf: &mut &[u8],
    depth: u32,
) -> Option<()> {
    slot.merge_wire(payload(wire_type, buf)?, depth + 1)
}

/// One element of a repeated message field (prost's `message::merge_repeated`). The first
/// element reserves room for the occurrences of field `tag` that follow it directly (encoders
/// write a repeated field's elements together), so the vector, whose elements can be large, is
/// allocated once instead of grown by copying.
pub(crate) fn messages<M: FastWire>(
    slot: &mut Vec<M>,
    tag: u32,
    wire_type: WireType,
    buf: &mut &[u8],
    depth: u32,
) -> Option<()> {
    let data = payload(wire_type, buf)?;
    if slot.is_empty() {
        slot.reserve_exact(1 + run_length(buf, tag));
    }
    let i = slot.len();
    slot.resize_with(i + 1, M::default);
    slot[i].merge_wire(data, depth + 1)
}

/// How many length-delimited fields `tag` `buf` starts with (counting stops at anything else,
/// including malformed input, which the decoding then declines).
fn run_length(mut buf: &[u8], tag: u32) -> usize {
    let mut n = 0;
    while let Some((t, WireType::LengthDelimited)) = key(&mut buf) {
        if t != tag || payload(WireType::LengthDelimited, &mut buf).is_none() {
            break;
        }
        n += 1;
    }
    n
}

#[allow(
    clippy::all,
    missing_docs,
    deprecated,
    unused_mut,
    unused_variables,
    unreachable_patterns
)]
mod generated {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/wire_fast.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::scheduler::{Call, Event};
    use crate::v1::TaskInfo;
    use crate::{MesosJson, Message};

    fn fixtures(dir: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir);
        std::fs::read_dir(dir)
            .expect("fixture dir")
            .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("fixture"))
            .collect()
    }

    /// The one-pass decoder answers for a complete encoding, with what prost decodes.
    fn answers<T: FastWire + Message + Default + PartialEq + std::fmt::Debug>(m: &T) {
        let bytes = m.encode_to_vec();
        assert_eq!(decode::<T>(&bytes).as_ref(), Some(m));
        assert_eq!(T::decode(&bytes[..]).ok().as_ref(), Some(m));
    }

    #[test]
    fn the_one_pass_decoder_answers_for_every_fixture() {
        for text in fixtures("calls") {
            answers(&Call::from_json_str(&text).expect("fixture"));
        }
        for text in fixtures("events") {
            answers(&Event::from_json_str(&text).expect("fixture"));
        }
        answers(
            &TaskInfo::from_json_str(include_str!("../../tests/fixtures/seed_task_info.json"))
                .expect("fixture"),
        );
    }

    #[test]
    fn repeated_messages_are_allocated_once() {
        let text = include_str!("../../tests/fixtures/events/offers.json");
        let ev = Event::from_json_str(text).expect("fixture");
        let decoded = decode::<Event>(&ev.encode_to_vec()).expect("complete");
        let offers = &decoded.offers.as_ref().expect("offers").offers;
        assert_eq!(offers.capacity(), offers.len());
        for offer in offers {
            assert_eq!(offer.resources.capacity(), offer.resources.len());
        }
    }

    #[test]
    fn strings_are_accepted_exactly_when_they_are_utf8() {
        answers(&crate::v1::AgentId {
            value: "eda8223c-S0".into(),
        });
        answers(&crate::v1::AgentId {
            value: "agent-\u{e9}\u{4e2d}\u{1f680}".into(),
        });
        // Field 1, length 3: "a", a lone continuation byte, "b" (not UTF-8); and an overlong
        // encoding of '/'. The reference (prost) refuses both, and so does this path.
        for bad in [&[0x0a, 3, b'a', 0x80, b'b'][..], &[0x0a, 2, 0xc0, 0xaf][..]] {
            assert!(crate::v1::AgentId::decode(bad).is_err());
            assert_eq!(decode::<crate::v1::AgentId>(bad), None, "{bad:02x?}");
        }
    }

    fn same_varint_as_prost(bytes: &[u8]) {
        let mut ours = bytes;
        let mut theirs = bytes;
        let a = varint(&mut ours);
        let b = prost::encoding::decode_varint(&mut theirs).ok();
        assert_eq!(a, b, "{bytes:02x?}");
        if a.is_some() {
            assert_eq!(ours.len(), theirs.len(), "{bytes:02x?}");
        }
    }

    #[test]
    fn varints_read_as_prost_reads_them() {
        for n in 0..=11 {
            for last in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff] {
                let mut bytes = vec![0xff; n];
                bytes.push(last);
                same_varint_as_prost(&bytes);
                bytes.extend_from_slice(&[0x05, 0x80]);
                same_varint_as_prost(&bytes);
            }
        }
        same_varint_as_prost(&[]);
    }

    proptest::proptest! {
        #[test]
        fn random_varints_read_as_prost_reads_them(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![0x80u8..=0xff, 0u8..0x80, 0u8..3], 0..14)
        ) {
            same_varint_as_prost(&bytes);
        }
    }

    #[test]
    fn scalars_of_every_kind_read_as_prost_reads_them() {
        use crate::v1::{value, Address, TaskId, TaskState, TaskStatus};
        // int32 (negative: a ten-byte varint), uint64 at both ends, enum, double, bool.
        answers(&Address {
            port: -1,
            ..Default::default()
        });
        answers(&value::Range {
            begin: 0,
            end: u64::MAX,
        });
        let status = TaskStatus {
            task_id: TaskId { value: "t".into() },
            state: TaskState::TaskRunning as i32,
            timestamp: Some(1_795_772_531.041_75),
            healthy: Some(true),
            ..Default::default()
        };
        answers(&status);
        let bytes = status.encode_to_vec();
        // `healthy` (field 8, encoded last) as 2: prost reads any non-zero varint as true.
        let mut odd = bytes.clone();
        let at = odd
            .windows(2)
            .rposition(|w| w == [0x40, 0x01])
            .expect("healthy");
        odd[at + 1] = 0x02;
        assert_eq!(
            decode::<TaskStatus>(&odd),
            TaskStatus::decode(&odd[..]).ok()
        );
        // `timestamp` (field 6) cut short, and sent with the wrong wire type: both declined.
        let at = bytes.iter().position(|&b| b == 0x31).expect("timestamp");
        assert!(decode::<TaskStatus>(&bytes[..at + 5]).is_none());
        let mut wrong = bytes.clone();
        wrong[at] = 0x30; // field 6 as a varint
        assert!(decode::<TaskStatus>(&wrong).is_none());
    }

    #[test]
    fn the_one_pass_decoder_declines_incomplete_and_odd_input() {
        // TaskInfo with only `container` (empty): required fields are missing.
        assert!(decode::<TaskInfo>(&[0x4a, 0x00]).is_none());
        // A group in an unknown field.
        assert!(decode::<TaskInfo>(&[0x9b, 0x06, 0x9c, 0x06]).is_none());
        // Truncated.
        assert!(decode::<Call>(&[0x0a, 0x05, 0x0a]).is_none());
    }
}
