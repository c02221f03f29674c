"""Seeds the AWS emulator for `make demo`: an Aurora MySQL cluster with a
writer and readers at different promotion tiers, and a Route 53 hosted zone.
Runs with the moto virtualenv's Python (boto3 comes with moto)."""
import os

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL"]
rds = boto3.client("rds", endpoint_url=endpoint, region_name="us-east-1")
rds.create_db_cluster(
    DBClusterIdentifier="orders-aurora",
    Engine="aurora-mysql",
    MasterUsername="admin",
    MasterUserPassword="demo-password-1",
    # The emulator takes 8 s over the failover, as RDS takes about 10 (scripts/moto_awsops.py).
    Tags=[{"Key": "awsops-test/failover-seconds", "Value": "8"}],
)
for name, tier, size in [
    ("orders-aurora-w1", 1, "db.r6g.large"),
    ("orders-aurora-r1", 0, "db.r6g.large"),
    ("orders-aurora-r2", 2, "db.r6g.xlarge"),
]:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBClusterIdentifier="orders-aurora",
        Engine="aurora-mysql",
        DBInstanceClass=size,
        PromotionTier=tier,
    )
route53 = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1")
route53.create_hosted_zone(Name="example.com", CallerReference="awsops-demo")
print("seeded: Aurora MySQL cluster orders-aurora (w1 tier 1 writer, r1 tier 0, r2 tier 2), hosted zone example.com")
