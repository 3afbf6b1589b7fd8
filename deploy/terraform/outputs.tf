# template.yaml's Outputs, in snake_case.

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
