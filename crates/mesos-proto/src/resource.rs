//! Resource constructors (the seed's `NewScalarResource("cpus", 0.5)`), port ranges, and the
//! agent's `--resources` text format (`cpus:4;mem:8192;ports:[31000-32000]`).

use crate::v1::{value, Resource};

/// A scalar resource such as `cpus` 0.5 or `mem` 100 (MB).
pub fn scalar(name: &str, amount: f64) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value: amount }),
        ..Default::default()
    }
}

/// A ranges resource such as `ports` `[31000-32000]` (inclusive bounds).
pub fn ranges(name: &str, bounds: &[(u64, u64)]) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: value::Type::Ranges as i32,
        ranges: Some(value::Ranges {
            range: bounds
                .iter()
                .map(|&(begin, end)| value::Range { begin, end })
                .collect(),
        }),
        ..Default::default()
    }
}

/// A set resource.
pub fn set(name: &str, items: &[&str]) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: value::Type::Set as i32,
        set: Some(value::Set {
            item: items.iter().map(|s| s.to_string()).collect(),
        }),
        ..Default::default()
    }
}

/// The `ports` resource for the given inclusive ranges.
pub fn ports(bounds: &[(u64, u64)]) -> Resource {
    ranges("ports", bounds)
}

/// The scalar amount of `name` summed over `resources` (0 if absent).
pub fn scalar_sum(resources: &[Resource], name: &str) -> f64 {
    resources
        .iter()
        .filter(|r| r.name == name && r.r#type == value::Type::Scalar as i32)
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum()
}

/// All ranges of resources named `name`, as inclusive `(begin, end)` pairs.
pub fn ranges_of(resources: &[Resource], name: &str) -> Vec<(u64, u64)> {
    resources
        .iter()
        .filter(|r| r.name == name && r.r#type == value::Type::Ranges as i32)
        .filter_map(|r| r.ranges.as_ref())
        .flat_map(|rs| rs.range.iter().map(|r| (r.begin, r.end)))
        .collect()
}

/// Whether `port` lies inside one of the inclusive `ranges`.
pub fn ranges_contain(ranges: &[(u64, u64)], port: u64) -> bool {
    ranges.iter().any(|&(b, e)| b <= port && port <= e)
}

/// A resource text that does not parse; `Display` names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An entry without `name:value`.
    #[error("bad resource '{0}': expected NAME:VALUE")]
    MissingColon(String),
    /// An empty name.
    #[error("bad resource '{0}': empty name")]
    EmptyName(String),
    /// A value that is neither a number, `[a-b, ...]` nor `{a, b}`.
    #[error("bad value '{value}' for resource '{name}'")]
    BadValue {
        /// Resource name.
        name: String,
        /// The value text.
        value: String,
    },
}

/// Parses Mesos's resource text: `;`-separated `name:value` (also `name(role):value`, role
/// ignored), where a value is a number (scalar), `[a-b, c-d]` (ranges) or `{x, y}` (set).
pub fn parse(text: &str) -> Result<Vec<Resource>, ParseError> {
    let mut out = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, val) = entry
            .split_once(':')
            .ok_or_else(|| ParseError::MissingColon(entry.to_string()))?;
        let name = name.split('(').next().unwrap_or_default().trim();
        if name.is_empty() {
            return Err(ParseError::EmptyName(entry.to_string()));
        }
        let val = val.trim();
        let bad = || ParseError::BadValue {
            name: name.to_string(),
            value: val.to_string(),
        };
        if let Some(inner) = val.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            let mut bounds = Vec::new();
            for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (b, e) = part.split_once('-').ok_or_else(bad)?;
                let b: u64 = b.trim().parse().map_err(|_| bad())?;
                let e: u64 = e.trim().parse().map_err(|_| bad())?;
                if b > e {
                    return Err(bad());
                }
                bounds.push((b, e));
            }
            out.push(ranges(name, &bounds));
        } else if let Some(inner) = val.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            let items: Vec<&str> = inner
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            out.push(set(name, &items));
        } else {
            let amount: f64 = val.parse().map_err(|_| bad())?;
            if !amount.is_finite() || amount < 0.0 {
                return Err(bad());
            }
            out.push(scalar(name, amount));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_the_agent_resource_format() {
        let r = parse("cpus:4;mem:8192;disk:10000;ports:[31000-32000]").unwrap();
        assert_eq!(scalar_sum(&r, "cpus"), 4.0);
        assert_eq!(scalar_sum(&r, "mem"), 8192.0);
        assert_eq!(ranges_of(&r, "ports"), vec![(31000, 32000)]);
    }

    #[test]
    fn parse_names_the_bad_value() {
        let e = parse("cpus:four").unwrap_err();
        assert_eq!(e.to_string(), "bad value 'four' for resource 'cpus'");
        assert!(parse("cpus").is_err());
        assert!(parse("ports:[5-1]").is_err());
    }
}
