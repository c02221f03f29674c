//! What a failover's verification needs from CloudWatch: the state of the
//! alarms `spec.verify.alarms` names, metric and composite alike.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::AlarmType;

use super::AwsError;

#[async_trait]
pub trait Alarms: Send + Sync {
    /// The state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each named alarm
    /// that exists; a name it lacks does not exist in this region.
    async fn states(&self, names: &[String]) -> Result<BTreeMap<String, String>, AwsError>;
}

pub struct SdkAlarms(pub aws_sdk_cloudwatch::Client);

#[async_trait]
impl Alarms for SdkAlarms {
    async fn states(&self, names: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        let mut found = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .0
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeAlarms", e))?;
            for a in out.metric_alarms() {
                if let (Some(name), Some(state)) = (a.alarm_name(), a.state_value()) {
                    found.insert(name.to_string(), state.as_str().to_string());
                }
            }
            for a in out.composite_alarms() {
                if let (Some(name), Some(state)) = (a.alarm_name(), a.state_value()) {
                    found.insert(name.to_string(), state.as_str().to_string());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }
}
