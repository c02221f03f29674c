//! Step 2: the Origin Access Control: the recorded one (one read), else
//! created. No listing for a new site: OAC names are unique, so a create
//! whose earlier response was lost answers "exists" and the OAC is then
//! found by name.

use super::super::run::{Halt, Run, Steps};
use crate::aws::{AwsError, AwsErrorKind, Created};

impl Steps<'_> {
    pub async fn origin_access_control(self, run: &mut Run<'_>) -> Result<String, Halt> {
        let (cdn, name) = (&self.aws.cdn, self.id.oac_name());
        let recorded = match &run.written.origin_access_control_id {
            Some(oac) if cdn.oac_exists(oac).await? => Some(oac.clone()),
            _ => None,
        };
        let oac = match recorded {
            Some(oac) => oac,
            None => match cdn.create_oac(&name).await? {
                Created::New(oac) => {
                    run.note("OriginAccessControlCreated", format!("origin access control {oac}")).await;
                    oac
                }
                Created::Exists => cdn.find_oac(&name).await?.ok_or_else(|| {
                    let message = format!("{name} exists but is not listed yet");
                    AwsError::new(AwsErrorKind::Conflict, "ListOriginAccessControls", "", message)
                })?,
            },
        };
        run.next.origin_access_control_id = Some(oac.clone());
        run.save().await?;
        Ok(oac)
    }
}
