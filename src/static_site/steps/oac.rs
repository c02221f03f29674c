//! Step 2: the Origin Access Control: the recorded one (one read), else
//! created. No listing for a new site: OAC names are unique, so a create
//! whose earlier response was lost answers "exists" and the OAC is then
//! found by name.

use super::super::plan::identity::Identity;
use super::super::run::{Halt, Run, SiteAws};
use crate::aws::{AwsError, AwsErrorKind, Created};

pub async fn ensure(run: &mut Run<'_>, aws: &SiteAws, id: &Identity) -> Result<String, Halt> {
    let recorded = match &run.written.origin_access_control_id {
        Some(oac) if aws.cdn.oac_exists(oac).await? => Some(oac.clone()),
        _ => None,
    };
    let oac = match recorded {
        Some(oac) => oac,
        None => match aws.cdn.create_oac(&id.oac_name()).await? {
            Created::New(oac) => {
                run.note("OriginAccessControlCreated", format!("origin access control {oac}")).await;
                oac
            }
            Created::Exists => aws.cdn.find_oac(&id.oac_name()).await?.ok_or_else(|| {
                let message = format!("{} exists but is not listed yet", id.oac_name());
                AwsError::new(AwsErrorKind::Conflict, "ListOriginAccessControls", "", message)
            })?,
        },
    };
    run.next.origin_access_control_id = Some(oac.clone());
    run.save().await?;
    Ok(oac)
}
