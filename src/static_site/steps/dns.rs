//! Step 7, with a domain: records for each name pointing at the
//! distribution, with an ownership TXT record; a record someone else owns is
//! never overwritten. A new change (or the last one still pending) is polled
//! until it is in sync.

use std::collections::BTreeSet;

use super::super::observe::CheckedDomain;
use super::super::plan::dns::{
    desired_records, dns_changes, owned_records, pending_change, record_statuses, recorded_zone,
};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason};
use crate::aws::cloudfront::DistributionView;
use crate::aws::route53::{ChangeStatus, RecordChange};

impl Steps<'_> {
    pub async fn dns(
        self,
        run: &mut Run<'_>,
        domain: Option<&CheckedDomain>,
        dist: &DistributionView,
    ) -> Result<(), Halt> {
        let (Some(spec), Some(domain)) = (&run.site.spec.domain, domain) else {
            return self.forget_domain(run, &dist.domain_name).await;
        };
        let previous: BTreeSet<String> = run.written.dns.iter().map(|d| d.name.clone()).collect();
        let previous: Vec<String> = previous.into_iter().collect();
        let desired = desired_records(&domain.names, spec.record, &dist.domain_name, self.id);
        let names = (domain.names.as_slice(), previous.as_slice());
        let changes = dns_changes(&desired, &domain.records, names, &dist.domain_name, self.id)?;
        let change = if changes.is_empty() {
            pending_change(&run.written.dns)
        } else {
            let change = self.aws.dns.change(&domain.zone, &changes).await?;
            run.note(
                Reason::DnsRecordsChanged,
                format!("{} record changes in zone {}", changes.len(), domain.zone.name),
            )
            .await;
            Some(change)
        };
        let status = match &change {
            Some(change) => self.aws.dns.change_status(change).await?,
            None => ChangeStatus::InSync,
        };
        run.next.dns = record_statuses(&desired, (&domain.zone, &dist.domain_name), change.as_deref(), &status);
        let in_sync = status == ChangeStatus::InSync;
        let message = format!("{} records point at {}", run.next.dns.len(), dist.domain_name);
        run.condition(
            conditions::DNS_READY,
            in_sync,
            if in_sync { Reason::AsExpected } else { Reason::Deploying },
            message,
        );
        Ok(())
    }

    /// Without `spec.domain`: the records status lists (in the zone it
    /// recorded) are taken back, only those this site owns (pointing at
    /// `target`, its distribution's domain).
    pub async fn forget_domain(self, run: &mut Run<'_>, target: &str) -> Result<(), Halt> {
        if let Some((zone, names)) = recorded_zone(&run.written.dns) {
            let existing = self.aws.dns.records(&zone).await?;
            let doomed = owned_records(&existing, &names, &self.id.uid, target);
            if !doomed.is_empty() {
                let changes: Vec<RecordChange> = doomed.into_iter().map(RecordChange::Delete).collect();
                self.aws.dns.change(&zone, &changes).await?;
                run.note(Reason::DnsRecordsDeleted, format!("{} records in zone {}", changes.len(), zone.id)).await;
            }
        }
        run.next.dns.clear();
        Ok(())
    }
}
