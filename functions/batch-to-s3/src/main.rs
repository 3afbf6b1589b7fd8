//! The `batch-to-s3` Lambda: wiring only; the logic is in the library.

// The handler's future nests deeply (the shard's state, the writes, the Glue catalog).
#![recursion_limit = "256"]

use batch_to_s3::event::StreamEvent;
use batch_to_s3::store::sdk::S3Store;
use batch_to_s3::{BatchToS3, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use trickle_glue::{GlueTables, SdkGlueTables};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = trickle_aws::load_config().await;
    let store = S3Store::new(trickle_aws::s3_client(&aws), config.bucket.clone());
    let glue = config.glue.clone();
    let function = BatchToS3::new(config, store);
    match glue {
        // The table is made to match on the first invocation, not here (handler.rs).
        Some(g) => {
            serve(function.with_catalog(SdkGlueTables::new(
                aws_sdk_glue::Client::new(&aws),
                g.database,
            )))
            .await
        }
        None => serve(function).await,
    }
}

async fn serve<C: GlueTables>(function: BatchToS3<S3Store, C>) -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
        function.handle(event)
    }))
    .await
}
