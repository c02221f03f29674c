//! Aurora clusters in the emulator, for the tests that need one.

/// Creates a cluster whose first member is the writer: `(instance, tier, class)`.
pub async fn seed_cluster(rds: &aws_sdk_rds::Client, cluster: &str, engine: &str, members: &[(&str, i32, &str)]) {
    rds.create_db_cluster()
        .db_cluster_identifier(cluster)
        .engine(engine)
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .expect("cluster created in the emulator");
    for (instance, tier, class) in members {
        rds.create_db_instance()
            .db_instance_identifier(*instance)
            .db_cluster_identifier(cluster)
            .engine(engine)
            .db_instance_class(*class)
            .promotion_tier(*tier)
            .send()
            .await
            .expect("instance created in the emulator");
    }
}

/// The cluster's writer as the emulator holds it.
pub async fn writer(rds: &aws_sdk_rds::Client, cluster: &str) -> String {
    let out = rds.describe_db_clusters().db_cluster_identifier(cluster).send().await.expect("describe");
    let members = out.db_clusters()[0].db_cluster_members();
    members
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .unwrap_or_default()
        .to_string()
}

/// Makes the emulator take `seconds` over a failover of `cluster`
/// (`failing-over` meanwhile, as RDS is; scripts/moto_awsops.py).
pub async fn failover_takes(rds: &aws_sdk_rds::Client, cluster: &str, seconds: u32) {
    let out = rds.describe_db_clusters().db_cluster_identifier(cluster).send().await.expect("describe");
    let arn = out.db_clusters()[0].db_cluster_arn().expect("cluster ARN").to_string();
    let tag = aws_sdk_rds::types::Tag::builder()
        .key(super::simulated::FAILOVER_SECONDS_TAG)
        .value(seconds.to_string())
        .build();
    rds.add_tags_to_resource().resource_name(arn).tags(tag).send().await.expect("tagged");
}
