//! Protobuf input with proto2 required-field checking.
//!
//! prost decodes proto2 `required` fields like optional ones and cannot tell a missing required
//! string from an empty one. Mesos (C++ `ParseFromString`) refuses such input, so berth walks the
//! wire bytes against a schema table generated from the same descriptors and names the missing
//! fields, the way protobuf's `FindInitializationErrors` does.
//!
//! [`decode_checked`] first tries `fast`, which decodes and checks in one pass; input that
//! path does not accept (any error included) is decoded again by prost and checked by the
//! schema walk here, which define the result and every error.

mod fast;

use prost::Message;

/// One field of a message, as the required-field check needs it.
#[derive(Debug)]
pub(crate) struct FieldSchema {
    pub number: u32,
    pub name: &'static str,
    pub required: bool,
    pub repeated: bool,
    /// Index into `MESSAGES` for message-typed fields.
    pub message: Option<usize>,
}

/// One message's fields.
#[derive(Debug)]
pub(crate) struct MessageSchema {
    #[allow(dead_code)]
    pub name: &'static str,
    pub fields: &'static [FieldSchema],
}

/// Implemented (by generated code) for every message: where its schema is.
pub trait WireSchema {
    /// Index of this message in the generated schema table.
    const SCHEMA: usize;

    /// The one-pass decoding of [`decode_checked`]: `Some` only for complete, well-formed input,
    /// with exactly what prost decodes; `None` leaves the input to the reference path.
    #[doc(hidden)]
    fn decode_complete(_bytes: &[u8]) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Why protobuf input was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a valid encoding of the message.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// Required fields are absent (dotted paths).
    #[error("Missing required fields: {}", .0.join(", "))]
    MissingRequired(Vec<String>),
}

/// Decodes `bytes` as `T` and checks that every required field (recursively) is present.
pub fn decode_checked<T: Message + Default + WireSchema>(bytes: &[u8]) -> Result<T, DecodeError> {
    if let Some(msg) = T::decode_complete(bytes) {
        return Ok(msg);
    }
    // The single-pass decoder settles complete, well-formed input; what reaches here is
    // almost always incomplete or malformed, so it goes straight to the walk that names what
    // is missing.
    let msg = T::decode(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let mut missing = Vec::new();
    check(bytes, T::SCHEMA, "", &mut missing, 0)?;
    if missing.is_empty() {
        Ok(msg)
    } else {
        Err(DecodeError::MissingRequired(missing))
    }
}

/// Names the required fields missing from an encoded `T` (empty when complete).
pub fn missing_required<T: WireSchema>(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut missing = Vec::new();
    check(bytes, T::SCHEMA, "", &mut missing, 0)?;
    Ok(missing)
}

fn malformed(what: &'static str) -> DecodeError {
    DecodeError::Malformed(what.to_string())
}

fn varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    prost::encoding::decode_varint(buf).map_err(|e| DecodeError::Malformed(e.to_string()))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], DecodeError> {
    let n = usize::try_from(n).map_err(|_| malformed("length overflows usize"))?;
    if buf.len() < n {
        return Err(malformed("buffer underflow"));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

const MAX_DEPTH: usize = 100;

fn check(
    bytes: &[u8],
    schema: usize,
    prefix: &str,
    missing: &mut Vec<String>,
    depth: usize,
) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("recursion limit reached"));
    }
    let fields = MESSAGES[schema].fields;
    let mut seen = vec![false; fields.len()];
    // Sub-messages are checked after this level's own required fields, as protobuf does.
    let mut nested: Vec<(usize, usize, &[u8])> = Vec::new();
    let mut repeat_count = vec![0usize; fields.len()];
    let mut buf = bytes;
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = u32::try_from(key >> 3).map_err(|_| malformed("field number too large"))?;
        let wire_type = key & 7;
        let slot = fields.iter().position(|f| f.number == number);
        if let Some(i) = slot {
            seen[i] = true;
        }
        match wire_type {
            0 => {
                varint(&mut buf)?;
            }
            1 => {
                take(&mut buf, 8)?;
            }
            2 => {
                let len = varint(&mut buf)?;
                let payload = take(&mut buf, len)?;
                if let Some(i) = slot {
                    if let Some(sub) = fields[i].message {
                        nested.push((i, sub, payload));
                    }
                }
            }
            5 => {
                take(&mut buf, 4)?;
            }
            _ => return Err(malformed("unsupported wire type")),
        }
    }
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    for (i, f) in fields.iter().enumerate() {
        if f.required && !seen[i] {
            missing.push(join(f.name));
        }
    }
    nested.sort_by_key(|(i, _, _)| fields[*i].number);
    for (i, sub, payload) in nested {
        let f = &fields[i];
        let path = if f.repeated {
            let p = join(&format!("{}[{}]", f.name, repeat_count[i]));
            repeat_count[i] += 1;
            p
        } else {
            join(f.name)
        };
        check(payload, sub, &path, missing, depth + 1)?;
    }
    Ok(())
}

#[allow(clippy::all, missing_docs, deprecated, unused_mut)]
mod generated {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/wire_schema.rs"));
}
use generated::MESSAGES;
