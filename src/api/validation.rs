//! Schema patterns shared by both kinds, and the controller-side checks for
//! what a CRD schema cannot say (or a 1.20 API server does not enforce, like
//! CEL). Each check returns a message that tells the user what to fix.

/// AWS DB cluster and instance identifiers: 1-63 letters, digits or hyphens,
/// starting with a letter, no trailing or doubled hyphen.
pub const DB_IDENTIFIER: &str = "^[a-zA-Z]([a-zA-Z0-9]*(-[a-zA-Z0-9]+)*)?$";
/// Regions of the `aws` partition, such as `us-east-1`, `eu-central-2`. The
/// controller builds `arn:aws:` ARNs and CloudFront lives there: GovCloud
/// (`us-gov-*`), China (`cn-*`) and the ISO partitions are refused.
pub const REGION: &str = "^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]{1,2}$";
/// An IAM role ARN in the `aws` partition.
pub const ROLE_ARN: &str = "^arn:aws:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$";
/// S3 bucket names: lowercase labels of letters, digits and hyphens joined by dots.
pub const BUCKET_NAME: &str = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$";
/// A DNS hostname, optionally a wildcard, lowercase, with a dot.
pub const HOSTNAME: &str = "^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
/// A Route 53 hosted zone id, with or without the `/hostedzone/` prefix.
pub const HOSTED_ZONE_ID: &str = "^(/hostedzone/)?Z[A-Z0-9]{1,31}$";
/// An ACM certificate ARN.
pub const CERTIFICATE_ARN: &str = "^arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$";
/// A ConfigMap name (DNS subdomain).
pub const CONFIG_MAP_NAME: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A redirect's source: a path, optionally a prefix ending in `*`; printable
/// ASCII without spaces, quotes, backslashes or another `*` (what the
/// function embeds and a `Location` header may carry).
pub const REDIRECT_FROM: &str = "^/[!#-&(-)+-\\[\\]-~]*\\*?$";
/// A redirect's target: a path (not `//`, which browsers read as another
/// host) or an https URL, of the same characters.
pub const REDIRECT_TO: &str =
    "^(/([!#-&(-)+-.0-\\[\\]-~][!#-&(-)+-\\[\\]-~]*)?|https://[!#-&(-)+-.0-\\[\\]-~]+(/[!#-&(-)+-\\[\\]-~]*)?)$";
/// A key served as a page (`notFound`): the same characters, not starting with `/`.
pub const PAGE_KEY: &str = "^[!#-&(-)+-.0-\\[\\]-~][!#-&(-)+-\\[\\]-~]*$";

/// Checks `value` against one of the patterns above, as the API server would.
pub fn matches(pattern: &str, value: &str) -> bool {
    regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(value))
}

/// A list of problems with a spec; empty when the spec is valid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(message());
        }
    }

    /// Checks an optional field against a pattern, naming the field in the message.
    pub fn pattern(&mut self, field: &str, pattern: &str, value: Option<&str>, what: &str) {
        if let Some(v) = value {
            self.check(matches(pattern, v), || format!("{field} {v:?} is not {what}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when there are no problems, else one message listing them all.
    pub fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0.join("; ")) }
    }
}

/// The `host` or `host:port` of an `https://` URL as written, as policies
/// list it (port 443 implied). `validate` refuses a URL whose written host is
/// not the one a URL parser reads ([`parsed_host`]): userinfo, backslashes,
/// percent-encoding.
pub fn source_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    Some(authority.strip_suffix(":443").unwrap_or(authority))
}

/// The `host` or `host:port` a client connects to for `url`: `None` for
/// anything but `https://` without userinfo.
pub fn parsed_host(url: &reqwest::Url) -> Option<String> {
    if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) if port != 443 => format!("{host}:{port}"),
        _ => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_identifiers_follow_the_rds_rules() {
        for ok in ["a", "orders-aurora", "orders-aurora-r1", "A1"] {
            assert!(matches(DB_IDENTIFIER, ok), "{ok}");
        }
        for bad in ["", "1abc", "-a", "a-", "a--b", "a_b", "a.b"] {
            assert!(!matches(DB_IDENTIFIER, bad), "{bad}");
        }
    }

    #[test]
    fn regions_look_like_aws_regions() {
        for ok in ["us-east-1", "eu-central-2", "ap-southeast-4", "il-central-1", "mx-central-1"] {
            assert!(matches(REGION, ok), "{ok}");
        }
        for bad in ["us-east", "US-EAST-1", "useast1", "us-east-1a", "us-gov-west-1", "cn-north-1", "us-iso-east-1"] {
            assert!(!matches(REGION, bad), "{bad}");
        }
    }

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        for ok in ["abc", "logic-example-cloudfront", "a.b-c.d"] {
            assert!(matches(BUCKET_NAME, ok), "{ok}");
        }
        for bad in ["Abc", "a..b", "a.-b", "-ab", "ab-", "a_b"] {
            assert!(!matches(BUCKET_NAME, bad), "{bad}");
        }
    }

    #[test]
    fn hostnames_allow_one_leading_wildcard() {
        for ok in ["static.example.com", "*.example.com", "example.com", "a-b.c.io"] {
            assert!(matches(HOSTNAME, ok), "{ok}");
        }
        for bad in ["example", "Static.example.com", "a.*.example.com", "-a.example.com", "a..com"] {
            assert!(!matches(HOSTNAME, bad), "{bad}");
        }
    }

    #[test]
    fn role_and_certificate_arns_are_recognised() {
        assert!(matches(ROLE_ARN, "arn:aws:iam::111122223333:role/aurora-failover"));
        assert!(matches(ROLE_ARN, "arn:aws:iam::111122223333:role/path/x"));
        assert!(!matches(ROLE_ARN, "arn:aws-us-gov:iam::111122223333:role/x"), "other partitions are refused");
        assert!(!matches(ROLE_ARN, "arn:aws-cn:iam::111122223333:role/x"));
        assert!(!matches(ROLE_ARN, "arn:aws:iam::1111:role/x"));
        assert!(matches(
            CERTIFICATE_ARN,
            "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        ));
        assert!(!matches(CERTIFICATE_ARN, "arn:aws:iam::123456789012:certificate/x"));
    }

    #[test]
    fn problems_join_every_message() {
        let mut p = Problems::default();
        p.check(true, || "never".into());
        assert_eq!(p.clone().into_result(), Ok(()));
        p.pattern("spec.region", REGION, Some("mars"), "an AWS region");
        p.check(false, || "second".into());
        assert_eq!(p.into_result(), Err("spec.region \"mars\" is not an AWS region; second".to_string()));
    }
}
