//! The allocation round alone: berth-core's [`Allocator`] with `agents` agents and
//! `frameworks` frameworks, no I/O, as Mesos's allocator benchmark
//! (`HierarchicalAllocator_BENCHMARK_Test`) does: every round offers every agent, then all
//! offers are declined and the next round offers them again.
//!
//! Two variants: declines without a refusal filter (every framework stays eligible on every
//! agent), and declines with Mesos's default 5 s filter (the frameworks that declined an agent
//! are skipped there, which is the allocator's expensive case).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use berth_core::allocator::{Allocator, AllocatorConfig, OfferGrant};
use berth_core::resources::Resources;
use mesos_proto::id::{AgentId, FrameworkId};

use super::stats::{ms, Summary};
use super::Figure;

/// Each agent's resources in the benchmark.
pub const AGENT_RESOURCES: &str = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]";

/// The target for one round at 10,000 agents x 1,000 frameworks.
pub const TARGET_ROUND_MS: f64 = 100.0;

/// Sizes.
#[derive(Debug, Clone)]
pub struct AllocationConfig {
    /// Agents.
    pub agents: u32,
    /// Frameworks (one role, `*`, each).
    pub frameworks: u32,
    /// Measured rounds per variant.
    pub rounds: u32,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct AllocationReport {
    /// The sizes.
    pub config: AllocationConfig,
    /// Time to add the agents and frameworks.
    pub setup: Duration,
    /// Rounds whose offers were declined without a filter.
    pub rounds: Summary,
    /// Offers made per round (the first round).
    pub offers_per_round: usize,
    /// Declining every offer of a round (no filter), per round.
    pub declines: Summary,
    /// Rounds whose offers were declined with a 5 s refusal filter.
    pub filtered_rounds: Summary,
    /// Offers made in the last filtered round.
    pub filtered_offers: usize,
}

fn decline_all(
    allocator: &mut Allocator,
    grants: &[OfferGrant],
    refuse: Option<Duration>,
    now: Duration,
) -> anyhow::Result<()> {
    for g in grants {
        allocator
            .recover_offered(
                &g.agent_id,
                &g.framework_id,
                &g.role,
                &g.resources,
                refuse,
                now,
            )
            .context("declining an offer the allocator made")?;
    }
    Ok(())
}

/// A cluster of `agents` agents and `frameworks` active frameworks.
fn cluster(config: &AllocationConfig) -> anyhow::Result<Allocator> {
    let resources = mesos_proto::resource::parse(AGENT_RESOURCES)?;
    let total = Resources::from_proto(&resources)?;
    let mut allocator = Allocator::new(AllocatorConfig::default());
    for i in 0..config.agents {
        allocator.add_agent(AgentId::generated(format!("bench-S{i}")), total.clone());
    }
    let roles: BTreeSet<String> = BTreeSet::from(["*".to_owned()]);
    for i in 0..config.frameworks {
        allocator.add_framework(
            FrameworkId::generated(format!("bench-{i:04}")),
            roles.clone(),
            BTreeSet::new(),
            true,
        );
    }
    Ok(allocator)
}

/// Runs the benchmark (synchronous, CPU-bound).
pub fn run(config: &AllocationConfig) -> anyhow::Result<AllocationReport> {
    let started = Instant::now();
    let mut allocator = cluster(config)?;
    let setup = started.elapsed();

    // Without filters: allocate, decline everything, again.
    let mut now = Duration::from_secs(1);
    let mut rounds = Vec::new();
    let mut declines = Vec::new();
    let mut offers_per_round = 0;
    for round in 0..=config.rounds {
        let t = Instant::now();
        let grants = allocator.allocate(now);
        let took = t.elapsed();
        if round == 0 {
            offers_per_round = grants.len();
        } else {
            // Round 0 warms caches and allocations up; it is not counted.
            rounds.push(took);
        }
        let t = Instant::now();
        decline_all(&mut allocator, &grants, None, now)?;
        if round > 0 {
            declines.push(t.elapsed());
        }
        now += Duration::from_secs(1);
    }

    // With Mesos's default 5 s refusal: the filters pile up (one per declined offer) and
    // the rounds must skip the frameworks that declined each agent.
    let refuse = Some(Duration::from_secs(5));
    let mut filtered = Vec::new();
    let mut filtered_offers = 0;
    let t0 = now;
    for _ in 0..config.rounds {
        let t = Instant::now();
        let grants = allocator.allocate(now);
        filtered.push(t.elapsed());
        filtered_offers = grants.len();
        decline_all(&mut allocator, &grants, refuse, now)?;
        // Within the refusal window, so no filter expires during the measurement.
        now = t0 + Duration::from_millis(100) * u32::try_from(filtered.len()).unwrap_or(1);
    }

    let summary = |v: &[Duration]| Summary::of(v).context("no rounds measured");
    Ok(AllocationReport {
        config: config.clone(),
        setup,
        rounds: summary(&rounds)?,
        offers_per_round,
        declines: summary(&declines)?,
        filtered_rounds: summary(&filtered)?,
        filtered_offers,
    })
}

impl AllocationReport {
    /// The figures, with the target on the median round.
    pub fn figures(&self) -> Vec<Figure> {
        let c = &self.config;
        let size = format!("{} agents x {} frameworks", c.agents, c.frameworks);
        let setup = format!(
            "{size}, {} rounds after 1 warm-up, all offers declined (no filter) between rounds",
            self.rounds.n
        );
        #[allow(clippy::cast_precision_loss)] // counts are small
        let offers = self.offers_per_round as f64;
        vec![
            Figure::new(
                "allocation",
                "round, median",
                ms(self.rounds.median),
                "ms",
                setup.clone(),
            )
            .below(TARGET_ROUND_MS),
            Figure::new(
                "allocation",
                "round, p95",
                ms(self.rounds.p95),
                "ms",
                setup.clone(),
            ),
            Figure::new("allocation", "offers per round", offers, "offers", size.clone()),
            Figure::new(
                "allocation",
                "decline all offers of a round, median",
                ms(self.declines.median),
                "ms",
                setup,
            ),
            Figure::new(
                "allocation",
                "round with 5 s decline filters, median",
                ms(self.filtered_rounds.median),
                "ms",
                format!(
                    "{size}, {} rounds, every offer declined with refuse_seconds=5 (filters pile up; {} offers in the last round)",
                    self.filtered_rounds.n, self.filtered_offers
                ),
            ),
            Figure::new(
                "allocation",
                "adding agents and frameworks",
                ms(self.setup),
                "ms",
                size,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_is_offered_in_each_round() {
        let report = run(&AllocationConfig {
            agents: 50,
            frameworks: 7,
            rounds: 3,
        })
        .unwrap();
        assert_eq!(report.offers_per_round, 50);
        assert_eq!(report.rounds.n, 3);
        assert!(report.filtered_offers <= 50);
        assert_eq!(report.figures().len(), 6);
    }
}
