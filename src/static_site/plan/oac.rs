//! The pool of origin access controls sites share (API.md, step 2). An OAC is
//! only a signing setting and each bucket policy names its distribution, so
//! one OAC serves many sites; AWS allows 100 OACs per account and 100
//! distributions per OAC, so a per-site OAC would stop the 101st site. Pool
//! members are named `awsops-oac-<n>`, each used by at most 100
//! distributions; they are kept when idle (free, and a member deleted while
//! idle races with a site that just picked it). Sites made before the pool
//! keep their own `awsops-<uid>` until they are deleted.

use std::collections::BTreeMap;

/// Name prefix of every pool member.
pub const POOL_PREFIX: &str = "awsops-oac-";
/// Distributions one OAC may serve (the CloudFront quota).
pub const MAX_DISTRIBUTIONS_PER_OAC: usize = 100;
/// Room kept for sites that picked a member and have no distribution yet
/// (a certificate can take hours to validate).
const HEADROOM: usize = 10;

/// `n` of a pool member's name, `None` for any other name.
pub fn pool_index(name: &str) -> Option<u32> {
    let n = name.strip_prefix(POOL_PREFIX)?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
        return None;
    }
    n.parse().ok()
}

/// What a new site's distribution signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OacChoice {
    /// This pool member (its id) has room.
    Use(String),
    /// Every member is full (or there is none): create this one.
    Create(String),
}

/// The lowest-numbered pool member with room (under 90 distributions), else the next name.
/// `oacs` is every OAC of the account as (id, name); `users` counts the
/// distributions signing with each OAC id.
pub fn pick(oacs: &[(String, String)], users: &BTreeMap<String, usize>) -> OacChoice {
    let mut pool: Vec<(u32, &String)> = oacs.iter().filter_map(|(id, name)| Some((pool_index(name)?, id))).collect();
    pool.sort();
    let room = |id: &String| users.get(id).copied().unwrap_or(0) < MAX_DISTRIBUTIONS_PER_OAC - HEADROOM;
    if let Some((_, id)) = pool.iter().find(|(_, id)| room(id)) {
        return OacChoice::Use((*id).clone());
    }
    let next = (1..).find(|n| !pool.iter().any(|(m, _)| m == n)).unwrap_or(1);
    OacChoice::Create(format!("{POOL_PREFIX}{next}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oacs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(id, name)| (id.to_string(), name.to_string())).collect()
    }

    #[test]
    fn only_awsops_oac_and_a_number_is_a_pool_member() {
        assert_eq!(pool_index("awsops-oac-1"), Some(1));
        assert_eq!(pool_index("awsops-oac-42"), Some(42));
        for other in ["awsops-oac-", "awsops-oac-01", "awsops-oac-1a", "awsops-1234-uid", "hand-made", "awsops-oac--1"]
        {
            assert_eq!(pool_index(other), None, "{other}");
        }
    }

    #[test]
    fn the_first_member_with_room_is_used_else_the_next_is_created() {
        let all = oacs(&[("E2", "awsops-oac-2"), ("E1", "awsops-oac-1"), ("H", "hand-made"), ("L", "awsops-uid-1")]);
        assert_eq!(pick(&all, &BTreeMap::new()), OacChoice::Use("E1".into()));
        let nearly = BTreeMap::from([("E1".to_string(), 89)]);
        assert_eq!(pick(&all, &nearly), OacChoice::Use("E1".into()));
        let full = BTreeMap::from([("E1".to_string(), 90)]);
        assert_eq!(pick(&all, &full), OacChoice::Use("E2".into()), "room kept for sites still on their way");
        let both = BTreeMap::from([("E1".to_string(), 100), ("E2".to_string(), 100)]);
        assert_eq!(pick(&all, &both), OacChoice::Create("awsops-oac-3".into()));
        assert_eq!(pick(&oacs(&[("H", "hand-made")]), &BTreeMap::new()), OacChoice::Create("awsops-oac-1".into()));
        let gap = oacs(&[("E2", "awsops-oac-2")]);
        let gap_full = BTreeMap::from([("E2".to_string(), 100)]);
        assert_eq!(
            pick(&gap, &gap_full),
            OacChoice::Create("awsops-oac-1".into()),
            "a deleted member's name is reused"
        );
    }
}
