//! Everything that touches AWS: the client factory (region per object,
//! assume-role, emulator endpoints, adaptive retries), the one place AWS
//! errors are classified, and the interceptor that counts every call.
//! Nothing outside this module names an `aws_sdk_*` type.

/// Declares a status AWS reports as a string: the states the code waits on
/// as variants (with AWS's spelling), any other value kept as `Other`, and
/// `as_str`, `From<&str>` and `Display` between the two.
macro_rules! aws_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A status this controller does not know, as AWS wrote it.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(status) => status,
                }
            }
        }

        impl From<&str> for $name {
            fn from(status: &str) -> Self {
                match status {
                    $(s if s == $text => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod acm;
pub mod clients;
pub mod cloudfront;
pub mod cloudwatch;
pub mod edge;
pub mod error;
pub mod interceptor;
pub mod rate_limit;
pub mod rds;
pub mod route53;
pub mod s3;

pub use clients::{AwsClients, AwsFactory, NO_REGION, RoleSession};
pub use error::{AwsError, AwsErrorKind};

/// What a create whose name or idempotency key must be unique came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome<T> {
    Created(T),
    /// The name or key is taken already: by this object's own earlier create
    /// whose response was lost, or by someone else; the caller finds out which.
    AlreadyExists,
}

#[cfg(test)]
mod tests {
    use super::acm::CertificateState;
    use super::cloudfront::DistributionState;
    use super::rds::DbStatus;

    #[test]
    fn aws_states_read_and_print_as_aws_spells_them_and_keep_unknown_ones() {
        for text in ["PENDING_VALIDATION", "ISSUED", "INACTIVE", "EXPIRED", "VALIDATION_TIMED_OUT", "REVOKED", "FAILED"]
        {
            let state = CertificateState::from(text);
            assert!(!matches!(state, CertificateState::Other(_)), "{text}");
            assert_eq!(state.to_string(), text);
        }
        assert_eq!(CertificateState::from("ISSUED"), CertificateState::Issued);
        assert_eq!(DistributionState::from("Deployed"), DistributionState::Deployed);
        assert_eq!(DistributionState::from("InProgress").as_str(), "InProgress");
        assert!(DbStatus::from("available").is_available());
        assert_eq!(DbStatus::from("failing-over"), DbStatus::Other("failing-over".into()));
        assert_eq!(DbStatus::from("failing-over").to_string(), "failing-over");
    }
}
