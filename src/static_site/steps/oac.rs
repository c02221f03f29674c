//! Step 2: the Origin Access Control: the recorded one (still there, as
//! observed), else created. No listing for a new site: OAC names are unique, so a create
//! whose earlier response was lost answers "exists" and the OAC is then
//! found by name.

use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::Reason;
use crate::aws::{AwsError, CreateOutcome};

impl Steps<'_> {
    pub async fn origin_access_control(self, run: &mut Run<'_>, recorded: Option<String>) -> Result<String, Halt> {
        let (cdn, name) = (&self.aws.cdn, self.id.oac_name());
        let oac = match recorded {
            Some(oac) => oac,
            None => match cdn.create_oac(&name).await? {
                CreateOutcome::Created(oac) => {
                    run.note(Reason::OriginAccessControlCreated, format!("origin access control {oac}")).await;
                    oac
                }
                CreateOutcome::AlreadyExists => cdn
                    .find_oac(&name)
                    .await?
                    .ok_or_else(|| AwsError::not_listed_yet("ListOriginAccessControls", &name))?,
            },
        };
        run.next.origin_access_control_id = Some(oac.clone());
        run.save().await?;
        Ok(oac)
    }
}
