//! Logging: human-readable by default, JSON with `--log-format json`; the
//! level comes from `RUST_LOG` (default `info`). The AWS SDK's own debug
//! output prints credential identities (the access key id), so its crates
//! are capped at `info` whatever `RUST_LOG` says: no credential reaches a log.

use tracing_subscriber::EnvFilter;

/// SDK crates whose debug and trace output can carry credentials.
const CAPPED: &[&str] =
    &["aws_smithy_runtime", "aws_smithy_runtime_api", "aws_config", "aws_credential_types", "aws_sigv4", "aws_runtime"];

/// `sdk_warnings: false` caps the SDK crates at `error`: the credential and
/// region lookups' warnings (raw IMDS responses) are left out.
pub fn filter(rust_log: Option<&str>, sdk_warnings: bool) -> EnvFilter {
    let mut filter = rust_log.and_then(|s| EnvFilter::try_new(s).ok()).unwrap_or_else(|| EnvFilter::new("info"));
    let cap = if sdk_warnings { "info" } else { "error" };
    for target in CAPPED {
        if let Ok(directive) = format!("{target}={cap}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

pub fn init(json: bool, sdk_warnings: bool) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref(), sdk_warnings))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_crates_stay_at_info_even_when_everything_else_is_traced() {
        let text = filter(Some("trace,aws_smithy_runtime=trace"), true).to_string();
        for target in CAPPED {
            assert!(text.contains(&format!("{target}=info")), "{text}");
        }
        assert!(!text.contains("aws_smithy_runtime=trace"), "{text}");
    }

    #[test]
    fn without_sdk_warnings_the_sdk_crates_only_report_errors() {
        let text = filter(None, false).to_string();
        for target in CAPPED {
            assert!(text.contains(&format!("{target}=error")), "{text}");
        }
    }
}
