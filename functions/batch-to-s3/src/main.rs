//! The `batch-to-s3` Lambda: wiring only; the logic is in the library.

use batch_to_s3::event::StreamEvent;
use batch_to_s3::glue::{sdk::GlueCatalog, TableCatalog};
use batch_to_s3::store::s3::S3Store;
use batch_to_s3::{BatchToS3, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};

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
    let store = S3Store::new(aws_sdk_s3::Client::from_conf(s3), config.bucket.clone());
    let glue = config.glue.clone();
    let function = BatchToS3::new(config, store);
    match glue {
        // The table is made to match on the first invocation, not here (handler.rs).
        Some(g) => {
            serve(function.with_catalog(GlueCatalog::new(
                aws_sdk_glue::Client::new(&aws),
                g.database,
            )))
            .await
        }
        None => serve(function).await,
    }
}

async fn serve<C: TableCatalog>(function: BatchToS3<S3Store, C>) -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
        function.handle(event)
    }))
    .await
}
