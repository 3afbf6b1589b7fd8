# ---------------------------------------------------------------- alarms (and their SNS topic)

# Not encrypted with a KMS key, as template.yaml's AlarmTopic: CloudWatch alarms cannot
# publish to a topic encrypted with the AWS managed key alias/aws/sns (its key policy does not
# admit cloudwatch.amazonaws.com), and the alarms would then notify nobody.
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key (aws/sns), whose key policy does not admit CloudWatch; alarm messages hold only alarm names, metrics and states, no record data.
  name = "${local.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email != "" ? 1 : 0

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "batch_to_s3_iterator_age" {
  alarm_name          = "${local.name}-batch-to-s3-iterator-age"
  alarm_description   = "batch-to-s3 is falling behind the stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.batch_to_s3.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.alarm_iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "failure_queue" {
  alarm_name          = "${local.name}-batch-to-s3-failure-queue"
  alarm_description   = "Records exhausted their retries in batch-to-s3; their positions are in the on-failure queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.batch_to_s3_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "batch_to_iceberg_iterator_age" {
  count = local.iceberg_enabled ? 1 : 0

  alarm_name          = "${local.name}-batch-to-iceberg-iterator-age"
  alarm_description   = "batch-to-iceberg is falling behind the stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.batch_to_iceberg[0].function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.alarm_iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "batch_to_iceberg_failure_queue" {
  count = local.iceberg_enabled ? 1 : 0

  alarm_name          = "${local.name}-batch-to-iceberg-failure-queue"
  alarm_description   = "Records exhausted their retries in batch-to-iceberg; their positions are in its on-failure queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.batch_to_iceberg_failures[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "firehose_freshness" {
  count = local.firehose_enabled ? 1 : 0

  alarm_name          = "${local.name}-firehose-freshness"
  alarm_description   = "Firehose deliveries to S3 are running late (oldest record older than 15 minutes)."
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.DataFreshness"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.delivery[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 900
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
