# ---------------------------------------------------------------- ingest (IngestLogGroup, IngestRole, IngestFunction and its URL)

resource "aws_cloudwatch_log_group" "ingest" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs by default; no payload is ever logged, so a customer-managed key adds cost without protecting data.
  #checkov:skip=CKV_AWS_338:Retention is log_retention_days (30 by default, as template.yaml's LogRetentionDays); the functions log only counts, sizes, statuses and error kinds, so a year's retention would keep nothing worth its cost.
  name              = "/aws/lambda/${local.name}-ingest"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "ingest" {
  name               = "${local.name}-ingest"
  assume_role_policy = local.lambda_assume_role_policy
}

resource "aws_iam_role_policy" "ingest" {
  name = "put-records-and-log"
  role = aws_iam_role.ingest.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["kinesis:PutRecord", "kinesis:PutRecords"]
        Resource = aws_kinesis_stream.stream.arn
      },
      {
        # The request memory (Idempotency-Key): read, create and update its items; never
        # delete (its TTL does).
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = aws_dynamodb_table.ingest_request_memory.arn
      },
      {
        Effect = "Allow"
        Action = ["logs:CreateLogStream", "logs:PutLogEvents"]
        # CloudFormation's LogGroup.Arn ends in ":*"; the provider's arn does not.
        Resource = "${aws_cloudwatch_log_group.ingest.arn}:*"
      },
    ]
  })
}

# ingest's request memory (Idempotency-Key, docs/reference/idempotency.md): one item per
# keyed request, forgotten a day after its last write (TTL on expires_at). On demand:
# nothing is billed until keyed requests come.
resource "aws_dynamodb_table" "ingest_request_memory" {
  #checkov:skip=CKV_AWS_28:Point-in-time recovery would restore a day of request ids; a lost item only makes a retry at least once, as without a key.
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS owned key; it holds digests of keys and bodies and the answers ingest gave, no record data.
  #checkov:skip=CKV2_AWS_16:On-demand capacity: there is nothing to auto scale.
  name         = "${local.name}-requests"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}

resource "aws_lambda_function" "ingest" {
  #checkov:skip=CKV_AWS_117:The function talks only to Kinesis through its public endpoint; a VPC would add NAT cost and cold-start time for nothing.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by its function URL; a DLQ applies only to asynchronous invocations. Failures are answered to the client.
  #checkov:skip=CKV_AWS_173:Environment variables hold only names and settings, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs a Signer profile and signed artifacts; the zip is built from this repository by cargo lambda and uploaded by the deployer, as with template.yaml.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is off, as in template.yaml; the functions emit their own metrics (EMF) and a trace per request would add cost on the hot path.
  function_name    = "${local.name}-ingest"
  role             = aws_iam_role.ingest.arn
  filename         = local.zips.ingest
  source_code_hash = filebase64sha256(local.zips.ingest)
  runtime          = local.lambda_runtime
  architectures    = local.lambda_architectures
  handler          = local.lambda_handler
  memory_size      = 128
  timeout          = 30

  reserved_concurrent_executions = var.ingest_reserved_concurrency > 0 ? var.ingest_reserved_concurrency : -1

  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.ingest.name
  }

  environment {
    variables = {
      STREAM_ARN                   = aws_kinesis_stream.stream.arn
      STREAM_PARTITION_KEY_POINTER = var.stream_partition_key_pointer
      RECORD_ID_POINTER            = var.record_id_pointer
      IDEMPOTENCY_TABLE            = aws_dynamodb_table.ingest_request_memory.name
      RETRY_BUDGET_MS              = "2000"
      AUTH_TOKEN_SHA256            = var.ingest_token_sha256
      BROWSER_KEY                  = var.ingest_browser_key
      AGGREGATE                    = tostring(var.ingest_aggregate)
    }
  }

  depends_on = [aws_iam_role_policy.ingest]
}

resource "aws_lambda_function_url" "ingest" {
  function_name      = aws_lambda_function.ingest.function_name
  authorization_type = var.ingest_auth_type

  dynamic "cors" {
    for_each = local.has_cors ? [1] : []
    content {
      allow_origins = compact(var.cors_allow_origins)
      allow_methods = ["POST"]
      allow_headers = ["content-type", "content-encoding", "x-partition-key", "x-explicit-hash-key", "authorization"]
      max_age       = 3600
    }
  }

  lifecycle {
    # template.yaml's rule PublicUrlNeedsAToken.
    precondition {
      condition     = var.ingest_auth_type != "NONE" || var.ingest_token_sha256 != ""
      error_message = "A public function URL (ingest_auth_type NONE) needs ingest_token_sha256, the SHA-256 of a bearer token."
    }
  }
}

# A public URL (auth NONE) answers 403 unless the function's resource policy lets everyone
# call it: template.yaml's IngestUrlPublicInvokeUrl (lambda:InvokeFunctionUrl with
# FunctionUrlAuthType NONE) is this resource. Its IngestUrlPublicInvoke (lambda:InvokeFunction
# with InvokedViaFunctionUrl true), which URLs created since October 2025 need as well, has no
# counterpart: aws_lambda_permission of the provider this module pins (5.100) has no
# invoked_via_function_url argument. docs/guides/deploy-sam.md gives the one command that
# adds that statement after `terraform apply`; until then the public URL answers 403.
resource "aws_lambda_permission" "ingest_url_public" {
  count = var.ingest_auth_type == "NONE" ? 1 : 0

  statement_id           = "FunctionUrlAllowPublicAccess"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.ingest.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}
