//! Kubernetes Events (`events.k8s.io/v1`) for steps started, finished or
//! failed. Reasons come from [`Reason`]; notes never carry credentials.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;

use super::objects::{Event, EventType, Objects};
use super::tenancy;
use crate::api::conditions::{self, Reason};

/// Publishes events through [`Objects`] (the API server, or the terminal of
/// `awsops apply`).
#[derive(Clone)]
pub struct Events {
    objects: Arc<dyn Objects>,
}

impl Events {
    pub fn new(objects: Arc<dyn Objects>) -> Self {
        Self { objects }
    }

    /// A Normal event; failures to publish are logged, never fatal.
    pub async fn normal<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: Reason, action: &str, note: String) {
        self.publish(obj, EventType::Normal, reason.as_str(), action, note).await;
    }

    /// A Warning event; failures to publish are logged, never fatal.
    pub async fn warning<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: Reason, action: &str, note: String) {
        self.publish(obj, EventType::Warning, reason.as_str(), action, note).await;
    }

    /// One event when the summary condition (the True one of Ready,
    /// Reconciling, Stalled) changes type or reason: a step started,
    /// finished or failed. Also [`Events::refusal`].
    pub async fn transition<K: Resource<DynamicType = ()>>(&self, obj: &K, before: &[Condition], after: &[Condition]) {
        let Some(now) = conditions::current_summary(after) else { return };
        if now.reason != Reason::NotPermitted {
            self.refusal(obj, before, after).await;
        }
        if conditions::current_summary(before).map(|c| (&c.type_, &c.reason)) == Some((&now.type_, &now.reason)) {
            return;
        }
        let type_ = if now.type_ == conditions::STALLED { EventType::Warning } else { EventType::Normal };
        self.publish(obj, type_, &now.reason, &now.type_, now.message.clone()).await;
    }

    /// A Warning when `Permitted` turns False (or says something new) without
    /// stalling: what `--tenancy enforce` would refuse, under `audit`.
    async fn refusal<K: Resource<DynamicType = ()>>(&self, obj: &K, before: &[Condition], after: &[Condition]) {
        let refused = |list: &[Condition]| {
            list.iter().find(|c| c.type_ == tenancy::PERMITTED && c.status == "False").map(|c| c.message.clone())
        };
        if let Some(message) = refused(after)
            && refused(before).as_ref() != Some(&message)
        {
            let note = format!("--tenancy enforce would stall this object: {message}");
            self.publish(obj, EventType::Warning, Reason::NotPermitted.as_str(), "Audit", note).await;
        }
    }

    /// A Warning event about an object known only by reference.
    pub async fn warning_ref(&self, reference: &ObjectReference, reason: Reason, action: &str, note: String) {
        self.publish_ref(reference, EventType::Warning, reason.as_str(), action, note).await;
    }

    async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.publish_ref(&obj.object_ref(&()), type_, reason, action, note).await;
    }

    async fn publish_ref(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event { type_, reason: reason.to_string(), note: truncate(note, 1024), action: action.to_string() };
        self.objects.publish(reference, event).await;
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}
