//! Pure builders for every `Call` type, plus small helpers for `Filters` and `KillPolicy`.
//!
//! Builders leave `framework_id` unset; [`Scheduler::call`](crate::Scheduler::call) fills it in
//! from the live subscription, so they can be built before the id is known.

use std::time::Duration;

use mesos_proto::v1::offer::operation::{self, Launch};
use mesos_proto::v1::offer::Operation;
use mesos_proto::v1::scheduler::call::{self, Type};
use mesos_proto::v1::scheduler::{Call, OfferConstraints};
use mesos_proto::v1::{
    AgentId, DurationInfo, ExecutorId, Filters, FrameworkId, FrameworkInfo, KillPolicy, OfferId,
    OperationId, Request, ResourceProviderId, TaskId, TaskInfo,
};

fn base(ty: Type) -> Call {
    Call {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

/// `Filters` refusing the declined resources for `refuse` (Mesos' default is 5 s).
pub fn refuse_for(refuse: Duration) -> Filters {
    Filters {
        refuse_seconds: Some(refuse.as_secs_f64()),
    }
}

/// A `KillPolicy` with the given grace period (SIGTERM to SIGKILL).
pub fn grace_period(grace: Duration) -> KillPolicy {
    KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX),
        }),
    }
}

/// A LAUNCH operation for `tasks`.
pub fn launch_operation(tasks: Vec<TaskInfo>) -> Operation {
    Operation {
        r#type: Some(operation::Type::Launch as i32),
        launch: Some(Launch { task_infos: tasks }),
        ..Default::default()
    }
}

/// SUBSCRIBE for `framework_info`; when the framework has an id it is also set at the top
/// level, as Mesos requires the two to be equal.
pub fn subscribe(framework_info: FrameworkInfo, suppressed_roles: Vec<String>) -> Call {
    Call {
        framework_id: framework_info.id.clone(),
        subscribe: Some(Box::new(call::Subscribe {
            framework_info,
            suppressed_roles,
            offer_constraints: None,
        })),
        ..base(Type::Subscribe)
    }
}

/// TEARDOWN: remove the framework and kill all its tasks.
pub fn teardown() -> Call {
    base(Type::Teardown)
}

/// ACCEPT `offer_ids` applying `operations`; unused resources are declined with `filters`.
pub fn accept(
    offer_ids: Vec<OfferId>,
    operations: Vec<Operation>,
    filters: Option<Filters>,
) -> Call {
    Call {
        accept: Some(call::Accept {
            offer_ids,
            operations,
            filters,
        }),
        ..base(Type::Accept)
    }
}

/// ACCEPT with a single LAUNCH of `tasks`.
pub fn launch(offer_ids: Vec<OfferId>, tasks: Vec<TaskInfo>, filters: Option<Filters>) -> Call {
    accept(offer_ids, vec![launch_operation(tasks)], filters)
}

/// DECLINE `offer_ids`, refusing them for `filters` (None: Mesos' default of 5 s).
pub fn decline(offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Call {
    Call {
        decline: Some(call::Decline { offer_ids, filters }),
        ..base(Type::Decline)
    }
}

/// ACCEPT_INVERSE_OFFERS.
pub fn accept_inverse_offers(inverse_offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Call {
    Call {
        accept_inverse_offers: Some(call::AcceptInverseOffers {
            inverse_offer_ids,
            filters,
        }),
        ..base(Type::AcceptInverseOffers)
    }
}

/// DECLINE_INVERSE_OFFERS.
pub fn decline_inverse_offers(inverse_offer_ids: Vec<OfferId>, filters: Option<Filters>) -> Call {
    Call {
        decline_inverse_offers: Some(call::DeclineInverseOffers {
            inverse_offer_ids,
            filters,
        }),
        ..base(Type::DeclineInverseOffers)
    }
}

/// REVIVE `roles` (empty: all the framework's roles).
pub fn revive(roles: Vec<String>) -> Call {
    Call {
        revive: Some(call::Revive { roles }),
        ..base(Type::Revive)
    }
}

/// SUPPRESS `roles` (empty: all the framework's roles).
pub fn suppress(roles: Vec<String>) -> Call {
    Call {
        suppress: Some(call::Suppress { roles }),
        ..base(Type::Suppress)
    }
}

/// KILL `task_id`, optionally naming its agent and overriding the kill policy.
pub fn kill(task_id: TaskId, agent_id: Option<AgentId>, kill_policy: Option<KillPolicy>) -> Call {
    Call {
        kill: Some(call::Kill {
            task_id,
            agent_id,
            kill_policy,
        }),
        ..base(Type::Kill)
    }
}

/// SHUTDOWN a (custom) executor.
pub fn shutdown(executor_id: ExecutorId, agent_id: AgentId) -> Call {
    Call {
        shutdown: Some(call::Shutdown {
            executor_id,
            agent_id,
        }),
        ..base(Type::Shutdown)
    }
}

/// ACKNOWLEDGE the status update `uuid` of `task_id` on `agent_id`.
pub fn acknowledge(agent_id: AgentId, task_id: TaskId, uuid: Vec<u8>) -> Call {
    Call {
        acknowledge: Some(call::Acknowledge {
            agent_id,
            task_id,
            uuid,
        }),
        ..base(Type::Acknowledge)
    }
}

/// ACKNOWLEDGE_OPERATION_STATUS.
pub fn acknowledge_operation_status(
    agent_id: Option<AgentId>,
    resource_provider_id: Option<ResourceProviderId>,
    uuid: Vec<u8>,
    operation_id: OperationId,
) -> Call {
    Call {
        acknowledge_operation_status: Some(Box::new(call::AcknowledgeOperationStatus {
            agent_id,
            resource_provider_id,
            uuid,
            operation_id,
        })),
        ..base(Type::AcknowledgeOperationStatus)
    }
}

/// RECONCILE: explicit for the listed `(task, agent)` pairs, implicit (all tasks) when empty.
pub fn reconcile(tasks: Vec<call::reconcile::Task>) -> Call {
    Call {
        reconcile: Some(call::Reconcile { tasks }),
        ..base(Type::Reconcile)
    }
}

/// One entry of an explicit reconciliation.
pub fn reconcile_task(task_id: TaskId, agent_id: Option<AgentId>) -> call::reconcile::Task {
    call::reconcile::Task { task_id, agent_id }
}

/// RECONCILE_OPERATIONS (empty: all operations).
pub fn reconcile_operations(operations: Vec<call::reconcile_operations::Operation>) -> Call {
    Call {
        reconcile_operations: Some(call::ReconcileOperations { operations }),
        ..base(Type::ReconcileOperations)
    }
}

/// MESSAGE: best-effort `data` to an executor.
pub fn message(agent_id: AgentId, executor_id: ExecutorId, data: Vec<u8>) -> Call {
    Call {
        message: Some(call::Message {
            agent_id,
            executor_id,
            data,
        }),
        ..base(Type::Message)
    }
}

/// REQUEST resources from the allocator (ignored by Mesos' built-in allocator).
pub fn request(requests: Vec<Request>) -> Call {
    Call {
        request: Some(call::Request { requests }),
        ..base(Type::Request)
    }
}

/// UPDATE_FRAMEWORK with a new `FrameworkInfo` (its `id` must be the framework's id).
pub fn update_framework(
    framework_info: FrameworkInfo,
    suppressed_roles: Vec<String>,
    offer_constraints: Option<OfferConstraints>,
) -> Call {
    Call {
        framework_id: framework_info.id.clone(),
        update_framework: Some(Box::new(call::UpdateFramework {
            framework_info,
            suppressed_roles,
            offer_constraints,
        })),
        ..base(Type::UpdateFramework)
    }
}

/// The call's type, `UNKNOWN` when unset or not a known value.
pub fn call_type(call: &Call) -> Type {
    call.r#type
        .and_then(|t| Type::try_from(t).ok())
        .unwrap_or(Type::Unknown)
}

/// Sets `framework_id` (and, for UPDATE_FRAMEWORK, `framework_info.id`) when unset.
pub(crate) fn with_framework_id(mut call: Call, id: &FrameworkId) -> Call {
    if call.framework_id.is_none() {
        call.framework_id = Some(id.clone());
    }
    if let Some(update) = call.update_framework.as_mut() {
        if update.framework_info.id.is_none() {
            update.framework_info.id = Some(id.clone());
        }
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::MesosJson;

    fn oid(v: &str) -> OfferId {
        OfferId { value: v.into() }
    }

    #[test]
    fn decline_encodes_like_mesos_json() {
        let c = decline(vec![oid("O1")], Some(refuse_for(Duration::from_secs(60))));
        assert_eq!(
            c.to_json_string(),
            r#"{"type":"DECLINE","decline":{"offer_ids":[{"value":"O1"}],"filters":{"refuse_seconds":60.0}}}"#
        );
    }

    #[test]
    fn kill_carries_the_optional_agent_and_grace_period() {
        let c = kill(
            TaskId { value: "t".into() },
            Some(AgentId { value: "S0".into() }),
            Some(grace_period(Duration::from_secs(2))),
        );
        let k = c.kill.expect("kill set");
        assert_eq!(k.agent_id.expect("agent").value, "S0");
        assert_eq!(
            k.kill_policy
                .and_then(|p| p.grace_period)
                .map(|g| g.nanoseconds),
            Some(2_000_000_000)
        );
        assert_eq!(call_type(&kill(TaskId::default(), None, None)), Type::Kill);
    }

    #[test]
    fn subscribe_repeats_the_framework_id_at_the_top_level() {
        let info = FrameworkInfo {
            user: "root".into(),
            name: "fw".into(),
            id: Some(FrameworkId { value: "F1".into() }),
            ..Default::default()
        };
        let c = subscribe(info, vec![]);
        assert_eq!(
            c.framework_id.as_ref().map(|f| f.value.as_str()),
            Some("F1")
        );
        assert_eq!(call_type(&c), Type::Subscribe);
    }

    #[test]
    fn with_framework_id_fills_update_framework_info() {
        let c = update_framework(FrameworkInfo::default(), vec![], None);
        let c = with_framework_id(c, &FrameworkId { value: "F".into() });
        assert_eq!(c.framework_id.as_ref().map(|f| f.value.as_str()), Some("F"));
        let info_id = c.update_framework.and_then(|u| u.framework_info.id);
        assert_eq!(info_id.map(|f| f.value), Some("F".to_string()));
    }

    #[test]
    fn every_call_type_has_a_builder_with_its_sub_message() {
        let a = AgentId { value: "S".into() };
        let t = TaskId { value: "T".into() };
        let calls = [
            teardown(),
            launch(vec![oid("O")], vec![], None),
            decline(vec![], None),
            accept_inverse_offers(vec![], None),
            decline_inverse_offers(vec![], None),
            revive(vec![]),
            suppress(vec![]),
            kill(t.clone(), None, None),
            shutdown(ExecutorId { value: "E".into() }, a.clone()),
            acknowledge(a.clone(), t.clone(), vec![0; 16]),
            acknowledge_operation_status(None, None, vec![0; 16], OperationId::default()),
            reconcile(vec![reconcile_task(t, Some(a.clone()))]),
            reconcile_operations(vec![]),
            message(a, ExecutorId::default(), b"hi".to_vec()),
            request(vec![]),
            update_framework(FrameworkInfo::default(), vec![], None),
        ];
        let mut seen: Vec<Type> = calls.iter().map(call_type).collect();
        seen.push(call_type(&subscribe(FrameworkInfo::default(), vec![])));
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 17, "{seen:?}");
        assert!(calls[1].accept.is_some() && calls[9].acknowledge.is_some());
    }
}
