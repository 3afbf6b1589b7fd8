//! The `ingest` Lambda: wiring only; the logic is in the library.
// The SDK's futures nest deep: the handler's future, with the OTLP path's, needs a layout
// query depth past the default 128.
#![recursion_limit = "256"]

use ingest::idempotency::sdk::DynamoRequests;
use ingest::sink::sdk::KinesisSink;
use ingest::{Config, Ingest};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sink = KinesisSink::new(aws_sdk_kinesis::Client::new(&aws), config.stream.clone());
    let memory = config.idempotency_table.clone().map(|table| {
        std::sync::Arc::new(DynamoRequests::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
        )) as std::sync::Arc<dyn ingest::idempotency::RequestMemory>
    });
    let mut ingest = Ingest::new(config, sink);
    if let Some(memory) = memory {
        ingest = ingest.with_memory(memory);
    }
    lambda_runtime::run(service_fn(|event| ingest.handle(event))).await
}
