//! Step 7: the records each name needs (alias A + AAAA, or CNAME, and the
//! ownership TXT), the changes that get the zone there without touching a
//! record someone else owns, their status, and what deletion removes.

use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{DnsRecordStatus, RecordKind};
use crate::aws::acm::ValidationCname;
use crate::aws::route53::{ChangeStatus, Record, RecordChange, RecordType, Zone, bare};

use super::identity::Identity;

/// Every name is the zone or inside it.
pub fn names_outside_zone<'a>(names: impl IntoIterator<Item = &'a str>, zone: &str) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| {
            let bare = n.trim_start_matches("*.");
            bare != zone && !bare.ends_with(&format!(".{zone}"))
        })
        .map(str::to_string)
        .collect()
}

/// The TXT record that marks `name` as this site's (external-dns style).
pub fn ownership_record_name(name: &str) -> String {
    match name.strip_prefix("*.") {
        Some(rest) => format!("_awsops-wildcard.{rest}"),
        None => format!("_awsops.{name}"),
    }
}

pub fn ownership_value(id: &Identity) -> String {
    let full = format!("heritage=awsops,awsops.dev/owner={}/{},awsops.dev/uid={}", id.namespace, id.name, id.uid);
    if full.len() <= MAX_TXT_STRING {
        return format!("\"{full}\"");
    }
    // Too long for one TXT string: the uid (the proof) first, the owner cut to fit.
    let mut value = format!("heritage=awsops,awsops.dev/uid={},awsops.dev/owner={}/{}", id.uid, id.namespace, id.name);
    value.truncate(MAX_TXT_STRING);
    format!("\"{value}\"")
}

/// Characters one TXT string holds.
const MAX_TXT_STRING: usize = 255;

fn owned_by(records: &[Record], name: &str, uid: &str) -> bool {
    let txt = ownership_record_name(name);
    records.iter().any(|r| {
        r.name == txt
            && r.type_ == RecordType::Txt
            && r.values.iter().any(|v| v.contains(&format!("awsops.dev/uid={uid}")))
    })
}

/// The records each name needs.
pub fn desired_records(names: &[String], kind: RecordKind, target: &str, id: &Identity) -> Vec<Record> {
    let mut out = Vec::new();
    for name in names {
        match kind {
            RecordKind::Alias => {
                for type_ in [RecordType::A, RecordType::Aaaa] {
                    out.push(Record { name: name.clone(), type_, alias: Some(target.to_string()), values: vec![] });
                }
            }
            RecordKind::Cname => out.push(Record {
                name: name.clone(),
                type_: RecordType::Cname,
                alias: None,
                values: vec![target.to_string()],
            }),
        }
        out.push(Record {
            name: ownership_record_name(name),
            type_: RecordType::Txt,
            alias: None,
            values: vec![ownership_value(id)],
        });
    }
    out
}

/// The changes that make the zone hold `desired` (and drop this site's records
/// for names it no longer declares), or a stall when a record at one of the
/// names exists and is not this site's.
pub fn dns_changes(
    desired: &[Record],
    existing: &[Record],
    (names, previous_names): (&[String], &[String]),
    target: &str,
    id: &Identity,
) -> Result<Vec<RecordChange>, Stall> {
    let mut changes = Vec::new();
    for name in names {
        let ours = owned_by(existing, name, &id.uid);
        let conflicting: Vec<&Record> = existing
            .iter()
            .filter(|r| &r.name == name && r.type_.answers_for_name())
            .filter(|r| !desired.contains(r))
            .collect();
        if !ours && !conflicting.is_empty() {
            return Err(Stall::new(
                Reason::RecordOwnedElsewhere,
                format!(
                    "{name} already has a {} record that this site did not create: remove it or choose another name (awsops never overwrites records it does not own)",
                    conflicting[0].type_
                ),
            ));
        }
        if ours {
            // Our record of another type (Alias <-> CNAME switch) goes first.
            for r in &conflicting {
                changes.push(RecordChange::Delete((*r).clone()));
            }
        }
    }
    for r in desired {
        if !existing.contains(r) {
            changes.push(RecordChange::Upsert(r.clone()));
        }
    }
    let gone: Vec<String> = previous_names.iter().filter(|n| !names.contains(n)).cloned().collect();
    changes.extend(owned_records(existing, &gone, &id.uid, target).into_iter().map(RecordChange::Delete));
    Ok(changes)
}

/// Records this site can prove it owns at `names`, to delete when a name is
/// dropped or the site deleted: at a name whose ownership TXT holds this
/// uid, the records that point at `target` (this site's distribution), and
/// the TXT itself once nothing else answers for the name (a record someone
/// pointed elsewhere stays, and so does the proof, for a later pass).
/// Anything else at the name (an SPF or verification TXT) stays.
pub fn owned_records(existing: &[Record], names: &[String], uid: &str, target: &str) -> Vec<Record> {
    let points_at =
        |r: &Record| r.alias.as_deref() == Some(target) || r.values.iter().any(|v| v.trim_end_matches('.') == target);
    let mut out = Vec::new();
    for name in names.iter().filter(|n| owned_by(existing, n, uid)) {
        let (ours, others): (Vec<&Record>, Vec<&Record>) =
            existing.iter().filter(|r| &r.name == name && r.type_.answers_for_name()).partition(|r| points_at(r));
        out.extend(ours.into_iter().cloned());
        if others.is_empty() {
            let txt = ownership_record_name(name);
            out.extend(existing.iter().filter(|r| r.name == txt && r.type_ == RecordType::Txt).cloned());
        }
    }
    out
}

/// Status of the records that point at the distribution (TXT records are
/// not listed), with the change that wrote them while it is pending.
pub fn record_statuses(
    desired: &[Record],
    (zone, target): (&Zone, &str),
    change: Option<&str>,
    status: &ChangeStatus,
) -> Vec<DnsRecordStatus> {
    desired
        .iter()
        .filter(|r| r.type_ != RecordType::Txt)
        .map(|r| DnsRecordStatus {
            name: r.name.clone(),
            type_: r.type_.to_string(),
            target: target.to_string(),
            status: status.to_string(),
            change_id: change.filter(|_| *status != ChangeStatus::InSync).map(str::to_string),
            zone_id: Some(zone.id.clone()),
        })
        .collect()
}

/// The zone and names status recorded records for, once `spec.domain` is
/// gone: what the site must take back (only its own, see [`owned_records`]).
pub fn recorded_zone(recorded: &[DnsRecordStatus]) -> Option<(Zone, Vec<String>)> {
    let id = recorded.iter().find_map(|d| d.zone_id.clone())?;
    let mut names: Vec<String> = recorded.iter().map(|d| d.name.clone()).collect();
    names.sort();
    names.dedup();
    Some((Zone { name: id.clone(), id, private: false }, names))
}

/// The change status last recorded is waiting for, if any.
pub fn pending_change(recorded: &[DnsRecordStatus]) -> Option<String> {
    recorded
        .iter()
        .find(|d| ChangeStatus::from(d.status.as_str()) != ChangeStatus::InSync)
        .and_then(|d| d.change_id.clone())
}

/// Deletion: the records this site owns at `names`, and the validation
/// CNAMEs (name and value) of a certificate it requested.
pub fn teardown_records(
    existing: &[Record],
    names: &[String],
    (uid, target): (&str, &str),
    validation: &[ValidationCname],
) -> Vec<RecordChange> {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    let mut doomed: Vec<RecordChange> =
        owned_records(existing, &names, uid, target).into_iter().map(RecordChange::Delete).collect();
    for v in validation {
        doomed.extend(existing.iter().filter(|r| is_validation_record(r, v)).cloned().map(RecordChange::Delete));
    }
    doomed.dedup();
    doomed
}

/// The validation records (name and value) the zone holds.
pub fn present_validation(existing: &[Record], validation: &[ValidationCname]) -> Vec<ValidationCname> {
    validation.iter().filter(|v| existing.iter().any(|r| is_validation_record(r, v))).cloned().collect()
}

fn is_validation_record(r: &Record, v: &ValidationCname) -> bool {
    let (name, value) = (bare(&v.name), v.value.trim_end_matches('.'));
    r.name == name && r.type_ == RecordType::Cname && r.values.iter().any(|x| x.trim_end_matches('.') == value)
}

/// Why the zone cannot take the site's records, before anything is written:
/// a private zone (ACM validates through public DNS only, and viewers could
/// not resolve the names), or a CNAME asked for at the zone's apex (DNS
/// allows none there; Route 53 refuses the change).
pub fn zone_refusal(zone: &Zone, names: &[String], record: RecordKind) -> Option<Stall> {
    if zone.private {
        let message = format!(
            "hosted zone {} ({}) is private: ACM validates certificates through public DNS only and viewers could not resolve the names; name a public zone in spec.domain",
            zone.name, zone.id
        );
        return Some(Stall::new(Reason::PrivateHostedZone, message));
    }
    let apex = names.iter().find(|n| bare(n) == zone.name)?;
    (record == RecordKind::Cname).then(|| {
        let message = format!(
            "{apex:?} is the apex of zone {}, where DNS allows no CNAME: use spec.domain.record: Alias (the default), or a name below the apex",
            zone.name
        );
        Stall::new(Reason::InvalidSpec, message)
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::mk_id;

    const D1: &str = "d1.cloudfront.net";
    use super::*;

    #[test]
    fn the_ownership_txt_fits_one_txt_string_and_keeps_the_uid_for_long_names() {
        let mut id = mk_id();
        let short = ownership_value(&id);
        assert!(short.starts_with("\"heritage=awsops,awsops.dev/owner="), "{short}");
        id.name = "n".repeat(253);
        id.namespace = "s".repeat(63);
        let long = ownership_value(&id);
        assert_eq!(long.len(), MAX_TXT_STRING + 2, "255 characters inside the quotes");
        assert!(long.contains(&format!("awsops.dev/uid={}", id.uid)), "{long}");
    }

    #[test]
    fn a_private_zone_or_a_cname_at_the_apex_is_refused_before_any_write() {
        let public = Zone { id: "Z1".into(), name: "example.com".into(), private: false };
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(zone_refusal(&public, &names(&["example.com", "www.example.com"]), RecordKind::Alias), None);
        assert_eq!(zone_refusal(&public, &names(&["www.example.com"]), RecordKind::Cname), None);
        let apex = zone_refusal(&public, &names(&["www.example.com", "example.com."]), RecordKind::Cname);
        let apex = apex.expect("a CNAME at the apex");
        assert_eq!(apex.reason, Reason::InvalidSpec);
        assert!(apex.message.contains("record: Alias"), "{}", apex.message);
        let private = Zone { private: true, ..public };
        let refused = zone_refusal(&private, &names(&["www.example.com"]), RecordKind::Alias).expect("private");
        assert_eq!(refused.reason, Reason::PrivateHostedZone);
    }

    fn txt(name: &str, uid: &str) -> Record {
        Record {
            name: ownership_record_name(name),
            type_: RecordType::Txt,
            alias: None,
            values: vec![format!("\"heritage=awsops,awsops.dev/uid={uid}\"")],
        }
    }

    #[test]
    fn dns_creates_alias_a_aaaa_and_an_ownership_txt() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        let changes = dns_changes(&desired, &[], (&names, &[]), D1, &mk_id()).expect("ok");
        let types: Vec<String> = changes
            .iter()
            .map(|c| match c {
                RecordChange::Upsert(r) => r.type_.to_string(),
                RecordChange::Delete(_) => "DEL".into(),
            })
            .collect();
        assert_eq!(types, vec!["A", "AAAA", "TXT"]);
        assert_eq!(ownership_record_name("*.example.com"), "_awsops-wildcard.example.com");
    }

    #[test]
    fn dns_in_sync_makes_no_change() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        assert_eq!(dns_changes(&desired, &desired, (&names, &names), D1, &mk_id()), Ok(vec![]));
    }

    #[test]
    fn a_record_someone_else_owns_is_never_overwritten() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        let theirs = Record {
            name: "static.example.com".into(),
            type_: RecordType::A,
            alias: None,
            values: vec!["192.0.2.1".into()],
        };
        let stall =
            dns_changes(&desired, std::slice::from_ref(&theirs), (&names, &[]), D1, &mk_id()).expect_err("stall");
        assert_eq!(stall.reason, Reason::RecordOwnedElsewhere);
        let other_site = [theirs, txt("static.example.com", "someone-else")];
        assert!(dns_changes(&desired, &other_site, (&names, &[]), D1, &mk_id()).is_err());
    }

    #[test]
    fn our_own_changed_record_is_repaired_and_a_removed_name_is_cleaned_up() {
        let id = mk_id();
        let names = vec!["a.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &id);
        let stale = Record {
            name: "a.example.com".into(),
            type_: RecordType::A,
            alias: Some("old.cloudfront.net".into()),
            values: vec![],
        };
        let old_name = Record {
            name: "b.example.com".into(),
            type_: RecordType::A,
            alias: Some("d1.cloudfront.net".into()),
            values: vec![],
        };
        let existing =
            vec![stale.clone(), txt("a.example.com", &id.uid), old_name.clone(), txt("b.example.com", &id.uid)];
        let previous = ["a.example.com".to_string(), "b.example.com".to_string()];
        let changes = dns_changes(&desired, &existing, (&names, &previous), D1, &id).expect("ok");
        assert!(changes.contains(&RecordChange::Delete(stale)));
        assert!(changes.contains(&RecordChange::Delete(old_name)));
        assert!(
            changes.iter().any(
                |c| matches!(c, RecordChange::Upsert(r) if r.name == "a.example.com" && r.type_ == RecordType::Aaaa)
            )
        );
    }

    #[test]
    fn cleanup_deletes_only_records_this_site_owns() {
        let id = mk_id();
        let mine =
            Record { name: "a.example.com".into(), type_: RecordType::A, alias: Some("d1".into()), values: vec![] };
        let theirs =
            Record { name: "b.example.com".into(), type_: RecordType::A, alias: Some("d2".into()), values: vec![] };
        let existing = vec![mine.clone(), txt("a.example.com", &id.uid), theirs];
        let owned = owned_records(&existing, &["a.example.com".into(), "b.example.com".into()], &id.uid, "d1");
        assert_eq!(owned.len(), 2);
        assert!(owned.contains(&mine));
    }

    #[test]
    fn a_dropped_name_loses_only_what_points_at_this_site_and_its_ownership_txt() {
        let id = mk_id();
        let at = |type_, alias: Option<&str>, value: &str| Record {
            name: "old.example.com".into(),
            type_,
            alias: alias.map(str::to_string),
            values: if value.is_empty() { vec![] } else { vec![value.into()] },
        };
        let ours = at(RecordType::A, Some(D1), "");
        let (spf, verification) =
            (at(RecordType::Txt, None, "\"v=spf1 -all\""), at(RecordType::Txt, None, "\"verify=1\""));
        let elsewhere = at(RecordType::Aaaa, Some("elsewhere.example.net"), "");
        let owner = txt("old.example.com", &id.uid);
        let existing = vec![ours.clone(), spf, verification, elsewhere, owner.clone()];
        let names = vec!["new.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, D1, &id);
        let previous = ["new.example.com".to_string(), "old.example.com".to_string()];
        let changes = dns_changes(&desired, &existing, (&names, &previous), D1, &id).expect("ok");
        let deleted: Vec<&Record> =
            changes.iter().filter_map(|c| if let RecordChange::Delete(r) = c { Some(r) } else { None }).collect();
        assert_eq!(deleted, vec![&ours], "the SPF and verification TXT and a record pointing elsewhere stay");
        assert!(!deleted.contains(&&owner), "the proof stays while a record at the name points elsewhere");
        let existing: Vec<Record> = existing.into_iter().filter(|r| r.type_ != RecordType::Aaaa).collect();
        let changes = dns_changes(&desired, &existing, (&names, &previous), D1, &id).expect("ok");
        assert!(changes.contains(&RecordChange::Delete(owner)), "and goes once nothing else answers there");
    }

    #[test]
    fn names_outside_the_zone_are_listed() {
        assert_eq!(
            names_outside_zone(["a.example.com", "*.example.com", "example.com", "x.other.com"], "example.com"),
            vec!["x.other.com"]
        );
    }

    #[test]
    fn record_statuses_list_the_pointing_records_and_the_change_only_while_pending() {
        let names = vec!["a.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        let zone = Zone { id: "Z1".into(), name: "example.com".into(), private: false };
        let pending = record_statuses(&desired, (&zone, "d1.cloudfront.net"), Some("C1"), &ChangeStatus::Pending);
        assert_eq!(pending.iter().map(|r| r.type_.as_str()).collect::<Vec<_>>(), vec!["A", "AAAA"]);
        assert_eq!(pending[0].change_id.as_deref(), Some("C1"));
        assert_eq!(pending_change(&pending).as_deref(), Some("C1"));
        let done = record_statuses(&desired, (&zone, "d1.cloudfront.net"), Some("C1"), &ChangeStatus::InSync);
        assert_eq!(done[0].status, "INSYNC");
        assert_eq!(done[0].change_id, None);
        assert_eq!(pending_change(&done), None);
        let (recorded, names) = recorded_zone(&done).expect("a zone");
        assert_eq!((recorded.id.as_str(), names), ("Z1", vec!["a.example.com".to_string()]));
        assert_eq!(recorded_zone(&[]), None);
    }

    #[test]
    fn teardown_removes_owned_records_and_the_validation_cnames_only() {
        let id = mk_id();
        let plain = |type_, value: &str| Record {
            name: "_v.a.example.com".into(),
            type_,
            alias: None,
            values: vec![value.into()],
        };
        let mine = Record { alias: Some("d1".into()), ..plain(RecordType::A, "") };
        let mine = Record { name: "a.example.com".into(), values: vec![], ..mine };
        let (validation, spf) = (plain(RecordType::Cname, "x"), plain(RecordType::Txt, "spf"));
        let existing = vec![mine.clone(), txt("a.example.com", &id.uid), validation.clone(), spf];
        let names = vec!["a.example.com".to_string(), "a.example.com".to_string()];
        let asked = ValidationCname { name: "_v.a.example.com.".into(), value: "x.".into() };
        let doomed = teardown_records(&existing, &names, (&id.uid, "d1"), std::slice::from_ref(&asked));
        assert_eq!(doomed.len(), 3);
        let other_value = ValidationCname { value: "y".into(), ..asked };
        let kept = teardown_records(&existing, &names, (&id.uid, "d1"), &[other_value]);
        assert_eq!(kept.len(), 2, "a CNAME with another value at that name is not this certificate's");
        assert!(doomed.contains(&RecordChange::Delete(mine)) && doomed.contains(&RecordChange::Delete(validation)));
    }
}
