# ---------------------------------------------------------------- batch-to-s3 (BatchToS3LogGroup, BatchToS3FailureQueue, BatchToS3Role, BatchToS3Function and its Kinesis event)

resource "aws_cloudwatch_log_group" "batch_to_s3" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs by default; no payload is ever logged.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days (30 by default, as template.yaml's LogRetentionDays); the functions log only counts, sizes, statuses and error kinds.
  name              = "/aws/lambda/${local.name}-batch-to-s3"
  retention_in_days = var.log_retention_days
}

resource "aws_sqs_queue" "batch_to_s3_failures" {
  name                      = "${local.name}-batch-to-s3-failures"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_iam_role" "batch_to_s3" {
  name               = "${local.name}-batch-to-s3"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "batch_to_s3" {
  name = "read-stream-write-bucket"
  role = aws_iam_role.batch_to_s3.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ReadTheStream"
        Effect = "Allow"
        Action = [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
          "kinesis:SubscribeToShard",
        ]
        Resource = aws_kinesis_stream.stream.arn
      },
      {
        Sid = "WriteReadAndRollBackOwnPrefixes"
        # DeleteObject: after a failed PUT, objects holding records at or after the first
        # unstored one are removed, so a retry re-forms them exactly once.
        Effect = "Allow"
        Action = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
        Resource = [
          "${aws_s3_bucket.bucket.arn}/data/*",
          "${aws_s3_bucket.bucket.arn}/errors/*",
          "${aws_s3_bucket.bucket.arn}/state/*",
        ]
      },
      {
        # S3 answers a GET or HEAD of a missing key with 404 only to a caller that may list
        # the bucket (403 otherwise, and the s3:prefix of a condition is not in a GET's
        # context): a missing high-water mark, and an intent's object that was never
        # written, must read as missing, not as denied.
        Sid      = "MissingKeysAre404Not403"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = aws_s3_bucket.bucket.arn
      },
      {
        Sid      = "OnFailureDestination"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.batch_to_s3_failures.arn
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.batch_to_s3.arn}:*"
      },
    ]
  })
}

resource "aws_lambda_function" "batch_to_s3" {
  #checkov:skip=CKV_AWS_117:Talks only to S3 through its public endpoint; no VPC needed.
  #checkov:skip=CKV_AWS_116:Invoked by a Kinesis event source mapping, whose on-failure destination (an SQS queue) is configured below; a function DLQ applies only to asynchronous invocations.
  #checkov:skip=CKV_AWS_173:Environment variables hold only names and settings, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile and signed artifacts; the zip is built from this repository by cargo lambda and uploaded by the deployer, as with template.yaml.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off, as in template.yaml; the functions emit their own metrics (EMF).
  function_name    = "${local.name}-batch-to-s3"
  role             = aws_iam_role.batch_to_s3.arn
  filename         = local.zips.batch_to_s3
  source_code_hash = filebase64sha256(local.zips.batch_to_s3)
  runtime          = local.lambda_runtime
  architectures    = local.lambda_architectures
  handler          = local.lambda_handler
  memory_size      = 256
  timeout          = 120

  reserved_concurrent_executions = var.batch_to_s3_reserved_concurrency > 0 ? var.batch_to_s3_reserved_concurrency : -1

  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.batch_to_s3.name
  }

  environment {
    variables = {
      BUCKET_NAME              = aws_s3_bucket.bucket.id
      PREFIX                   = "data/"
      ERROR_PREFIX             = "errors/"
      STATE_PREFIX             = "state/"
      COMPRESSION              = var.compression
      KEY_LAYOUT               = var.key_layout
      OBJECT_PARTITION_POINTER = var.object_partition_pointer
      MAX_PARTITIONS           = "100"
      DEADLINE_MARGIN_MS       = "5000"
      FORMAT                   = var.format
      SCHEMA                   = var.schema
      PARQUET_COMPRESSION      = var.parquet_compression
      EXTRA_COLUMN             = var.extra_column
      NON_JSON_RECORDS         = var.non_json_records
      GLUE_DATABASE            = var.glue_database_name
      GLUE_TABLE               = var.glue_table_name
    }
  }

  lifecycle {
    # template.yaml's rules ParquetNeedsASchema and GlueTableNeedsItsNamesAndASchema.
    precondition {
      condition     = var.format != "parquet" || var.schema != ""
      error_message = "format parquet needs schema, the columns as in an Athena CREATE TABLE."
    }
    precondition {
      condition     = (var.glue_database_name == "") == (var.glue_table_name == "")
      error_message = "Set glue_database_name and glue_table_name together."
    }
    precondition {
      condition     = var.glue_database_name == "" || var.schema != ""
      error_message = "A Glue table takes its columns from schema."
    }
  }

  depends_on = [aws_iam_role_policy.batch_to_s3]
}

# Only that database and that table (GetTable, CreateTable, UpdateTable: batch-to-s3's
# catalog calls). A policy of its own, as template.yaml's BatchToS3GluePolicy.
resource "aws_iam_role_policy" "batch_to_s3_glue" {
  count = local.has_glue_table ? 1 : 0

  name = "keep-its-glue-table-matching"
  role = aws_iam_role.batch_to_s3.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "KeepItsGlueTableMatching"
      Effect = "Allow"
      Action = ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
      Resource = [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.glue_database_name}",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.glue_database_name}/${var.glue_table_name}",
      ]
    }]
  })
}

# The database of the table batch-to-s3 keeps matching its objects (it creates the table on
# its first invocation, with Athena partition projection, and adds schema's new columns).
# `terraform destroy` deletes the database, and Glue the table in it with it.
resource "aws_glue_catalog_database" "glue" {
  count = local.has_glue_table ? 1 : 0

  catalog_id  = local.account_id
  name        = var.glue_database_name
  description = "trickle (${local.name}): tables kept by batch-to-s3"
}

resource "aws_lambda_event_source_mapping" "batch_to_s3" {
  event_source_arn  = aws_kinesis_stream.stream.arn
  function_name     = aws_lambda_function.batch_to_s3.arn
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  # The function answers batchItemFailures (the first record not durably stored).
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.maximum_retry_attempts
  maximum_record_age_in_seconds  = var.maximum_record_age_in_seconds
  # Exactly-once relies on one invocation per shard at a time (the high-water mark).
  parallelization_factor = 1

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.batch_to_s3_failures.arn
    }
  }

  # Lambda checks at creation that the role may read the stream and send to the queue; the
  # first batch may create the Glue table.
  depends_on = [aws_iam_role_policy.batch_to_s3, aws_iam_role_policy.batch_to_s3_glue, aws_glue_catalog_database.glue]
}
