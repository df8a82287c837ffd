//! RecordIO, the framing of the SUBSCRIBE event stream: an ASCII decimal length, `\n`, then that
//! many bytes; no trailing newline. HTTP chunk boundaries are unrelated to record boundaries, so
//! the decoder buffers across any split.

use bytes::{Buf, Bytes, BytesMut};

/// The default largest record the decoder accepts (64 MiB).
pub const DEFAULT_MAX_RECORD: usize = 64 * 1024 * 1024;

/// The longest header worth reading: `u64::MAX` has 20 digits.
const MAX_HEADER_DIGITS: usize = 20;

/// Appends one record (`<len>\n<payload>`) to `out`.
pub fn encode_into(payload: &[u8], out: &mut BytesMut) {
    let mut len = itoa::Buffer::new();
    out.extend_from_slice(len.format(payload.len()).as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(payload);
}

/// One record as bytes.
pub fn encode(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 8);
    encode_into(payload, &mut out);
    out.freeze()
}

/// Room left ahead of a payload written in place: the longest header, `<20 digits>\n`.
const HEADER_ROOM: usize = MAX_HEADER_DIGITS + 1;

/// First guess of an encoded message's size (an UPDATE event is about 1 KB): most are written
/// without the buffer growing, and so without being copied as it grows.
const PAYLOAD_GUESS: usize = 1024;

/// Turns `buf`, whose payload starts at [`HEADER_ROOM`], into the record: the header is written
/// right before the payload and the record is a view of the same allocation (no copy).
fn finish_in_place(mut buf: Vec<u8>) -> Bytes {
    debug_assert!(buf.len() >= HEADER_ROOM);
    let payload = buf.len() - HEADER_ROOM;
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(payload).as_bytes();
    let start = HEADER_ROOM - 1 - digits.len();
    buf[start..HEADER_ROOM - 1].copy_from_slice(digits);
    buf[HEADER_ROOM - 1] = b'\n';
    Bytes::from(buf).slice(start..)
}

/// `message` as one record of Mesos's JSON, written once (the same bytes as
/// `encode(message.to_json_string().as_bytes())`, without the second copy).
pub fn encode_json<M: crate::json::MesosJson>(message: &M) -> Bytes {
    json_record(|w| message.write_json(w))
}

/// One JSON record whose object `write` puts down, written in place after room for the header.
fn json_record(write: impl FnOnce(&mut crate::json::Writer)) -> Bytes {
    let mut text = String::with_capacity(HEADER_ROOM + PAYLOAD_GUESS);
    // Placeholder for the header; a JSON object's text starts with `{`, which the writer puts
    // down without looking at what precedes it.
    text.extend(std::iter::repeat_n(' ', HEADER_ROOM));
    let mut w = crate::json::Writer::with_buffer(text);
    write(&mut w);
    let text = w.finish().into_bytes();
    debug_assert_eq!(
        text.get(HEADER_ROOM),
        Some(&b'{'),
        "a message is a JSON object"
    );
    finish_in_place(text)
}

/// `message` as one record of protobuf, written once (the same bytes as
/// `encode(&message.encode_to_vec())`).
pub fn encode_protobuf<M: prost::Message>(message: &M) -> Bytes {
    // Not sized with `encoded_len()` first: prost works out every nested message's length
    // again as it writes it (an offer's resources three levels down, three times more), so
    // sizing first adds a whole pass, dearer than the buffer's few doublings on a large
    // OFFERS event.
    // A Vec grows as needed: encoding into it cannot fail.
    protobuf_record(PAYLOAD_GUESS, |buf| message.encode_raw(buf))
}

/// One protobuf record whose payload `write` appends, written in place after room for the
/// header; `capacity` is the payload's expected size.
fn protobuf_record(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut buf = Vec::with_capacity(HEADER_ROOM + capacity);
    buf.resize(HEADER_ROOM, 0);
    write(&mut buf);
    finish_in_place(buf)
}

/// An UPDATE event carrying `status`, as one JSON record: the same bytes as [`encode_json`] of
/// `Event { type: UPDATE, update: Some(Update { status }) }`, written from a borrowed status
/// (the master forwards an agent's update without copying it into an event first).
pub fn encode_update_json(status: &crate::v1::TaskStatus) -> Bytes {
    use crate::json::MesosJson as _;
    json_record(|w| {
        w.begin_object();
        w.field("type");
        w.string("UPDATE");
        w.field("update");
        w.begin_object();
        w.field("status");
        status.write_json(w);
        w.end_object();
        w.end_object();
    })
}

/// An UPDATE event carrying `status`, as one protobuf record: the same bytes as
/// [`encode_protobuf`] of `Event { type: UPDATE, update: Some(Update { status }) }` (fields
/// `Event.type` = 1, `Event.update` = 5, `Update.status` = 1), from a borrowed status.
pub fn encode_update_protobuf(status: &crate::v1::TaskStatus) -> Bytes {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    use prost::Message as _;
    let status_len = status.encoded_len();
    // `Update`: the status as field 1.
    let update_len = 1 + encoded_len_varint(status_len as u64) + status_len;
    let event_len = 2 + 1 + encoded_len_varint(update_len as u64) + update_len;
    protobuf_record(event_len, |buf| {
        encode_key(1, WireType::Varint, buf);
        encode_varint(crate::v1::scheduler::event::Type::Update as u64, buf);
        encode_key(5, WireType::LengthDelimited, buf);
        encode_varint(update_len as u64, buf);
        encode_key(1, WireType::LengthDelimited, buf);
        encode_varint(status_len as u64, buf);
        status.encode_raw(buf);
        debug_assert_eq!(buf.len(), HEADER_ROOM + event_len);
    })
}

/// A malformed RecordIO stream. Once returned, the decoder stays failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    /// The header holds something other than decimal digits.
    #[error("invalid RecordIO header byte 0x{byte:02x} at header position {position}")]
    BadHeaderByte {
        /// The offending byte.
        byte: u8,
        /// Its position within the header.
        position: usize,
    },
    /// The header ended (`\n`) without any digit.
    #[error("empty RecordIO header")]
    EmptyHeader,
    /// A header longer than any length that fits in 64 bits.
    #[error("RecordIO header longer than {MAX_HEADER_DIGITS} digits")]
    HeaderTooLong,
    /// A record of length zero: Mesos never sends one, so it signals a broken stream.
    #[error("zero-length RecordIO record")]
    ZeroLength,
    /// A record larger than the configured maximum.
    #[error("RecordIO record of {length} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Announced length.
        length: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The stream ended inside a record.
    #[error("RecordIO stream ended inside a record ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes left over.
        buffered: usize,
    },
}

/// Spare buffer capacity an idle decoder keeps; more is released after a large record.
const KEEP_IDLE_CAPACITY: usize = 64 * 1024;

/// Incremental decoder: feed bytes as they arrive, take whole records out.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max: usize,
    /// Length of the record whose header has been read.
    pending: Option<usize>,
    failed: Option<RecordIoError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl Decoder {
    /// A decoder accepting records up to `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            max: max_record,
            pending: None,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes buffered but not yet returned as records.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.step() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn step(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                let Some(nl) = self
                    .buf
                    .iter()
                    .take(MAX_HEADER_DIGITS + 1)
                    .position(|&b| b == b'\n')
                else {
                    // No newline yet: validate what we have so garbage fails fast.
                    for (position, &byte) in self.buf.iter().take(MAX_HEADER_DIGITS).enumerate() {
                        if !byte.is_ascii_digit() {
                            return Err(RecordIoError::BadHeaderByte { byte, position });
                        }
                    }
                    if self.buf.len() > MAX_HEADER_DIGITS {
                        return Err(RecordIoError::HeaderTooLong);
                    }
                    return Ok(None);
                };
                if nl == 0 {
                    return Err(RecordIoError::EmptyHeader);
                }
                let mut length: u64 = 0;
                for (position, &byte) in self.buf[..nl].iter().enumerate() {
                    if !byte.is_ascii_digit() {
                        return Err(RecordIoError::BadHeaderByte { byte, position });
                    }
                    length = length
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(u64::from(byte - b'0')))
                        .ok_or(RecordIoError::HeaderTooLong)?;
                }
                if length == 0 {
                    return Err(RecordIoError::ZeroLength);
                }
                let len = usize::try_from(length)
                    .ok()
                    .filter(|l| *l <= self.max)
                    .ok_or(RecordIoError::TooLarge {
                        length,
                        max: self.max,
                    })?;
                self.buf.advance(nl + 1);
                self.pending = Some(len);
                len
            }
        };
        if self.buf.len() < len {
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        self.pending = None;
        let record = self.buf.split_to(len).freeze();
        if self.buf.is_empty() && self.buf.capacity() > KEEP_IDLE_CAPACITY {
            // A large record grew the buffer: do not keep that much for a quiet stream
            // (a framework holds one decoder per subscription for hours).
            self.buf = BytesMut::new();
        }
        Ok(Some(record))
    }

    /// Call at end of stream: fails if a partial record is left.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.buf.is_empty() && self.pending.is_none() {
            Ok(())
        } else {
            Err(RecordIoError::Truncated {
                buffered: self.buf.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(d: &mut Decoder) -> Result<Vec<Bytes>, RecordIoError> {
        let mut out = Vec::new();
        while let Some(r) = d.next_record()? {
            out.push(r);
        }
        Ok(out)
    }

    /// Events of every size class: empty, a small UPDATE, offers past the first guess.
    fn sample_events() -> Vec<crate::v1::scheduler::Event> {
        use crate::v1::scheduler::{event, Event};
        use crate::v1::{AgentId, FrameworkId, Offer, OfferId, TaskId, TaskStatus};
        let update = Event {
            r#type: Some(event::Type::Update as i32),
            update: Some(Box::new(event::Update {
                status: TaskStatus {
                    task_id: TaskId {
                        value: "t \"1\"\n".into(),
                    },
                    state: 1,
                    uuid: Some(vec![1, 2, 3, 250]),
                    message: Some("é ok".into()),
                    ..Default::default()
                },
            })),
            ..Default::default()
        };
        let offer = |n: usize| Offer {
            id: OfferId {
                value: format!("offer-{n}"),
            },
            framework_id: FrameworkId { value: "fw".into() },
            agent_id: AgentId {
                value: format!("agent-{n}"),
            },
            hostname: "host".into(),
            resources: vec![
                crate::resource::scalar("cpus", 4.0),
                crate::resource::scalar("mem", 4096.0),
            ],
            ..Default::default()
        };
        let offers = Event {
            r#type: Some(event::Type::Offers as i32),
            offers: Some(event::Offers {
                offers: (0..40).map(offer).collect(),
            }),
            ..Default::default()
        };
        vec![Event::default(), update, offers]
    }

    #[test]
    fn records_written_in_place_equal_the_two_step_encoding() {
        use crate::json::MesosJson as _;
        use prost::Message as _;
        for event in sample_events() {
            let json = event.to_json_string();
            assert_eq!(encode_json(&event), encode(json.as_bytes()), "{json}");
            assert_eq!(
                encode_protobuf(&event),
                encode(&event.encode_to_vec()),
                "{json}"
            );
        }
        let big = &sample_events()[2];
        assert!(
            big.to_json_string().len() > PAYLOAD_GUESS,
            "the buffer must grow once"
        );
    }

    #[test]
    fn encode_writes_decimal_length_newline_payload() {
        assert_eq!(
            &encode(br#"{"type":"HEARTBEAT"}"#)[..],
            b"20\n{\"type\":\"HEARTBEAT\"}"
        );
        assert_eq!(&encode(&[0x08, 0x08])[..], b"2\n\x08\x08");
    }

    #[test]
    fn decode_handles_records_split_byte_by_byte() {
        let stream = [encode(b"hello"), encode(b"world!")].concat();
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in stream {
            d.feed(&[b]);
            got.extend(decode_all(&mut d).unwrap());
        }
        assert_eq!(
            got,
            vec![Bytes::from_static(b"hello"), Bytes::from_static(b"world!")]
        );
        d.finish().unwrap();
    }

    #[test]
    fn decode_rejects_zero_length_record() {
        let mut d = Decoder::default();
        d.feed(b"0\n");
        assert_eq!(d.next_record(), Err(RecordIoError::ZeroLength));
    }

    #[test]
    fn decode_rejects_non_numeric_header() {
        let mut d = Decoder::default();
        d.feed(b"1x\nab");
        assert_eq!(
            d.next_record(),
            Err(RecordIoError::BadHeaderByte {
                byte: b'x',
                position: 1
            })
        );
        // Garbage is reported even before a newline arrives.
        let mut d = Decoder::default();
        d.feed(b"{\"type\"");
        assert!(matches!(
            d.next_record(),
            Err(RecordIoError::BadHeaderByte { position: 0, .. })
        ));
    }

    #[test]
    fn decode_rejects_records_over_the_maximum() {
        let mut d = Decoder::new(4);
        d.feed(b"5\nhello");
        assert_eq!(
            d.next_record(),
            Err(RecordIoError::TooLarge { length: 5, max: 4 })
        );
        let mut d = Decoder::default();
        d.feed(b"99999999999999999999999\n");
        assert_eq!(d.next_record(), Err(RecordIoError::HeaderTooLong));
    }

    #[test]
    fn finish_reports_a_truncated_record() {
        let mut d = Decoder::default();
        d.feed(b"5\nhel");
        assert_eq!(d.next_record(), Ok(None));
        assert!(matches!(d.finish(), Err(RecordIoError::Truncated { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn records_round_trip_under_any_chunking(
            records in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..20),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let mut stream = BytesMut::new();
            for r in &records {
                encode_into(r, &mut stream);
            }
            let stream = stream.freeze();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for w in points.windows(2) {
                d.feed(&stream[w[0]..w[1]]);
                got.extend(decode_all(&mut d).unwrap());
            }
            prop_assert_eq!(got.len(), records.len());
            for (g, r) in got.iter().zip(&records) {
                prop_assert_eq!(&g[..], &r[..]);
            }
            prop_assert!(d.finish().is_ok());
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
            max in 1usize..1024,
        ) {
            let mut d = Decoder::new(max);
            for c in &chunks {
                d.feed(c);
                while let Ok(Some(r)) = d.next_record() {
                    prop_assert!(!r.is_empty() && r.len() <= max);
                }
            }
            let _ = d.finish();
        }
    }
}
