//! Everything that touches AWS: the client factory (region per object,
//! assume-role, emulator endpoints, adaptive retries), the one place AWS
//! errors are classified, and the interceptor that counts every call.
//! Nothing outside this module names an `aws_sdk_*` type.

pub mod acm;
pub mod clients;
pub mod cloudfront;
pub mod error;
pub mod interceptor;
pub mod rate_limit;
pub mod rds;
pub mod route53;
pub mod s3;

pub use clients::{AwsClients, AwsFactory, RoleSession};
pub use error::{AwsError, AwsErrorKind};

/// What a create whose name or idempotency key must be unique came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome<T> {
    Created(T),
    /// The name or key is taken already: by this object's own earlier create
    /// whose response was lost, or by someone else; the caller finds out which.
    AlreadyExists,
}
