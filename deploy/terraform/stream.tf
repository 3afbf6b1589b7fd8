# ---------------------------------------------------------------- the stream (Stream)

resource "aws_kinesis_stream" "stream" {
  name             = "${local.name}-stream"
  shard_count      = local.is_provisioned ? var.shard_count : null
  retention_period = var.stream_retention_hours
  encryption_type  = "KMS"
  kms_key_id       = "alias/aws/kinesis"

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
