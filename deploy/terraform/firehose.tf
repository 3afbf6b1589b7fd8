# ---------------------------------------------------------------- the Firehose path (enable_firehose)
# FirehoseTransformLogGroup, FirehoseTransformRole, FirehoseTransformFunction,
# FirehoseLogGroup, FirehoseLogStream, FirehoseRole, DeliveryStream.

resource "aws_cloudwatch_log_group" "firehose_transform" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs by default; no payload is ever logged.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days (30 by default, as template.yaml's LogRetentionDays); the functions log only counts, sizes, statuses and error kinds.
  count = local.firehose_enabled ? 1 : 0

  name              = "/aws/lambda/${local.name}-firehose-transform"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "firehose_transform" {
  count = local.firehose_enabled ? 1 : 0

  name               = "${local.name}-firehose-transform"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "firehose_transform" {
  count = local.firehose_enabled ? 1 : 0

  name = "reingest-and-log"
  role = aws_iam_role.firehose_transform[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReingestRecordsThatDoNotFitTheResponse"
        Effect   = "Allow"
        Action   = "kinesis:PutRecords"
        Resource = aws_kinesis_stream.stream.arn
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.firehose_transform[0].arn}:*"
      },
    ]
  })
}

resource "aws_lambda_function" "firehose_transform" {
  #checkov:skip=CKV_AWS_117:Talks only to Kinesis (re-ingestion) through its public endpoint; no VPC needed.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Firehose, which retries and writes failed records to the error prefix; a DLQ applies only to asynchronous invocations.
  #checkov:skip=CKV_AWS_173:Environment variables hold only names and settings, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile and signed artifacts; the zip is built from this repository by cargo lambda and uploaded by the deployer, as with template.yaml.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off, as in template.yaml; the functions emit their own metrics (EMF).
  count = local.firehose_enabled ? 1 : 0

  function_name    = "${local.name}-firehose-transform"
  role             = aws_iam_role.firehose_transform[0].arn
  filename         = local.zips.firehose_transform
  source_code_hash = filebase64sha256(local.zips.firehose_transform)
  runtime          = local.lambda_runtime
  architectures    = local.lambda_architectures
  handler          = local.lambda_handler
  memory_size      = 256
  timeout          = 60

  reserved_concurrent_executions = var.firehose_transform_reserved_concurrency > 0 ? var.firehose_transform_reserved_concurrency : -1

  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.firehose_transform[0].name
  }

  environment {
    variables = {
      PARTITION_POINTERS     = var.firehose_partition_pointers
      REINGEST_ENABLED       = "true"
      ENRICH                 = tostring(var.firehose_enrich)
      DROP_FILTER_POINTER    = var.firehose_drop_filter_pointer
      DROP_FILTER_VALUE      = var.firehose_drop_filter_value
      MAX_DECOMPRESSED_BYTES = "8388608"
    }
  }

  depends_on = [aws_iam_role_policy.firehose_transform]
}

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_158:Firehose error logs carry no payloads; default CloudWatch Logs encryption applies.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days (30 by default, as template.yaml's LogRetentionDays); Firehose's error logs carry no payloads.
  count = local.firehose_enabled ? 1 : 0

  name              = "/aws/kinesisfirehose/${local.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_stream" "firehose" {
  count = local.firehose_enabled ? 1 : 0

  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose[0].name
}

resource "aws_iam_role" "firehose" {
  count = local.firehose_enabled ? 1 : 0

  name = "${local.name}-firehose"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "firehose" {
  count = local.firehose_enabled ? 1 : 0

  name = "read-stream-transform-deliver"
  role = aws_iam_role.firehose[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ReadTheStream"
        Effect = "Allow"
        Action = [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetShardIterator",
          "kinesis:GetRecords",
          "kinesis:ListShards",
        ]
        Resource = aws_kinesis_stream.stream.arn
      },
      {
        Sid    = "DeliverToOwnPrefixes"
        Effect = "Allow"
        Action = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
        Resource = [
          "${aws_s3_bucket.bucket.arn}/firehose/*",
          "${aws_s3_bucket.bucket.arn}/firehose-errors/*",
        ]
      },
      {
        Sid      = "BucketLevel"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = aws_s3_bucket.bucket.arn
      },
      {
        Sid    = "InvokeOnlyTheTransform"
        Effect = "Allow"
        Action = ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"]
        # The unqualified ARN and any version or alias of it ($LATEST included).
        Resource = [
          aws_lambda_function.firehose_transform[0].arn,
          "${aws_lambda_function.firehose_transform[0].arn}:*",
        ]
      },
      {
        Sid      = "ErrorLogging"
        Effect   = "Allow"
        Action   = "logs:PutLogEvents"
        Resource = "${aws_cloudwatch_log_group.firehose[0].arn}:*"
      },
    ]
  })
}

resource "aws_kinesis_firehose_delivery_stream" "delivery" {
  count = local.firehose_enabled ? 1 : 0

  # Dynamic partitioning cannot be turned on or off for an existing delivery stream, so the
  # two kinds have different names: switching firehose_partition_pointers between empty and set
  # replaces the stream instead of failing the update.
  name        = local.has_firehose_partitioning ? "${local.name}-delivery-partitioned" : "${local.name}-delivery"
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.stream.arn
    role_arn           = aws_iam_role.firehose[0].arn
  }

  extended_s3_configuration {
    bucket_arn          = aws_s3_bucket.bucket.arn
    role_arn            = aws_iam_role.firehose[0].arn
    prefix              = local.has_firehose_partitioning ? var.firehose_dynamic_prefix : "firehose/"
    error_output_prefix = "firehose-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    compression_format  = "GZIP"
    buffering_interval  = var.firehose_buffer_interval_seconds
    buffering_size      = var.firehose_buffer_size_mib

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose[0].name
      log_stream_name = aws_cloudwatch_log_stream.firehose[0].name
    }

    dynamic "dynamic_partitioning_configuration" {
      for_each = local.has_firehose_partitioning ? [1] : []
      content {
        enabled = true
      }
    }

    processing_configuration {
      enabled = true

      processors {
        type = "Lambda"

        parameters {
          parameter_name  = "LambdaArn"
          parameter_value = aws_lambda_function.firehose_transform[0].arn
        }
        # template.yaml also sets BufferSizeInMBs "1" and BufferIntervalInSeconds "60":
        # Firehose's defaults for a Lambda processor, so the same buffering applies here.
        # The provider keeps no parameter that equals its default in the state (see the
        # provider's docs for processors.parameters), so writing them would show a change
        # on every plan.
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !local.has_firehose_partitioning || var.firehose_buffer_size_mib >= 64
      error_message = "Firehose dynamic partitioning (firehose_partition_pointers set) needs firehose_buffer_size_mib >= 64."
    }
    precondition {
      condition     = !local.has_firehose_partitioning || var.firehose_buffer_interval_seconds > 0
      error_message = "Firehose dynamic partitioning (firehose_partition_pointers set) needs firehose_buffer_interval_seconds > 0."
    }
    precondition {
      condition = alltrue([
        for k in local.firehose_partition_key_names :
        strcontains(var.firehose_dynamic_prefix, "!{partitionKeyFromLambda:${k}}")
      ])
      error_message = "firehose_dynamic_prefix must name every key of firehose_partition_pointers as !{partitionKeyFromLambda:NAME}."
    }
  }

  # Firehose checks at creation that its role may read the stream.
  depends_on = [aws_iam_role_policy.firehose]
}
