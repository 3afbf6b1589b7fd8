//! `trickle-aws`: the AWS SDK set-up that batch-to-s3 and batch-to-iceberg share, so that
//! their `main.rs` stay wiring only. It wraps SDK crates, so it sits beside the pure core
//! crate (`trickle-shared`), not in it; and it is not Glue, so not in `trickle-glue`.
//!
//! - `load_config`: the SDK configuration from the environment (region, credentials,
//!   `AWS_ENDPOINT_URL`), loaded once at cold start.
//! - `s3_client`: an S3 client on that configuration, path-style when an endpoint URL is set.

use aws_config::SdkConfig;

/// The SDK configuration from the environment, as every function loads it at cold start.
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// An S3 client on `aws`. With an endpoint URL (`AWS_ENDPOINT_URL`, e.g. moto on loopback)
/// S3 is addressed path-style: the Rust SDK has no environment variable for it, and
/// virtual-hosted style would ask for `bucket.127.0.0.1`.
pub fn s3_client(aws: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(aws)
        .force_path_style(path_style(aws))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Whether S3 must be addressed path-style: when the configuration names an endpoint.
fn path_style(aws: &SdkConfig) -> bool {
    aws.endpoint_url().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<&str>) -> SdkConfig {
        let mut b = SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint {
            b = b.endpoint_url(url);
        }
        b.build()
    }

    #[test]
    fn path_style_only_with_an_endpoint_url() {
        assert!(path_style(&config(Some("http://127.0.0.1:4566"))));
        assert!(!path_style(&config(None)));
        // The client builds either way.
        let _ = s3_client(&config(Some("http://127.0.0.1:4566")));
    }
}
