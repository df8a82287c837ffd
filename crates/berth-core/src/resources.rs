//! Resource arithmetic the way Mesos does it: scalars in fixed point with three decimals
//! (`0.1 + 0.2 == 0.3`), ranges (ports) as sorted disjoint inclusive intervals, and sets.
//!
//! [`Resources`] is a value type: the allocator and the master keep one per agent for the total,
//! the free, the offered and the used part and move amounts between them with [`Resources::add`]
//! and [`Resources::subtract`]. Conversion from the wire ([`Resources::from_proto`]) validates
//! like Mesos's `Resources::validate` (the texts are the ones Mesos puts into `TASK_ERROR`
//! messages); conversion back ([`Resources::to_proto`]) writes the pre-refinement format with
//! `"role":"*"` that Mesos shows frameworks in offers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use mesos_proto::json::{write_double, Writer};
use mesos_proto::v1::{value, Resource};

/// Fixed-point scale of scalar values: Mesos keeps three decimals.
const SCALE: f64 = 1000.0;

/// Why resources from the wire are refused; `Display` gives Mesos's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// A resource without a name.
    #[error("Empty resource name")]
    EmptyName,
    /// A SCALAR without a scalar value, or with a ranges/set value.
    #[error("Invalid scalar resource")]
    InvalidScalar,
    /// A scalar that is zero, negative or not finite.
    #[error("Invalid scalar resource: value <= 0")]
    NonPositiveScalar,
    /// A RANGES without ranges, or with a scalar/set value.
    #[error("Invalid ranges resource")]
    InvalidRanges,
    /// A range with `begin > end`.
    #[error("Invalid ranges resource: begin > end")]
    RangeBeginAfterEnd,
    /// Two ranges of one resource overlap.
    #[error("Invalid ranges resource: overlapping ranges")]
    OverlappingRanges,
    /// A SET without a set value, or with a scalar/ranges value.
    #[error("Invalid set resource")]
    InvalidSet,
    /// A set with an element twice.
    #[error("Invalid set resource: duplicated elements")]
    DuplicatedSetElements,
    /// TEXT or an unknown type.
    #[error("Unsupported resource type")]
    UnsupportedType,
    /// `gpus` with a fraction.
    #[error("Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer")]
    FractionalGpus,
    /// The same name used with two different types.
    #[error("Invalid resources: '{0}' is used with different types")]
    MixedTypes(String),
}

/// Inclusive, sorted, non-overlapping, non-adjacent intervals (a port set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    /// The intervals, sorted and coalesced.
    pub fn intervals(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Builds a normalized set from any intervals (overlaps merged, `begin > end` dropped).
    pub fn from_intervals(intervals: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut v: Vec<(u64, u64)> = intervals.into_iter().filter(|(b, e)| b <= e).collect();
        v.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (b, e) in v {
            match out.last_mut() {
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => out.push((b, e)),
            }
        }
        Ranges(out)
    }

    /// Whether no value is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many values the set holds.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|(b, e)| e - b + 1).sum()
    }

    /// Whether `v` is in the set.
    pub fn contains_value(&self, v: u64) -> bool {
        self.0.iter().any(|&(b, e)| b <= v && v <= e)
    }

    /// Whether every value of `other` is in `self`.
    pub fn contains(&self, other: &Ranges) -> bool {
        other
            .0
            .iter()
            .all(|&(b, e)| self.0.iter().any(|&(sb, se)| sb <= b && e <= se))
    }

    /// The union.
    pub fn union(&self, other: &Ranges) -> Ranges {
        Ranges::from_intervals(self.0.iter().chain(other.0.iter()).copied())
    }

    /// `self` without the values of `other`.
    pub fn difference(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        for &(b, e) in &self.0 {
            let mut start = b;
            let mut done = false;
            for &(ob, oe) in &other.0 {
                if oe < start || ob > e {
                    continue;
                }
                if ob > start {
                    out.push((start, ob - 1));
                }
                if oe >= e {
                    done = true;
                    break;
                }
                start = oe + 1;
            }
            if !done && start <= e {
                out.push((start, e));
            }
        }
        Ranges::from_intervals(out)
    }

    /// Whether the two sets share a value.
    pub fn intersects(&self, other: &Ranges) -> bool {
        self.0
            .iter()
            .any(|&(b, e)| other.0.iter().any(|&(ob, oe)| b <= oe && ob <= e))
    }
}

impl fmt::Display for Ranges {
    /// Mesos's form: `[31000-31005, 31010-31010]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, (b, e)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{b}-{e}")?;
        }
        f.write_str("]")
    }
}

/// A resource name, shared between copies: cloning resources (every offer does) copies no
/// strings.
type Name = Arc<str>;

/// A bag of unreserved resources: scalars (fixed point), ranges and sets, by name.
///
/// Zero scalars, empty ranges and empty sets are never stored, so `==` compares amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// Scalar amounts in thousandths.
    scalars: BTreeMap<Name, i64>,
    ranges: BTreeMap<Name, Ranges>,
    sets: BTreeMap<Name, BTreeSet<String>>,
}

/// Converts a double to Mesos's fixed point (rounded to the nearest thousandth).
pub fn to_fixed(v: f64) -> i64 {
    if !v.is_finite() {
        return 0;
    }
    let scaled = (v * SCALE).round();
    // Saturate instead of wrapping for absurd inputs.
    if scaled >= i64::MAX as f64 {
        i64::MAX
    } else if scaled <= i64::MIN as f64 {
        i64::MIN
    } else {
        scaled as i64
    }
}

/// Converts fixed point back to a double.
pub fn from_fixed(v: i64) -> f64 {
    v as f64 / SCALE
}

/// The order Mesos's agents list their standard scalars in.
fn scalar_rank(name: &str) -> (u8, &str) {
    match name {
        "cpus" => (0, ""),
        "mem" => (1, ""),
        "disk" => (2, ""),
        "gpus" => (3, ""),
        other => (4, other),
    }
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Resources::default()
    }

    /// Parses and validates wire resources (Mesos's `Resources::validate` rules; the role and
    /// reservation fields are ignored: berth only has unreserved resources).
    pub fn from_proto(resources: &[Resource]) -> Result<Self, ResourceError> {
        let mut out = Resources::new();
        let mut types: BTreeMap<&str, i32> = BTreeMap::new();
        for r in resources {
            if r.name.is_empty() {
                return Err(ResourceError::EmptyName);
            }
            if let Some(t) = types.insert(&r.name, r.r#type) {
                if t != r.r#type {
                    return Err(ResourceError::MixedTypes(r.name.clone()));
                }
            }
            match value::Type::try_from(r.r#type) {
                Ok(value::Type::Scalar) => {
                    let s = match (&r.scalar, &r.ranges, &r.set) {
                        (Some(s), None, None) => s.value,
                        _ => return Err(ResourceError::InvalidScalar),
                    };
                    if !s.is_finite() || s <= 0.0 {
                        return Err(ResourceError::NonPositiveScalar);
                    }
                    if r.name == "gpus" && s.fract() != 0.0 {
                        return Err(ResourceError::FractionalGpus);
                    }
                    out.add_scalar(&r.name, to_fixed(s));
                }
                Ok(value::Type::Ranges) => {
                    let rs = match (&r.scalar, &r.ranges, &r.set) {
                        (None, Some(rs), None) => rs,
                        _ => return Err(ResourceError::InvalidRanges),
                    };
                    let mut seen: Vec<(u64, u64)> = Vec::with_capacity(rs.range.len());
                    for range in &rs.range {
                        if range.begin > range.end {
                            return Err(ResourceError::RangeBeginAfterEnd);
                        }
                        if seen
                            .iter()
                            .any(|&(b, e)| range.begin <= e && b <= range.end)
                        {
                            return Err(ResourceError::OverlappingRanges);
                        }
                        seen.push((range.begin, range.end));
                    }
                    let existing = out.ranges.get(r.name.as_str()).cloned().unwrap_or_default();
                    let add = Ranges::from_intervals(seen);
                    if existing.intersects(&add) {
                        return Err(ResourceError::OverlappingRanges);
                    }
                    out.add_ranges(&r.name, &add);
                }
                Ok(value::Type::Set) => {
                    let set = match (&r.scalar, &r.ranges, &r.set) {
                        (None, None, Some(s)) => s,
                        _ => return Err(ResourceError::InvalidSet),
                    };
                    let mut items = BTreeSet::new();
                    for item in &set.item {
                        if !items.insert(item.clone()) {
                            return Err(ResourceError::DuplicatedSetElements);
                        }
                    }
                    let entry = out.sets.entry(Name::from(r.name.as_str())).or_default();
                    if items.iter().any(|i| entry.contains(i)) {
                        return Err(ResourceError::DuplicatedSetElements);
                    }
                    entry.extend(items);
                    if entry.is_empty() {
                        out.sets.remove(r.name.as_str());
                    }
                }
                Ok(value::Type::Text) | Err(_) => return Err(ResourceError::UnsupportedType),
            }
        }
        Ok(out)
    }

    /// Reads resources an agent declares, skipping what is invalid or zero instead of failing
    /// (an agent's `--resources` text was validated when it was parsed).
    pub fn from_proto_lossy(resources: &[Resource]) -> Self {
        let mut out = Resources::new();
        for r in resources {
            if let Ok(one) = Resources::from_proto(std::slice::from_ref(r)) {
                if !out.intersects(&one) {
                    out.add(&one);
                }
            }
        }
        out
    }

    /// The wire form, unreserved resources in Mesos's pre-refinement format (`"role":"*"`)
    /// when `role_star`, in the order Mesos lists an agent's resources (ranges, then `cpus`,
    /// `mem`, `disk`, `gpus` and other scalars, then sets).
    #[allow(deprecated)] // `role` is how pre-refinement frameworks see unreserved resources.
    pub fn to_proto(&self, role_star: bool) -> Vec<Resource> {
        let role = || role_star.then(|| "*".to_string());
        let mut out = Vec::with_capacity(self.scalars.len() + self.ranges.len() + self.sets.len());
        for (name, r) in &self.ranges {
            out.push(Resource {
                name: name.to_string(),
                r#type: value::Type::Ranges as i32,
                ranges: Some(value::Ranges {
                    range: r
                        .0
                        .iter()
                        .map(|&(begin, end)| value::Range { begin, end })
                        .collect(),
                }),
                role: role(),
                ..Default::default()
            });
        }
        for (name, v) in self.scalars_in_order() {
            out.push(Resource {
                name: name.to_string(),
                r#type: value::Type::Scalar as i32,
                scalar: Some(value::Scalar {
                    value: from_fixed(v),
                }),
                role: role(),
                ..Default::default()
            });
        }
        for (name, items) in &self.sets {
            out.push(Resource {
                name: name.to_string(),
                r#type: value::Type::Set as i32,
                set: Some(value::Set {
                    item: items.iter().cloned().collect(),
                }),
                role: role(),
                ..Default::default()
            });
        }
        out
    }

    fn scalars_in_order(&self) -> Vec<(&str, i64)> {
        let mut v: Vec<(&str, i64)> = self.scalars.iter().map(|(k, v)| (&**k, *v)).collect();
        v.sort_by(|a, b| scalar_rank(a.0).cmp(&scalar_rank(b.0)));
        v
    }

    /// Adds a scalar amount (thousandths) under `name`.
    pub fn add_scalar(&mut self, name: &str, millis: i64) {
        if millis == 0 {
            return;
        }
        // Look up before inserting: no key allocation on the hot path.
        match self.scalars.get_mut(name) {
            Some(e) => {
                *e += millis;
                if *e <= 0 {
                    self.scalars.remove(name);
                }
            }
            None if millis > 0 => {
                self.scalars.insert(Name::from(name), millis);
            }
            None => {}
        }
    }

    /// Adds port-style ranges under `name`.
    pub fn add_ranges(&mut self, name: &str, ranges: &Ranges) {
        if ranges.is_empty() {
            return;
        }
        match self.ranges.get_mut(name) {
            Some(e) => *e = e.union(ranges),
            None => {
                self.ranges.insert(Name::from(name), ranges.clone());
            }
        }
    }

    /// A scalar amount (0 if absent).
    pub fn scalar(&self, name: &str) -> f64 {
        from_fixed(self.scalar_fixed(name))
    }

    /// A scalar amount in thousandths (0 if absent).
    pub fn scalar_fixed(&self, name: &str) -> i64 {
        self.scalars.get(name).copied().unwrap_or(0)
    }

    /// The scalars, in thousandths, by name.
    pub fn scalars(&self) -> impl Iterator<Item = (&str, i64)> {
        self.scalars.iter().map(|(k, v)| (&**k, *v))
    }

    /// The ranges of `name` (empty if absent).
    pub fn ranges(&self, name: &str) -> Ranges {
        self.ranges.get(name).cloned().unwrap_or_default()
    }

    /// The set of `name` (empty if absent).
    pub fn set(&self, name: &str) -> BTreeSet<String> {
        self.sets.get(name).cloned().unwrap_or_default()
    }

    /// Whether there is nothing at all.
    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.ranges.is_empty() && self.sets.is_empty()
    }

    /// `self += other`.
    pub fn add(&mut self, other: &Resources) {
        for (name, v) in &other.scalars {
            match self.scalars.get_mut(name) {
                Some(e) => {
                    *e += *v;
                    if *e <= 0 {
                        self.scalars.remove(name);
                    }
                }
                None if *v > 0 => {
                    self.scalars.insert(name.clone(), *v);
                }
                None => {}
            }
        }
        for (name, r) in &other.ranges {
            match self.ranges.get_mut(name) {
                Some(e) => *e = e.union(r),
                None if !r.is_empty() => {
                    self.ranges.insert(name.clone(), r.clone());
                }
                None => {}
            }
        }
        for (name, items) in &other.sets {
            self.sets
                .entry(name.clone())
                .or_default()
                .extend(items.iter().cloned());
        }
    }

    /// `self -= other`, saturating: what `self` does not hold is ignored, scalars never go
    /// below zero (Mesos drops a scalar that reaches zero).
    pub fn subtract(&mut self, other: &Resources) {
        for (name, v) in &other.scalars {
            if let Some(e) = self.scalars.get_mut(name) {
                *e -= *v;
                if *e <= 0 {
                    self.scalars.remove(name);
                }
            }
        }
        for (name, r) in &other.ranges {
            if let Some(e) = self.ranges.get_mut(name) {
                *e = e.difference(r);
                if e.is_empty() {
                    self.ranges.remove(name);
                }
            }
        }
        for (name, items) in &other.sets {
            if let Some(e) = self.sets.get_mut(name) {
                for i in items {
                    e.remove(i);
                }
                if e.is_empty() {
                    self.sets.remove(name);
                }
            }
        }
        // An emptied BTreeMap keeps its node; the allocator holds three bags per agent that
        // empty and fill again all the time, mostly empty at rest.
        if self.scalars.is_empty() {
            self.scalars = BTreeMap::new();
        }
        if self.ranges.is_empty() {
            self.ranges = BTreeMap::new();
        }
        if self.sets.is_empty() {
            self.sets = BTreeMap::new();
        }
    }

    /// `self + other` as a new value.
    pub fn plus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.add(other);
        r
    }

    /// `self - other` (saturating) as a new value.
    pub fn minus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.subtract(other);
        r
    }

    /// Whether `other` fits inside `self` (every scalar at least as large, every range and set
    /// element present).
    pub fn contains(&self, other: &Resources) -> bool {
        other
            .scalars
            .iter()
            .all(|(n, v)| self.scalar_fixed(n) >= *v)
            && other
                .ranges
                .iter()
                .all(|(n, r)| self.ranges.get(n).is_some_and(|s| s.contains(r)))
            && other
                .sets
                .iter()
                .all(|(n, s)| self.sets.get(n).is_some_and(|mine| s.is_subset(mine)))
    }

    /// Whether a range or set element is in both (scalars are fungible and never "overlap").
    pub fn intersects(&self, other: &Resources) -> bool {
        other
            .ranges
            .iter()
            .any(|(n, r)| self.ranges.get(n).is_some_and(|s| s.intersects(r)))
            || other
                .sets
                .iter()
                .any(|(n, s)| self.sets.get(n).is_some_and(|m| !m.is_disjoint(s)))
    }

    /// Mesos's `--min_allocatable_resources` default (`cpus:0.01|mem:32`): worth offering.
    pub fn is_allocatable(&self) -> bool {
        self.scalar_fixed("cpus") >= 10 || self.scalar_fixed("mem") >= 32_000
    }

    /// Writes the summary object of `/state`: `disk`, `mem`, `gpus`, `cpus` always (0.0 when
    /// absent, in the order Mesos prints them), then other scalars, ranges as `"[a-b, c-d]"`
    /// and sets as `"{x, y}"`.
    pub fn write_summary(&self, w: &mut Writer) {
        w.begin_object();
        for name in ["disk", "mem", "gpus", "cpus"] {
            w.key(name);
            w.double(self.scalar(name));
        }
        for (name, v) in &self.scalars {
            if matches!(&**name, "disk" | "mem" | "gpus" | "cpus") {
                continue;
            }
            w.key(name);
            w.double(from_fixed(*v));
        }
        for (name, r) in &self.ranges {
            w.key(name);
            w.string(&r.to_string());
        }
        for (name, s) in &self.sets {
            w.key(name);
            w.string(&format_set(s));
        }
        w.end_object();
    }

    /// The `/state` summary object as JSON text.
    pub fn summary_json(&self) -> String {
        let mut w = Writer::default();
        self.write_summary(&mut w);
        w.finish()
    }

    /// Mesos's text form with allocation roles, as in validation messages:
    /// `cpus(allocated: *):0.5; mem(allocated: *):100`.
    pub fn display_allocated(&self, role: &str) -> String {
        self.display_with(Some(role))
    }

    fn display_with(&self, role: Option<&str>) -> String {
        let suffix = role
            .map(|r| format!("(allocated: {r})"))
            .unwrap_or_default();
        let mut parts = Vec::new();
        for (name, v) in self.scalars_in_order() {
            parts.push(format!("{name}{suffix}:{}", format_scalar(from_fixed(v))));
        }
        for (name, r) in &self.ranges {
            parts.push(format!("{name}{suffix}:{r}"));
        }
        for (name, s) in &self.sets {
            parts.push(format!("{name}{suffix}:{}", format_set(s)));
        }
        parts.join("; ")
    }
}

impl fmt::Display for Resources {
    /// Mesos's text form: `cpus:0.5; mem:100; ports:[31000-32000]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_with(None))
    }
}

/// A scalar as C++ `ostream <<` prints a double: no trailing `.0`.
fn format_scalar(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let mut s = String::new();
        write_double(&mut s, v);
        s
    }
}

fn format_set(s: &BTreeSet<String>) -> String {
    let items: Vec<&str> = s.iter().map(String::as_str).collect();
    format!("{{{}}}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::{ports, scalar, set};
    use proptest::prelude::*;

    fn res(list: &[Resource]) -> Resources {
        Resources::from_proto(list).expect("valid")
    }

    #[test]
    fn scalars_are_fixed_point_with_three_decimals() {
        let mut r = res(&[scalar("cpus", 0.1)]);
        r.add(&res(&[scalar("cpus", 0.2)]));
        assert_eq!(r.scalar("cpus"), 0.3);
        assert_eq!(res(&[scalar("cpus", 0.0004)]).scalar_fixed("cpus"), 0);
        assert_eq!(res(&[scalar("cpus", 0.0005)]).scalar_fixed("cpus"), 1);
        let mut x = res(&[scalar("cpus", 1.0)]);
        for _ in 0..10 {
            x.subtract(&res(&[scalar("cpus", 0.1)]));
        }
        assert!(x.is_empty());
    }

    #[test]
    fn ranges_add_subtract_and_contain() {
        let all = res(&[ports(&[(31000, 32000)])]);
        let some = res(&[ports(&[(31000, 31005), (31010, 31010)])]);
        assert!(all.contains(&some));
        let rest = all.minus(&some);
        assert_eq!(
            rest.ranges("ports").intervals(),
            &[(31006, 31009), (31011, 32000)]
        );
        assert!(!rest.contains(&some));
        assert_eq!(rest.plus(&some), all);
        assert_eq!(
            some.ranges("ports").to_string(),
            "[31000-31005, 31010-31010]"
        );
    }

    #[test]
    fn sets_add_subtract_and_contain() {
        let a = res(&[set("disks", &["a", "b", "c"])]);
        let b = res(&[set("disks", &["b"])]);
        assert!(a.contains(&b));
        assert_eq!(a.minus(&b).set("disks").len(), 2);
        assert!(!b.contains(&a));
    }

    #[test]
    fn validation_uses_mesos_texts() {
        assert_eq!(
            Resources::from_proto(&[scalar("", 1.0)])
                .unwrap_err()
                .to_string(),
            "Empty resource name"
        );
        assert_eq!(
            Resources::from_proto(&[scalar("cpus", 0.0)])
                .unwrap_err()
                .to_string(),
            "Invalid scalar resource: value <= 0"
        );
        assert_eq!(
            Resources::from_proto(&[ports(&[(5, 1)])])
                .unwrap_err()
                .to_string(),
            "Invalid ranges resource: begin > end"
        );
        assert_eq!(
            Resources::from_proto(&[ports(&[(1, 5), (3, 7)])])
                .unwrap_err()
                .to_string(),
            "Invalid ranges resource: overlapping ranges"
        );
        assert_eq!(
            Resources::from_proto(&[set("s", &["a", "a"])])
                .unwrap_err()
                .to_string(),
            "Invalid set resource: duplicated elements"
        );
        assert_eq!(
            Resources::from_proto(&[scalar("gpus", 0.5)])
                .unwrap_err()
                .to_string(),
            "Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn to_proto_writes_role_star_in_agent_order() {
        let r = res(&[
            scalar("cpus", 2.0),
            scalar("mem", 23081.0),
            scalar("disk", 252899.0),
            ports(&[(31000, 32000)]),
        ]);
        let wire = r.to_proto(true);
        let names: Vec<&str> = wire.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["ports", "cpus", "mem", "disk"]);
        assert!(r
            .to_proto(true)
            .iter()
            .all(|x| x.role.as_deref() == Some("*")));
        assert_eq!(Resources::from_proto(&r.to_proto(true)).unwrap(), r);
    }

    #[test]
    fn summary_matches_state_json() {
        let r = res(&[
            scalar("cpus", 2.0),
            scalar("mem", 23081.0),
            scalar("disk", 252899.0),
            ports(&[(31000, 32000)]),
        ]);
        assert_eq!(
            r.summary_json(),
            r#"{"disk":252899.0,"mem":23081.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"}"#
        );
        assert_eq!(
            Resources::new().summary_json(),
            r#"{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}"#
        );
    }

    #[test]
    fn display_matches_mesos_text() {
        let r = res(&[scalar("cpus", 0.5), scalar("mem", 100.0)]);
        assert_eq!(r.to_string(), "cpus:0.5; mem:100");
        assert_eq!(
            r.display_allocated("*"),
            "cpus(allocated: *):0.5; mem(allocated: *):100"
        );
    }

    #[test]
    fn min_allocatable_is_cpus_or_mem() {
        assert!(res(&[scalar("cpus", 0.01)]).is_allocatable());
        assert!(res(&[scalar("mem", 32.0)]).is_allocatable());
        assert!(!res(&[scalar("cpus", 0.009), scalar("mem", 31.0)]).is_allocatable());
    }

    fn arb_resources() -> impl Strategy<Value = Resources> {
        (
            0u32..4000,
            0u32..100_000,
            proptest::collection::vec((0u64..200, 0u64..20), 0..4),
        )
            .prop_map(|(c, m, rs)| {
                let mut r = Resources::new();
                r.add_scalar("cpus", i64::from(c));
                r.add_scalar("mem", i64::from(m));
                r.add_ranges(
                    "ports",
                    &Ranges::from_intervals(rs.into_iter().map(|(b, l)| (b, b + l))),
                );
                r
            })
    }

    proptest! {
        #[test]
        fn subtracting_what_was_added_restores(a in arb_resources(), b in arb_resources()) {
            // Only disjoint ranges are ever added together by the allocator.
            prop_assume!(!a.intersects(&b));
            let sum = a.plus(&b);
            prop_assert!(sum.contains(&a));
            prop_assert!(sum.contains(&b));
            prop_assert_eq!(sum.minus(&b), a);
        }

        #[test]
        fn ranges_difference_and_union_partition(a in arb_resources(), b in arb_resources()) {
            let ra = a.ranges("ports");
            let rb = b.ranges("ports");
            let d = ra.difference(&rb);
            prop_assert!(!d.intersects(&rb));
            prop_assert!(ra.contains(&d));
            prop_assert_eq!(d.union(&rb), ra.union(&rb));
        }
    }
}
