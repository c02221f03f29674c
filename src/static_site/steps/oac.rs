//! Step 2: the origin access control the distribution signs with: the
//! recorded one (still there and proven, as observed), else a member of the
//! shared pool with room (`plan::oac`), created when every member is full.
//! Pool names are unique, so a create whose response was lost, or a site
//! creating the same member at the same time, answers "exists" and the
//! member is then found by name.

use super::super::plan::oac::{OacChoice, pick};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::Reason;
use crate::aws::{AwsError, CreateOutcome};

impl Steps<'_> {
    pub async fn origin_access_control(self, run: &mut Run<'_>, recorded: Option<String>) -> Result<String, Halt> {
        let cdn = &self.aws.cdn;
        let oac = match recorded {
            Some(oac) => oac,
            None => match pick(&cdn.oacs().await?, &cdn.oac_users().await?) {
                OacChoice::Use(oac) => oac,
                OacChoice::Create(name) => match cdn.create_oac(&name).await? {
                    CreateOutcome::Created(oac) => {
                        run.note(Reason::OriginAccessControlCreated, format!("origin access control {oac} ({name})"))
                            .await;
                        oac
                    }
                    CreateOutcome::AlreadyExists => cdn
                        .find_oac(&name)
                        .await?
                        .ok_or_else(|| AwsError::not_listed_yet("ListOriginAccessControls", &name))?,
                },
            },
        };
        run.next.origin_access_control_id = Some(oac.clone());
        run.save().await?;
        Ok(oac)
    }
}
