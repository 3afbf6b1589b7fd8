//! The `batch-to-iceberg` Lambda: wiring only; the logic is in the library.

use batch_to_iceberg::{BatchToIceberg, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use trickle_kinesis_batch::StreamEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // A local endpoint (AWS_ENDPOINT_URL, e.g. moto) needs path-style addressing.
    let local = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(&aws)
        .force_path_style(local)
        .build();
    // The table is read (or created) on the first invocation, not here.
    let function = BatchToIceberg::from_clients(
        config,
        aws_sdk_s3::Client::from_conf(s3),
        aws_sdk_glue::Client::new(&aws),
        aws_sdk_s3tables::Client::new(&aws),
    )?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
        function.handle(event)
    }))
    .await
}
