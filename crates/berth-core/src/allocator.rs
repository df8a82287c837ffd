//! Offers: which framework gets which agent's free resources (Mesos's hierarchical allocator,
//! reduced to unreserved resources and a flat set of roles).
//!
//! Every agent's resources are split into `free`, `offered` and `used`
//! (`free + offered + used == total` at all times). [`Allocator::allocate`] hands each agent's
//! free resources, as one [`OfferGrant`], to the first framework/role in DRF order (lowest
//! dominant share first, ties by framework ID, then role) that is active, not suppressed in that
//! role and not filtered on that agent; the master turns grants into offers. The master then
//! reports what happened to each offer: accepted for tasks ([`Allocator::use_offered`]),
//! declined or rescinded ([`Allocator::recover_offered`], with an optional refusal filter), and
//! later tasks ending ([`Allocator::release_used`]).
//!
//! Time is an argument ([`Time`]: a monotonic duration since any fixed origin), so tests drive
//! the clock.
//!
//! Cost of a round: agents without allocatable free resources are skipped in O(1); for the
//! others the framework order is a `BTreeSet` keyed by share, updated in O(log n) after each
//! grant, so a round over `A` agents and `F` framework roles costs O(F log F + A log F) unless
//! many frameworks have filters on many agents.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use mesos_proto::id::{AgentId, FrameworkId, IdMap, IdSet};

use crate::resources::Resources;

/// A point in time: the duration since an origin the caller fixes (e.g. master start).
pub type Time = Duration;

/// The default `Filters.refuse_seconds` (5 s).
pub const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// The longest refusal Mesos honours (365 days).
pub const MAX_REFUSE_SECONDS: f64 = 365.0 * 24.0 * 60.0 * 60.0;

/// Allocator settings.
#[derive(Debug, Clone)]
pub struct AllocatorConfig {
    /// Mesos's `--allocation_interval`: the shortest effective refusal filter.
    pub allocation_interval: Duration,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        AllocatorConfig {
            allocation_interval: Duration::from_secs(1),
        }
    }
}

/// How long a DECLINE (or the implicit decline of an ACCEPT) keeps resources away from the
/// framework: `refuse_seconds` (default 5 s when absent, negative or not finite; capped at 365
/// days), at least the allocation interval; `None` for 0 (no filter).
pub fn refusal_duration(
    refuse_seconds: Option<f64>,
    allocation_interval: Duration,
) -> Option<Duration> {
    let mut secs = refuse_seconds.unwrap_or(DEFAULT_REFUSE_SECONDS);
    if !secs.is_finite() || secs < 0.0 {
        secs = DEFAULT_REFUSE_SECONDS;
    }
    if secs == 0.0 {
        return None;
    }
    secs = secs.min(MAX_REFUSE_SECONDS);
    Some(Duration::from_secs_f64(secs).max(allocation_interval))
}

/// An allocator bookkeeping call that does not fit the current state (a master bug, or a race
/// with an agent leaving); the state is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocatorError {
    /// No such agent.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The agent's offered part does not hold these resources.
    #[error("agent {agent_id} has not offered {resources}")]
    NotOffered {
        /// The agent.
        agent_id: AgentId,
        /// What was asked for.
        resources: Resources,
    },
    /// The agent's used part does not hold these resources.
    #[error("agent {agent_id} does not use {resources}")]
    NotUsed {
        /// The agent.
        agent_id: AgentId,
        /// What was asked for.
        resources: Resources,
    },
    /// The agent's free part does not hold these resources.
    #[error("agent {agent_id} does not have {resources} free")]
    NotFree {
        /// The agent.
        agent_id: AgentId,
        /// What was asked for.
        resources: Resources,
    },
}

/// Resources of one agent granted to one framework role; the master makes it an offer.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferGrant {
    /// The framework.
    pub framework_id: FrameworkId,
    /// The role the resources are allocated to.
    pub role: String,
    /// The agent.
    pub agent_id: AgentId,
    /// The resources (all of the agent's free resources at grant time).
    pub resources: Resources,
}

/// One agent's split, for `/state` and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentView {
    /// Everything the agent has.
    pub total: Resources,
    /// Neither offered nor used.
    pub free: Resources,
    /// In outstanding offers.
    pub offered: Resources,
    /// Held by tasks.
    pub used: Resources,
}

#[derive(Debug)]
struct AgentSlot {
    id: AgentId,
    /// Its number while it is added (filters are keyed by it; they go with the agent, so a
    /// re-added agent may take a fresh one).
    key: u32,
    view: AgentView,
    /// Offered + used scalars per framework (for removing the agent): framework key (see
    /// `Interner`) and amounts indexed by interned resource name. A short vector: few
    /// frameworks hold resources on one agent, and rounds must not allocate much.
    allocations: Vec<(u32, Vec<i64>)>,
}

/// Append-only numbering of framework IDs, roles and resource names, so per-agent bookkeeping
/// and refusal filters use small integers instead of strings.
#[derive(Debug, Default)]
struct Interner {
    framework_keys: IdMap<FrameworkId, u32>,
    frameworks: Vec<FrameworkId>,
    role_keys: IdMap<String, u32>,
    roles: Vec<String>,
    name_ids: IdMap<String, usize>,
    names: Vec<String>,
}

/// The number of `key` in `keys`, a new one (the count so far) the first time it is seen;
/// `true` when it was new.
fn number_of<K, Q, S>(keys: &mut HashMap<K, u32, S>, key: &Q) -> (u32, bool)
where
    S: std::hash::BuildHasher,
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: ToOwned<Owned = K> + std::hash::Hash + Eq + ?Sized,
{
    if let Some(&k) = keys.get(key) {
        return (k, false);
    }
    let k = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    keys.insert(key.to_owned(), k);
    (k, true)
}

impl Interner {
    fn framework(&mut self, id: &FrameworkId) -> u32 {
        let (k, new) = number_of(&mut self.framework_keys, id);
        if new {
            self.frameworks.push(id.clone());
        }
        k
    }

    fn role(&mut self, role: &str) -> u32 {
        let (k, new) = number_of(&mut self.role_keys, role);
        if new {
            self.roles.push(role.to_string());
        }
        k
    }

    /// The role's number, `u32::MAX` for a role no filter was ever made for.
    fn role_key(&self, role: &str) -> u32 {
        self.role_keys.get(role).copied().unwrap_or(u32::MAX)
    }

    fn role_name(&self, key: u32) -> &str {
        self.roles.get(key as usize).map_or("", String::as_str)
    }

    fn intern_names(&mut self, res: &Resources) {
        for (name, _) in res.scalars() {
            if !self.name_ids.contains_key(name) {
                self.name_ids.insert(name.to_string(), self.names.len());
                self.names.push(name.to_string());
            }
        }
    }
}

/// Adds `sign * scalars(res)` to framework `key`'s entry, dropping entries that reach zero.
fn change_agent_alloc(
    allocations: &mut Vec<(u32, Vec<i64>)>,
    key: u32,
    res: &Resources,
    name_ids: &IdMap<String, usize>,
    sign: i64,
) {
    let pos = match allocations.iter().position(|(k, _)| *k == key) {
        Some(p) => p,
        None => {
            if sign < 0 {
                return;
            }
            allocations.push((key, Vec::new()));
            allocations.len() - 1
        }
    };
    let amounts = &mut allocations[pos].1;
    for (name, v) in res.scalars() {
        if let Some(&i) = name_ids.get(name) {
            if i >= amounts.len() {
                amounts.resize(i + 1, 0);
            }
            amounts[i] += sign * v;
        }
    }
    if amounts.iter().all(|v| *v <= 0) {
        allocations.swap_remove(pos);
    }
}

/// A refusal filter: `role` (interned) is not offered a subset of `resources` on the agent
/// until `expires`. 24 bytes: a cluster where every framework declined every agent keeps
/// millions of these, and the declined resources are mostly the same few bags, shared.
#[derive(Debug, Clone)]
struct Filter {
    role: u32,
    resources: Arc<Resources>,
    expires: Time,
}

#[derive(Debug, Default)]
struct FrameworkSlot {
    roles: BTreeSet<String>,
    suppressed: BTreeSet<String>,
    active: bool,
    /// Has the `GPU_RESOURCES` capability (agents with GPUs are offered only to such
    /// frameworks, Mesos's `--filter_gpu_resources`).
    gpu_aware: bool,
    /// Refusal filters by agent key (see `Interner`).
    filters: HashMap<u32, Vec<Filter>>,
    /// Offered something since it was added or last revived; until then it is waiting (see
    /// [`Allocator::allocate_to_waiting`]).
    fed: bool,
}

/// A total order on shares (`f64::total_cmp`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Share(f64);

impl Eq for Share {}

impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Share {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The allocator's state. See the module docs.
#[derive(Debug, Default)]
pub struct Allocator {
    config: AllocatorConfig,
    /// Agents in a vector (rounds walk it without hashing); `agent_index` finds one by ID.
    agents: Vec<AgentSlot>,
    agent_index: IdMap<AgentId, usize>,
    frameworks: BTreeMap<FrameworkId, FrameworkSlot>,
    /// Scalar allocations (offered + used) per framework, in thousandths, by resource name;
    /// kept even for frameworks not (yet) added, e.g. tasks recovered from an agent.
    framework_alloc: IdMap<FrameworkId, BTreeMap<String, i64>>,
    /// Scalar totals of the cluster, in thousandths.
    cluster_total: BTreeMap<String, i64>,
    interner: Interner,
    /// The next `AgentSlot::key`.
    next_agent_key: u32,
    /// The resource bags filters refer to, each kept once.
    filter_resources: IdSet<Arc<Resources>>,
    /// Resources came back to an agent's free pool since the last round.
    freed: bool,
}

/// Where resources being given back to an agent's free pool are held.
#[derive(Debug, Clone, Copy)]
enum Held {
    /// In an outstanding offer.
    Offered,
    /// By a task.
    Used,
}

impl Allocator {
    /// Where `agent_id` is in `agents`.
    fn slot_index(&self, agent_id: &AgentId) -> Result<usize, AllocatorError> {
        self.agent_index
            .get(agent_id)
            .copied()
            .ok_or_else(|| AllocatorError::UnknownAgent(agent_id.clone()))
    }

    /// An allocator with no agents and no frameworks.
    pub fn new(config: AllocatorConfig) -> Self {
        Allocator {
            config,
            ..Default::default()
        }
    }

    /// The settings.
    pub fn config(&self) -> &AllocatorConfig {
        &self.config
    }

    // ----- agents -----

    /// Adds an agent with everything free (an agent already present is replaced).
    pub fn add_agent(&mut self, agent_id: AgentId, total: Resources) {
        self.remove_agent(&agent_id);
        self.interner.intern_names(&total);
        for (name, v) in total.scalars() {
            *self.cluster_total.entry(name.to_string()).or_insert(0) += v;
        }
        let key = self.next_agent_key;
        self.next_agent_key = self.next_agent_key.wrapping_add(1);
        self.agent_index.insert(agent_id.clone(), self.agents.len());
        self.agents.push(AgentSlot {
            id: agent_id,
            key,
            view: AgentView {
                free: total.clone(),
                total,
                ..Default::default()
            },
            allocations: Vec::new(),
        });
        self.freed = true;
    }

    /// Removes an agent with everything offered or used on it. Returns whether it existed.
    pub fn remove_agent(&mut self, agent_id: &AgentId) -> bool {
        let Some(i) = self.agent_index.remove(agent_id) else {
            return false;
        };
        let slot = self.agents.swap_remove(i);
        if let Some(moved) = self.agents.get(i) {
            self.agent_index.insert(moved.id.clone(), i);
        }
        for (name, v) in slot.view.total.scalars() {
            if let Some(t) = self.cluster_total.get_mut(name) {
                *t -= v;
                if *t <= 0 {
                    self.cluster_total.remove(name);
                }
            }
        }
        for (key, amounts) in &slot.allocations {
            let Some(fw) = self.interner.frameworks.get(*key as usize) else {
                continue;
            };
            if let Some(entry) = self.framework_alloc.get_mut(fw) {
                for (i, v) in amounts.iter().enumerate() {
                    if let Some(name) = self.interner.names.get(i) {
                        if let Some(e) = entry.get_mut(name) {
                            *e -= v;
                            if *e <= 0 {
                                entry.remove(name);
                            }
                        }
                    }
                }
                if entry.is_empty() {
                    self.framework_alloc.remove(fw);
                }
            }
        }
        for fw in self.frameworks.values_mut() {
            fw.filters.remove(&slot.key);
        }
        true
    }

    /// One agent's split.
    pub fn agent(&self, agent_id: &AgentId) -> Option<&AgentView> {
        self.agent_index
            .get(agent_id)
            .map(|&i| &self.agents[i].view)
    }

    /// The agents' IDs.
    pub fn agent_ids(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.iter().map(|a| &a.id)
    }

    // ----- frameworks -----

    /// Adds (or replaces) a framework with its roles and initially suppressed roles.
    pub fn add_framework(
        &mut self,
        framework_id: FrameworkId,
        roles: BTreeSet<String>,
        suppressed: BTreeSet<String>,
        active: bool,
    ) {
        let suppressed = suppressed.intersection(&roles).cloned().collect();
        self.interner.framework(&framework_id);
        self.frameworks.insert(
            framework_id,
            FrameworkSlot {
                roles,
                suppressed,
                active,
                gpu_aware: false,
                filters: HashMap::new(),
                fed: false,
            },
        );
    }

    /// Marks the framework as able to use GPUs (`GPU_RESOURCES`); only such frameworks are
    /// offered agents that have GPUs.
    pub fn set_gpu_aware(&mut self, framework_id: &FrameworkId, gpu_aware: bool) {
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            fw.gpu_aware = gpu_aware;
        }
    }

    /// Changes a framework's roles and suppressed roles (UPDATE_FRAMEWORK). Roles leaving the
    /// suppressed set lose their filters, as in Mesos.
    pub fn update_framework(
        &mut self,
        framework_id: &FrameworkId,
        roles: BTreeSet<String>,
        suppressed: BTreeSet<String>,
    ) {
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            let suppressed: BTreeSet<String> = suppressed.intersection(&roles).cloned().collect();
            let unsuppressed: Vec<String> =
                fw.suppressed.difference(&suppressed).cloned().collect();
            let interner = &self.interner;
            fw.filters.retain(|_, fs| {
                fs.retain(|f| {
                    let role = interner.role_name(f.role);
                    roles.contains(role) && !unsuppressed.iter().any(|u| u == role)
                });
                !fs.is_empty()
            });
            fw.roles = roles;
            fw.suppressed = suppressed;
        }
    }

    /// Forgets a framework (its filters and suppression). Its offered and used resources stay
    /// until the master recovers or releases them.
    pub fn remove_framework(&mut self, framework_id: &FrameworkId) {
        self.frameworks.remove(framework_id);
    }

    /// Starts (true) or stops (false) offering to a framework.
    pub fn set_active(&mut self, framework_id: &FrameworkId, active: bool) {
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            fw.active = active;
        }
    }

    /// Whether the framework is known.
    pub fn has_framework(&self, framework_id: &FrameworkId) -> bool {
        self.frameworks.contains_key(framework_id)
    }

    /// Stops offering to the framework in `roles` (all its roles when empty).
    pub fn suppress(&mut self, framework_id: &FrameworkId, roles: &[String]) {
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            if roles.is_empty() {
                fw.suppressed = fw.roles.clone();
            } else {
                fw.suppressed
                    .extend(roles.iter().filter(|r| fw.roles.contains(*r)).cloned());
            }
        }
    }

    /// Resumes offering in `roles` (all when empty) and clears their refusal filters.
    pub fn revive(&mut self, framework_id: &FrameworkId, roles: &[String]) {
        if let Some(fw) = self.frameworks.get_mut(framework_id) {
            fw.fed = false;
            if roles.is_empty() {
                fw.suppressed.clear();
                fw.filters.clear();
            } else {
                for r in roles {
                    fw.suppressed.remove(r);
                }
                let interner = &self.interner;
                fw.filters.retain(|_, fs| {
                    fs.retain(|f| !roles.iter().any(|r| r == interner.role_name(f.role)));
                    !fs.is_empty()
                });
            }
        }
    }

    /// Whether the framework is suppressed in `role`.
    pub fn is_suppressed(&self, framework_id: &FrameworkId, role: &str) -> bool {
        self.frameworks
            .get(framework_id)
            .is_some_and(|f| f.suppressed.contains(role))
    }

    /// The framework's dominant share: the largest fraction of any scalar resource of the
    /// cluster it holds (offered + used).
    pub fn dominant_share(&self, framework_id: &FrameworkId) -> f64 {
        self.framework_alloc
            .get(framework_id)
            .map(|a| self.share_of(a))
            .unwrap_or(0.0)
    }

    fn share_of(&self, alloc: &BTreeMap<String, i64>) -> f64 {
        let mut share: f64 = 0.0;
        for (name, v) in alloc {
            if let Some(&total) = self.cluster_total.get(name) {
                if total > 0 {
                    share = share.max(*v as f64 / total as f64);
                }
            }
        }
        share
    }

    fn change_alloc(&mut self, framework_id: &FrameworkId, res: &Resources, sign: i64) {
        // Found by reference: no ID or name is copied unless it is new (every task's end
        // comes through here).
        let entry = match self.framework_alloc.get_mut(framework_id) {
            Some(entry) => entry,
            // Taking from nothing leaves nothing.
            None if sign <= 0 => return,
            None => self
                .framework_alloc
                .entry(framework_id.clone())
                .or_default(),
        };
        for (name, v) in res.scalars() {
            let change = sign * v;
            match entry.get_mut(name) {
                Some(e) => {
                    *e += change;
                    if *e <= 0 {
                        entry.remove(name);
                    }
                }
                None if change > 0 => {
                    entry.insert(name.to_string(), change);
                }
                None => {}
            }
        }
        if entry.is_empty() {
            self.framework_alloc.remove(framework_id);
        }
    }

    // ----- allocation -----

    /// One allocation round at `now`: grants every agent's allocatable free resources to the
    /// first eligible framework role in DRF order and marks them offered.
    pub fn allocate(&mut self, now: Time) -> Vec<OfferGrant> {
        self.allocate_among(now, false)
    }

    /// Whether [`Allocator::allocate_to_waiting`] could grant anything: resources came back
    /// since the last round and some active framework with an unsuppressed role is waiting.
    pub fn has_waiting(&self) -> bool {
        self.freed
            && self.frameworks.values().any(|fw| {
                !fw.fed && fw.active && fw.roles.difference(&fw.suppressed).next().is_some()
            })
    }

    /// A round between the periodic ones, among waiting frameworks only: those offered nothing
    /// since they subscribed or last revived. Mesos leaves them until the next round, though
    /// a framework that subscribes while every agent is offered to others would then wait up
    /// to a whole interval for the resources those others give back meanwhile. Frameworks that
    /// were offered something are left out, so resources declined or given back cannot travel
    /// from one framework to the next faster than the periodic rounds take them. Callers ask
    /// [`Allocator::has_waiting`] first; with nobody waiting the round has no candidate and
    /// returns at once.
    pub fn allocate_to_waiting(&mut self, now: Time) -> Vec<OfferGrant> {
        self.allocate_among(now, true)
    }

    fn allocate_among(&mut self, now: Time, waiting_only: bool) -> Vec<OfferGrant> {
        self.freed = false;
        /// A framework taking part in this round.
        struct Cand<'a> {
            id: &'a FrameworkId,
            key: u32,
            slot: &'a FrameworkSlot,
            roles: Vec<&'a String>,
            /// `roles` interned (for filters).
            role_keys: Vec<u32>,
            /// Allocation per cluster resource name (indexed like `names`).
            alloc: Vec<i64>,
            granted: bool,
        }
        // Scalar names of the cluster and their totals, for cheap share updates.
        let names: Vec<&String> = self.cluster_total.keys().collect();
        let totals: Vec<i64> = self.cluster_total.values().copied().collect();
        let share = |alloc: &[i64]| {
            let mut s: f64 = 0.0;
            for (a, t) in alloc.iter().zip(&totals) {
                if *t > 0 {
                    s = s.max(*a as f64 / *t as f64);
                }
            }
            Share(s)
        };
        // The sorter: (share, rank, role index); rank is the framework's position in ID order,
        // so ties go to the lower ID and keys are cheap to compare.
        let mut cands: Vec<Cand<'_>> = Vec::new();
        let mut order: BTreeSet<(Share, u32, u32)> = BTreeSet::new();
        for (id, fw) in &self.frameworks {
            if !fw.active || (waiting_only && fw.fed) {
                continue;
            }
            let roles: Vec<&String> = fw.roles.difference(&fw.suppressed).collect();
            if roles.is_empty() {
                continue;
            }
            let current = self.framework_alloc.get(id);
            let alloc: Vec<i64> = names
                .iter()
                .map(|n| current.and_then(|a| a.get(*n)).copied().unwrap_or(0))
                .collect();
            let rank = u32::try_from(cands.len()).unwrap_or(u32::MAX);
            let sh = share(&alloc);
            for r in 0..roles.len() {
                order.insert((sh, rank, u32::try_from(r).unwrap_or(u32::MAX)));
            }
            cands.push(Cand {
                id,
                key: self
                    .interner
                    .framework_keys
                    .get(id)
                    .copied()
                    .unwrap_or(u32::MAX),
                slot: fw,
                role_keys: roles.iter().map(|r| self.interner.role_key(r)).collect(),
                roles,
                alloc,
                granted: false,
            });
        }
        if order.is_empty() {
            return Vec::new();
        }
        let mut grants = Vec::new();
        for agent in self.agents.iter_mut() {
            if !agent.view.free.is_allocatable() {
                continue;
            }
            let free = &agent.view.free;
            let has_gpus = agent.view.total.scalar_fixed("gpus") > 0;
            let chosen = order
                .iter()
                .find(|(_, rank, r)| {
                    let c = &cands[*rank as usize];
                    if has_gpus && !c.slot.gpu_aware {
                        return false;
                    }
                    if c.slot.filters.is_empty() {
                        return true;
                    }
                    match c.slot.filters.get(&agent.key) {
                        None => true,
                        Some(filters) => {
                            let role = c.role_keys[*r as usize];
                            !filters.iter().any(|f| {
                                f.role == role && now < f.expires && f.resources.contains(free)
                            })
                        }
                    }
                })
                .copied();
            let Some((old_share, rank, role_idx)) = chosen else {
                continue;
            };
            // Move free -> offered.
            let resources = std::mem::take(&mut agent.view.free);
            agent.view.offered.add(&resources);
            let c = &mut cands[rank as usize];
            change_agent_alloc(
                &mut agent.allocations,
                c.key,
                &resources,
                &self.interner.name_ids,
                1,
            );
            for (name, v) in resources.scalars() {
                if let Ok(i) = names.binary_search_by(|n| n.as_str().cmp(name)) {
                    c.alloc[i] += v;
                }
            }
            c.granted = true;
            // Re-rank the framework (all of its roles) by its new share.
            let new_share = share(&c.alloc);
            for r in 0..c.roles.len() {
                let r = u32::try_from(r).unwrap_or(u32::MAX);
                order.remove(&(old_share, rank, r));
                order.insert((new_share, rank, r));
            }
            grants.push(OfferGrant {
                framework_id: c.id.clone(),
                role: c.roles[role_idx as usize].clone(),
                agent_id: agent.id.clone(),
                resources,
            });
        }
        // Write the new allocations back.
        let mut fed = Vec::new();
        for c in cands.iter().filter(|c| c.granted) {
            let entry = self.framework_alloc.entry(c.id.clone()).or_default();
            for (name, v) in names.iter().zip(&c.alloc) {
                if *v > 0 {
                    entry.insert((*name).clone(), *v);
                }
            }
            fed.push(c.id.clone());
        }
        drop(cands);
        for id in fed {
            if let Some(fw) = self.frameworks.get_mut(&id) {
                fw.fed = true;
            }
        }
        // Drop expired filters now and then so they do not pile up, and the bags no filter
        // refers to any more (also those of filters removed with an agent, a revive, ...).
        for fw in self.frameworks.values_mut() {
            if fw.filters.is_empty() {
                continue;
            }
            fw.filters.retain(|_, fs| {
                fs.retain(|f| now < f.expires);
                !fs.is_empty()
            });
        }
        self.filter_resources.retain(|r| Arc::strong_count(r) > 1);
        grants
    }

    /// Offered resources come back (DECLINE, the unused part of an ACCEPT, rescind, framework
    /// gone). With `refuse`, the framework role will not be offered a subset of them on this
    /// agent until `now + refuse`.
    pub fn recover_offered(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        role: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Time,
    ) -> Result<(), AllocatorError> {
        self.return_to_free(agent_id, framework_id, resources, Held::Offered)?;
        let Some(d) = refuse else { return Ok(()) };
        if resources.is_empty() || !self.frameworks.contains_key(framework_id) {
            return Ok(());
        }
        let agent_key = self.agents[self.slot_index(agent_id)?].key;
        let role = self.interner.role(role);
        let shared = match self.filter_resources.get(resources) {
            Some(r) => Arc::clone(r),
            None => {
                let r = Arc::new(resources.clone());
                self.filter_resources.insert(Arc::clone(&r));
                r
            }
        };
        let expires = now + d;
        let Some(fw) = self.frameworks.get_mut(framework_id) else {
            return Ok(());
        };
        let filters = fw
            .filters
            .entry(agent_key)
            .or_insert_with(|| Vec::with_capacity(1));
        // The same refusal again only moves the expiry (two equal filters act as the later one).
        // Every bag comes from the pool, so equal bags are the same allocation.
        match filters
            .iter_mut()
            .find(|f| f.role == role && Arc::ptr_eq(&f.resources, &shared))
        {
            Some(f) => f.expires = f.expires.max(expires),
            None => filters.push(Filter {
                role,
                resources: shared,
                expires,
            }),
        }
        Ok(())
    }

    /// Offered resources are taken by a task (ACCEPT with LAUNCH).
    pub fn use_offered(
        &mut self,
        agent_id: &AgentId,
        resources: &Resources,
    ) -> Result<(), AllocatorError> {
        let i = self.slot_index(agent_id)?;
        let slot = &mut self.agents[i];
        if !slot.view.offered.contains(resources) {
            return Err(AllocatorError::NotOffered {
                agent_id: agent_id.clone(),
                resources: resources.clone(),
            });
        }
        slot.view.offered.subtract(resources);
        slot.view.used.add(resources);
        Ok(())
    }

    /// A task's resources are released (terminal or unreachable task).
    pub fn release_used(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        resources: &Resources,
    ) -> Result<(), AllocatorError> {
        self.return_to_free(agent_id, framework_id, resources, Held::Used)
    }

    /// Moves `resources` of `framework_id` on `agent_id` from `held` back to free, and out of
    /// the framework's allocation.
    fn return_to_free(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        resources: &Resources,
        held: Held,
    ) -> Result<(), AllocatorError> {
        let i = self.slot_index(agent_id)?;
        let slot = &mut self.agents[i];
        let bucket = match held {
            Held::Offered => &mut slot.view.offered,
            Held::Used => &mut slot.view.used,
        };
        if !bucket.contains(resources) {
            let (agent_id, resources) = (agent_id.clone(), resources.clone());
            return Err(match held {
                Held::Offered => AllocatorError::NotOffered {
                    agent_id,
                    resources,
                },
                Held::Used => AllocatorError::NotUsed {
                    agent_id,
                    resources,
                },
            });
        }
        bucket.subtract(resources);
        slot.view.free.add(resources);
        self.freed = true;
        if let Some(&key) = self.interner.framework_keys.get(framework_id) {
            change_agent_alloc(
                &mut slot.allocations,
                key,
                resources,
                &self.interner.name_ids,
                -1,
            );
        }
        self.change_alloc(framework_id, resources, -1);
        Ok(())
    }

    /// Free resources are taken by a task the master learnt about from an agent
    /// (re-registration), not through an offer.
    pub fn add_used(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        resources: &Resources,
    ) -> Result<(), AllocatorError> {
        let key = self.interner.framework(framework_id);
        let i = self.slot_index(agent_id)?;
        let slot = &mut self.agents[i];
        if !slot.view.free.contains(resources) {
            return Err(AllocatorError::NotFree {
                agent_id: agent_id.clone(),
                resources: resources.clone(),
            });
        }
        slot.view.free.subtract(resources);
        slot.view.used.add(resources);
        change_agent_alloc(
            &mut slot.allocations,
            key,
            resources,
            &self.interner.name_ids,
            1,
        );
        self.change_alloc(framework_id, resources, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resource::{ports, scalar};
    use proptest::prelude::*;

    fn agent_res() -> Resources {
        Resources::from_proto(&[
            scalar("cpus", 2.0),
            scalar("mem", 1024.0),
            scalar("disk", 1000.0),
            ports(&[(31000, 31009)]),
        ])
        .expect("valid")
    }

    fn fw(n: u32) -> FrameworkId {
        FrameworkId::generated(format!("fw-{n:04}"))
    }

    fn agent(n: u32) -> AgentId {
        AgentId::generated(format!("S{n}"))
    }

    /// Two agents, both offered to framework 0 in a first round at 0 s, and that round.
    fn fw0_offered_two_agents() -> (Allocator, Vec<OfferGrant>) {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_agent(agent(1), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        let g = a.allocate(secs(0));
        assert_eq!(g.len(), 2);
        (a, g)
    }

    fn star() -> BTreeSet<String> {
        ["*".to_string()].into()
    }

    fn secs(s: u64) -> Time {
        Duration::from_secs(s)
    }

    #[test]
    fn refusal_duration_follows_mesos_rules() {
        let i = Duration::from_secs(1);
        assert_eq!(refusal_duration(None, i), Some(secs(5)));
        assert_eq!(refusal_duration(Some(-1.0), i), Some(secs(5)));
        assert_eq!(refusal_duration(Some(f64::NAN), i), Some(secs(5)));
        assert_eq!(refusal_duration(Some(f64::INFINITY), i), Some(secs(5)));
        assert_eq!(refusal_duration(Some(0.0), i), None);
        assert_eq!(refusal_duration(Some(0.2), i), Some(secs(1)));
        assert_eq!(
            refusal_duration(Some(1e12), i),
            Some(Duration::from_secs_f64(MAX_REFUSE_SECONDS))
        );
    }

    #[test]
    fn one_offer_per_agent_and_never_twice() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        let g = a.allocate(secs(0));
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].resources, agent_res());
        assert!(a.allocate(secs(1)).is_empty());
        assert_eq!(a.agent(&agent(0)).unwrap().offered, agent_res());
    }

    #[test]
    fn resources_given_back_go_to_waiting_frameworks_only() {
        // fw 0 is offered everything; fw 1 subscribes after that round.
        let (mut a, g) = fw0_offered_two_agents();
        a.add_framework(fw(1), star(), BTreeSet::new(), true);
        // Nothing has come back: no round between the periodic ones.
        assert!(!a.has_waiting());
        assert!(a.allocate_to_waiting(secs(0)).is_empty());
        // fw 0 gives one agent back without a filter: it goes to fw 1, which was waiting,
        // not back to fw 0 (offered before).
        a.recover_offered(&agent(0), &fw(0), "*", &g[0].resources, None, secs(0))
            .unwrap();
        assert!(a.has_waiting());
        let w = a.allocate_to_waiting(secs(0));
        assert_eq!(w.len(), 1);
        assert_eq!((&w[0].framework_id, &w[0].agent_id), (&fw(1), &agent(0)));
        // Both have been offered something: what comes back now waits for a periodic round.
        a.recover_offered(&agent(0), &fw(1), "*", &w[0].resources, None, secs(0))
            .unwrap();
        assert!(!a.has_waiting());
        assert!(a.allocate_to_waiting(secs(0)).is_empty());
        assert_eq!(a.allocate(secs(1)).len(), 1);
        // A revive makes a framework wait again.
        a.revive(&fw(1), &[]);
        let back = a.agent(&agent(1)).unwrap().offered.clone();
        a.recover_offered(&agent(1), &fw(0), "*", &back, Some(secs(5)), secs(1))
            .unwrap();
        let w = a.allocate_to_waiting(secs(1));
        assert_eq!(w.len(), 1);
        assert_eq!((&w[0].framework_id, &w[0].agent_id), (&fw(1), &agent(1)));
        // Suppressed or inactive frameworks do not wait.
        a.add_framework(fw(2), star(), star(), true);
        a.add_framework(fw(3), star(), BTreeSet::new(), false);
        a.recover_offered(&agent(1), &fw(1), "*", &w[0].resources, None, secs(1))
            .unwrap();
        assert!(!a.has_waiting());
    }

    #[test]
    fn drf_prefers_the_lowest_share_then_the_lowest_id() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_framework(fw(1), star(), BTreeSet::new(), true);
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        a.add_agent(agent(0), agent_res());
        a.add_agent(agent(1), agent_res());
        let g = a.allocate(secs(0));
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].framework_id, fw(0));
        assert_eq!(g[1].framework_id, fw(1));
    }

    #[test]
    fn decline_filters_until_expiry_and_revive_clears() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        let g = a.allocate(secs(0));
        a.recover_offered(
            &agent(0),
            &fw(0),
            "*",
            &g[0].resources,
            Some(secs(5)),
            secs(0),
        )
        .unwrap();
        assert!(a.allocate(secs(1)).is_empty());
        assert_eq!(a.allocate(secs(5)).len(), 1);
        let view = a.agent(&agent(0)).unwrap().clone();
        a.recover_offered(
            &agent(0),
            &fw(0),
            "*",
            &view.offered,
            Some(secs(5)),
            secs(5),
        )
        .unwrap();
        assert!(a.allocate(secs(6)).is_empty());
        a.revive(&fw(0), &[]);
        assert_eq!(a.allocate(secs(6)).len(), 1);
    }

    #[test]
    fn refusals_share_resources_and_a_repeat_moves_the_expiry() {
        let mut a = Allocator::new(AllocatorConfig::default());
        for i in 0..3 {
            a.add_agent(agent(i), agent_res());
        }
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        let grants = a.allocate(secs(0));
        assert_eq!(grants.len(), 3);
        let one_cpu = Resources::from_proto(&[scalar("cpus", 1.0)]).unwrap();
        for g in &grants {
            // Two equal pieces of one offer declined one after the other (as a framework
            // holding several offers on an agent does): one filter, the later expiry.
            a.recover_offered(&g.agent_id, &fw(0), "*", &one_cpu, Some(secs(5)), secs(0))
                .unwrap();
            a.recover_offered(&g.agent_id, &fw(0), "*", &one_cpu, Some(secs(8)), secs(0))
                .unwrap();
        }
        // Three agents declined with the same bag: one shared copy of it.
        assert_eq!(a.filter_resources.len(), 1);
        let fs = &a.frameworks[&fw(0)].filters;
        assert_eq!(fs.len(), 3);
        let first = &fs.values().next().unwrap()[0];
        assert_eq!(first.expires, secs(8));
        assert!(fs
            .values()
            .all(|f| f.len() == 1 && Arc::ptr_eq(&f[0].resources, &first.resources)));

        // The agents' 2 free cpus are not a subset of the refused 1 cpu + nothing else, so
        // they are offered again; what is refused (1 cpu alone) would not be.
        for g in &grants {
            let rest = g.resources.minus(&one_cpu).minus(&one_cpu);
            a.recover_offered(&g.agent_id, &fw(0), "*", &rest, None, secs(0))
                .unwrap();
        }
        assert_eq!(a.allocate(secs(7)).len(), 3);
        // Expired filters go at the end of a round, and the shared bag with them.
        assert!(a.frameworks[&fw(0)].filters.values().all(|f| f.len() == 1));
        a.allocate(secs(9));
        assert!(a.frameworks[&fw(0)].filters.is_empty());
        assert!(a.filter_resources.is_empty());
    }

    #[test]
    fn a_filtered_framework_leaves_the_agent_to_the_next() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        a.add_framework(fw(1), star(), BTreeSet::new(), true);
        let g = a.allocate(secs(0));
        assert_eq!(g[0].framework_id, fw(0));
        a.recover_offered(
            &agent(0),
            &fw(0),
            "*",
            &g[0].resources,
            Some(secs(5)),
            secs(0),
        )
        .unwrap();
        let g = a.allocate(secs(1));
        assert_eq!(g[0].framework_id, fw(1));
    }

    #[test]
    fn removing_an_agent_takes_its_allocations_out_of_the_shares() {
        let (mut a, g) = fw0_offered_two_agents();
        let take = Resources::from_proto(&[scalar("cpus", 1.0)]).unwrap();
        a.use_offered(&agent(0), &take).unwrap();
        assert_eq!(a.dominant_share(&fw(0)), 1.0);
        assert!(a.remove_agent(&agent(0)));
        assert_eq!(
            a.dominant_share(&fw(0)),
            1.0,
            "all of agent 1 is still offered"
        );
        a.recover_offered(&agent(1), &fw(0), "*", &g[1].resources, None, secs(0))
            .unwrap();
        assert_eq!(a.dominant_share(&fw(0)), 0.0);
        assert!(!a.remove_agent(&agent(0)));
    }

    #[test]
    fn agents_with_gpus_go_only_to_gpu_aware_frameworks() {
        let mut a = Allocator::new(AllocatorConfig::default());
        let mut gpu = agent_res();
        gpu.add(&Resources::from_proto(&[scalar("gpus", 1.0)]).unwrap());
        a.add_agent(agent(0), gpu);
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        assert!(a.allocate(secs(0)).is_empty());
        a.set_gpu_aware(&fw(0), true);
        assert_eq!(a.allocate(secs(0)).len(), 1);
    }

    #[test]
    fn suppressed_roles_get_nothing_until_revived() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        a.suppress(&fw(0), &[]);
        assert!(a.allocate(secs(0)).is_empty());
        a.revive(&fw(0), &["*".to_string()]);
        assert_eq!(a.allocate(secs(0)).len(), 1);
    }

    #[test]
    fn small_leftovers_are_not_offered() {
        let mut a = Allocator::new(AllocatorConfig::default());
        a.add_agent(agent(0), agent_res());
        a.add_framework(fw(0), star(), BTreeSet::new(), true);
        let g = a.allocate(secs(0));
        let mut take = g[0].resources.clone();
        take.subtract(
            &Resources::from_proto(&[scalar("cpus", 0.005), scalar("mem", 31.0)]).unwrap(),
        );
        a.use_offered(&agent(0), &take).unwrap();
        let rest = g[0].resources.minus(&take);
        a.recover_offered(&agent(0), &fw(0), "*", &rest, None, secs(0))
            .unwrap();
        assert!(a.allocate(secs(1)).is_empty());
    }

    #[test]
    fn ten_thousand_agents_and_a_thousand_frameworks_allocate_quickly() {
        let mut a = Allocator::new(AllocatorConfig::default());
        for i in 0..1000 {
            a.add_framework(fw(i), star(), BTreeSet::new(), true);
        }
        for i in 0..10_000 {
            a.add_agent(agent(i), agent_res());
        }
        let start = std::time::Instant::now();
        let g = a.allocate(secs(0));
        let first = start.elapsed();
        assert_eq!(g.len(), 10_000);
        // Every framework got 10 agents: DRF spreads them evenly.
        let mut per: HashMap<FrameworkId, usize> = HashMap::new();
        for x in &g {
            *per.entry(x.framework_id.clone()).or_default() += 1;
        }
        assert!(per.values().all(|&n| n == 10));
        let start = std::time::Instant::now();
        assert!(a.allocate(secs(1)).is_empty());
        let second = start.elapsed();
        eprintln!("10000 agents x 1000 frameworks: first round {first:?}, idle round {second:?}");
        // Generous bounds: debug build on a shared machine.
        assert!(first < Duration::from_secs(5), "{first:?}");
        assert!(second < Duration::from_secs(1), "{second:?}");
    }

    #[derive(Debug, Clone)]
    enum Op {
        AddAgent,
        RemoveAgent(usize),
        AddFramework,
        RemoveFramework(usize),
        Allocate,
        AcceptPart(usize, u8),
        Decline(usize, u8),
        Finish(usize),
        Suppress(usize),
        Revive(usize),
        Advance(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::AddAgent),
            any::<usize>().prop_map(Op::RemoveAgent),
            Just(Op::AddFramework),
            any::<usize>().prop_map(Op::RemoveFramework),
            Just(Op::Allocate),
            Just(Op::Allocate),
            (any::<usize>(), any::<u8>()).prop_map(|(i, p)| Op::AcceptPart(i, p)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, s)| Op::Decline(i, s)),
            any::<usize>().prop_map(Op::Finish),
            any::<usize>().prop_map(Op::Suppress),
            any::<usize>().prop_map(Op::Revive),
            any::<u8>().prop_map(Op::Advance),
        ]
    }

    /// Takes a part of `r`: a fraction of the scalars and the first few ports.
    fn part(r: &Resources, p: u8) -> Resources {
        let mut out = Resources::new();
        for (name, v) in r.scalars() {
            out.add_scalar(name, v * i64::from(p % 4) / 4);
        }
        let ports = r.ranges("ports");
        if let Some(&(b, e)) = ports.intervals().first() {
            let n = u64::from(p % 3);
            if b + n <= e {
                out.add_ranges(
                    "ports",
                    &crate::resources::Ranges::from_intervals([(b, b + n)]),
                );
            }
        }
        out
    }

    struct Model {
        offers: Vec<OfferGrant>,
        tasks: Vec<(AgentId, FrameworkId, Resources)>,
        frameworks: Vec<FrameworkId>,
        agents: u32,
        next_fw: u32,
        now: Time,
    }

    fn check_invariants(a: &Allocator, m: &Model) -> Result<(), TestCaseError> {
        for agent_id in a.agent_ids() {
            let v = a.agent(agent_id).expect("listed agent exists");
            let mut offered = Resources::new();
            for o in m.offers.iter().filter(|o| &o.agent_id == agent_id) {
                prop_assert!(!offered.intersects(&o.resources), "offers overlap");
                offered.add(&o.resources);
            }
            let mut used = Resources::new();
            for (_, _, r) in m.tasks.iter().filter(|t| &t.0 == agent_id) {
                prop_assert!(!used.intersects(r), "tasks overlap");
                used.add(r);
            }
            prop_assert!(!offered.intersects(&used), "offer overlaps a task");
            prop_assert!(!v.free.intersects(&offered) && !v.free.intersects(&used));
            prop_assert_eq!(&v.offered, &offered);
            prop_assert_eq!(&v.used, &used);
            prop_assert_eq!(v.free.plus(&offered).plus(&used), v.total.clone());
        }
        // Every framework's dominant share is what it holds over the cluster's total.
        let agents = a.agent_ids().count() as i64;
        for f in &m.frameworks {
            let mut held = Resources::new();
            for o in m.offers.iter().filter(|o| &o.framework_id == f) {
                held.add(&o.resources);
            }
            for t in m.tasks.iter().filter(|t| &t.1 == f) {
                held.add(&t.2);
            }
            let mut expect: f64 = 0.0;
            for (name, total) in agent_res().scalars() {
                if agents > 0 {
                    expect = expect.max(held.scalar_fixed(name) as f64 / (total * agents) as f64);
                }
            }
            prop_assert!((a.dominant_share(f) - expect).abs() < 1e-9, "share of {f}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn offered_plus_used_plus_free_is_always_the_total(
            ops in proptest::collection::vec(op(), 1..80)
        ) {
            let mut a = Allocator::new(AllocatorConfig::default());
            let mut m = Model { offers: vec![], tasks: vec![], frameworks: vec![], agents: 0, next_fw: 0, now: secs(0) };
            for op in ops {
                match op {
                    Op::AddAgent => {
                        a.add_agent(agent(m.agents), agent_res());
                        m.agents += 1;
                    }
                    Op::RemoveAgent(i) => {
                        let ids: Vec<AgentId> = a.agent_ids().cloned().collect();
                        if ids.is_empty() { continue; }
                        let gone = ids[i % ids.len()].clone();
                        prop_assert!(a.remove_agent(&gone));
                        m.offers.retain(|o| o.agent_id != gone);
                        m.tasks.retain(|t| t.0 != gone);
                    }
                    Op::AddFramework => {
                        let id = fw(m.next_fw);
                        m.next_fw += 1;
                        a.add_framework(id.clone(), star(), BTreeSet::new(), true);
                        m.frameworks.push(id);
                    }
                    Op::RemoveFramework(i) => {
                        if m.frameworks.is_empty() { continue; }
                        let id = m.frameworks.remove(i % m.frameworks.len());
                        // The master recovers the framework's offers and its tasks end.
                        for o in m.offers.iter().filter(|o| o.framework_id == id) {
                            a.recover_offered(&o.agent_id, &id, &o.role, &o.resources, None, m.now).unwrap();
                        }
                        m.offers.retain(|o| o.framework_id != id);
                        for t in m.tasks.iter().filter(|t| t.1 == id) {
                            a.release_used(&t.0, &id, &t.2).unwrap();
                        }
                        m.tasks.retain(|t| t.1 != id);
                        a.remove_framework(&id);
                    }
                    Op::Allocate => {
                        let grants = a.allocate(m.now);
                        for g in &grants {
                            prop_assert!(m.frameworks.contains(&g.framework_id));
                            prop_assert!(g.resources.is_allocatable());
                            prop_assert!(!a.is_suppressed(&g.framework_id, &g.role));
                        }
                        m.offers.extend(grants);
                    }
                    Op::AcceptPart(i, p) => {
                        if m.offers.is_empty() { continue; }
                        let o = m.offers.remove(i % m.offers.len());
                        let take = part(&o.resources, p);
                        if !take.is_empty() {
                            a.use_offered(&o.agent_id, &take).unwrap();
                            m.tasks.push((o.agent_id.clone(), o.framework_id.clone(), take.clone()));
                        }
                        let rest = o.resources.minus(&take);
                        a.recover_offered(&o.agent_id, &o.framework_id, &o.role, &rest,
                            refusal_duration(None, a.config().allocation_interval), m.now).unwrap();
                    }
                    Op::Decline(i, s) => {
                        if m.offers.is_empty() { continue; }
                        let o = m.offers.remove(i % m.offers.len());
                        a.recover_offered(&o.agent_id, &o.framework_id, &o.role, &o.resources,
                            refusal_duration(Some(f64::from(s % 10)), a.config().allocation_interval), m.now).unwrap();
                    }
                    Op::Finish(i) => {
                        if m.tasks.is_empty() { continue; }
                        let (ag, f, r) = m.tasks.remove(i % m.tasks.len());
                        a.release_used(&ag, &f, &r).unwrap();
                    }
                    Op::Suppress(i) => {
                        if m.frameworks.is_empty() { continue; }
                        a.suppress(&m.frameworks[i % m.frameworks.len()], &[]);
                    }
                    Op::Revive(i) => {
                        if m.frameworks.is_empty() { continue; }
                        a.revive(&m.frameworks[i % m.frameworks.len()], &[]);
                    }
                    Op::Advance(s) => m.now += Duration::from_millis(u64::from(s) * 50),
                }
                check_invariants(&a, &m)?;
            }
        }
    }
}
