//! Offer matching: does an offer hold enough resources, and which of its resources go into a
//! `TaskInfo`.
//!
//! [`OfferResources`] is the unused remainder of one offer. [`OfferResources::take`] removes
//! the wanted amounts and returns resources *cut from the offered ones*: each keeps the
//! offered resource's `role`, `reservations`, `allocation_info` and so on, which is what Mesos
//! checks a task's resources against (for `MULTI_ROLE` frameworks `allocation_info` is
//! required). Several tasks can be cut from one offer in turn.
//!
//! Scalars (`cpus`, `mem`, `disk`, ...) are compared with Mesos' fixed-point precision of three
//! decimals; ranges (`ports`) must be covered by the offered ranges; sets by the offered items.
//! The wanted resources' own role and reservation fields are not consulted.

use mesos_proto::v1::value::{self, Range, Ranges, Scalar};
use mesos_proto::v1::{Offer, Resource};

/// Scalars within this of each other are equal (Mesos keeps three decimals).
const EPSILON: f64 = 0.000_5;

/// Why resources could not be taken from an offer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OfferError {
    /// Not enough of a scalar resource.
    #[error("offer has {available} {name}, {wanted} wanted")]
    Insufficient {
        /// Resource name.
        name: String,
        /// Amount wanted.
        wanted: f64,
        /// Amount offered (unused so far).
        available: f64,
    },
    /// Wanted ranges that the offer does not cover.
    #[error("offer lacks {name} {missing:?}")]
    RangesUnavailable {
        /// Resource name.
        name: String,
        /// The inclusive ranges not offered.
        missing: Vec<(u64, u64)>,
    },
    /// Wanted set items that the offer does not hold.
    #[error("offer lacks {name} items {missing:?}")]
    SetUnavailable {
        /// Resource name.
        name: String,
        /// Items not offered.
        missing: Vec<String>,
    },
    /// Fewer free ports than wanted.
    #[error("offer has {available} free ports, {wanted} wanted")]
    NotEnoughPorts {
        /// Ports wanted.
        wanted: usize,
        /// Ports offered (unused so far).
        available: u64,
    },
    /// A resource type that cannot be matched (TEXT, or no value).
    #[error("resource {name} has an unsupported type or no value")]
    Unsupported {
        /// Resource name.
        name: String,
    },
}

/// The unused remainder of an offer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferResources {
    remaining: Vec<Resource>,
}

/// Whether `wanted` can be cut from `offer`.
pub fn offer_fits(offer: &Offer, wanted: &[Resource]) -> bool {
    OfferResources::new(offer).fits(wanted)
}

/// Resources for a `TaskInfo` cut from `offer` (see [`OfferResources::take`]).
pub fn task_resources(offer: &Offer, wanted: &[Resource]) -> Result<Vec<Resource>, OfferError> {
    OfferResources::new(offer).take(wanted)
}

impl OfferResources {
    /// All of `offer`'s resources.
    pub fn new(offer: &Offer) -> Self {
        Self::from_resources(offer.resources.clone())
    }

    /// A pool of the given resources.
    pub fn from_resources(resources: Vec<Resource>) -> Self {
        OfferResources {
            remaining: resources,
        }
    }

    /// What is left.
    pub fn remaining(&self) -> &[Resource] {
        &self.remaining
    }

    /// Whether `wanted` can be taken.
    pub fn fits(&self, wanted: &[Resource]) -> bool {
        self.clone().take(wanted).is_ok()
    }

    /// Removes `wanted` and returns the resources for a task; on error nothing is removed.
    pub fn take(&mut self, wanted: &[Resource]) -> Result<Vec<Resource>, OfferError> {
        let mut taken = Vec::new();
        // The usual request (cpus, mem, disk: scalars, each named once) is checked whole
        // first and then taken in place: once checked, taking a scalar cannot fail, and no
        // name's taking changes another's availability.
        let distinct_scalars = wanted.iter().enumerate().all(|(i, w)| {
            kind(w) == Some(value::Type::Scalar)
                && !wanted[..i]
                    .iter()
                    .any(|o| o.name == w.name && o.r#type == w.r#type)
        });
        if distinct_scalars {
            for w in wanted {
                scalar_available(&self.remaining, w)?;
            }
            for w in wanted {
                take_one(&mut self.remaining, w, &mut taken)?;
            }
            return Ok(taken);
        }
        let mut pool = self.remaining.clone();
        for w in wanted {
            take_one(&mut pool, w, &mut taken)?;
        }
        self.remaining = pool;
        Ok(taken)
    }

    /// Takes the `n` lowest free ports; returns them and the `ports` resources to put into
    /// the task.
    pub fn take_ports(&mut self, n: usize) -> Result<(Vec<u64>, Vec<Resource>), OfferError> {
        let free = normalize(mesos_proto::resource::ranges_of(&self.remaining, "ports"));
        let mut chosen = Vec::with_capacity(n);
        'outer: for (begin, end) in &free {
            let mut port = *begin;
            while port <= *end {
                if chosen.len() == n {
                    break 'outer;
                }
                chosen.push(port);
                match port.checked_add(1) {
                    Some(p) => port = p,
                    None => break,
                }
            }
        }
        if chosen.len() < n {
            return Err(OfferError::NotEnoughPorts {
                wanted: n,
                available: count(&free),
            });
        }
        let resources = self.take_specific_ports(&chosen)?;
        Ok((chosen, resources))
    }

    /// Takes exactly these ports; returns the `ports` resources for the task.
    pub fn take_specific_ports(&mut self, ports: &[u64]) -> Result<Vec<Resource>, OfferError> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        self.take(&[mesos_proto::resource::ports(&ports_to_ranges(ports))])
    }
}

/// Coalesces ports into sorted inclusive ranges (`[80, 81, 90]` → `[(80, 81), (90, 90)]`).
pub fn ports_to_ranges(ports: &[u64]) -> Vec<(u64, u64)> {
    normalize(ports.iter().map(|&p| (p, p)).collect())
}

fn kind(r: &Resource) -> Option<value::Type> {
    value::Type::try_from(r.r#type).ok()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The amount of scalar `w` wanted, if `pool` holds that much of it.
fn scalar_available(pool: &[Resource], w: &Resource) -> Result<f64, OfferError> {
    let wanted = w.scalar.as_ref().map(|s| s.value).unwrap_or_default();
    let available: f64 = pool
        .iter()
        .filter(|r| r.name == w.name && r.r#type == w.r#type)
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum();
    if !wanted.is_finite() || wanted < 0.0 || available + EPSILON < wanted {
        return Err(OfferError::Insufficient {
            name: w.name.clone(),
            wanted,
            available: round3(available),
        });
    }
    Ok(wanted)
}

fn take_one(
    pool: &mut Vec<Resource>,
    w: &Resource,
    taken: &mut Vec<Resource>,
) -> Result<(), OfferError> {
    let same = |r: &Resource| r.name == w.name && r.r#type == w.r#type;
    match kind(w) {
        Some(value::Type::Scalar) => {
            let mut need = scalar_available(pool, w)?;
            for r in pool.iter_mut().filter(|r| same(r)) {
                if need <= EPSILON {
                    break;
                }
                let Some(have) = r.scalar.as_ref().map(|s| s.value) else {
                    continue;
                };
                let part = have.min(need);
                if part <= EPSILON {
                    continue;
                }
                let mut piece = r.clone();
                piece.scalar = Some(Scalar {
                    value: round3(part),
                });
                taken.push(piece);
                r.scalar = Some(Scalar {
                    value: round3(have - part),
                });
                need -= part;
            }
            pool.retain(|r| !(same(r) && r.scalar.as_ref().is_some_and(|s| s.value <= EPSILON)));
            Ok(())
        }
        Some(value::Type::Ranges) => {
            let mut need = normalize(mesos_proto::resource::ranges_of(
                std::slice::from_ref(w),
                &w.name,
            ));
            for r in pool.iter_mut().filter(|r| same(r)) {
                if need.is_empty() {
                    break;
                }
                let have = normalize(mesos_proto::resource::ranges_of(
                    std::slice::from_ref(r),
                    &w.name,
                ));
                let common = intersect(&have, &need);
                if common.is_empty() {
                    continue;
                }
                let mut piece = r.clone();
                piece.ranges = Some(to_ranges(&common));
                taken.push(piece);
                r.ranges = Some(to_ranges(&subtract(&have, &common)));
                need = subtract(&need, &common);
            }
            if !need.is_empty() {
                return Err(OfferError::RangesUnavailable {
                    name: w.name.clone(),
                    missing: need,
                });
            }
            pool.retain(|r| !(same(r) && r.ranges.as_ref().is_some_and(|rs| rs.range.is_empty())));
            Ok(())
        }
        Some(value::Type::Set) => {
            let mut need: Vec<String> = w.set.as_ref().map(|s| s.item.clone()).unwrap_or_default();
            for r in pool.iter_mut().filter(|r| same(r)) {
                let Some(set) = r.set.as_mut() else { continue };
                let (common, rest): (Vec<String>, Vec<String>) =
                    set.item.iter().cloned().partition(|i| need.contains(i));
                if common.is_empty() {
                    continue;
                }
                need.retain(|i| !common.contains(i));
                set.item = rest;
                let mut piece = r.clone();
                piece.set = Some(value::Set { item: common });
                taken.push(piece);
            }
            if !need.is_empty() {
                return Err(OfferError::SetUnavailable {
                    name: w.name.clone(),
                    missing: need,
                });
            }
            pool.retain(|r| !(same(r) && r.set.as_ref().is_some_and(|s| s.item.is_empty())));
            Ok(())
        }
        Some(value::Type::Text) | None => Err(OfferError::Unsupported {
            name: w.name.clone(),
        }),
    }
}

fn to_ranges(bounds: &[(u64, u64)]) -> Ranges {
    Ranges {
        range: bounds
            .iter()
            .map(|&(begin, end)| Range { begin, end })
            .collect(),
    }
}

fn count(ranges: &[(u64, u64)]) -> u64 {
    ranges
        .iter()
        .map(|(b, e)| e.saturating_sub(*b).saturating_add(1))
        .fold(0u64, u64::saturating_add)
}

/// Sorted, merged (overlapping or adjacent), inclusive; drops inverted ranges.
fn normalize(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|(b, e)| b <= e);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (b, e) in ranges {
        match out.last_mut() {
            Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((b, e)),
        }
    }
    out
}

/// Intersection of two normalized range lists.
fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(ab, ae) in a {
        for &(bb, be) in b {
            let (lo, hi) = (ab.max(bb), ae.min(be));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    normalize(out)
}

/// `a` minus `b` (both normalized).
fn subtract(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(ab, ae) in a {
        let mut pieces = vec![(ab, ae)];
        for &(bb, be) in b {
            let mut next = Vec::new();
            for (pb, pe) in pieces {
                if be < pb || bb > pe {
                    next.push((pb, pe));
                    continue;
                }
                if bb > pb {
                    next.push((pb, bb - 1));
                }
                if be < pe {
                    next.push((be + 1, pe));
                }
            }
            pieces = next;
        }
        out.extend(pieces);
    }
    normalize(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::{ports, ranges_of, scalar, scalar_sum, set};
    use mesos_proto::v1::resource::AllocationInfo;

    #[allow(deprecated)]
    fn offered() -> Vec<Resource> {
        let mut res = vec![
            ports(&[(31000, 31002), (31010, 31010)]),
            scalar("cpus", 2.0),
            scalar("mem", 1024.0),
            scalar("disk", 100.0),
        ];
        for r in &mut res {
            r.role = Some("*".into());
            r.allocation_info = Some(AllocationInfo {
                role: Some("web".into()),
            });
        }
        res
    }

    #[test]
    fn fits_compares_scalars_with_three_decimals() {
        let pool = OfferResources::from_resources(offered());
        assert!(pool.fits(&[scalar("cpus", 2.0), scalar("mem", 1024.0)]));
        assert!(pool.fits(&[scalar("cpus", 2.0004)]));
        assert!(!pool.fits(&[scalar("cpus", 2.01)]));
        assert!(!pool.fits(&[scalar("gpus", 1.0)]));
        assert!(pool.fits(&[ports(&[(31001, 31002)])]));
        assert!(!pool.fits(&[ports(&[(31003, 31003)])]));
    }

    #[test]
    #[allow(deprecated)]
    fn take_cuts_resources_keeping_role_and_allocation_info() {
        let mut pool = OfferResources::from_resources(offered());
        let got = pool
            .take(&[scalar("cpus", 0.5), scalar("mem", 100.0)])
            .expect("fits");
        assert_eq!(scalar_sum(&got, "cpus"), 0.5);
        assert_eq!(scalar_sum(&got, "mem"), 100.0);
        assert!(got.iter().all(|r| r.role.as_deref() == Some("*")
            && r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some("web")));
        assert_eq!(scalar_sum(pool.remaining(), "cpus"), 1.5);
        // A second task from the same offer, then one too many.
        pool.take(&[scalar("cpus", 1.5)]).expect("rest fits");
        assert!(scalar_sum(pool.remaining(), "cpus") == 0.0);
        let err = pool
            .take(&[scalar("cpus", 0.1), scalar("mem", 1.0)])
            .unwrap_err();
        assert!(matches!(err, OfferError::Insufficient { ref name, .. } if name == "cpus"));
        // Failure removed nothing.
        assert_eq!(scalar_sum(pool.remaining(), "mem"), 924.0);
    }

    /// A request is all or nothing whichever way it is taken: scalars named once (checked
    /// first, then taken in place), a name asked twice, or scalars beside ranges.
    #[test]
    fn a_refused_request_takes_nothing() {
        let before = OfferResources::from_resources(offered());
        for wanted in [
            vec![scalar("cpus", 1.0), scalar("mem", 2000.0)],
            vec![scalar("cpus", 1.5), scalar("cpus", 1.0)],
            vec![scalar("cpus", 1.0), ports(&[(31003, 31003)])],
        ] {
            let mut pool = before.clone();
            assert!(pool.take(&wanted).is_err(), "{wanted:?}");
            assert_eq!(pool.remaining(), before.remaining(), "{wanted:?}");
        }
        // A name asked twice adds up.
        let mut pool = before.clone();
        let got = pool
            .take(&[scalar("cpus", 0.5), scalar("cpus", 0.5)])
            .expect("fits");
        assert_eq!(scalar_sum(&got, "cpus"), 1.0);
        assert_eq!(scalar_sum(pool.remaining(), "cpus"), 1.0);
    }

    #[test]
    fn take_ports_picks_the_lowest_free_ports_across_ranges() {
        let mut pool = OfferResources::from_resources(offered());
        let (got, res) = pool.take_ports(4).expect("four ports");
        assert_eq!(got, [31000, 31001, 31002, 31010]);
        assert_eq!(ranges_of(&res, "ports"), [(31000, 31002), (31010, 31010)]);
        assert!(ranges_of(pool.remaining(), "ports").is_empty());
        assert_eq!(
            pool.take_ports(1),
            Err(OfferError::NotEnoughPorts {
                wanted: 1,
                available: 0
            })
        );
    }

    #[test]
    fn take_specific_ports_splits_the_offered_range() {
        let mut pool = OfferResources::from_resources(offered());
        let res = pool.take_specific_ports(&[31001]).expect("offered");
        assert_eq!(ranges_of(&res, "ports"), [(31001, 31001)]);
        assert_eq!(
            ranges_of(pool.remaining(), "ports"),
            [(31000, 31000), (31002, 31002), (31010, 31010)]
        );
        assert!(matches!(
            pool.take_specific_ports(&[31001, 8080]),
            Err(OfferError::RangesUnavailable { missing, .. }) if missing == [(8080, 8080), (31001, 31001)]
        ));
    }

    #[test]
    fn sets_are_taken_item_by_item() {
        let mut pool = OfferResources::from_resources(vec![set("gpus_ids", &["a", "b"])]);
        let got = pool.take(&[set("gpus_ids", &["b"])]).expect("b offered");
        assert_eq!(
            got[0].set.as_ref().map(|s| s.item.clone()),
            Some(vec!["b".to_string()])
        );
        assert!(!pool.fits(&[set("gpus_ids", &["b"])]));
    }

    #[test]
    fn range_arithmetic_merges_and_splits() {
        assert_eq!(ports_to_ranges(&[90, 80, 81, 82]), [(80, 82), (90, 90)]);
        assert_eq!(subtract(&[(1, 10)], &[(3, 4), (10, 10)]), [(1, 2), (5, 9)]);
        assert_eq!(intersect(&[(1, 5), (8, 9)], &[(4, 8)]), [(4, 5), (8, 8)]);
        assert_eq!(count(&[(0, u64::MAX)]), u64::MAX);
    }

    #[test]
    fn offer_helpers_work_on_a_real_mesos_offer() {
        let text =
            include_str!("../../mesos-proto/tests/fixtures/real-mesos/seed-task-transcript.json");
        let entries: serde_json::Value = serde_json::from_str(text).expect("transcript");
        let offers_event = entries
            .as_array()
            .and_then(|a| a.iter().find(|e| e["event"]["type"] == "OFFERS"))
            .expect("an OFFERS event");
        let ev = <mesos_proto::v1::scheduler::Event as mesos_proto::MesosJson>::from_json_value(
            &offers_event["event"],
        )
        .expect("decodes");
        let offer = &ev.offers.expect("offers").offers[0];
        assert!(offer_fits(
            offer,
            &[scalar("cpus", 0.5), scalar("mem", 100.0)]
        ));
        let res = task_resources(
            offer,
            &[
                scalar("cpus", 0.5),
                scalar("mem", 100.0),
                ports(&[(31000, 31000)]),
            ],
        )
        .expect("fits");
        assert_eq!(res.len(), 3);
    }

    fn contains(ranges: &[(u64, u64)], p: u64) -> bool {
        ranges.iter().any(|&(b, e)| b <= p && p <= e)
    }

    proptest::proptest! {
        #[test]
        fn taking_ports_conserves_the_offered_ports(
            bounds in proptest::collection::vec((0u64..200, 0u64..20), 0..6),
            n in 0usize..40,
        ) {
            let offered: Vec<(u64, u64)> = bounds.iter().map(|&(b, len)| (b, b + len)).collect();
            let before = normalize(offered.clone());
            let mut pool = OfferResources::from_resources(vec![ports(&offered)]);
            match pool.take_ports(n) {
                Ok((got, res)) => {
                    proptest::prop_assert_eq!(got.len(), n);
                    let taken = normalize(ranges_of(&res, "ports"));
                    let left = normalize(ranges_of(pool.remaining(), "ports"));
                    // Disjoint, and together exactly what was offered.
                    proptest::prop_assert!(intersect(&taken, &left).is_empty());
                    let mut union = taken.clone();
                    union.extend(left.iter().copied());
                    proptest::prop_assert_eq!(normalize(union), before.clone());
                    for p in got {
                        proptest::prop_assert!(contains(&taken, p));
                    }
                }
                Err(OfferError::NotEnoughPorts { available, .. }) => {
                    proptest::prop_assert!(available < n as u64);
                    proptest::prop_assert_eq!(normalize(ranges_of(pool.remaining(), "ports")), before);
                }
                Err(e) => proptest::prop_assert!(false, "unexpected {e}"),
            }
        }

        #[test]
        fn subtract_and_intersect_partition_a_range_list(
            a in proptest::collection::vec((0u64..100, 0u64..10), 0..5),
            b in proptest::collection::vec((0u64..100, 0u64..10), 0..5),
        ) {
            let a = normalize(a.into_iter().map(|(s, l)| (s, s + l)).collect());
            let b = normalize(b.into_iter().map(|(s, l)| (s, s + l)).collect());
            let inside = intersect(&a, &b);
            let outside = subtract(&a, &b);
            for p in 0..120 {
                proptest::prop_assert_eq!(contains(&a, p), contains(&inside, p) || contains(&outside, p));
                proptest::prop_assert!(!(contains(&inside, p) && contains(&outside, p)));
                proptest::prop_assert_eq!(contains(&inside, p), contains(&a, p) && contains(&b, p));
            }
        }
    }
}
