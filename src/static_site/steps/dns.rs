//! Step 7, with a domain: records for each name pointing at the
//! distribution, with an ownership TXT record; a record someone else owns is
//! never overwritten. A new change (or the last one still pending) is polled
//! until it is in sync.

use std::collections::BTreeSet;

use super::super::observe::CheckedDomain;
use super::super::plan::dns::{desired_records, dns_changes, pending_change, record_statuses};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason};
use crate::aws::cloudfront::DistributionView;
use crate::aws::route53::ChangeStatus;

impl Steps<'_> {
    pub async fn dns(
        self,
        run: &mut Run<'_>,
        domain: Option<&CheckedDomain>,
        dist: &DistributionView,
    ) -> Result<(), Halt> {
        let (Some(spec), Some(domain)) = (&run.site.spec.domain, domain) else {
            run.next.dns.clear();
            return Ok(());
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
        run.next.dns = record_statuses(&desired, &dist.domain_name, change.as_deref(), &status);
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
}
