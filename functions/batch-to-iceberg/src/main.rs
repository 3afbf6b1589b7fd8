//! The `batch-to-iceberg` Lambda: wiring only; the logic is in the library.

use batch_to_iceberg::{BatchToIceberg, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use trickle_kinesis_batch::StreamEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = trickle_aws::load_config().await;
    // The table is read (or created) on the first invocation, not here.
    let function = BatchToIceberg::from_clients(
        config,
        trickle_aws::s3_client(&aws),
        aws_sdk_glue::Client::new(&aws),
        aws_sdk_s3tables::Client::new(&aws),
    )?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
        function.handle(event)
    }))
    .await
}
