# template.yaml's Outputs, in snake_case (null where the template's output has a Condition that
# does not hold). Not here: IcebergTableBucketArn, of the S3 Tables catalog (template.yaml's only).

output "ingest_url" {
  description = "POST records here."
  value       = aws_lambda_function_url.ingest.function_url
}

output "stream_name" {
  value = aws_kinesis_stream.stream.name
}

output "stream_arn" {
  value = aws_kinesis_stream.stream.arn
}

output "bucket_name" {
  value = aws_s3_bucket.bucket.id
}

output "failure_queue_url" {
  value = aws_sqs_queue.batch_to_s3_failures.url
}

output "delivery_stream_name" {
  description = "null when enable_firehose is false."
  value       = local.firehose_enabled ? aws_kinesis_firehose_delivery_stream.delivery[0].name : null
}

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "glue_table" {
  description = "<database>.<table> to query in Athena as soon as the first object lands (partition projection, no crawler); null without glue_database_name."
  value       = local.has_glue_table ? "${aws_glue_catalog_database.glue[0].name}.${var.glue_table_name}" : null
}

output "iceberg_function_name" {
  description = "null when enable_iceberg is false."
  value       = local.iceberg_enabled ? aws_lambda_function.batch_to_iceberg[0].function_name : null
}

output "iceberg_database" {
  description = "The Glue database of the Iceberg table; null when enable_iceberg is false."
  value       = local.iceberg_enabled ? aws_glue_catalog_database.iceberg[0].name : null
}

output "iceberg_table" {
  description = "<database>.<table> to query in Athena (engine v3) once the first batch has created it (routed, <database>.{<table>,...}); null when enable_iceberg is false."
  value = !local.iceberg_enabled ? null : (local.iceberg_is_routed
    ? "${aws_glue_catalog_database.iceberg[0].name}.{${join(",", var.iceberg_routed_tables)}}"
  : "${aws_glue_catalog_database.iceberg[0].name}.${var.iceberg_table_name}")
}

output "iceberg_warehouse" {
  description = "Where the table's files are: the warehouse in the module's bucket; null when enable_iceberg is false."
  value       = local.iceberg_enabled ? "s3://${aws_s3_bucket.bucket.id}/${var.iceberg_warehouse_prefix}" : null
}

output "iceberg_failure_queue_url" {
  description = "batch-to-iceberg's on-failure queue; null when enable_iceberg is false."
  value       = local.iceberg_enabled ? aws_sqs_queue.batch_to_iceberg_failures[0].url : null
}
