# Shared names and values. The resources are split by part: stream.tf, bucket.tf, ingest.tf,
# batch_to_s3.tf, firehose.tf, batch_to_iceberg.tf, alarms.tf (template.yaml's sections, in
# its order).

# The account is asked of STS (GetCallerIdentity) unless account_id gives it.
data "aws_caller_identity" "current" {
  count = var.account_id == "" ? 1 : 0
}

# Both answered from the provider's configuration, without a call.
data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = var.account_id != "" ? var.account_id : data.aws_caller_identity.current[0].account_id

  name = var.stack_name

  # template.yaml's conditions.
  is_provisioned            = var.stream_mode == "PROVISIONED"
  has_expiration            = var.bucket_expiration_days != 0
  has_cors                  = length(compact(var.cors_allow_origins)) > 0
  firehose_enabled          = var.enable_firehose
  has_firehose_partitioning = var.enable_firehose && var.firehose_partition_pointers != ""
  has_glue_table            = var.glue_database_name != ""
  iceberg_enabled           = var.enable_iceberg
  # iceberg_catalog admits only glue here (IcebergCatalog s3tables is template.yaml's only).
  iceberg_on_glue        = var.enable_iceberg && var.iceberg_catalog == "glue"
  iceberg_uses_efo       = var.enable_iceberg && var.iceberg_enhanced_fan_out
  iceberg_has_optimizers = local.iceberg_on_glue && var.iceberg_optimizers
  # Routing (iceberg_route_pointer): the tables iceberg_routes names, each route's TABLE
  # (what functions/batch-to-iceberg/src/route.rs reads), in their first mention's order.
  iceberg_is_routed = var.enable_iceberg && var.iceberg_route_pointer != ""
  iceberg_routed_tables = distinct([
    for r in split(";", var.iceberg_routes) :
    regex("^\\s*[^:]+:\\s*([a-z0-9_]+)", r)[0] if trimspace(r) != ""
  ])
  # The tables the role may create and commit to (iceberg_routed_tables is checked to be
  # exactly iceberg_routes' tables).
  iceberg_tables = local.iceberg_is_routed ? var.iceberg_routed_tables : [var.iceberg_table_name]

  # The names firehose_partition_pointers ("name=/pointer,...") gives, which the dynamic prefix
  # must each name as !{partitionKeyFromLambda:NAME}.
  firehose_partition_key_names = [
    for spec in compact([for s in split(",", var.firehose_partition_pointers) : trimspace(s)]) :
    trimspace(split("=", spec)[0])
  ]

  zips = {
    ingest             = var.ingest_zip != "" ? var.ingest_zip : "${path.module}/../../target/lambda/ingest/bootstrap.zip"
    batch_to_s3        = var.batch_to_s3_zip != "" ? var.batch_to_s3_zip : "${path.module}/../../target/lambda/batch-to-s3/bootstrap.zip"
    firehose_transform = var.firehose_transform_zip != "" ? var.firehose_transform_zip : "${path.module}/../../target/lambda/firehose-transform/bootstrap.zip"
    batch_to_iceberg   = var.batch_to_iceberg_zip != "" ? var.batch_to_iceberg_zip : "${path.module}/../../target/lambda/batch-to-iceberg/bootstrap.zip"
  }

  # Globals.Function of template.yaml.
  lambda_runtime       = "provided.al2023"
  lambda_architectures = ["arm64"]
  lambda_handler       = "bootstrap"

  lambda_assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
