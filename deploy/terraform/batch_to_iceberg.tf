# ---------------------------------------------------------------- batch-to-iceberg (enable_iceberg)
# IcebergLogGroup, IcebergFailureQueue, IcebergStreamConsumer, IcebergRole, IcebergFunction and
# its Kinesis event, IcebergGlueDatabase; Iceberg maintenance: IcebergOptimizerRole,
# IcebergCompaction, IcebergSnapshotRetention, IcebergOrphanFileDeletion.
#
# A third reader of the stream: every record appended exactly once to an Iceberg table in the
# Glue Data Catalog, one commit per invocation per shard, the shard's checkpoint kept in the
# snapshot summaries of the table's history. Only template.yaml's Glue catalog: its S3 Tables
# catalog (IcebergCatalog s3tables: IcebergTableBucket, IcebergNamespace, IcebergS3Table) is
# not in this module (variables.tf, iceberg_catalog).

resource "aws_cloudwatch_log_group" "batch_to_iceberg" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs by default; no payload is ever logged.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days (30 by default, as template.yaml's LogRetentionDays); the functions log only counts, sizes, statuses and error kinds.
  count = local.iceberg_enabled ? 1 : 0

  name              = "/aws/lambda/${local.name}-batch-to-iceberg"
  retention_in_days = var.log_retention_days
}

# Its own on-failure queue, not batch-to-s3's: a message names the shard and the sequence range
# a function gave up on, and whoever replays it must replay into that function's sink; each
# function's alarm then says which one gave up, and each role may send only to its own.
resource "aws_sqs_queue" "batch_to_iceberg_failures" {
  count = local.iceberg_enabled ? 1 : 0

  name                      = "${local.name}-batch-to-iceberg-failures"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

# With iceberg_enhanced_fan_out: a consumer of its own, 2 MB/s per shard pushed over HTTP/2
# (SubscribeToShard), not counted against the shard's shared 5 GetRecords/s and 2 MB/s.
resource "aws_kinesis_stream_consumer" "batch_to_iceberg" {
  count = local.iceberg_uses_efo ? 1 : 0

  name       = "${local.name}-batch-to-iceberg"
  stream_arn = aws_kinesis_stream.stream.arn
}

resource "aws_iam_role" "batch_to_iceberg" {
  count = local.iceberg_enabled ? 1 : 0

  name               = "${local.name}-batch-to-iceberg"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "batch_to_iceberg" {
  count = local.iceberg_enabled ? 1 : 0

  name = "read-stream-append-to-iceberg"
  role = aws_iam_role.batch_to_iceberg[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        # What AWSLambdaKinesisExecutionRole grants the event source mapping, on this stream
        # only (with enhanced fan-out Lambda still lists the shards here).
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
      }],
      [for consumer in aws_kinesis_stream_consumer.batch_to_iceberg : {
        Sid      = "ReadThroughItsConsumer"
        Effect   = "Allow"
        Action   = ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"]
        Resource = consumer.arn
      }],
      [
        {
          # Data and metadata files, and the metadata the commit points the table at. It never
          # deletes: expired snapshots and orphans are Glue's optimizers' (below).
          Sid      = "ReadAndWriteTheWarehouse"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject"]
          Resource = "${aws_s3_bucket.bucket.arn}/${var.iceberg_warehouse_prefix}/*"
        },
        {
          # Records that do not fit the table, in the module's bucket.
          Sid      = "WriteBadRecords"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "${aws_s3_bucket.bucket.arn}/iceberg-errors/*"
        },
        {
          # The identity windows of keyed requests' records: two slots per table and shard,
          # read and written again (docs/reference/idempotency.md).
          Sid      = "KeepIdentityWindows"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject"]
          Resource = "${aws_s3_bucket.bucket.arn}/iceberg-state/*"
        },
        {
          # S3 answers a GET or HEAD of a missing key with 404 only to a caller that may list
          # the bucket (403 otherwise). The function lists nothing, and no prefix can narrow
          # this: the s3:prefix of a condition is not in a GET's or HEAD's context.
          Sid      = "MissingKeysAre404Not403"
          Effect   = "Allow"
          Action   = "s3:ListBucket"
          Resource = aws_s3_bucket.bucket.arn
        },
        {
          # GetTable, CreateTable (the first batch, when the table is missing), UpdateTable
          # (each commit, on the VersionId read): that database and that table only (each
          # routed table when routed), and the catalog, which IAM requires for Glue's table
          # actions.
          Sid    = "CommitToItsTable"
          Effect = "Allow"
          Action = ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
          Resource = concat([
            "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
            "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.iceberg_database_name}",
            ], [
            for t in local.iceberg_tables :
            "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.iceberg_database_name}/${t}"
          ])
        },
        {
          Sid      = "OnFailureDestination"
          Effect   = "Allow"
          Action   = "sqs:SendMessage"
          Resource = aws_sqs_queue.batch_to_iceberg_failures[0].arn
        },
        {
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${aws_cloudwatch_log_group.batch_to_iceberg[0].arn}:*"
        },
      ],
    )
  })
}

resource "aws_lambda_function" "batch_to_iceberg" {
  #checkov:skip=CKV_AWS_117:Talks only to S3 and Glue through their public endpoints; no VPC needed.
  #checkov:skip=CKV_AWS_116:Invoked by a Kinesis event source mapping, whose on-failure destination (an SQS queue) is configured below; a function DLQ applies only to asynchronous invocations.
  #checkov:skip=CKV_AWS_173:Environment variables hold only names and settings, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile and signed artifacts; the zip is built from this repository by cargo lambda and uploaded by the deployer, as with template.yaml.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off, as in template.yaml; the functions emit their own metrics (EMF).
  count = local.iceberg_enabled ? 1 : 0

  function_name    = "${local.name}-batch-to-iceberg"
  role             = aws_iam_role.batch_to_iceberg[0].arn
  filename         = local.zips.batch_to_iceberg
  source_code_hash = filebase64sha256(local.zips.batch_to_iceberg)
  runtime          = local.lambda_runtime
  architectures    = local.lambda_architectures
  handler          = local.lambda_handler
  memory_size      = 512
  timeout          = 120

  reserved_concurrent_executions = var.iceberg_reserved_concurrency > 0 ? var.iceberg_reserved_concurrency : -1

  # The log level and format come from logging_config (AWS_LAMBDA_LOG_LEVEL and
  # AWS_LAMBDA_LOG_FORMAT, set by Lambda), as for the other functions; no RUST_LOG.
  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.batch_to_iceberg[0].name
  }

  environment {
    # The one table, or the routed ones (iceberg_route_pointer): the function reads exactly
    # one of the two.
    variables = merge({
      ICEBERG_CATALOG        = var.iceberg_catalog
      ICEBERG_DATABASE       = var.iceberg_database_name
      ICEBERG_WAREHOUSE      = "s3://${aws_s3_bucket.bucket.id}/${var.iceberg_warehouse_prefix}"
      ICEBERG_PARTITION_SPEC = var.iceberg_partition_spec
      SCHEMA                 = var.schema
      EXTRA_COLUMN           = var.extra_column
      ERROR_BUCKET           = aws_s3_bucket.bucket.id
      ERROR_PREFIX           = "iceberg-errors/"
      STATE_PREFIX           = "iceberg-state/"
      }, local.iceberg_is_routed ? {
      ICEBERG_ROUTE_POINTER = var.iceberg_route_pointer
      ICEBERG_ROUTES        = var.iceberg_routes
      } : {
      ICEBERG_TABLE = var.iceberg_table_name
    })
  }

  depends_on = [aws_iam_role_policy.batch_to_iceberg]
}

resource "aws_lambda_event_source_mapping" "batch_to_iceberg" {
  count = local.iceberg_enabled ? 1 : 0

  # The consumer's ARN with enhanced fan-out, else the stream's (shared throughput).
  event_source_arn  = local.iceberg_uses_efo ? one(aws_kinesis_stream_consumer.batch_to_iceberg[*].arn) : aws_kinesis_stream.stream.arn
  function_name     = aws_lambda_function.batch_to_iceberg[0].arn
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  # The function answers batchItemFailures (the first record not committed).
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.maximum_retry_attempts
  maximum_record_age_in_seconds  = var.maximum_record_age_in_seconds
  # One commit per shard at a time: the checkpoint is the shard's last snapshot.
  parallelization_factor = 1

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.batch_to_iceberg_failures[0].arn
    }
  }

  # Lambda checks at creation that the role may read the stream (or the consumer) and send
  # to the queue; the first batch creates the table in the database.
  depends_on = [aws_iam_role_policy.batch_to_iceberg, aws_glue_catalog_database.iceberg]
}

# The Iceberg table's database; batch-to-iceberg creates the table in it on its first batch.
# template.yaml retains it (DeletionPolicy and UpdateReplacePolicy Retain): deleting a Glue
# database deletes its tables, and the table's catalog entry is the only pointer to its current
# snapshot (the files stay in the bucket). Here prevent_destroy: a plan that would delete it
# (`terraform destroy`, enable_iceberg false, a new iceberg_database_name) fails instead. To
# keep it and go on, `terraform state rm 'aws_glue_catalog_database.iceberg[0]'` first (what
# Retain does); to use it again later, `terraform import` it (README.md).
resource "aws_glue_catalog_database" "iceberg" {
  count = local.iceberg_on_glue ? 1 : 0

  catalog_id  = local.account_id
  name        = var.iceberg_database_name
  description = "trickle (${local.name}): the Iceberg table batch-to-iceberg appends to"

  lifecycle {
    prevent_destroy = true

    # template.yaml's rule IcebergHasADatabaseOfItsOwn.
    precondition {
      condition     = !local.has_glue_table || var.iceberg_database_name != var.glue_database_name
      error_message = "iceberg_database_name must differ from glue_database_name (the module creates each database; one name cannot be created twice)."
    }
    # template.yaml's rules IcebergRoutesComeTogether and IcebergRoutesNeedTheirPointer
    # (the module can read the tables out of iceberg_routes: it checks the list is theirs).
    precondition {
      condition     = (var.iceberg_route_pointer == "") == (trimspace(var.iceberg_routes) == "")
      error_message = "iceberg_route_pointer routes records to the tables iceberg_routes names: set both, or neither."
    }
    precondition {
      condition     = sort(var.iceberg_routed_tables) == sort(local.iceberg_routed_tables)
      error_message = "iceberg_routed_tables must name exactly the tables iceberg_routes names (the role may create and commit to exactly these)."
    }
    precondition {
      condition     = !(local.iceberg_is_routed && var.iceberg_optimizers)
      error_message = "iceberg_optimizers act on iceberg_table_name; with iceberg_routes set each routed table's optimizers in Glue."
    }
  }
}

# ---------------------------------------------------------------- Iceberg maintenance
# One commit per invocation per shard makes many small files and snapshots. Glue's table
# optimizers compact the files, expire old snapshots and delete orphans, with this role. An
# optimizer on a table that does not exist fails its creation, and the table appears only with
# the first batch: iceberg_optimizers is turned on by a second apply.
resource "aws_iam_role" "iceberg_optimizer" {
  count = local.iceberg_has_optimizers ? 1 : 0

  name = "${local.name}-iceberg-optimizer"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "glue.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Glue's documented policy for table optimizers (Table optimization prerequisites), narrowed
# to the warehouse, that database and that table.
resource "aws_iam_role_policy" "iceberg_optimizer" {
  count = local.iceberg_has_optimizers ? 1 : 0

  name = "optimize-the-iceberg-table"
  role = aws_iam_role.iceberg_optimizer[0].id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Compaction writes new data files; retention (clean_expired_files) and orphan file
        # deletion remove files.
        Sid      = "RewriteTheWarehouse"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "${aws_s3_bucket.bucket.arn}/${var.iceberg_warehouse_prefix}/*"
      },
      {
        # Orphan file deletion lists the table's location.
        Sid      = "ListTheTableLocation"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = aws_s3_bucket.bucket.arn
      },
      {
        Sid    = "CommitToTheTable"
        Effect = "Allow"
        Action = ["glue:GetTable", "glue:UpdateTable"]
        Resource = [
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.iceberg_database_name}",
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.iceberg_database_name}/${var.iceberg_table_name}",
        ]
      },
      {
        # The optimizers' own log groups (Glue names them, per account and region).
        Sid    = "OptimizerLogs"
        Effect = "Allow"
        Action = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = [
          "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/iceberg-compaction/logs:*",
          "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/iceberg-retention/logs:*",
          "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/iceberg-orphan-file-deletion/logs:*",
        ]
      },
    ]
  })
}

# template.yaml sets CompactionConfiguration.IcebergConfiguration.Strategy binpack: Glue's
# default strategy, and the provider this module pins (5.100) has no compaction configuration
# block, so the same strategy applies without it (the test compares the template's value with
# that default).
resource "aws_glue_catalog_table_optimizer" "iceberg_compaction" {
  count = local.iceberg_has_optimizers ? 1 : 0

  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.iceberg[0].name
  table_name    = var.iceberg_table_name
  type          = "compaction"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.iceberg_optimizer[0].arn
  }

  depends_on = [aws_iam_role_policy.iceberg_optimizer]
}

# Snapshots older than iceberg_snapshot_retention_days expire (keeping at least the newest),
# and the files only they referenced are deleted. batch-to-iceberg reads each shard's
# checkpoint from the snapshot history: the period must outlast any redelivery.
resource "aws_glue_catalog_table_optimizer" "iceberg_snapshot_retention" {
  count = local.iceberg_has_optimizers ? 1 : 0

  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.iceberg[0].name
  table_name    = var.iceberg_table_name
  type          = "retention"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.iceberg_optimizer[0].arn

    retention_configuration {
      iceberg_configuration {
        snapshot_retention_period_in_days = var.iceberg_snapshot_retention_days
        number_of_snapshots_to_retain     = 1
        clean_expired_files               = true
      }
    }
  }

  depends_on = [aws_iam_role_policy.iceberg_optimizer]
}

resource "aws_glue_catalog_table_optimizer" "iceberg_orphan_file_deletion" {
  count = local.iceberg_has_optimizers ? 1 : 0

  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.iceberg[0].name
  table_name    = var.iceberg_table_name
  type          = "orphan_file_deletion"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.iceberg_optimizer[0].arn

    orphan_file_deletion_configuration {
      iceberg_configuration {
        orphan_file_retention_period_in_days = var.iceberg_orphan_file_retention_days
      }
    }
  }

  depends_on = [aws_iam_role_policy.iceberg_optimizer]
}
