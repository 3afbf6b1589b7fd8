# One variable per template.yaml parameter, in snake_case, with the same defaults and limits
# (SAM "true"/"false" strings are bools here, CommaDelimitedList a list), plus stack_name and
# the four zips, which SAM gets from the stack and from `sam build`. Not here: the S3 Tables
# catalog's IcebergSnapshotRetentionHours (IcebergCatalog s3tables is template.yaml's only).

variable "stack_name" {
  description = "Name prefix of every resource (SAM uses the stack name, $${AWS::StackName}). Letters, digits and hyphens, at most 40 characters."
  type        = string
  default     = "trickle"

  validation {
    condition     = can(regex("^[A-Za-z][-A-Za-z0-9]{0,39}$", var.stack_name))
    error_message = "stack_name must start with a letter, hold only letters, digits and hyphens, and be at most 40 characters (function names are <stack_name>-firehose-transform, at most 64)."
  }
}

variable "account_id" {
  description = "The AWS account deployed to (Firehose's role trusts it as sts:ExternalId). Empty: the account of the credentials in use, from STS GetCallerIdentity."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9]{12})?$", var.account_id))
    error_message = "account_id must be empty or a 12-digit AWS account id."
  }
}

variable "ingest_zip" {
  description = "The ingest function's bootstrap.zip (cargo lambda build --release --arm64 --output-format zip). Empty: this repository's target/lambda/ingest/bootstrap.zip."
  type        = string
  default     = ""
}

variable "batch_to_s3_zip" {
  description = "The batch-to-s3 function's bootstrap.zip. Empty: this repository's target/lambda/batch-to-s3/bootstrap.zip."
  type        = string
  default     = ""
}

variable "firehose_transform_zip" {
  description = "The firehose-transform function's bootstrap.zip (read only when enable_firehose is true). Empty: this repository's target/lambda/firehose-transform/bootstrap.zip."
  type        = string
  default     = ""
}

variable "batch_to_iceberg_zip" {
  description = "The batch-to-iceberg function's bootstrap.zip (read only when enable_iceberg is true). Empty: this repository's target/lambda/batch-to-iceberg/bootstrap.zip."
  type        = string
  default     = ""
}

# ------------------------------------------------------------------ the stream

variable "stream_mode" {
  description = "Kinesis capacity mode. PROVISIONED with shard_count shards, or ON_DEMAND."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards when stream_mode is PROVISIONED (1, as in the original tutorial)."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number >= 1."
  }
}

variable "stream_retention_hours" {
  description = "How long the stream keeps records."
  type        = number
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760
    error_message = "stream_retention_hours must be between 24 and 8760."
  }
}

# ------------------------------------------------------------------ ingest

variable "ingest_auth_type" {
  description = "Function URL auth. AWS_IAM requires SigV4-signed requests (curl --aws-sigv4); NONE makes the URL public and requires ingest_token_sha256."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.ingest_auth_type)
    error_message = "ingest_auth_type must be AWS_IAM or NONE."
  }
}

variable "ingest_token_sha256" {
  description = "Required when ingest_auth_type is NONE - the SHA-256 (hex) of the bearer token clients send as \"Authorization: Bearer TOKEN\" (printf %s TOKEN | sha256sum). Only the hash is deployed."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = can(regex("^([0-9a-fA-F]{64})?$", var.ingest_token_sha256))
    error_message = "ingest_token_sha256 must be empty or 64 hexadecimal digits (the SHA-256 of the token)."
  }
}

variable "ingest_browser_key" {
  description = "A public key web pages send as ?key= with navigator.sendBeacon or fetch keepalive (CORS via cors_allow_origins). Anyone who sees a page can write with it: its requests are small (64 KiB), JSON or text only, never choose a shard, and every record is marked {\"source\":\"browser\",...}. Empty: no browser key."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{16,128})?$", var.ingest_browser_key))
    error_message = "ingest_browser_key must be empty or 16 to 128 letters, digits, - or _."
  }
}

variable "ingest_aggregate" {
  description = "Pack each request's records into KPL aggregates (up to 1 MiB each); Firehose and batch-to-s3 de-aggregate them."
  type        = bool
  default     = false
}

variable "cors_allow_origins" {
  description = "Origins allowed to POST from a browser. Empty turns CORS off."
  type        = list(string)
  default     = []
}

variable "stream_partition_key_pointer" {
  description = "JSON pointer (e.g. /user/id) whose value is a JSON record's partition key when no header or query parameter gives one. Empty for a random key per record."
  type        = string
  default     = ""
}

variable "record_id_pointer" {
  description = "JSON pointer (e.g. /message_id) whose value identifies a record, for senders that cannot set an Idempotency-Key per request: the writers store each id (scoped to the caller) once within their 15-minute window. Empty: records carry no id."
  type        = string
  default     = ""
}

variable "ingest_reserved_concurrency" {
  description = "Reserved concurrent executions of ingest. 0: no reservation (the account's unreserved pool)."
  type        = number
  default     = 0

  validation {
    condition     = var.ingest_reserved_concurrency >= 0 && floor(var.ingest_reserved_concurrency) == var.ingest_reserved_concurrency
    error_message = "ingest_reserved_concurrency must be a whole number >= 0 (0: no reservation)."
  }
}

# ------------------------------------------------------------------ the bucket

variable "bucket_expiration_days" {
  description = "Expire objects after this many days. 0 keeps them forever."
  type        = number
  default     = 0

  validation {
    condition     = var.bucket_expiration_days >= 0 && floor(var.bucket_expiration_days) == var.bucket_expiration_days
    error_message = "bucket_expiration_days must be a whole number >= 0."
  }
}

# ------------------------------------------------------------------ batch-to-s3

variable "batch_size" {
  description = "batch-to-s3 - most records per invocation (bigger batches, fewer and larger S3 objects)."
  type        = number
  default     = 10000

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "batch-to-s3 - how long Lambda gathers records before invoking (the tutorial's Firehose buffered 60 s)."
  type        = number
  default     = 60

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_retry_attempts" {
  description = "batch-to-s3 - retries of a failing batch before its records go to the on-failure queue (-1: until the record expires)."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_retry_attempts >= -1 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be between -1 and 10000."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "batch-to-s3 - records older than this go to the on-failure queue instead of being retried (-1: no limit)."
  type        = number
  default     = 86400

  validation {
    condition     = var.maximum_record_age_in_seconds == -1 || (var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800)
    error_message = "maximum_record_age_in_seconds must be -1 or between 60 and 604800."
  }
}

variable "compression" {
  description = "batch-to-s3 - object compression."
  type        = string
  default     = "gzip"

  validation {
    condition     = contains(["gzip", "zstd", "none"], var.compression)
    error_message = "compression must be gzip, zstd or none."
  }
}

variable "key_layout" {
  description = "batch-to-s3 - YYYY/MM/DD/HH/ (Firehose's layout) or year=/month=/day=/hour=/."
  type        = string
  default     = "firehose"

  validation {
    condition     = contains(["firehose", "hive"], var.key_layout)
    error_message = "key_layout must be firehose or hive."
  }
}

variable "object_partition_pointer" {
  description = "batch-to-s3 - JSON pointer to partition objects by (dynamic partitioning without Firehose's fee). Empty turns it off."
  type        = string
  default     = ""
}

variable "format" {
  description = "batch-to-s3 - objects of NDJSON lines (compressed by compression) or typed Parquet files (needs schema)."
  type        = string
  default     = "ndjson"

  validation {
    condition     = contains(["ndjson", "parquet"], var.format)
    error_message = "format must be ndjson or parquet."
  }
}

variable "schema" {
  description = "batch-to-s3 - the columns, as in an Athena CREATE TABLE, e.g. \"ts timestamp, user string, latency_ms bigint, tags array<string>\". Required with format parquet or a Glue table."
  type        = string
  default     = ""
}

variable "parquet_compression" {
  description = "batch-to-s3 - the Parquet codec."
  type        = string
  default     = "zstd"

  validation {
    condition     = contains(["zstd", "snappy", "gzip", "none"], var.parquet_compression)
    error_message = "parquet_compression must be zstd, snappy, gzip or none."
  }
}

variable "non_json_records" {
  description = "batch-to-s3 NDJSON - a record that is not a JSON object is written as one - other JSON as {\"value\":...}, text as {\"message\":...}, other bytes as {\"data_base64\":...} (wrap, counted in RecordsWrappedAs*), or text and bytes go to the error prefix (error). Every line of an object is then a JSON object any reader reads."
  type        = string
  default     = "wrap"

  validation {
    condition     = contains(["wrap", "error"], var.non_json_records)
    error_message = "non_json_records must be wrap or error."
  }
}

variable "extra_column" {
  description = "batch-to-s3 - Parquet's string column for the fields schema does not have (compact JSON). Empty drops them (counted in FieldsDropped)."
  type        = string
  default     = "_extra"

  validation {
    condition     = can(regex("^[a-z0-9_]*$", var.extra_column))
    error_message = "extra_column may hold only a-z, 0-9 and _."
  }
}

variable "glue_database_name" {
  description = "The Glue database the module creates for the table batch-to-s3 keeps matching its objects (Athena partition projection, no crawler). Empty for no table."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9_]*$", var.glue_database_name))
    error_message = "glue_database_name may hold only a-z, 0-9 and _."
  }
}

variable "glue_table_name" {
  description = "The Glue table batch-to-s3 creates in glue_database_name (and adds schema's new columns to). Set with glue_database_name."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9_]*$", var.glue_table_name))
    error_message = "glue_table_name may hold only a-z, 0-9 and _."
  }
}

variable "batch_to_s3_reserved_concurrency" {
  description = "Reserved concurrent executions of batch-to-s3. 0: no reservation."
  type        = number
  default     = 0

  validation {
    condition     = var.batch_to_s3_reserved_concurrency >= 0 && floor(var.batch_to_s3_reserved_concurrency) == var.batch_to_s3_reserved_concurrency
    error_message = "batch_to_s3_reserved_concurrency must be a whole number >= 0 (0: no reservation)."
  }
}

# ------------------------------------------------------------------ the Firehose path

variable "enable_firehose" {
  description = "Deploy the Firehose path (delivery stream + firehose-transform) beside batch-to-s3."
  type        = bool
  default     = true
}

variable "firehose_buffer_interval_seconds" {
  description = "Firehose buffering interval (60 s, as in the original tutorial)."
  type        = number
  default     = 60

  validation {
    condition     = var.firehose_buffer_interval_seconds >= 0 && var.firehose_buffer_interval_seconds <= 900
    error_message = "firehose_buffer_interval_seconds must be between 0 and 900."
  }
}

variable "firehose_buffer_size_mib" {
  description = "Firehose buffering size (64 MiB is the minimum when dynamic partitioning is on)."
  type        = number
  default     = 64

  validation {
    condition     = var.firehose_buffer_size_mib >= 1 && var.firehose_buffer_size_mib <= 128
    error_message = "firehose_buffer_size_mib must be between 1 and 128."
  }
}

variable "firehose_partition_pointers" {
  description = "firehose-transform PARTITION_POINTERS, e.g. \"type=/type\". Non-empty turns on Firehose dynamic partitioning with firehose_dynamic_prefix (and then needs firehose_buffer_size_mib >= 64 and firehose_buffer_interval_seconds > 0)."
  type        = string
  default     = ""
}

variable "firehose_enrich" {
  description = "firehose-transform ENRICH - add each record's arrival time, partition key and sequence number to JSON objects."
  type        = bool
  default     = false
}

variable "firehose_drop_filter_pointer" {
  description = "firehose-transform DROP_FILTER_POINTER - drop records whose value here equals firehose_drop_filter_value (both or neither)."
  type        = string
  default     = ""
}

variable "firehose_drop_filter_value" {
  description = "firehose-transform DROP_FILTER_VALUE."
  type        = string
  default     = ""
}

variable "firehose_dynamic_prefix" {
  description = "S3 prefix used when firehose_partition_pointers is set; must start with firehose/ and name every key as !{partitionKeyFromLambda:NAME}."
  type        = string
  default     = "firehose/type=!{partitionKeyFromLambda:type}/"

  validation {
    condition     = startswith(var.firehose_dynamic_prefix, "firehose/")
    error_message = "firehose_dynamic_prefix must start with \"firehose/\" (the Firehose role may write only there)."
  }
}

variable "firehose_transform_reserved_concurrency" {
  description = "Reserved concurrent executions of firehose-transform. 0: no reservation."
  type        = number
  default     = 0

  validation {
    condition     = var.firehose_transform_reserved_concurrency >= 0 && floor(var.firehose_transform_reserved_concurrency) == var.firehose_transform_reserved_concurrency
    error_message = "firehose_transform_reserved_concurrency must be a whole number >= 0 (0: no reservation)."
  }
}

# ------------------------------------------------------------------ batch-to-iceberg (enable_iceberg)

variable "enable_iceberg" {
  description = "Deploy batch-to-iceberg, a third reader of the stream appending every record exactly once to an Apache Iceberg table in the Glue Data Catalog (the table's first metadata is written on the first batch, from schema)."
  type        = bool
  default     = false
}

variable "iceberg_catalog" {
  description = "batch-to-iceberg - where the table's current metadata location is kept: glue, the Glue Data Catalog (the database iceberg_database_name, the files under iceberg_warehouse_prefix in the module's bucket, maintenance by Glue's optimizers, iceberg_optimizers). template.yaml's other catalog, s3tables (Amazon S3 Tables), is not in this module: deploy it with SAM."
  type        = string
  default     = "glue"

  validation {
    condition     = var.iceberg_catalog == "glue"
    error_message = "iceberg_catalog must be glue: this module deploys batch-to-iceberg with the Glue Data Catalog only; IcebergCatalog s3tables (Amazon S3 Tables) is template.yaml's (sam deploy)."
  }
}

variable "iceberg_database_name" {
  description = "batch-to-iceberg - the Glue database the module creates for the Iceberg table (kept by `terraform destroy` and by turning enable_iceberg off: prevent_destroy, see README.md). Not glue_database_name."
  type        = string
  default     = "trickle_iceberg"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.iceberg_database_name))
    error_message = "iceberg_database_name must be 1 to 255 lower-case letters, digits and underscores (Glue and Athena names)."
  }
}

variable "iceberg_table_name" {
  description = "batch-to-iceberg - the Iceberg table in iceberg_database_name; created on the first batch when missing, written into as it is when it exists."
  type        = string
  default     = "events"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.iceberg_table_name))
    error_message = "iceberg_table_name must be 1 to 255 lower-case letters, digits and underscores (Glue and Athena names)."
  }
}

variable "iceberg_warehouse_prefix" {
  description = "batch-to-iceberg - the warehouse in the module's bucket, s3://BUCKET/PREFIX; a new table goes to PREFIX/DATABASE.db/TABLE/. batch-to-iceberg may read and write only under it."
  type        = string
  default     = "iceberg"

  # template.yaml's AllowedPattern starts with a negative lookahead, which Terraform's regex
  # (RE2) does not have: the same test as the pattern's rest plus a look at the first segment.
  validation {
    condition = (
      can(regex("^[A-Za-z0-9][A-Za-z0-9_.=-]*(/[A-Za-z0-9][A-Za-z0-9_.=-]*)*$", var.iceberg_warehouse_prefix))
      && !contains(["data", "errors", "state", "firehose", "firehose-errors", "iceberg-errors", "iceberg-state"], split("/", var.iceberg_warehouse_prefix)[0])
    )
    error_message = "iceberg_warehouse_prefix must be an S3 key prefix without a leading or trailing slash, outside the prefixes of the other paths (data, errors, state, firehose, firehose-errors, iceberg-errors, iceberg-state)."
  }
}

variable "iceberg_partition_spec" {
  description = "batch-to-iceberg - the partition spec of a table it creates, e.g. \"hour(ts)\", \"day(ts), identity(customer)\", \"bucket(16, user)\". Empty for an unpartitioned table. An existing table keeps its own."
  type        = string
  default     = ""

  # template.yaml's AllowedPattern, as is (what functions/batch-to-iceberg/src/partition.rs
  # parses), so a typo fails the plan, not the function's cold start.
  validation {
    condition     = can(regex("^\\s*((`*[A-Za-z0-9_]+`*|(?i:identity|years?|months?|days?|hours?)\\s*\\(\\s*`*[A-Za-z0-9_]+`*\\s*\\)|(?i:bucket|truncate)\\s*\\(\\s*[0-9]+\\s*,\\s*`*[A-Za-z0-9_]+`*\\s*\\))\\s*(,\\s*(`*[A-Za-z0-9_]+`*|(?i:identity|years?|months?|days?|hours?)\\s*\\(\\s*`*[A-Za-z0-9_]+`*\\s*\\)|(?i:bucket|truncate)\\s*\\(\\s*[0-9]+\\s*,\\s*`*[A-Za-z0-9_]+`*\\s*\\))\\s*)*)?$", var.iceberg_partition_spec))
    error_message = "iceberg_partition_spec must be Iceberg partition transforms of top-level columns, separated by commas - identity, year, month, day, hour (of a date or timestamp column), bucket(N, column), truncate(W, column), or a bare column (identity); e.g. \"hour(ts)\", \"day(ts), identity(customer)\", \"bucket(16, user)\"; or empty."
  }
}

variable "iceberg_route_pointer" {
  description = "batch-to-iceberg - a JSON pointer whose value in each record names its table in iceberg_routes, e.g. /signal for the rows ingest makes of OTLP logs, spans and metric points. Empty - every record goes to iceberg_table_name."
  type        = string
  default     = ""

  validation {
    condition     = var.iceberg_route_pointer == "" || startswith(var.iceberg_route_pointer, "/")
    error_message = "iceberg_route_pointer must be a JSON pointer (beginning with /), or empty."
  }
}

variable "iceberg_routes" {
  description = "batch-to-iceberg - with iceberg_route_pointer, the table of each value, separated by \";\" - \"VALUE: TABLE [schema SCHEMA] [partition SPEC]\", e.g. \"logs: otel_logs schema otel_logs partition day(timestamp); traces: otel_traces schema otel_traces partition day(timestamp)\". The role may create and commit to exactly these tables (read out of this value). Records whose value names no table go to iceberg-errors/; iceberg_table_name is then not used."
  type        = string
  default     = ""

  validation {
    condition = alltrue([
      for r in split(";", var.iceberg_routes) :
      trimspace(r) == "" || can(regex("^\\s*[^:]+:\\s*[a-z0-9_]{1,255}(\\s|$)", r))
    ])
    error_message = "iceberg_routes must be routes \"VALUE: TABLE [schema SCHEMA] [partition SPEC]\" separated by \";\", each TABLE lower-case letters, digits and underscores."
  }
}

variable "iceberg_routed_tables" {
  description = "batch-to-iceberg - with iceberg_routes, the tables it names, e.g. [\"otel_logs\", \"otel_traces\", \"otel_metrics\"]: the role may create and commit to exactly these. The plan fails unless they are exactly iceberg_routes' tables."
  type        = list(string)
  default     = []
}

variable "iceberg_enhanced_fan_out" {
  description = "batch-to-iceberg reads through its own enhanced fan-out consumer (2 MB/s per shard of its own, pushed; billed per consumer-shard hour and per GB) instead of sharing each shard's 5 GetRecords/s and 2 MB/s with batch-to-s3 and Firehose. Changing it replaces the event source mapping, which starts again at TRIM_HORIZON."
  type        = bool
  default     = false
}

variable "iceberg_optimizers" {
  description = "Glue's table optimizers for the Iceberg table (compaction, snapshot retention, orphan file deletion). The table must exist - apply again with true once batch-to-iceberg's first batch has created it; with true before that the apply fails (Glue: the table is not found)."
  type        = bool
  default     = false
}

variable "iceberg_snapshot_retention_days" {
  description = "batch-to-iceberg - days a snapshot is kept by Glue's retention optimizer (iceberg_optimizers). batch-to-iceberg finds each shard's checkpoint in the table's snapshot history, so this must cover every redelivery - at least 7 days (the longest maximum_record_age_in_seconds) and at least stream_retention_hours / 24 (a new event source mapping starts at TRIM_HORIZON)."
  type        = number
  default     = 7

  validation {
    condition     = contains([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 60, 90, 180, 365], var.iceberg_snapshot_retention_days)
    error_message = "iceberg_snapshot_retention_days must be 7 to 30, 60, 90, 180 or 365 (template.yaml's IcebergSnapshotRetentionDays)."
  }
}

variable "iceberg_orphan_file_retention_days" {
  description = "batch-to-iceberg - files under the table's location that no snapshot references (those of commits that failed) are deleted after this many days (iceberg_optimizers; 3 is Glue's default). A commit writes its files within its invocation (timeout 120 s), just before it commits them, and a retry writes its own."
  type        = number
  default     = 3

  validation {
    condition     = var.iceberg_orphan_file_retention_days >= 1 && floor(var.iceberg_orphan_file_retention_days) == var.iceberg_orphan_file_retention_days
    error_message = "iceberg_orphan_file_retention_days must be a whole number >= 1."
  }
}

variable "iceberg_reserved_concurrency" {
  description = "Reserved concurrent executions of batch-to-iceberg (it needs one per shard at most). 0: no reservation."
  type        = number
  default     = 0

  validation {
    condition     = var.iceberg_reserved_concurrency >= 0 && floor(var.iceberg_reserved_concurrency) == var.iceberg_reserved_concurrency
    error_message = "iceberg_reserved_concurrency must be a whole number >= 0 (0: no reservation)."
  }
}

# ------------------------------------------------------------------ logs and alarms

variable "log_retention_days" {
  description = "Retention of every log group the module creates."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "alarm_iterator_age_ms" {
  description = "Alarm when batch-to-s3 (or batch-to-iceberg) falls this far behind the stream (milliseconds)."
  type        = number
  default     = 600000

  validation {
    condition     = var.alarm_iterator_age_ms >= 1
    error_message = "alarm_iterator_age_ms must be at least 1."
  }
}

variable "alarm_email" {
  description = "Every alarm notifies the module's SNS topic (output alarm_topic_arn); set an address to subscribe it (confirm the email AWS sends). Empty subscribes nobody."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([^@\\s]+@[^@\\s]+)?$", var.alarm_email))
    error_message = "alarm_email must be empty or an email address."
  }
}

# ---------------------------------------------------------------- renamed variables
# Each old name stays declared so that a configuration still setting it fails at plan time
# naming the new one, instead of being ignored. CHANGELOG.md has the table old -> new.
variable "partition_key_pointer" {
  description = "Renamed: set stream_partition_key_pointer."
  type        = string
  default     = null

  validation {
    condition     = var.partition_key_pointer == null
    error_message = "partition_key_pointer was renamed: set stream_partition_key_pointer instead."
  }
}

variable "partition_pointer" {
  description = "Renamed: set object_partition_pointer."
  type        = string
  default     = null

  validation {
    condition     = var.partition_pointer == null
    error_message = "partition_pointer was renamed: set object_partition_pointer instead."
  }
}

variable "firehose_partition_keys" {
  description = "Renamed: set firehose_partition_pointers."
  type        = string
  default     = null

  validation {
    condition     = var.firehose_partition_keys == null
    error_message = "firehose_partition_keys was renamed: set firehose_partition_pointers instead."
  }
}

variable "iceberg_partition" {
  description = "Renamed: set iceberg_partition_spec."
  type        = string
  default     = null

  validation {
    condition     = var.iceberg_partition == null
    error_message = "iceberg_partition was renamed: set iceberg_partition_spec instead."
  }
}
