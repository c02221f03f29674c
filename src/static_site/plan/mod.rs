//! Pure decisions for a StaticSite, one file per part of API.md's order:
//! who the site is in AWS ([`identity`]), the bucket and its policy, the
//! certificate, the distribution, content, DNS, the summary, and teardown.
//! No I/O here: the steps in `static_site::steps` read AWS, ask these
//! functions, and act. Each file has its table of cases beside it.

pub mod bucket;
pub mod certificate;
pub mod content;
pub mod distribution;
pub mod dns;
pub mod identity;
pub mod oac;
pub mod routing;
pub mod summary;
pub mod teardown;

#[cfg(test)]
mod fixtures;
