# ---------------------------------------------------------------- the bucket (Bucket, BucketPolicy)
# template.yaml retains the bucket when the stack goes (DeletionPolicy: Retain). Here
# force_destroy is false: `terraform destroy` fails while the bucket holds objects, so data is
# never deleted by Terraform. To keep the bucket and its data past a destroy, run
# `terraform state rm aws_s3_bucket.bucket` (and its settings' resources) first.

resource "aws_s3_bucket" "bucket" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket the user owns; enable it when one exists. Every write is also in CloudTrail data events if enabled.
  #checkov:skip=CKV_AWS_21:Objects are written once under keys derived from their data and never overwritten; versioning would only add cost.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second bucket in another region that the user owns; the objects can be re-formed from the stream within its retention, and replication would double storage cost.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events: readers list the prefixes. Event notifications need a destination the stack does not have.
  bucket_prefix = "${substr(lower(local.name), 0, 29)}-bucket-"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  bucket                  = aws_s3_bucket.bucket.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = local.has_expiration ? [var.bucket_expiration_days] : []
    content {
      id     = "expire-objects"
      status = "Enabled"

      filter {}

      expiration {
        days = rule.value
      }
    }
  }
}

resource "aws_s3_bucket_policy" "bucket" {
  bucket = aws_s3_bucket.bucket.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.bucket.arn, "${aws_s3_bucket.bucket.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # The public access block first: a policy put before it could be refused as public.
  depends_on = [aws_s3_bucket_public_access_block.bucket]
}
