//! Named crash points for the crash tests. When the environment variable
//! `AWSOPS_FAILPOINT` names a point, the process aborts there, as `kill -9`
//! would, so a test can prove the controller resumes correctly from status.
//! Unset (always, outside tests) it costs one environment lookup.

pub fn crash_point(name: &str) {
    if std::env::var("AWSOPS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort();
    }
}
