//! AWS service limits, named once. Logic refers to these, never to bare numbers.

/// Kinesis: the data blob plus the partition key of one record (PutRecord/PutRecords).
pub const KINESIS_MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Kinesis: a partition key is 1 to 256 Unicode characters.
pub const KINESIS_MAX_PARTITION_KEY_CHARS: usize = 256;
/// Kinesis PutRecords: entries in one call.
pub const PUT_RECORDS_MAX_ENTRIES: usize = 500;
/// Kinesis PutRecords: the whole request (data blobs plus partition keys).
pub const PUT_RECORDS_MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// Lambda: the synchronous invocation payload limit, for requests and responses (6 MB).
pub const LAMBDA_MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// What our functions allow a Firehose transform response to grow to: Lambda's 6 MB limit
/// less headroom for the envelope Lambda itself adds.
pub const FIREHOSE_RESPONSE_BUDGET_BYTES: usize = 6_000_000;
/// Firehose PutRecordBatch: records in one call.
pub const FIREHOSE_PUT_RECORD_BATCH_MAX_ENTRIES: usize = 500;
/// Firehose PutRecordBatch: the whole request.
pub const FIREHOSE_PUT_RECORD_BATCH_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Firehose: one record.
pub const FIREHOSE_MAX_RECORD_BYTES: usize = 1000 * 1024;
/// S3: user-defined metadata, keys plus values, in one PUT.
pub const S3_MAX_USER_METADATA_BYTES: usize = 2 * 1024;
/// S3: an object key, in UTF-8 bytes.
pub const S3_MAX_KEY_BYTES: usize = 1024;
