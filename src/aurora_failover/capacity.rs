//! How large an Aurora MySQL instance class is, for ranking readers of the
//! same promotion tier (Aurora promotes the largest): memory in GiB from the
//! family and size, memory-optimised above burstable at equal memory;
//! Serverless v2 counts the cluster's maximum capacity at 2 GiB per ACU. An
//! unknown class has no capacity and ranks below every known one.

/// A class's rank among readers of one tier: larger is promoted first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Capacity {
    pub memory_gib: u32,
    /// Not burstable (`db.t*`): at equal memory, ranks above.
    pub steady: bool,
}

/// The capacity of `class` (`db.r6g.2xlarge`, `db.serverless`), if known;
/// `serverless_max_gib` is the cluster's maximum ACUs times 2.
pub fn capacity(class: &str, serverless_max_gib: Option<u32>) -> Option<Capacity> {
    if class == "db.serverless" {
        return serverless_max_gib.map(|memory_gib| Capacity { memory_gib, steady: true });
    }
    let mut parts = class.split('.');
    let (Some("db"), Some(family), Some(size), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if family.starts_with('t') {
        let memory_gib = match size {
            "micro" => 1,
            "small" => 2,
            "medium" => 4,
            "large" => 8,
            "xlarge" => 16,
            "2xlarge" => 32,
            _ => return None,
        };
        return Some(Capacity { memory_gib, steady: false });
    }
    let per_vcpu = match family.chars().next() {
        Some('r') => 8,
        Some('x') => 16,
        _ => return None,
    };
    let vcpus = match size {
        "large" => 2,
        "xlarge" => 4,
        s => 4 * s.strip_suffix("xlarge")?.parse::<u32>().ok()?,
    };
    Some(Capacity { memory_gib: per_vcpu * vcpus, steady: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gib(class: &str) -> Option<u32> {
        capacity(class, None).map(|c| c.memory_gib)
    }

    #[test]
    fn memory_follows_the_aurora_mysql_class_table() {
        assert_eq!(gib("db.t3.medium"), Some(4));
        assert_eq!(gib("db.t4g.large"), Some(8));
        assert_eq!(gib("db.r5.large"), Some(16));
        assert_eq!(gib("db.r6g.large"), Some(16));
        assert_eq!(gib("db.r6g.2xlarge"), Some(64));
        assert_eq!(gib("db.r7i.48xlarge"), Some(1536));
        assert_eq!(gib("db.r6gd.4xlarge"), Some(128));
        assert_eq!(gib("db.x2g.large"), Some(32));
        assert_eq!(gib("db.x2g.16xlarge"), Some(1024));
    }

    #[test]
    fn classes_of_one_size_rank_by_memory_and_burstable_below_at_equal_memory() {
        let order = ["db.t4g.large", "db.r6g.large", "db.x2g.large"];
        for pair in order.windows(2) {
            assert!(capacity(pair[0], None) < capacity(pair[1], None), "{pair:?}");
        }
        assert!(capacity("db.t3.2xlarge", None) < capacity("db.r6g.xlarge", None), "32 GiB: burstable below");
        assert_eq!(
            capacity("db.t3.2xlarge", None).map(|c| c.memory_gib),
            capacity("db.r6g.xlarge", None).map(|c| c.memory_gib)
        );
    }

    #[test]
    fn serverless_counts_the_clusters_maximum_capacity() {
        assert_eq!(capacity("db.serverless", Some(64)), Some(Capacity { memory_gib: 64, steady: true }));
        assert!(capacity("db.serverless", Some(64)) > capacity("db.r6g.xlarge", None));
        assert!(capacity("db.serverless", Some(2)) > capacity("db.t3.micro", None));
        assert_eq!(capacity("db.serverless", None), None);
    }

    #[test]
    fn an_unknown_class_has_no_capacity_and_ranks_below_every_known_one() {
        assert_eq!(gib("db.t3.micro"), Some(1));
        for class in ["db.z9.large", "db.r6g.metal", "db.t3.nano", "", "r6g.large", "db.r6g.large.x"] {
            assert_eq!(capacity(class, None), None, "{class}");
        }
        assert!(capacity("db.z9.large", None) < capacity("db.t3.small", None), "None sorts first: rank by Reverse");
    }
}
