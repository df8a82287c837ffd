//! Event decoding, as a scheduler does it: a RecordIO stream of OFFERS events (each with
//! `offers_per_event` offers of the shape a Mesos 1.12 master sends, taken from the recorded
//! seed transcript) fed in 64 KiB chunks to [`recordio::Decoder`] and each record decoded with
//! `Event::from_json_slice` (JSON) or `decode_checked::<Event>` (protobuf, with proto2
//! `required` checks), exactly the calls mesos-scheduler's transport makes.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::BytesMut;
use mesos_proto::recordio::{self, Decoder};
use mesos_proto::v1::scheduler::{event, Event};
use mesos_proto::v1::Offer;
use mesos_proto::{decode_checked, MesosJson, Message};

use super::Figure;

/// One offer as a Mesos 1.12 master sent it in the recorded transcript (IDs are replaced).
const OFFER_JSON: &str = r#"{"id":{"value":"eda8223c-d9d1-482c-bc1b-f25a22319a94-O48"},
"framework_id":{"value":"eda8223c-d9d1-482c-bc1b-f25a22319a94-0023"},
"agent_id":{"value":"eda8223c-d9d1-482c-bc1b-f25a22319a94-S0"},"hostname":"127.0.0.1",
"url":{"scheme":"http","address":{"hostname":"127.0.0.1","ip":"127.0.0.1","port":15051},"path":"/slave(1)"},
"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*"},
{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"},
{"name":"mem","type":"SCALAR","scalar":{"value":23081.0},"role":"*"},
{"name":"disk","type":"SCALAR","scalar":{"value":252899.0},"role":"*"}]}"#;

/// The issue's target for JSON decoding.
pub const TARGET_JSON_MB_S: f64 = 100.0;

/// The issue's target for protobuf against JSON.
pub const TARGET_PROTOBUF_RATIO: f64 = 3.0;

/// Chunk size of the simulated HTTP body.
const CHUNK: usize = 64 * 1024;

/// Sizes.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// Events decoded per encoding.
    pub events: u32,
    /// Offers per OFFERS event.
    pub offers_per_event: u32,
}

/// One encoding's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Bytes of the RecordIO stream (headers included).
    pub bytes: usize,
    /// Size of one event's payload.
    pub event_bytes: usize,
    /// Time to decode the whole stream (the fastest of the passes).
    pub elapsed: Duration,
    /// Offers decoded in one pass (a check that the decoding did its job).
    pub offers: usize,
}

impl Rate {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // sizes are far below 2^52
        let bytes = self.bytes as f64;
        bytes / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct DecodeReport {
    /// The sizes.
    pub config: DecodeConfig,
    /// RecordIO + JSON.
    pub json: Rate,
    /// RecordIO + protobuf.
    pub protobuf: Rate,
    /// Cloning and dropping the event `events` times (best of three): the objects both
    /// decoders must build and the bench drops, without any parsing.
    pub build: Duration,
}

/// An OFFERS event with `n` distinct offers (distinct IDs, agents and ports).
pub fn offers_event(n: u32) -> anyhow::Result<Event> {
    let template = Offer::from_json_str(OFFER_JSON).context("the offer template")?;
    let offers = (0..n)
        .map(|i| {
            let mut offer = template.clone();
            offer.id.value = format!("eda8223c-d9d1-482c-bc1b-f25a22319a94-O{}", 1000 + i);
            offer.agent_id.value = format!("eda8223c-d9d1-482c-bc1b-f25a22319a94-S{i}");
            if let Some(url) = offer.url.as_mut() {
                url.address.port = 5051 + i32::try_from(i % 10_000).unwrap_or(0);
            }
            offer
        })
        .collect();
    Ok(Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers { offers }),
        ..Default::default()
    })
}

/// Decodes `stream` as the scheduler's transport does; returns the offers seen.
fn decode_stream(stream: &[u8], json: bool) -> anyhow::Result<usize> {
    let mut decoder = Decoder::new(recordio::DEFAULT_MAX_RECORD);
    let mut offers = 0;
    for chunk in stream.chunks(CHUNK) {
        decoder.feed(chunk);
        while let Some(record) = decoder.next_record()? {
            let event = if json {
                Event::from_json_slice(&record)?
            } else {
                decode_checked::<Event>(&record)?
            };
            offers += event.offers.map_or(0, |o| o.offers.len());
        }
    }
    decoder.finish()?;
    Ok(offers)
}

/// The shortest of three timed passes of `pass`, and the last pass's result.
fn best_of_three<R>(mut pass: impl FnMut() -> anyhow::Result<R>) -> anyhow::Result<(Duration, R)> {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        out = Some(pass()?);
        best = best.min(t.elapsed());
    }
    Ok((best, out.context("three passes ran")?))
}

/// Passes of each encoding's decoding, taken in turns.
const DECODE_PASSES: usize = 5;

/// `events` records of `payload`.
fn stream_of(payload: &[u8], events: u32) -> BytesMut {
    let mut stream = BytesMut::new();
    for _ in 0..events {
        recordio::encode_into(payload, &mut stream);
    }
    stream
}

/// Decodes the JSON and the protobuf stream in turns, [`DECODE_PASSES`] times each, and keeps
/// each one's fastest pass. Taking turns matters on a shared machine: a slow spell (another
/// tenant, a frequency drop) that lasts a few passes would otherwise fall on one encoding
/// only, and the ratio of the two is a target.
fn measure_both(json: &[u8], protobuf: &[u8], events: u32) -> anyhow::Result<(Rate, Rate)> {
    let streams = [stream_of(json, events), stream_of(protobuf, events)];
    let mut best = [Duration::MAX; 2];
    let mut offers = [0; 2];
    for _ in 0..DECODE_PASSES {
        for (i, stream) in streams.iter().enumerate() {
            let t = Instant::now();
            offers[i] = decode_stream(stream, i == 0)?;
            best[i] = best[i].min(t.elapsed());
        }
    }
    let rate = |i: usize, payload: &[u8]| Rate {
        bytes: streams[i].len(),
        event_bytes: payload.len(),
        elapsed: best[i],
        offers: offers[i],
    };
    Ok((rate(0, json), rate(1, protobuf)))
}

/// Best of three passes of cloning and dropping `event` `events` times.
fn measure_build(event: &Event, events: u32) -> anyhow::Result<Duration> {
    let (elapsed, _) = best_of_three(|| {
        let mut offers = 0;
        for _ in 0..events {
            let copy = std::hint::black_box(event.clone());
            offers += copy.offers.map_or(0, |o| o.offers.len());
        }
        Ok(std::hint::black_box(offers))
    })?;
    Ok(elapsed)
}

/// Runs the benchmark (synchronous, CPU-bound).
pub fn run(config: &DecodeConfig) -> anyhow::Result<DecodeReport> {
    let event = offers_event(config.offers_per_event)?;
    let json = event.to_json_string().into_bytes();
    let protobuf = event.encode_to_vec();
    let (json, protobuf) = measure_both(&json, &protobuf, config.events)?;
    Ok(DecodeReport {
        config: config.clone(),
        json,
        protobuf,
        build: measure_build(&event, config.events)?,
    })
}

impl DecodeReport {
    /// The figures: MB/s and events/s per encoding, and protobuf's speed-up, with targets.
    pub fn figures(&self) -> Vec<Figure> {
        let c = &self.config;
        let setup = |rate: &Rate| {
            format!(
                "{} OFFERS events x {} offers ({} B each), RecordIO in 64 KiB chunks, best of {} (JSON and protobuf passes in turns)",
                c.events, c.offers_per_event, rate.event_bytes, DECODE_PASSES
            )
        };
        let events_per_s = |rate: &Rate| f64::from(c.events) / rate.elapsed.as_secs_f64().max(1e-9);
        let speedup =
            self.json.elapsed.as_secs_f64() / self.protobuf.elapsed.as_secs_f64().max(1e-9);
        let per_event_us = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(c.events.max(1));
        vec![
            Figure::new(
                "decode",
                "RecordIO+JSON",
                self.json.mb_per_s(),
                "MB/s",
                setup(&self.json),
            )
            .at_least(TARGET_JSON_MB_S),
            Figure::new(
                "decode",
                "RecordIO+JSON",
                events_per_s(&self.json),
                "events/s",
                setup(&self.json),
            ),
            Figure::new(
                "decode",
                "RecordIO+protobuf",
                self.protobuf.mb_per_s(),
                "MB/s",
                setup(&self.protobuf),
            ),
            Figure::new(
                "decode",
                "RecordIO+protobuf",
                events_per_s(&self.protobuf),
                "events/s",
                setup(&self.protobuf),
            ),
            Figure::new(
                "decode",
                "protobuf vs JSON, events/s",
                speedup,
                "x",
                "same events, same decoder; ratio of decode times",
            )
            .at_least(TARGET_PROTOBUF_RATIO),
            Figure::new(
                "decode",
                "JSON decode, per event",
                per_event_us(self.json.elapsed),
                "us",
                "RecordIO + JSON, the event built and dropped",
            ),
            Figure::new(
                "decode",
                "protobuf decode, per event",
                per_event_us(self.protobuf.elapsed),
                "us",
                "RecordIO + protobuf, the event built and dropped",
            ),
            Figure::new(
                "decode",
                "the same event cloned and dropped, per event",
                per_event_us(self.build),
                "us",
                "building these objects without parsing anything: every decoder into them pays \
                 this, so it bounds the protobuf/JSON ratio",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_decode_every_offer() {
        let report = run(&DecodeConfig {
            events: 3,
            offers_per_event: 5,
        })
        .unwrap();
        assert_eq!(report.json.offers, 15);
        assert_eq!(report.protobuf.offers, 15);
        assert!(report.json.event_bytes > report.protobuf.event_bytes);
        assert!(report.build > Duration::ZERO);
        assert!(report.figures().iter().all(|f| f.value > 0.0));
    }
}
