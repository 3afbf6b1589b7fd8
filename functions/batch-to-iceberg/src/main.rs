//! The `batch-to-iceberg` Lambda: wiring only; the logic is in the library.

use batch_to_iceberg::catalog::PointerCatalog;
use batch_to_iceberg::pointer::GluePointer;
use batch_to_iceberg::storage::S3StorageFactory;
use batch_to_iceberg::{BatchToIceberg, Config};
use iceberg::io::FileIOBuilder;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;
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
    let file_io = FileIOBuilder::new(Arc::new(S3StorageFactory::new(
        aws_sdk_s3::Client::from_conf(s3),
    )))
    .build();
    let pointer = GluePointer::new(
        aws_sdk_glue::Client::new(&aws),
        config.database.clone(),
        config.table.clone(),
    );
    let catalog = PointerCatalog::new(pointer, file_io, &config.database, &config.table)?;
    // The table is read (or created) on the first invocation, not here.
    let function = BatchToIceberg::new(config, catalog);
    lambda_runtime::run(service_fn(|event: LambdaEvent<StreamEvent>| {
        function.handle(event)
    }))
    .await
}
