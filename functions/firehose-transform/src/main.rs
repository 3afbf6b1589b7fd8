//! The `firehose-transform` Lambda: wiring only; the logic is in the library.

use firehose_transform::sink::sdk::AwsReingestSink;
use firehose_transform::{Config, FirehoseTransform};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sink = AwsReingestSink::from_sdk_config(&aws);
    let transform = FirehoseTransform::new(config, sink);
    lambda_runtime::run(service_fn(|event| transform.handle(event))).await
}
