//! Every page of the emulator's lists (other tests share it, so one page is
//! not enough), for the tests that count what a run left behind.

/// The origin domain of every distribution's origins.
pub async fn distribution_origins(cloudfront: &aws_sdk_cloudfront::Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cloudfront.list_distributions().set_marker(marker.take()).send().await.expect("distributions");
        let Some(list) = page.distribution_list() else { return out };
        for d in list.items() {
            out.extend(
                d.origins().map(|o| o.items().to_vec()).unwrap_or_default().iter().map(|o| o.domain_name().to_string()),
            );
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() && next != list.marker() => marker = Some(next.to_string()),
            _ => return out,
        }
    }
}

/// The name of every Origin Access Control.
pub async fn oac_names(cloudfront: &aws_sdk_cloudfront::Client) -> Vec<String> {
    oacs(cloudfront).await.into_iter().map(|(_, name)| name).collect()
}

/// Every Origin Access Control: (id, name).
pub async fn oacs(cloudfront: &aws_sdk_cloudfront::Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cloudfront.list_origin_access_controls().set_marker(marker.take()).send().await.expect("oacs");
        let Some(list) = page.origin_access_control_list() else { return out };
        out.extend(list.items().iter().map(|o| (o.id().to_string(), o.name().to_string())));
        match list.next_marker() {
            Some(next) if list.is_truncated() && next != list.marker() => marker = Some(next.to_string()),
            _ => return out,
        }
    }
}

/// The domain name of every ACM certificate.
pub async fn certificate_domains(acm: &aws_sdk_acm::Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = acm.list_certificates().set_next_token(token.take()).send().await.expect("certificates");
        out.extend(page.certificate_summary_list().iter().filter_map(|c| c.domain_name().map(str::to_string)));
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return out,
        }
    }
}

/// A distribution's tags (by ARN).
pub async fn distribution_tags(cloudfront: &aws_sdk_cloudfront::Client, arn: &str) -> Result<Tags, String> {
    let out = cloudfront.list_tags_for_resource().resource(arn).send().await.map_err(|e| e.to_string())?;
    let items = out.tags().map(|t| t.items().to_vec()).unwrap_or_default();
    Ok(items.iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
}

/// A certificate's tags.
pub async fn certificate_tags(acm: &aws_sdk_acm::Client, arn: &str) -> Result<Tags, String> {
    let out = acm.list_tags_for_certificate().certificate_arn(arn).send().await.map_err(|e| e.to_string())?;
    Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
}

/// A bucket's tags (an error when it has none, lives elsewhere or is gone).
pub async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Tags, String> {
    let out = s3.get_bucket_tagging().bucket(bucket).send().await.map_err(|e| e.to_string())?;
    Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}

pub type Tags = std::collections::BTreeMap<String, String>;
