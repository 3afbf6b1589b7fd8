"""The offline deploy proof of deploy/terraform, and its agreement with template.yaml.

1. Offline (no AWS, no moto: every endpoint is a closed loopback port): `terraform validate`
   and one plan of two module instances - `full` (a public URL with a token, Parquet with a
   Glue database, Firehose with dynamic partitioning, CORS, an alarm email, a reservation,
   batch-to-iceberg on Glue with its enhanced fan-out consumer and the table optimizers)
   and `lean` (a signed URL, no Firehose, no Iceberg, ON_DEMAND) - read with
   `terraform show -json` and compared with template.yaml evaluated for the same parameters:
   every parameter is a variable with its default and every output an output (null exactly
   when its Condition fails), every resource is there exactly when its Condition holds, and
   the functions, the function URL, the event source mappings, the stream, the bucket, the
   queues, the log groups, the Glue databases, the stream consumer, the table optimizers,
   the delivery stream and the alarms have the template's settings. Plans that break a
   parameter limit or a Rule must fail.
2. Against moto (AWS_ENDPOINT_URL): the `full` case applied but for what moto cannot make
   (FULL_PLAN_ONLY: the event source mapping on the consumer, the optimizers), checked
   through boto3 (the environment variables and every role's policies against the
   template's, with the ARNs Terraform made); then FULL_PLAN_ONLY turned on: the consumer,
   the optimizers' role and the Iceberg role's consumer statement applied by target and
   checked the same way, and the whole configuration planned again - the rest of
   FULL_PLAN_ONLY, with every value known, and no other change but what moto does not keep;
   then destroyed (the Iceberg database, which the template retains and the module keeps with
   prevent_destroy, `terraform state rm`'d first), and checked that nothing is left.

The apply runs in a background thread from the first test on, while the offline part runs.
template.yaml is read at run time; the tables below only say which Terraform resource stands
for which template resource (and which cases break which Rule), and the tests fail when the
template has a resource, parameter, output, Rule or property they do not cover. The one
exception is template.yaml's S3 Tables catalog (SAM_ONLY): the module deploys batch-to-iceberg
with the Glue catalog only.
"""

import collections
import concurrent.futures
import json
import os
import re
import time
import urllib.request
import uuid

import boto3
import pytest

import tf_helpers as h

ACCOUNT = "123456789012"  # moto's account; STS GetCallerIdentity answers it
TOKEN_SHA256 = "0123456789abcdef" * 4
RUN = uuid.uuid4().hex[:6]
STACK = f"tft{RUN}"

# Everything the module can make, with non-default values wherever a parameter allows.
FULL = {
    "shard_count": 2,
    "ingest_auth_type": "NONE",
    "ingest_token_sha256": TOKEN_SHA256,
    "ingest_aggregate": True,
    "cors_allow_origins": ["https://example.com", "https://app.example.com"],
    "stream_partition_key_pointer": "/user/id",
    "record_id_pointer": "/message_id",
    "bucket_expiration_days": 30,
    "batch_size": 500,
    "maximum_batching_window_in_seconds": 10,
    "maximum_retry_attempts": 3,
    "maximum_record_age_in_seconds": 3600,
    "compression": "zstd",
    "key_layout": "hive",
    "object_partition_pointer": "/type",
    "format": "parquet",
    "schema": "ts timestamp, type string, latency_ms bigint",
    "parquet_compression": "snappy",
    "extra_column": "_rest",
    "glue_database_name": f"tft{RUN}_db",
    "glue_table_name": "events",
    "firehose_partition_pointers": "type=/type",
    "firehose_buffer_size_mib": 64,
    "firehose_buffer_interval_seconds": 120,
    "firehose_enrich": True,
    "firehose_drop_filter_pointer": "/level",
    "firehose_drop_filter_value": "debug",
    "log_retention_days": 14,
    "alarm_iterator_age_ms": 300000,
    "alarm_email": "ops@example.com",
    "ingest_reserved_concurrency": 5,
    "enable_iceberg": True,
    "iceberg_database_name": f"tft{RUN}_lake",
    "iceberg_table_name": "clicks",
    "iceberg_warehouse_prefix": "lake/iceberg",
    "iceberg_partition_spec": "day(ts), identity(type)",
    "iceberg_snapshot_retention_days": 14,
    "iceberg_orphan_file_retention_days": 5,
    "iceberg_reserved_concurrency": 2,
}
# Part of `full` in the offline plan, not in the first apply: moto's Lambda refuses an event
# source mapping on a stream consumer's ARN ("Invalid EventSourceArn"), and moto has no Glue
# table optimizers (CreateTableOptimizer). test_fan_out_and_optimizers_on_the_applied_stack
# applies what moto has of them (the consumer, the optimizers' role, the Iceberg role's
# consumer statement) and plans the rest.
FULL_PLAN_ONLY = {
    "iceberg_enhanced_fan_out": True,
    "iceberg_optimizers": True,
}
# The conditional things off: signed URL, no Firehose, no CORS, no email, ON_DEMAND. (The
# retention is here, planned only: applied, it costs the provider another 10 s wait.)
LEAN = {
    "stream_mode": "ON_DEMAND",
    "stream_retention_hours": 48,
    "enable_firehose": False,
    "batch_to_s3_reserved_concurrency": 2,
}
# Old names kept declared only to fail a plan that still sets them, naming the new one
# (test_old_variable_names_are_refused_naming_the_new_ones).
RENAMED_VARIABLES = {
    "partition_key_pointer": "stream_partition_key_pointer",
    "partition_pointer": "object_partition_pointer",
    "firehose_partition_keys": "firehose_partition_pointers",
    "iceberg_partition": "iceberg_partition_spec",
}
TF_ONLY_VARIABLES = {"stack_name", "account_id", "ingest_zip", "batch_to_s3_zip",
                     "firehose_transform_zip", "batch_to_iceberg_zip"}

# template.yaml's S3 Tables catalog (EnableIceberg with IcebergCatalog s3tables: the table
# bucket, namespace and table the stack makes, the table bucket's output, and the Rule that keeps Glue's optimizers off S3 Tables) is SAM-only:
# the module deploys batch-to-iceberg with the Glue catalog and refuses iceberg_catalog
# s3tables (test_the_s3_tables_catalog_is_refused). These names are left out of every
# comparison below, and only these: test_sam_only_is_exactly_the_s3_tables_catalog fails when
# this list and the template's S3-Tables-only names (s3tables_only) part.
SAM_ONLY = {
    "Parameters": set(),
    "Resources": {"IcebergTableBucket", "IcebergNamespace", "IcebergS3Table"},
    "Outputs": {"IcebergTableBucketArn"},
    "Rules": {"IcebergOptimizersAreGlues"},
}

# template.yaml resource -> the Terraform resources that make it (None: no counterpart,
# see test_the_provider_still_cannot_make_the_invoke_function_permission).
RESOURCES = {
    "Stream": ["aws_kinesis_stream.stream"],
    "Bucket": ["aws_s3_bucket.bucket", "aws_s3_bucket_public_access_block.bucket",
               "aws_s3_bucket_ownership_controls.bucket",
               "aws_s3_bucket_server_side_encryption_configuration.bucket",
               "aws_s3_bucket_lifecycle_configuration.bucket"],
    "BucketPolicy": ["aws_s3_bucket_policy.bucket"],
    "IngestLogGroup": ["aws_cloudwatch_log_group.ingest"],
    "IngestRole": ["aws_iam_role.ingest", "aws_iam_role_policy.ingest"],
    "IngestRequestMemory": ["aws_dynamodb_table.ingest_request_memory"],
    "IngestFunction": ["aws_lambda_function.ingest", "aws_lambda_function_url.ingest"],
    "IngestUrlPublicInvokeUrl": ["aws_lambda_permission.ingest_url_public[0]"],
    "IngestUrlPublicInvoke": None,
    "BatchToS3LogGroup": ["aws_cloudwatch_log_group.batch_to_s3"],
    "BatchToS3FailureQueue": ["aws_sqs_queue.batch_to_s3_failures"],
    "BatchToS3Role": ["aws_iam_role.batch_to_s3", "aws_iam_role_policy.batch_to_s3"],
    "BatchToS3GluePolicy": ["aws_iam_role_policy.batch_to_s3_glue[0]"],
    "GlueDatabase": ["aws_glue_catalog_database.glue[0]"],
    "BatchToS3Function": ["aws_lambda_function.batch_to_s3",
                          "aws_lambda_event_source_mapping.batch_to_s3"],
    "FirehoseTransformLogGroup": ["aws_cloudwatch_log_group.firehose_transform[0]"],
    "FirehoseTransformRole": ["aws_iam_role.firehose_transform[0]",
                              "aws_iam_role_policy.firehose_transform[0]"],
    "FirehoseTransformFunction": ["aws_lambda_function.firehose_transform[0]"],
    "FirehoseLogGroup": ["aws_cloudwatch_log_group.firehose[0]"],
    "FirehoseLogStream": ["aws_cloudwatch_log_stream.firehose[0]"],
    "FirehoseRole": ["aws_iam_role.firehose[0]", "aws_iam_role_policy.firehose[0]"],
    "DeliveryStream": ["aws_kinesis_firehose_delivery_stream.delivery[0]"],
    "AlarmTopic": ["aws_sns_topic.alarms"],
    "AlarmEmailSubscription": ["aws_sns_topic_subscription.alarm_email[0]"],
    "BatchToS3IteratorAgeAlarm": ["aws_cloudwatch_metric_alarm.batch_to_s3_iterator_age"],
    "FailureQueueAlarm": ["aws_cloudwatch_metric_alarm.failure_queue"],
    "FirehoseFreshnessAlarm": ["aws_cloudwatch_metric_alarm.firehose_freshness[0]"],
    "IcebergLogGroup": ["aws_cloudwatch_log_group.batch_to_iceberg[0]"],
    "IcebergFailureQueue": ["aws_sqs_queue.batch_to_iceberg_failures[0]"],
    "IcebergStreamConsumer": ["aws_kinesis_stream_consumer.batch_to_iceberg[0]"],
    "IcebergRole": ["aws_iam_role.batch_to_iceberg[0]", "aws_iam_role_policy.batch_to_iceberg[0]"],
    "IcebergFunction": ["aws_lambda_function.batch_to_iceberg[0]",
                        "aws_lambda_event_source_mapping.batch_to_iceberg[0]"],
    "IcebergGlueDatabase": ["aws_glue_catalog_database.iceberg[0]"],
    "IcebergOptimizerRole": ["aws_iam_role.iceberg_optimizer[0]",
                             "aws_iam_role_policy.iceberg_optimizer[0]"],
    "IcebergCompaction": ["aws_glue_catalog_table_optimizer.iceberg_compaction[0]"],
    "IcebergSnapshotRetention": ["aws_glue_catalog_table_optimizer.iceberg_snapshot_retention[0]"],
    "IcebergOrphanFileDeletion": ["aws_glue_catalog_table_optimizer.iceberg_orphan_file_deletion[0]"],
    "IcebergIteratorAgeAlarm": ["aws_cloudwatch_metric_alarm.batch_to_iceberg_iterator_age[0]"],
    "IcebergFailureQueueAlarm": ["aws_cloudwatch_metric_alarm.batch_to_iceberg_failure_queue[0]"],
}
FUNCTIONS = {  # SAM function -> (binary, its log group, its role)
    "IngestFunction": ("ingest", "IngestLogGroup", "IngestRole"),
    "BatchToS3Function": ("batch-to-s3", "BatchToS3LogGroup", "BatchToS3Role"),
    "FirehoseTransformFunction": ("firehose-transform", "FirehoseTransformLogGroup",
                                  "FirehoseTransformRole"),
    "IcebergFunction": ("batch-to-iceberg", "IcebergLogGroup", "IcebergRole"),
}
# SAM function with a Kinesis event -> its event source mapping, its on-failure queue.
MAPPINGS = {
    "BatchToS3Function": ("aws_lambda_event_source_mapping.batch_to_s3", "BatchToS3FailureQueue"),
    "IcebergFunction": ("aws_lambda_event_source_mapping.batch_to_iceberg[0]", "IcebergFailureQueue"),
}
# SAM queue -> the Terraform output of its URL.
QUEUES = {"BatchToS3FailureQueue": "failure_queue_url",
          "IcebergFailureQueue": "iceberg_failure_queue_url"}
# Glue's defaults for what the provider 5.100 cannot set on a table optimizer (its
# aws_glue_catalog_table_optimizer has no compaction configuration block): the module leaves
# it out, and the template's values must equal these.
GLUE_COMPACTION_DEFAULTS = {"Strategy": "binpack"}
# Firehose's defaults for a Lambda processor's parameters: the provider keeps no parameter
# equal to its default in the state (its docs, processors.parameters), so the module leaves
# them out and the template's values must equal these.
FIREHOSE_PROCESSOR_DEFAULTS = {"BufferSizeInMBs": "1", "BufferIntervalInSeconds": "60",
                               "NumberOfRetries": "3"}

# Each Rule of template.yaml: cases that break it and the error Terraform must answer.
RULE_CASES = {
    "IcebergHasADatabaseOfItsOwn": [
        ({"enable_iceberg": True, "glue_database_name": "same", "glue_table_name": "t",
          "schema": "a string", "iceberg_database_name": "same"},
         "iceberg_database_name must differ from glue_database_name"),
    ],
    "PublicUrlNeedsAToken": [
        ({"ingest_auth_type": "NONE", "ingest_token_sha256": ""},
         "needs ingest_token_sha256"),
    ],
    "RecordAgeIsUnlimitedOrAtLeastAMinute": [
        ({"maximum_record_age_in_seconds": 59}, "maximum_record_age_in_seconds must be -1"),
        ({"maximum_record_age_in_seconds": 0}, "maximum_record_age_in_seconds must be -1"),
    ],
    "ParquetNeedsASchema": [
        ({"format": "parquet", "schema": ""}, "format parquet needs schema"),
    ],
    "GlueTableNeedsItsNamesAndASchema": [
        ({"glue_database_name": "db", "schema": "a string"},
         "Set glue_database_name and glue_table_name together"),
        ({"glue_table_name": "t", "schema": "a string"},
         "Set glue_database_name and glue_table_name together"),
        ({"glue_database_name": "db", "glue_table_name": "t"},
         "A Glue table takes its columns from schema"),
    ],
    "IcebergRoutesComeTogether": [
        ({"enable_iceberg": True, "iceberg_route_pointer": "/signal"},
         "set both, or neither"),
        ({"enable_iceberg": True, "iceberg_route_pointer": "/signal",
          "iceberg_routes": "logs: otel_logs"},
         "iceberg_routed_tables must name exactly the tables"),
        ({"enable_iceberg": True, "iceberg_route_pointer": "/signal",
          "iceberg_routes": "logs: otel_logs", "iceberg_routed_tables": ["otel_logs"],
          "iceberg_optimizers": True},
         "iceberg_optimizers act on iceberg_table_name"),
    ],
    "IcebergRoutesNeedTheirPointer": [
        ({"enable_iceberg": True, "iceberg_routes": "logs: otel_logs",
          "iceberg_routed_tables": ["otel_logs"]},
         "set both, or neither"),
        ({"enable_iceberg": True, "iceberg_routed_tables": ["otel_logs"]},
         "iceberg_routed_tables must name exactly the tables"),
    ],
    "DynamicPartitioningNeedsA64MiBBuffer": [
        ({"firehose_partition_pointers": "type=/type", "firehose_buffer_size_mib": 63},
         "needs firehose_buffer_size_mib >= 64"),
        ({"firehose_partition_pointers": "type=/type", "firehose_buffer_interval_seconds": 0},
         "needs firehose_buffer_interval_seconds > 0"),
    ],
}


# ---------------------------------------------------------------- values both sides share

def sam_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(v)
    return str(v)


def sam_params(template, case):
    """The template parameters a Terraform case stands for (snake_case -> SAM name)."""
    by_snake = {h.snake(p): p for p in template["Parameters"]}
    return {by_snake[k]: sam_value(v) for k, v in case.items() if k in by_snake}


def same(sam, tf):
    """A template value (often a string) and a Terraform value mean the same."""
    if isinstance(tf, bool):
        return sam in (tf, str(tf).lower())
    if isinstance(tf, (int, float)) and not isinstance(sam, bool):
        try:
            return float(sam) == float(tf)
        except (TypeError, ValueError):
            return False
    if isinstance(tf, list) and isinstance(sam, list):
        return len(sam) == len(tf) and all(same(a, b) for a, b in zip(sam, tf))
    return sam == tf


def sam_default(param):
    d = param.get("Default", "")
    if param["Type"] == "Number":
        return float(d)
    if param["Type"] == "CommaDelimitedList":
        return [] if d == "" else str(d).split(",")
    if sorted(str(x) for x in param.get("AllowedValues", [])) == ["false", "true"]:
        return str(d) == "true"
    return str(d)


def s3tables_only(template):
    """The template's names that belong to its S3 Tables catalog alone: resources and outputs
    with Condition IcebergOnS3Tables, parameters referred to (Ref, ${...}) only there or in
    the true branch of an Fn::If on it, Rules whose condition names the catalog s3tables."""
    s3t = "IcebergOnS3Tables"
    uses = collections.defaultdict(set)  # parameter -> {referred to in an S3 Tables context?}

    def walk(node, in_s3t):
        if isinstance(node, list):
            for x in node:
                walk(x, in_s3t)
        elif isinstance(node, dict):
            if len(node) == 1:
                (fn, arg), = node.items()
                if fn == "Ref" and isinstance(arg, str):
                    uses[arg].add(in_s3t)
                    return
                if fn == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    for name in re.findall(r"\$\{([^}!.]+)\}", text):
                        uses[name].add(in_s3t)
                    if not isinstance(arg, str):
                        walk(arg[1], in_s3t)
                    return
                if fn == "Fn::If":
                    cond, yes, no = arg
                    walk(yes, in_s3t or cond == s3t)
                    walk(no, in_s3t)
                    return
            for x in node.values():
                walk(x, in_s3t)

    for section in ("Resources", "Outputs"):
        for item in template.get(section, {}).values():
            walk(item, item.get("Condition") == s3t)
    return {
        "Parameters": {p for p in template["Parameters"] if uses.get(p) == {True}},
        "Resources": {r for r, v in template["Resources"].items() if v.get("Condition") == s3t},
        "Outputs": {o for o, v in template.get("Outputs", {}).items() if v.get("Condition") == s3t},
        "Rules": {r for r, v in template.get("Rules", {}).items()
                  if '"s3tables"' in json.dumps(v.get("RuleCondition", {}))},
    }


def _roles(template, params):
    sam = h.Sam(template, sam_params(template, params))
    return {rid: sam.props(rid) for rid, r in template["Resources"].items()
            if r["Type"] == "AWS::IAM::Role" and rid not in SAM_ONLY["Resources"]
            and sam.present(rid)}


# The template's roles (read when the tests are collected) that FULL makes, checked after the
# first apply; and those that FULL_PLAN_ONLY adds or changes (the optimizers' role, the Iceberg
# role's consumer statement), checked once it is applied.
_TEMPLATE = h.load_template()
_FULL_ROLES = _roles(_TEMPLATE, FULL)
_PLAN_ONLY_ROLES = _roles(_TEMPLATE, {**FULL, **FULL_PLAN_ONLY})
ROLES = sorted(_FULL_ROLES)
ROLES_WITH_PLAN_ONLY = sorted(r for r, p in _PLAN_ONLY_ROLES.items() if _FULL_ROLES.get(r) != p)


class Mismatches(list):
    def check(self, ok, what):
        if not ok:
            self.append(what)

    def assert_none(self, title):
        assert not self, title + ":\n  " + "\n  ".join(self)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def template():
    return h.load_template()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("terraform")


@pytest.fixture(scope="module")
def tf(work):
    try:
        return h.Terraform(work)
    except h.TerraformFailed as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def zips(work):
    return {b: h.placeholder_zip(work / f"{b}.zip")
            for b in ("ingest", "batch-to-s3", "firehose-transform", "batch-to-iceberg")}


def module_args(stack, case, zips, account_id=None):
    args = {"stack_name": stack, "ingest_zip": zips["ingest"],
            "batch_to_s3_zip": zips["batch-to-s3"],
            "firehose_transform_zip": zips["firehose-transform"],
            "batch_to_iceberg_zip": zips["batch-to-iceberg"]}
    if account_id:
        args["account_id"] = account_id
    args.update(case)
    return args


# What the module keeps when `terraform destroy` runs (prevent_destroy): template.yaml's
# resources with DeletionPolicy Retain, but the bucket, which force_destroy false keeps while
# it holds objects (bucket.tf).
RETAINED = {"IcebergGlueDatabase": "aws_glue_catalog_database.iceberg"}


class Deployment:
    """The `full` case applied to moto, in a background thread from the first test on."""

    def __init__(self, tf, work, zips):
        self.tf = tf
        self.dir = work / "applied"
        self.times = {}
        self.destroyed = False
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._future = self._pool.submit(self._deploy, zips)

    def _deploy(self, zips):
        url = self.endpoint
        assert url.startswith("http://127.0.0.1:"), (
            "AWS_ENDPOINT_URL must name the local moto server on 127.0.0.1 "
            f"(it is {url!r}); run through `make test`, or `make stack && source .local/stack.env`")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=5).read()
        except OSError as e:
            raise AssertionError(f"moto does not answer at {url}: {e}") from e
        tf = self.tf
        tf.write_root(self.dir, url, {"trickle": module_args(STACK, FULL, zips)})
        t = time.monotonic()
        tf.run(self.dir, "init", "-input=false")
        self.times["init"] = time.monotonic() - t
        # (`terraform validate` runs in the offline root, which calls the module alike.)
        t = time.monotonic()
        out = tf.run(self.dir, "apply", "-auto-approve", "-input=false").stdout
        self.times["apply"] = time.monotonic() - t
        m = re.search(r"Plan: (\d+) to add, 0 to change, 0 to destroy", out)
        assert m, out[-3000:]
        planned_count = int(m.group(1))
        m = re.search(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", out)
        assert m, out[-3000:]
        outputs = json.loads(tf.run(self.dir, "output", "-json").stdout)["trickle"]["value"]
        resources = h.state_resources(self.dir / "terraform.tfstate", "trickle")
        return {"planned": planned_count, "added": int(m.group(1)), "outputs": outputs,
                "resources": resources}

    def result(self):
        return self._future.result(timeout=900)

    def release_retained(self):
        """`terraform state rm` what the module keeps from a destroy (prevent_destroy, the
        template's DeletionPolicy Retain): what a user does to destroy the rest. Returns the
        addresses, which moto still holds then."""
        listed = self.tf.run(self.dir, "state", "list", check=False).stdout.split()
        kept = [a for a in listed if a.startswith(tuple(f"module.trickle.{r}[" for r in RETAINED.values()))]
        if kept:
            self.tf.run(self.dir, "state", "rm", *kept)
        return kept

    def destroy(self):
        t = time.monotonic()
        # No refresh: the state is what was just applied and checked.
        out = self.tf.run(self.dir, "destroy", "-auto-approve", "-input=false",
                          "-refresh=false").stdout
        self.times["destroy"] = time.monotonic() - t
        self.destroyed = True
        return out

    def close(self):
        try:
            self._future.result(timeout=900)
        except Exception:
            pass
        if not self.destroyed and (self.dir / "terraform.tfstate").exists():
            self.release_retained()
            self.tf.run(self.dir, "destroy", "-auto-approve", "-input=false", check=False)
        if self.endpoint:  # the retained database, which moto still holds
            try:
                boto3.client("glue", endpoint_url=self.endpoint, region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test"
                             ).delete_database(Name=FULL["iceberg_database_name"])
            except Exception:
                pass
        self._pool.shutdown()


@pytest.fixture(scope="module", autouse=True)
def deployment(tf, work, zips):
    d = Deployment(tf, work, zips)
    yield d
    d.close()


@pytest.fixture(scope="module")
def offline(tf, work, zips):
    """One plan of `full` and `lean` with no AWS at all: every endpoint is a closed port."""
    extra = ('\noutput "lean_delivery_stream_name" {\n'
             '  value = module.lean.delivery_stream_name\n}\n')
    root = tf.write_root(work / "offline", "http://127.0.0.1:1", extra=extra, modules={
        "full": module_args("full", CASES["full"], zips, ACCOUNT),
        # Firehose and Iceberg off: their zips must not even be read.
        "lean": module_args("lean", LEAN, {**zips, "firehose-transform": str(work / "none.zip"),
                                           "batch-to-iceberg": str(work / "none.zip")},
                            ACCOUNT),
    })
    tf.run(root, "init", "-input=false", "-backend=false")
    t = time.monotonic()
    tf.run(root, "validate")
    t1 = time.monotonic()
    plan = tf.plan_json(root)
    print(f"offline: validate {t1 - t:.1f} s, plan of two instances {time.monotonic() - t1:.1f} s")
    return {"dir": root, "plan": plan}


CASES = {"full": {**FULL, **FULL_PLAN_ONLY}, "lean": LEAN}


def sam_for(template, name, stack=None, **kw):
    return h.Sam(template, sam_params(template, CASES[name]), stack=stack or name,
                 account=ACCOUNT, **kw)


def names_as_refs(sam):
    """Ref of the log groups, the log stream and the Glue databases: their names, known from
    the template."""
    refs = {}
    for rid, r in sam.t["Resources"].items():
        if r["Type"] == "AWS::Logs::LogGroup":
            refs[rid] = sam.resolve(r["Properties"]["LogGroupName"])
        if r["Type"] == "AWS::Logs::LogStream":
            refs[rid] = sam.resolve(r["Properties"]["LogStreamName"])
        if r["Type"] == "AWS::Glue::Database":
            refs[rid] = sam.resolve(r["Properties"]["DatabaseInput"]["Name"])
    return refs


def planned(offline, name):
    return h.resource_changes(offline["plan"], name)


# ================================================================ 1. offline agreement

def test_sam_only_is_exactly_the_s3_tables_catalog(template):
    derived = s3tables_only(template)
    for section, names in SAM_ONLY.items():
        assert names == derived[section], (
            f"{section}: only in SAM_ONLY {sorted(names - derived[section])}, "
            f"S3-Tables-only names not in SAM_ONLY {sorted(derived[section] - names)}")
    # Off by default on both sides, and the module's one catalog is the default.
    assert template["Parameters"]["EnableIceberg"]["Default"] == "false"
    assert template["Parameters"]["IcebergCatalog"]["Default"] == "glue"


def test_what_the_template_retains_the_module_keeps(template):
    """DeletionPolicy Retain: the bucket by force_destroy false (bucket.tf), the rest by
    prevent_destroy (RETAINED; test_destroy_leaves_nothing sees a destroy refused)."""
    retained = {rid for rid, r in template["Resources"].items()
                if r.get("DeletionPolicy") == "Retain"} - SAM_ONLY["Resources"]
    assert retained - {"Bucket"} == set(RETAINED)
    text = "".join(f.read_text() for f in sorted(h.MODULE.glob("*.tf")))
    for rid, addr in RETAINED.items():
        assert RESOURCES[rid][0].startswith(addr + "["), (rid, addr)
        kind, name = addr.split(".")
        m = re.search(rf'\nresource "{kind}" "{name}" {{\n(.*?)\n}}\n', text, re.S)
        assert m and re.search(r"^\s*prevent_destroy\s*=\s*true$", m.group(1), re.M), (
            f"{addr}: no lifecycle prevent_destroy")


def test_every_parameter_is_a_variable_and_every_output_an_output(template, offline):
    variables = h.module_variables(offline["plan"], "full")
    bad = Mismatches()
    for name, p in template["Parameters"].items():
        if name in SAM_ONLY["Parameters"]:
            continue
        var = h.snake(name)
        if var not in variables:
            bad.append(f"parameter {name} has no variable {var}")
            continue
        v = variables[var]
        want = sam_default(p)
        got = v.get("default")
        bad.check(same(want, got) if not isinstance(want, list) else want == got,
                  f"{name} default {p.get('Default')!r} but {var} default {got!r}")
        bad.check(bool(p.get("NoEcho")) == bool(v.get("sensitive")),
                  f"{name} NoEcho={p.get('NoEcho', False)} but {var} sensitive={v.get('sensitive', False)}")
    extra = (set(variables) - {h.snake(p) for p in template["Parameters"]} - TF_ONLY_VARIABLES
             - set(RENAMED_VARIABLES))
    bad.check(not extra, f"variables with no template parameter: {sorted(extra)}")
    outputs = offline["plan"]["configuration"]["root_module"]["module_calls"]["full"]["module"]["outputs"]
    for name in set(template.get("Outputs", {})) - SAM_ONLY["Outputs"]:
        bad.check(h.snake(name) in outputs, f"output {name} has no Terraform output {h.snake(name)}")
    bad.assert_none("template.yaml parameters and Terraform variables differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_outputs_are_null_exactly_when_their_condition_fails(template, offline, name):
    sam = sam_for(template, name)
    change = offline["plan"]["output_changes"][name]
    after, unknown = change["after"] or {}, change.get("after_unknown") or {}
    bad = Mismatches()
    for out, o in template.get("Outputs", {}).items():
        if out in SAM_ONLY["Outputs"]:
            continue
        key = h.snake(out)
        made = "Condition" not in o or sam.condition(o["Condition"])
        value = None if unknown.get(key) is True else after.get(key)
        bad.check((unknown.get(key) is True or value is not None) == made,
                  f"{out}: Condition {'holds' if made else 'fails'}, {key} is {value!r}")
    bad.assert_none(f"{name}: outputs differ")


def diagnostics(json_lines):
    """The diagnostics of a `terraform ... -json` run."""
    out = []
    for line in json_lines.splitlines():
        try:
            d = json.loads(line).get("diagnostic")
        except ValueError:
            continue
        if d:
            out.append(d)
    return out


def _invalid_values(template, low):
    """Per parameter with a limit: a value the template refuses (below the minimum, or above
    the maximum when not `low`, outside AllowedValues, not matching AllowedPattern)."""
    out = {}
    for name, p in template["Parameters"].items():
        if name in SAM_ONLY["Parameters"]:
            continue  # no variable in the module yet
        if isinstance(sam_default(p), bool):
            continue  # a Terraform bool: its type is the limit
        v = None
        if "AllowedValues" in p:
            allowed = [str(x) for x in p["AllowedValues"]]
            if p["Type"] == "Number":
                v = next(n for n in range(2, 10**6) if str(n) not in allowed)
            else:
                v = "not-" + allowed[0]
        elif low and "MinValue" in p:
            v = int(p["MinValue"]) - 1
        elif not low and "MaxValue" in p:
            v = int(p["MaxValue"]) + 1
        elif "AllowedPattern" in p and low:
            v = next(c for c in ("zz", "other/", "a b") if not re.fullmatch(p["AllowedPattern"], c))
        if v is not None:
            out[h.snake(name)] = v
    return out


@pytest.fixture(scope="module")
def refusals(template, tf, work, zips):
    """Plans that must fail: module instances `low` and `high` break every parameter limit,
    `r0`, `r1`, ... each break a Rule. Terraform checks every variable of every instance
    before it stops, but no precondition once a variable is invalid: so the instances no
    variable refused are planned again, for their preconditions."""
    modules = {
        "low": module_args("low", _invalid_values(template, True), zips, ACCOUNT),
        "high": module_args("high", _invalid_values(template, False), zips, ACCOUNT),
    }
    rule_cases = []
    rules = template.get("Rules", {})
    for rule, cases in RULE_CASES.items():
        assert rule in rules, f"{rule} is no longer a Rule of template.yaml: update RULE_CASES"
        for case, message in cases:
            # The case really breaks the template's rule (evaluated from the file).
            sam = h.Sam(template, sam_params(template, case))
            r = rules[rule]
            applies = "RuleCondition" not in r or sam.truth(r["RuleCondition"])
            assert applies and not all(sam.truth(a["Assert"]) for a in r["Assertions"]), (
                f"{case} does not break template.yaml's rule {rule}: fix RULE_CASES")
            name = f"r{len(rule_cases)}"
            modules[name] = module_args(name, case, zips, ACCOUNT)
            rule_cases.append((rule, case, message, name))
    # Not a Rule of the template (its parameter's description says it): every partition key
    # named in the dynamic prefix.
    modules["prefix"] = module_args("prefix", {"firehose_partition_pointers": "type=/type, level=/level"},
                                    zips, ACCOUNT)
    # Every old variable name set (with a value its new name takes).
    modules["renamed"] = module_args("renamed", {old: "/x" if "pointer" in old else "x=/x"
                                                 if old == "firehose_partition_keys" else "hour(ts)"
                                                 for old in RENAMED_VARIABLES}, zips, ACCOUNT)
    # The one catalog the module does not have.
    modules["s3tables"] = module_args("s3tables", {"enable_iceberg": True,
                                                   "iceberg_catalog": "s3tables"}, zips, ACCOUNT)
    # The patterns Terraform's regex cannot take as they are (a lookahead), or takes only
    # escaped: values the template accepts and refuses, each instance also refused for a
    # shard_count of 0 (so that it stops at its variables, accepted or not).
    for i, values in enumerate(_pattern_cases()):
        modules[f"pattern{i}"] = module_args(f"pattern{i}", {**values, "shard_count": 0},
                                             zips, ACCOUNT)
    by_module = {m: [] for m in modules}
    unattributed = []  # preconditions: their diagnostics name the module's file, not the call
    remaining, runs = dict(modules), 0
    while remaining:
        root = tf.write_root(work / f"refusals{runs}", "http://127.0.0.1:1", remaining,
                            outputs=False)
        tf.run(root, "init", "-input=false", "-backend=false")
        t = time.monotonic()
        p = tf.run(root, "plan", "-input=false", "-lock=false", "-json", check=False)
        print(f"refusal plan {runs} of {len(remaining)} instances: {time.monotonic() - t:.1f} s")
        runs += 1
        assert p.returncode != 0, f"a plan of {sorted(remaining)} succeeded"
        refused = set()
        for d in diagnostics(p.stdout):
            if d.get("severity") != "error":
                continue
            m = re.fullmatch(r'module "([^"]+)"', (d.get("snippet") or {}).get("context", ""))
            if m and m.group(1) in remaining:
                by_module[m.group(1)].append(d)
                refused.add(m.group(1))
            else:
                unattributed.append(d)
        if not refused:
            break
        remaining = {k: v for k, v in remaining.items() if k not in refused}
    return {"modules": modules, "by_module": by_module, "unattributed": unattributed,
            "rule_cases": rule_cases}


# Per variable whose template pattern is rewritten (iceberg_warehouse_prefix: RE2 has no
# lookahead) or long (iceberg_partition_spec): values on both sides of the template's pattern.
PATTERN_SAMPLES = {
    "iceberg_warehouse_prefix": [
        "iceberg", "lake/iceberg", "datalake", "data2/x", "a/b.c=d-e_f", "iceberg-errors2",
        "data", "data/x", "errors", "state/s", "firehose", "firehose-errors/y",
        "iceberg-errors", "iceberg-state/x", "/lead", "trail/", "a//b", "-a", "",
    ],
    "iceberg_partition_spec": [
        "", "hour(ts)", "day(ts), identity(customer)", "bucket(16, user)", " truncate( 4 ,name ) ",
        "HOURS(ts)", "`ts`", "years(ts),months(ts)", "identity(`a_b`)", "a, b",
        "hour(ts", "bucket(user)", "week(ts)", "a,", "hour(ts.x)", "truncate(-1, x)",
        "bucket(16 user)", ", a",
    ],
}


def _pattern_cases():
    """One dict per module instance: the i-th sample of each variable of PATTERN_SAMPLES."""
    n = max(len(v) for v in PATTERN_SAMPLES.values())
    return [{var: values[i] for var, values in PATTERN_SAMPLES.items() if i < len(values)}
            for i in range(n)]


def _refused_variables(diags):
    return {val["traversal"][4:]
            for d in diags if d["summary"] == "Invalid value for variable"
            for val in (d.get("snippet") or {}).get("values", [])
            if val["traversal"].startswith("var.")}


def _text(d):
    return d["summary"] + ": " + d.get("detail", "")


@pytest.mark.parametrize("bound", ["low", "high"])
def test_parameter_limits_are_variable_validations(refusals, bound):
    invalid = {k: v for k, v in refusals["modules"][bound].items()
               if k not in ("stack_name", "account_id") and not k.endswith("_zip")}
    assert invalid, "template.yaml has no parameter limits?"
    refused = _refused_variables(refusals["by_module"][bound])
    missing = {k: v for k, v in invalid.items() if k not in refused}
    assert not missing, f"values template.yaml refuses that Terraform accepts: {missing}"


def test_every_rule_is_a_plan_failure(template, refusals):
    untested = set(template.get("Rules", {})) - set(RULE_CASES) - SAM_ONLY["Rules"]
    assert not untested, (f"template.yaml Rules with no Terraform counterpart tested here: "
                          f"{sorted(untested)}")
    pool = [_text(d) for d in refusals["unattributed"]]
    missing = []
    for rule, case, message, module in refusals["rule_cases"]:
        if any(message in _text(d) for d in refusals["by_module"][module]):
            continue
        i = next((i for i, t in enumerate(pool) if message in t), None)
        if i is None:
            missing.append((rule, case, message))
        else:
            pool.pop(i)
    assert not missing, (f"rules Terraform does not enforce (rule, case, message): {missing}\n"
                         f"errors: {[_text(d) for d in refusals['unattributed']]}")


def test_rewritten_patterns_accept_and_refuse_what_the_template_does(template, refusals):
    by_snake = {h.snake(p): p for p in template["Parameters"]}
    bad = Mismatches()
    for i, values in enumerate(_pattern_cases()):
        refused = _refused_variables(refusals["by_module"][f"pattern{i}"])
        bad.check("shard_count" in refused, f"pattern{i}: shard_count 0 accepted?")
        for var, value in values.items():
            pattern = template["Parameters"][by_snake[var]]["AllowedPattern"]
            want = re.fullmatch(pattern, value) is None
            bad.check((var in refused) == want,
                      f"{var}={value!r}: template {'refuses' if want else 'accepts'} it, "
                      f"Terraform {'refuses' if var in refused else 'accepts'} it")
    bad.assert_none("variable validations and template patterns differ")


def test_old_variable_names_are_refused_naming_the_new_ones(refusals):
    diags = refusals["by_module"]["renamed"]
    assert _refused_variables(diags) == set(RENAMED_VARIABLES), [_text(d) for d in diags]
    for old, new in RENAMED_VARIABLES.items():
        assert any(f"{old} was renamed: set {new} instead" in _text(d) for d in diags), (old, new)


def test_the_s3_tables_catalog_is_refused(refusals):
    errors = [_text(d) for d in refusals["by_module"]["s3tables"]]
    assert _refused_variables(refusals["by_module"]["s3tables"]) == {"iceberg_catalog"}, errors
    assert any("Glue Data Catalog only" in e for e in errors), errors


def test_dynamic_prefix_must_name_every_partition_key(refusals):
    errors = [_text(d) for d in refusals["unattributed"] + refusals["by_module"]["prefix"]]
    assert any("firehose_dynamic_prefix must name every key" in e for e in errors), errors


@pytest.mark.parametrize("name", ["full", "lean"])
def test_resources_exist_exactly_when_their_condition_holds(template, offline, name):
    sam = sam_for(template, name)
    plan = planned(offline, name)
    bad = Mismatches()
    unmapped = set(template["Resources"]) - set(RESOURCES) - SAM_ONLY["Resources"]
    bad.check(not unmapped, f"template resources with no Terraform counterpart: {sorted(unmapped)}")
    known = set()
    for rid, addrs in RESOURCES.items():
        if rid not in template["Resources"]:
            bad.append(f"{rid} is no longer in template.yaml: remove it from RESOURCES")
            continue
        if addrs is None:
            continue
        known.update(addrs)
        want = sam.present(rid)
        for a in addrs:
            bad.check((a in plan) == want,
                      f"{rid} {'is' if want else 'is not'} created but {a} is "
                      f"{'missing' if want else 'planned'}")
    extra = set(plan) - known - {"data.aws_caller_identity.current[0]"}
    bad.check(not extra, f"Terraform resources with no template counterpart: {sorted(extra)}")
    bad.assert_none(f"{name}: template.yaml and the plan differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_functions_have_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    sam.refs.update(names_as_refs(sam))
    plan = planned(offline, name)
    bad = Mismatches()
    for fid, (binary, log_group, _role) in FUNCTIONS.items():
        if not sam.present(fid):
            continue
        addr = RESOURCES[fid][0]
        after, unknown = plan[addr]
        settings = {
            "function_name": sam.function_setting(fid, "FunctionName"),
            "runtime": sam.function_setting(fid, "Runtime"),
            "architectures": sam.function_setting(fid, "Architectures"),
            "handler": sam.function_setting(fid, "Handler"),
            "memory_size": sam.function_setting(fid, "MemorySize"),
            "timeout": sam.function_setting(fid, "Timeout"),
        }
        for k, want in settings.items():
            bad.check(same(want, after.get(k)), f"{fid}.{k}: template {want!r}, plan {after.get(k)!r}")
        bad.check(after["function_name"] == f"{name}-{binary}", f"{fid} name {after['function_name']}")
        reserved = sam.props(fid).get("ReservedConcurrentExecutions")
        bad.check(same(reserved if reserved is not None else -1,
                       after["reserved_concurrent_executions"]),
                  f"{fid} reserved concurrency: template {reserved!r}, "
                  f"plan {after['reserved_concurrent_executions']!r}")
        glob = sam.resolve(template.get("Globals", {}).get("Function", {}).get("LoggingConfig", {}))
        logging = {**glob, **sam.props(fid).get("LoggingConfig", {})}
        tf_logging = after["logging_config"][0]
        for k, want in logging.items():
            bad.check(same(want, tf_logging.get(h.snake(k))),
                      f"{fid} LoggingConfig.{k}: template {want!r}, plan {tf_logging.get(h.snake(k))!r}")
        bad.check(tf_logging["log_group"] == sam.refs[log_group], f"{fid} log group")
        handled = {"FunctionName", "CodeUri", "Role", "Timeout", "MemorySize", "Runtime",
                   "Architectures", "Handler", "ReservedConcurrentExecutions", "LoggingConfig",
                   "Environment", "Events", "FunctionUrlConfig"}
        extra = set(template["Resources"][fid]["Properties"]) - handled
        bad.check(not extra, f"{fid} properties this test does not compare: {sorted(extra)}")
    extra = set(template.get("Globals", {}).get("Function", {})) - {
        "Runtime", "Architectures", "Handler", "MemorySize", "Timeout", "LoggingConfig"}
    bad.check(not extra, f"Globals.Function properties this test does not compare: {sorted(extra)}")
    bad.assert_none(f"{name}: functions differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_function_url_and_its_public_permission(template, offline, name):
    sam = sam_for(template, name)
    plan = planned(offline, name)
    bad = Mismatches()
    url = sam.props("IngestFunction")["FunctionUrlConfig"]
    after, _ = plan["aws_lambda_function_url.ingest"]
    bad.check(after["authorization_type"] == url["AuthType"], f"AuthType {after['authorization_type']}")
    if "Cors" in url:
        tf_cors = after["cors"][0] if after["cors"] else {}
        for k, want in url["Cors"].items():
            got = tf_cors.get(h.snake(k))
            if isinstance(want, list):
                bad.check(sorted(want) == sorted(got or []), f"Cors.{k}: {want} vs {got}")
            else:
                bad.check(same(want, got), f"Cors.{k}: {want} vs {got}")
    else:
        bad.check(after["cors"] == [], f"CORS set without origins: {after['cors']}")
    if sam.present("IngestUrlPublicInvokeUrl"):
        perm, _ = plan["aws_lambda_permission.ingest_url_public[0]"]
        for k, want in sam.props("IngestUrlPublicInvokeUrl").items():
            if k == "FunctionName":
                continue
            bad.check(same(want, perm.get(h.snake(k))), f"permission {k}: {want} vs {perm.get(h.snake(k))}")
    bad.assert_none(f"{name}: the function URL differs")


@pytest.fixture(scope="module")
def provider_schema(tf, offline):
    """The resource schemas of the mirror's AWS provider."""
    schema = json.loads(tf.run(offline["dir"], "providers", "schema", "-json").stdout)
    (provider,) = [v for k, v in schema["provider_schemas"].items() if k.endswith("hashicorp/aws")]
    return provider["resource_schemas"]


def test_the_provider_still_cannot_make_the_invoke_function_permission(provider_schema, template):
    """template.yaml's IngestUrlPublicInvoke (lambda:InvokeFunction with InvokedViaFunctionUrl)
    has no Terraform counterpart because the mirror's provider has no argument for it. When a
    provider that has one is installed, this fails: add the permission then."""
    assert "IngestUrlPublicInvoke" in template["Resources"]
    props = template["Resources"]["IngestUrlPublicInvoke"]["Properties"]
    assert props.get("InvokedViaFunctionUrl") is True and props["Action"] == "lambda:InvokeFunction"
    attrs = provider_schema["aws_lambda_permission"]["block"]["attributes"]
    assert "invoked_via_function_url" not in attrs, (
        "aws_lambda_permission now has invoked_via_function_url: add the second public "
        "permission to deploy/terraform/ingest.tf and map IngestUrlPublicInvoke in RESOURCES")


def test_the_provider_still_has_no_compaction_configuration(provider_schema, template):
    """The template's compaction strategy is Glue's default (GLUE_COMPACTION_DEFAULTS) because
    aws_glue_catalog_table_optimizer of the mirror's provider cannot set one. When a provider
    that can is installed, this fails: set it in deploy/terraform/batch_to_iceberg.tf then."""
    conf = template["Resources"]["IcebergCompaction"]["Properties"]["TableOptimizerConfiguration"]
    assert conf["CompactionConfiguration"]["IcebergConfiguration"] == GLUE_COMPACTION_DEFAULTS
    blocks = provider_schema["aws_glue_catalog_table_optimizer"]["block"]["block_types"]
    assert "compaction_configuration" not in blocks["configuration"]["block"].get("block_types", {}), (
        "aws_glue_catalog_table_optimizer now has compaction_configuration: set the strategy")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_event_source_mappings_have_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    plan = planned(offline, name)
    bad = Mismatches()
    for fid, (addr, _queue) in MAPPINGS.items():
        if not sam.present(fid):
            bad.check(addr not in plan, f"{addr} planned without {fid}")
            continue
        after, unknown = plan[addr]
        events = sam.props(fid)["Events"]
        (event,) = [e for e in events.values() if e["Type"] == "Kinesis"]
        for k, want in event["Properties"].items():
            if k == "Stream":
                # The stream's or the consumer's ARN, neither known before the apply
                # (test_fan_out_and_optimizers_on_the_applied_stack sees which).
                bad.check(unknown.get("event_source_arn") is True, f"{fid} event_source_arn")
                continue
            if k == "DestinationConfig":
                bad.check(list(want) == ["OnFailure"] and after["destination_config"][0]["on_failure"],
                          f"{fid} DestinationConfig {want}")
                continue
            bad.check(h.snake(k) in after, f"{fid} event property {k} has no Terraform argument")
            bad.check(same(want, after.get(h.snake(k))),
                      f"{fid} {k}: template {want!r}, plan {after.get(h.snake(k))!r}")
    bad.assert_none(f"{name}: the event source mappings differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_stream_consumer_and_table_optimizers_have_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    sam.refs.update(names_as_refs(sam))
    plan = planned(offline, name)
    bad = Mismatches()
    for rid, r in template["Resources"].items():
        if not sam.present(rid) or rid in SAM_ONLY["Resources"]:
            continue
        if r["Type"] == "AWS::Kinesis::StreamConsumer":
            after, unknown = plan[RESOURCES[rid][0]]
            props = sam.props(rid)
            bad.check(after["name"] == props["ConsumerName"] == f"{name}-batch-to-iceberg",
                      f"{rid} name {after['name']}")
            bad.check(unknown.get("stream_arn") is True, f"{rid} stream_arn")
            extra = set(props) - {"ConsumerName", "StreamARN"}
            bad.check(not extra, f"{rid} properties not compared: {sorted(extra)}")
        elif r["Type"] == "AWS::Glue::TableOptimizer":
            bad.extend(optimizer_mismatches(rid, sam.props(rid), *plan[RESOURCES[rid][0]]))
    bad.assert_none(f"{name}: the stream consumer or the table optimizers differ")


def optimizer_mismatches(rid, props, after, unknown, role_arn=None):
    """A template TableOptimizer and a planned aws_glue_catalog_table_optimizer (role_arn:
    the role's ARN when known)."""
    bad = Mismatches()
    for k in ("CatalogId", "DatabaseName", "TableName", "Type"):
        bad.check(same(props[k], after.get(h.snake(k))),
                  f"{rid}.{k}: template {props[k]!r}, plan {after.get(h.snake(k))!r}")
    bad.check(set(props) == {"CatalogId", "DatabaseName", "TableName", "Type",
                             "TableOptimizerConfiguration"}, f"{rid} properties {sorted(props)}")
    conf = props["TableOptimizerConfiguration"]
    (tconf,) = after["configuration"]
    bad.check(tconf["enabled"] is conf["Enabled"] is True, f"{rid} Enabled")
    if role_arn is None:
        bad.check((unknown.get("configuration") or [{}])[0].get("role_arn") is True, f"{rid} RoleArn")
    else:
        bad.check(tconf["role_arn"] == role_arn, f"{rid} RoleArn {tconf['role_arn']} vs {role_arn}")
    for k, v in conf.items():
        if k in ("Enabled", "RoleArn"):
            continue
        ice = v["IcebergConfiguration"]
        bad.check(list(v) == ["IcebergConfiguration"], f"{rid}.{k} {sorted(v)}")
        if k == "CompactionConfiguration":
            bad.check(ice == GLUE_COMPACTION_DEFAULTS,
                      f"{rid}.{k} {ice} is not Glue's default {GLUE_COMPACTION_DEFAULTS}: "
                      "the module must set it")
            continue
        tblock = tconf.get(h.snake(k)) or []
        bad.check(len(tblock) == 1, f"{rid}.{k} has no Terraform block {h.snake(k)}")
        tice = (tblock or [{}])[0].get("iceberg_configuration") or [{}]
        for key, want in ice.items():
            got = tice[0].get(h.snake(key))
            bad.check(same(want, got), f"{rid}.{k}.{key}: template {want!r}, plan {got!r}")
    blocks = {b for b in ("retention_configuration", "orphan_file_deletion_configuration")
              if tconf.get(b)}
    bad.check(blocks == {h.snake(k) for k in conf if k not in ("Enabled", "RoleArn",
                                                              "CompactionConfiguration")},
              f"{rid} Terraform blocks {sorted(blocks)}")
    return bad


@pytest.mark.parametrize("name", ["full", "lean"])
def test_the_request_memory_has_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    t = sam.props("IngestRequestMemory")
    got, _ = planned(offline, name)["aws_dynamodb_table.ingest_request_memory"]
    bad = Mismatches()
    bad.check(got["billing_mode"] == t["BillingMode"], "BillingMode")
    (key,) = t["KeySchema"]
    bad.check(got["hash_key"] == key["AttributeName"] and key["KeyType"] == "HASH", "KeySchema")
    bad.check([{"name": a["AttributeName"], "type": a["AttributeType"]}
               for a in t["AttributeDefinitions"]] == got["attribute"], "AttributeDefinitions")
    ttl = t["TimeToLiveSpecification"]
    bad.check(got["ttl"] == [{"attribute_name": ttl["AttributeName"], "enabled": ttl["Enabled"]}],
              f"TimeToLiveSpecification: {got['ttl']}")
    extra = set(t) - {"BillingMode", "KeySchema", "AttributeDefinitions",
                      "TimeToLiveSpecification"}
    bad.check(not extra, f"IngestRequestMemory properties not compared: {sorted(extra)}")
    bad.assert_none(f"{name}: the request memory differs")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_stream_bucket_and_queue_have_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    plan = planned(offline, name)
    bad = Mismatches()
    s = sam.props("Stream")
    st, _ = plan["aws_kinesis_stream.stream"]
    bad.check(st["name"] == f"{name}-stream", st["name"])
    bad.check(st["stream_mode_details"][0]["stream_mode"] == s["StreamModeDetails"]["StreamMode"], "StreamMode")
    bad.check(same(s["ShardCount"], st["shard_count"]) if "ShardCount" in s else st["shard_count"] is None,
              f"ShardCount {s.get('ShardCount')} vs {st['shard_count']}")
    bad.check(same(s["RetentionPeriodHours"], st["retention_period"]), "RetentionPeriodHours")
    bad.check(st["encryption_type"] == s["StreamEncryption"]["EncryptionType"], "EncryptionType")
    bad.check(st["kms_key_id"] == s["StreamEncryption"]["KeyId"], "KeyId")
    extra = set(s) - {"StreamModeDetails", "ShardCount", "RetentionPeriodHours", "StreamEncryption"}
    bad.check(not extra, f"Stream properties not compared: {sorted(extra)}")

    b = sam.props("Bucket")
    pab, _ = plan["aws_s3_bucket_public_access_block.bucket"]
    for k, want in b["PublicAccessBlockConfiguration"].items():
        bad.check(same(want, pab[h.snake(k)]), f"PublicAccessBlock {k}")
    own, _ = plan["aws_s3_bucket_ownership_controls.bucket"]
    bad.check([r["ObjectOwnership"] for r in b["OwnershipControls"]["Rules"]]
              == [r["object_ownership"] for r in own["rule"]], "OwnershipControls")
    enc, _ = plan["aws_s3_bucket_server_side_encryption_configuration.bucket"]
    (sam_rule,) = b["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (tf_rule,) = enc["rule"]
    bad.check(tf_rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
              == sam_rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "SSEAlgorithm")
    bad.check(tf_rule["bucket_key_enabled"] is sam_rule["BucketKeyEnabled"], "BucketKeyEnabled")
    lc, _ = plan["aws_s3_bucket_lifecycle_configuration.bucket"]
    sam_rules = {r["Id"]: r for r in b["LifecycleConfiguration"]["Rules"]}
    tf_rules = {r["id"]: r for r in lc["rule"]}
    bad.check(set(sam_rules) == set(tf_rules), f"lifecycle rules {set(sam_rules)} vs {set(tf_rules)}")
    for rid, r in sam_rules.items():
        t = tf_rules.get(rid)
        if not t:
            continue
        bad.check(t["status"] == r["Status"], f"{rid} status")
        bad.check(t["filter"] and t["filter"][0]["prefix"] in ("", None), f"{rid} applies to every key")
        if "AbortIncompleteMultipartUpload" in r:
            bad.check(same(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
                           t["abort_incomplete_multipart_upload"][0]["days_after_initiation"]), rid)
        if "ExpirationInDays" in r:
            bad.check(same(r["ExpirationInDays"], t["expiration"][0]["days"]), rid)
        extra = set(r) - {"Id", "Status", "AbortIncompleteMultipartUpload", "ExpirationInDays"}
        bad.check(not extra, f"lifecycle rule {rid} properties not compared: {sorted(extra)}")
    bucket, _ = plan["aws_s3_bucket.bucket"]
    bad.check(bucket["force_destroy"] is False, "force_destroy must be false (the template retains the bucket)")
    extra = set(b) - {"PublicAccessBlockConfiguration", "OwnershipControls", "BucketEncryption",
                      "LifecycleConfiguration"}
    bad.check(not extra, f"Bucket properties not compared: {sorted(extra)}")

    queues = {rid for rid, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    bad.check(queues == set(QUEUES), f"queues {sorted(queues)} vs QUEUES {sorted(QUEUES)}")
    for rid in QUEUES:
        addr = RESOURCES[rid][0]
        if not sam.present(rid):
            bad.check(addr not in plan, f"{addr} planned without {rid}")
            continue
        q = sam.props(rid)
        tq, _ = plan[addr]
        bad.check(same(q["SqsManagedSseEnabled"], tq["sqs_managed_sse_enabled"]), f"{rid} SqsManagedSseEnabled")
        bad.check(same(q["MessageRetentionPeriod"], tq["message_retention_seconds"]), f"{rid} MessageRetentionPeriod")
        extra = set(q) - {"SqsManagedSseEnabled", "MessageRetentionPeriod"}
        bad.check(not extra, f"{rid} properties not compared: {sorted(extra)}")
    bad.assert_none(f"{name}: stream, bucket or queues differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_log_groups_alarms_and_topic_have_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    sam.refs.update(names_as_refs(sam))
    plan = planned(offline, name)
    bad = Mismatches()
    for rid, r in template["Resources"].items():
        if not sam.present(rid) or not RESOURCES.get(rid):
            continue
        after, unknown = plan[RESOURCES[rid][0]]
        props = sam.props(rid)
        if r["Type"] == "AWS::Logs::LogGroup":
            bad.check(after["name"] == props["LogGroupName"], f"{rid} name {after['name']}")
            bad.check(same(props["RetentionInDays"], after["retention_in_days"]), f"{rid} retention")
        elif r["Type"] == "AWS::Logs::LogStream":
            bad.check(after["name"] == props["LogStreamName"], f"{rid} name")
            bad.check(after["log_group_name"] == props["LogGroupName"], f"{rid} group")
        elif r["Type"] == "AWS::CloudWatch::Alarm":
            for k, want in props.items():
                if k == "Dimensions":
                    bad.check(sorted(d["Name"] for d in want) == sorted(after["dimensions"]),
                              f"{rid} dimensions {after['dimensions']}")
                elif k == "AlarmActions":
                    bad.check(unknown.get("alarm_actions") or after.get("alarm_actions"),
                              f"{rid} has no alarm actions")
                else:
                    bad.check(same(want, after.get(h.snake(k))),
                              f"{rid}.{k}: template {want!r}, plan {after.get(h.snake(k))!r}")
        elif r["Type"] == "AWS::SNS::Topic":
            bad.check(after["name"] == props["TopicName"], f"{rid} name")
            bad.check(same(props.get("KmsMasterKeyId"), after.get("kms_master_key_id")),
                      f"{rid} KmsMasterKeyId: {props.get('KmsMasterKeyId')} vs {after.get('kms_master_key_id')}")
            extra = set(props) - {"TopicName", "KmsMasterKeyId"}
            bad.check(not extra, f"{rid} properties not compared: {sorted(extra)}")
        elif r["Type"] == "AWS::Glue::Database":
            bad.check(same(props["CatalogId"], after["catalog_id"]), f"{rid} catalog")
            for k, want in props["DatabaseInput"].items():
                bad.check(same(want, after.get(h.snake(k))),
                          f"{rid}.DatabaseInput.{k}: template {want!r}, plan {after.get(h.snake(k))!r}")
        elif r["Type"] == "AWS::SNS::Subscription":
            bad.check(after["protocol"] == props["Protocol"], f"{rid} protocol")
            bad.check(after["endpoint"] == props["Endpoint"], f"{rid} endpoint")
    bad.assert_none(f"{name}: log groups, alarms or topic differ")


@pytest.mark.parametrize("name", ["full", "lean"])
def test_delivery_stream_has_the_template_settings(template, offline, name):
    sam = sam_for(template, name)
    sam.refs.update(names_as_refs(sam))
    plan = planned(offline, name)
    addr = RESOURCES["DeliveryStream"][0]
    if not sam.present("DeliveryStream"):
        assert addr not in plan
        out = offline["plan"]["output_changes"]["lean_delivery_stream_name"]
        assert out["after"] is None and out["after_unknown"] is False, out
        return
    d = sam.props("DeliveryStream")
    after, unknown = plan[addr]
    bad = Mismatches()
    bad.check(after["name"] == d["DeliveryStreamName"], f"name {after['name']} vs {d['DeliveryStreamName']}")
    bad.check(d["DeliveryStreamType"] == "KinesisStreamAsSource" and after["kinesis_source_configuration"],
              "Kinesis source")
    e = d["ExtendedS3DestinationConfiguration"]
    (s3,) = after["extended_s3_configuration"]
    bad.check(s3["prefix"] == e["Prefix"], f"Prefix {s3['prefix']} vs {e['Prefix']}")
    bad.check(s3["error_output_prefix"] == e["ErrorOutputPrefix"], "ErrorOutputPrefix")
    bad.check(s3["compression_format"] == e["CompressionFormat"], "CompressionFormat")
    bad.check(same(e["BufferingHints"]["IntervalInSeconds"], s3["buffering_interval"]), "IntervalInSeconds")
    bad.check(same(e["BufferingHints"]["SizeInMBs"], s3["buffering_size"]), "SizeInMBs")
    cw = e["CloudWatchLoggingOptions"]
    (tcw,) = s3["cloudwatch_logging_options"]
    bad.check(tcw["enabled"] is cw["Enabled"], "logging enabled")
    bad.check(tcw["log_group_name"] == cw["LogGroupName"], f"LogGroupName {tcw['log_group_name']}")
    bad.check(tcw["log_stream_name"] == cw["LogStreamName"], "LogStreamName")
    dp = e.get("DynamicPartitioningConfiguration")
    bad.check([x["enabled"] for x in s3["dynamic_partitioning_configuration"]]
              == ([dp["Enabled"]] if dp else []), f"DynamicPartitioningConfiguration {dp}")
    pc = e["ProcessingConfiguration"]
    (tpc,) = s3["processing_configuration"]
    bad.check(tpc["enabled"] is pc["Enabled"], "processing enabled")
    (proc,) = pc["Processors"]
    (tproc,) = tpc["processors"]
    bad.check(tproc["type"] == proc["Type"], "processor type")
    sam_params_ = {x["ParameterName"]: x["ParameterValue"] for x in proc["Parameters"]}
    tf_names = {x["parameter_name"] for x in tproc["parameters"]}
    for k, v in sam_params_.items():
        if k in FIREHOSE_PROCESSOR_DEFAULTS and k not in tf_names:
            bad.check(str(v) == FIREHOSE_PROCESSOR_DEFAULTS[k],
                      f"processor {k}={v} is not Firehose's default {FIREHOSE_PROCESSOR_DEFAULTS[k]}: "
                      "the module must set it")
        else:
            bad.check(k in tf_names, f"processor parameter {k} missing")
    bad.check(tf_names <= set(sam_params_), f"processor parameters not in the template: {tf_names - set(sam_params_)}")
    extra = set(e) - {"BucketARN", "RoleARN", "Prefix", "ErrorOutputPrefix", "CompressionFormat",
                      "BufferingHints", "CloudWatchLoggingOptions",
                      "DynamicPartitioningConfiguration", "ProcessingConfiguration"}
    bad.check(not extra, f"destination properties not compared: {sorted(extra)}")
    bad.assert_none(f"{name}: the delivery stream differs")


# ================================================================ 2. applied to moto

@pytest.fixture(scope="module")
def applied(deployment, moto_url):
    try:
        return deployment.result()
    except h.TerraformFailed as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def aws(moto_url):
    def client(service):
        return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")
    return client


def sam_from_state(template, case, res):
    """template.yaml evaluated for `case`, with Ref/GetAtt of resources standing for what
    Terraform made (`res`, from its state)."""
    def v(addr, key="arn"):
        return res[addr]["values"][key]

    refs, getatts = {}, {}
    for rid, addrs in RESOURCES.items():
        if not addrs or addrs[0] not in res:
            continue
        r = res[addrs[0]]
        kind = r["type"]
        if kind == "aws_cloudwatch_log_group":
            refs[rid] = v(addrs[0], "name")
            getatts[(rid, "Arn")] = v(addrs[0]) + ":*"  # CloudFormation's LogGroup.Arn
        elif kind == "aws_lambda_function":
            refs[rid] = v(addrs[0], "function_name")
            getatts[(rid, "Arn")] = v(addrs[0])
        elif kind == "aws_sqs_queue":
            refs[rid] = v(addrs[0], "url")
            getatts[(rid, "Arn")] = v(addrs[0])
            getatts[(rid, "QueueName")] = v(addrs[0], "name")
        elif kind == "aws_s3_bucket":
            refs[rid] = v(addrs[0], "id")
            getatts[(rid, "Arn")] = v(addrs[0])
        elif kind in ("aws_kinesis_stream", "aws_dynamodb_table"):
            refs[rid] = v(addrs[0], "name")
            getatts[(rid, "Arn")] = v(addrs[0])
        elif kind in ("aws_iam_role", "aws_sns_topic"):
            refs[rid] = v(addrs[0], "name" if kind == "aws_iam_role" else "arn")
            getatts[(rid, "Arn")] = v(addrs[0])
        elif kind == "aws_kinesis_firehose_delivery_stream":
            refs[rid] = v(addrs[0], "name")
            getatts[(rid, "Arn")] = v(addrs[0])
        elif kind == "aws_kinesis_stream_consumer":
            getatts[(rid, "ConsumerARN")] = v(addrs[0])
        elif kind in ("aws_cloudwatch_log_stream", "aws_glue_catalog_database"):
            refs[rid] = v(addrs[0], "name")
    if "aws_lambda_function_url.ingest" in res:  # SAM's IngestFunctionUrl
        getatts[("IngestFunctionUrl", "FunctionUrl")] = v("aws_lambda_function_url.ingest",
                                                          "function_url")
    return h.Sam(template, sam_params(template, case), stack=STACK, account=ACCOUNT,
                 refs=refs, getatts=getatts)


@pytest.fixture(scope="module")
def live(template, applied):
    """template.yaml evaluated for FULL, with Ref/GetAtt of resources standing for what
    Terraform made (from its state)."""
    res = applied["resources"]
    return sam_from_state(template, FULL, res), res


def test_apply_built_every_planned_resource(applied, deployment):
    managed = [r for r in applied["resources"].values() if r["mode"] == "managed"]
    print(f"\nterraform: {applied['added']} resources added; times (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in deployment.times.items()))
    assert applied["added"] == applied["planned"] == len(managed), (
        applied["added"], applied["planned"], len(managed))
    assert applied["added"] >= 30


def test_stream(aws, applied, live):
    sam, _ = live
    s = aws("kinesis").describe_stream_summary(StreamName=applied["outputs"]["stream_name"])
    s = s["StreamDescriptionSummary"]
    props = sam.props("Stream")
    assert s["StreamARN"] == applied["outputs"]["stream_arn"]
    assert s["StreamModeDetails"]["StreamMode"] == props["StreamModeDetails"]["StreamMode"]
    assert s["RetentionPeriodHours"] == int(props["RetentionPeriodHours"])
    assert s["EncryptionType"] == "KMS" and s["KeyId"] == "alias/aws/kinesis"
    shards = aws("kinesis").list_shards(StreamName=s["StreamName"])["Shards"]
    assert len(shards) == int(props["ShardCount"]) == 2


def test_bucket(aws, applied, live):
    sam, _ = live
    s3 = aws("s3")
    b = applied["outputs"]["bucket_name"]
    assert b.startswith(f"{STACK}-bucket-")
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == \
        sam.props("Bucket")["PublicAccessBlockConfiguration"]
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
                    "BucketKeyEnabled": True}
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]}
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["expire-objects"]["Expiration"] == {"Days": 30}
    assert set(rules) == {"abort-incomplete-uploads", "expire-objects"}
    policy = json.loads(s3.get_bucket_policy(Bucket=b)["Policy"])
    want = sam.props("BucketPolicy")["PolicyDocument"]
    assert h.normalize_policy(policy) == h.normalize_policy(want)


def test_functions_and_their_environment(aws, applied, live):
    sam, _ = live
    lam = aws("lambda")
    bad = Mismatches()
    for fid, (binary, _lg, role) in FUNCTIONS.items():
        c = lam.get_function_configuration(FunctionName=f"{STACK}-{binary}")
        bad.check(c["Runtime"] == sam.function_setting(fid, "Runtime"), f"{fid} runtime")
        bad.check(c["Architectures"] == sam.function_setting(fid, "Architectures"), f"{fid} arch")
        bad.check(c["Handler"] == sam.function_setting(fid, "Handler"), f"{fid} handler")
        bad.check(c["MemorySize"] == sam.function_setting(fid, "MemorySize"), f"{fid} memory")
        bad.check(c["Timeout"] == sam.function_setting(fid, "Timeout"), f"{fid} timeout")
        bad.check(c["Role"] == sam.getatts[(role, "Arn")], f"{fid} role {c['Role']}")
        want_env = sam.props(fid)["Environment"]["Variables"]
        got_env = c.get("Environment", {}).get("Variables", {})
        bad.check(set(got_env) == set(want_env),
                  f"{fid} variable names: only template {sorted(set(want_env) - set(got_env))}, "
                  f"only Terraform {sorted(set(got_env) - set(want_env))}")
        for k, want in want_env.items():
            bad.check(isinstance(want, str), f"{fid} {k} unresolved in the template: {want}")
            bad.check(got_env.get(k) == want, f"{fid} {k}: template {want!r}, deployed {got_env.get(k)!r}")
        reserved = sam.props(fid).get("ReservedConcurrentExecutions")
        got = lam.get_function_concurrency(FunctionName=f"{STACK}-{binary}").get("ReservedConcurrentExecutions")
        bad.check(got == (int(reserved) if reserved is not None else None),
                  f"{fid} reserved concurrency {got} vs template {reserved}")
    bad.assert_none("deployed functions differ from template.yaml")


def test_function_url_and_public_permission(aws, applied, live):
    sam, _ = live
    lam = aws("lambda")
    name = f"{STACK}-ingest"
    url = lam.get_function_url_config(FunctionName=name)
    assert url["FunctionUrl"] == applied["outputs"]["ingest_url"]
    assert url["AuthType"] == "NONE"
    cors = sam.props("IngestFunction")["FunctionUrlConfig"]["Cors"]
    assert sorted(url["Cors"]["AllowOrigins"]) == sorted(cors["AllowOrigins"]) == sorted(FULL["cors_allow_origins"])
    assert sorted(url["Cors"]["AllowHeaders"]) == sorted(cors["AllowHeaders"])
    assert url["Cors"]["AllowMethods"] == cors["AllowMethods"]
    assert url["Cors"]["MaxAge"] == cors["MaxAge"]
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    # moto adds a statement of its own (FunctionURLAllowPublicAccess) with a public URL.
    (ours,) = [s for s in policy["Statement"] if s["Sid"] == "FunctionUrlAllowPublicAccess"]
    assert ours["Action"] == "lambda:InvokeFunctionUrl" and ours["Principal"] == "*"
    assert ours.get("FunctionUrlAuthType") == "NONE" or \
        ours.get("Condition", {}).get("StringEquals", {}).get("lambda:FunctionUrlAuthType") == "NONE"


def test_event_source_mappings(aws, applied, live):
    sam, _ = live
    esms = aws("lambda").list_event_source_mappings(
        EventSourceArn=applied["outputs"]["stream_arn"])["EventSourceMappings"]
    bad = Mismatches()
    want_functions = {sam.getatts[(fid, "Arn")] for fid in MAPPINGS if sam.present(fid)}
    bad.check(sorted(e["FunctionArn"] for e in esms) == sorted(want_functions),
              f"mappings of {sorted(e['FunctionArn'] for e in esms)}, template {sorted(want_functions)}")
    for fid in MAPPINGS:
        if not sam.present(fid):
            continue
        mine = [e for e in esms if e["FunctionArn"] == sam.getatts[(fid, "Arn")]]
        if len(mine) != 1:
            continue
        (esm,) = mine
        events = sam.props(fid)["Events"]
        (event,) = [e["Properties"] for e in events.values() if e["Type"] == "Kinesis"]
        for k, want in event.items():
            if k == "Stream":
                bad.check(esm["EventSourceArn"] == want, f"{fid} EventSourceArn {esm['EventSourceArn']} vs {want}")
            elif k == "DestinationConfig":
                bad.check(esm["DestinationConfig"]["OnFailure"]["Destination"]
                          == want["OnFailure"]["Destination"], f"{fid} DestinationConfig {esm['DestinationConfig']}")
            else:
                bad.check(k in esm and same(want, esm[k]), f"{fid} {k}: template {want!r}, moto {esm.get(k)!r}")
    bad.assert_none("the deployed event source mappings differ from template.yaml")


def test_failure_queues(aws, applied, live):
    sam, _ = live
    sqs = aws("sqs")
    for rid, output in QUEUES.items():
        url = applied["outputs"][output]
        assert sam.present(rid) and url == sam.refs[rid], (rid, url)
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        q = sam.props(rid)
        assert a["SqsManagedSseEnabled"] == "true" and same(q["SqsManagedSseEnabled"], True), rid
        assert a["MessageRetentionPeriod"] == str(q["MessageRetentionPeriod"]) == "1209600", rid


def test_glue_databases(aws, applied, live):
    sam, _ = live
    glue = aws("glue")
    made = {rid for rid, r in sam.t["Resources"].items()
            if r["Type"] == "AWS::Glue::Database" and sam.present(rid)}
    assert made == {"GlueDatabase", "IcebergGlueDatabase"}
    for rid in made:
        want = sam.props(rid)["DatabaseInput"]
        db = glue.get_database(Name=want["Name"])["Database"]
        assert db["Name"] == want["Name"] == sam.refs[rid], rid
        assert db["Description"] == want["Description"], rid
    assert sam.props("GlueDatabase")["DatabaseInput"]["Description"] == \
        f"trickle ({STACK}): tables kept by batch-to-s3"
    assert sam.props("IcebergGlueDatabase")["DatabaseInput"]["Description"] == \
        f"trickle ({STACK}): the Iceberg table batch-to-iceberg appends to"


def test_outputs_are_the_templates(applied, live):
    sam, _ = live
    bad = Mismatches()
    for out, o in sam.t.get("Outputs", {}).items():
        if out in SAM_ONLY["Outputs"]:
            continue
        made = "Condition" not in o or sam.condition(o["Condition"])
        want = sam.resolve(o["Value"]) if made else None
        bad.check(want is None or isinstance(want, str), f"{out} unresolved in the template: {want}")
        got = applied["outputs"].get(h.snake(out))
        bad.check(got == want, f"{out}: template {want!r}, Terraform {got!r}")
    bad.assert_none("outputs differ from template.yaml")


def role_mismatches(iam, sam, role):
    """Every statement (Sid, actions, resources, conditions) and the trust policy of a role
    in moto against template.yaml's, with the template's Ref/GetAtt standing for what
    Terraform made."""
    bad = Mismatches()
    name = sam.refs[role]
    props = sam.props(role)
    got_trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    bad.check(h.normalize_policy(got_trust) == h.normalize_policy(props["AssumeRolePolicyDocument"]),
              f"{role} trust policy {got_trust}")
    policies = list(props["Policies"])
    for rid, r in sam.t["Resources"].items():  # policies of their own attached to the role
        if r["Type"] == "AWS::IAM::Policy" and sam.present(rid) and name in sam.props(rid)["Roles"]:
            policies.append(sam.props(rid))
    names = iam.list_role_policies(RoleName=name)["PolicyNames"]
    bad.check(sorted(names) == sorted(p["PolicyName"] for p in policies), f"{role} policies {names}")
    for p in policies:
        want = h.normalize_policy(p["PolicyDocument"])
        bad.check("${" not in json.dumps(want) and "Fn::" not in json.dumps(want),
                  f"{role}: unresolved in the template: {want}")
        if p["PolicyName"] not in names:
            continue
        got = h.normalize_policy(
            iam.get_role_policy(RoleName=name, PolicyName=p["PolicyName"])["PolicyDocument"])
        bad.check(got == want, (
            f"{role}: only in template.yaml "
            f"{[s for s in want['Statement'] if s not in got['Statement']]}, "
            f"only in Terraform {[s for s in got['Statement'] if s not in want['Statement']]}"))
    bad.check(role != "FirehoseRole" or got_trust["Statement"][0]["Condition"] ==
              {"StringEquals": {"sts:ExternalId": ACCOUNT}}, f"{role} external id")
    return bad


@pytest.mark.parametrize("role", ROLES)
def test_role_policies_are_the_templates(aws, applied, live, role):
    sam, _ = live
    role_mismatches(aws("iam"), sam, role).assert_none(f"{role} differs from template.yaml")


def test_log_groups_and_firehose_log_stream(aws, applied, live):
    sam, _ = live
    logs = aws("logs")
    want = {sam.props(rid)["LogGroupName"]: int(sam.props(rid)["RetentionInDays"])
            for rid, r in sam.t["Resources"].items()
            if r["Type"] == "AWS::Logs::LogGroup" and sam.present(rid)}
    got = {}
    for prefix in (f"/aws/lambda/{STACK}-", f"/aws/kinesisfirehose/{STACK}"):
        for g in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]:
            got[g["logGroupName"]] = g.get("retentionInDays")
    assert got == want and set(want.values()) == {14}
    streams = logs.describe_log_streams(logGroupName=f"/aws/kinesisfirehose/{STACK}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [sam.props("FirehoseLogStream")["LogStreamName"]]


def test_delivery_stream(aws, applied, live):
    sam, _ = live
    name = applied["outputs"]["delivery_stream_name"]
    assert name == f"{STACK}-delivery-partitioned" == sam.props("DeliveryStream")["DeliveryStreamName"]
    d = aws("firehose").describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    want = sam.props("DeliveryStream")
    assert d["DeliveryStreamType"] == want["DeliveryStreamType"]
    src = d["Source"]["KinesisStreamSourceDescription"]
    assert src["KinesisStreamARN"] == want["KinesisStreamSourceConfiguration"]["KinesisStreamARN"]
    assert src["RoleARN"] == want["KinesisStreamSourceConfiguration"]["RoleARN"]
    (dest,) = d["Destinations"]
    got = dest["ExtendedS3DestinationDescription"]
    e = want["ExtendedS3DestinationConfiguration"]
    for k in ("BucketARN", "RoleARN", "Prefix", "ErrorOutputPrefix", "CompressionFormat"):
        assert got[k] == e[k], k
    assert got["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 120}
    assert same(e["BufferingHints"]["SizeInMBs"], 64) and same(e["BufferingHints"]["IntervalInSeconds"], 120)
    assert got["CloudWatchLoggingOptions"] == e["CloudWatchLoggingOptions"]
    assert got["DynamicPartitioningConfiguration"]["Enabled"] is True
    (proc,) = got["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in proc["Parameters"]}
    (want_proc,) = e["ProcessingConfiguration"]["Processors"]
    assert params["LambdaArn"] == {p["ParameterName"]: p["ParameterValue"]
                                   for p in want_proc["Parameters"]}["LambdaArn"]


def test_alarms_notify_the_topic(aws, applied, live):
    sam, _ = live
    topic = applied["outputs"]["alarm_topic_arn"]
    assert topic.endswith(f":{sam.props('AlarmTopic')['TopicName']}")
    subs = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", FULL["alarm_email"])]
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{STACK}-")["MetricAlarms"]
    want = {rid: sam.props(rid) for rid, r in sam.t["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm" and sam.present(rid)}
    assert len(alarms) == len(want) == 5

    def key(metric, dimensions):  # two alarms per metric (batch-to-s3's, batch-to-iceberg's)
        return metric, tuple(sorted((d["Name"], d["Value"]) for d in dimensions))

    by_key = {key(a["MetricName"], a["Dimensions"]): a for a in alarms}
    for rid, p in want.items():
        a = by_key.get(key(p["MetricName"], p["Dimensions"]))
        assert a, f"{rid}: no alarm on {key(p['MetricName'], p['Dimensions'])} in {sorted(by_key)}"
        assert a["AlarmActions"] == p["AlarmActions"] == [topic], rid
        assert a["Namespace"] == p["Namespace"] and same(p["Threshold"], a["Threshold"]), rid
        assert a["AlarmDescription"] == p["AlarmDescription"], rid


def changes(plan):
    """address -> (actions, keys whose known values change) of a plan's managed resources."""
    out = {}
    for rc in plan["resource_changes"]:
        if rc["change"]["actions"] == ["no-op"] or rc["mode"] != "managed":
            continue
        before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
        out[rc["address"]] = (rc["change"]["actions"],
                              sorted(k for k in set(before) | set(after)
                                     if before.get(k) != after.get(k)
                                     and not rc["change"]["after_unknown"].get(k)))
    return out


def moto_drift(addr, actions, keys):
    """What moto does not keep: a function's logging_config."""
    return actions == ["update"] and addr.split(".")[2] == "aws_lambda_function" \
        and keys == ["logging_config"]


@pytest.fixture(scope="module")
def fanout(template, deployment, applied, zips):
    """FULL_PLAN_ONLY turned on in the applied stack (after the tests of what FULL made). What
    moto can make of it applied by target: the consumer, the optimizers' role and policy, the
    Iceberg role's policy with its consumer statement. Then the whole configuration planned
    again (with a refresh): the rest of FULL_PLAN_ONLY (the event source mapping on the
    consumer, the optimizers), every value known now, and nothing else but what moto does not
    keep. (One plan for both: each Terraform run costs 4-7 s here.)"""
    d, m = deployment, "module.trickle."
    d.tf.write_root(d.dir, d.endpoint, {"trickle": module_args(STACK, CASES["full"], zips)})
    t = time.monotonic()
    out = d.tf.run(d.dir, "apply", "-auto-approve", "-input=false", "-refresh=false",
                   f"-target={m}{RESOURCES['IcebergRole'][1]}",
                   f"-target={m}{RESOURCES['IcebergOptimizerRole'][1]}").stdout
    d.times["fan-out apply"] = time.monotonic() - t
    counts = re.search(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", out)
    assert counts, out[-3000:]
    t = time.monotonic()
    p = d.tf.run(d.dir, "plan", "-input=false", "-lock=false", "-detailed-exitcode",
                 "-out=again.plan", check=False)
    assert p.returncode in (0, 2), p.stderr[-3000:]
    plan = json.loads(d.tf.run(d.dir, "show", "-json", "again.plan").stdout)
    d.times["plan again"] = time.monotonic() - t
    res = h.state_resources(d.dir / "terraform.tfstate", "trickle")
    planned_only = {RESOURCES["IcebergFunction"][1]: ["create", "delete"]}  # a new source
    planned_only.update({RESOURCES[rid][0]: ["create"] for rid, r in template["Resources"].items()
                         if r["Type"] == "AWS::Glue::TableOptimizer"})
    return {"counts": tuple(int(x) for x in counts.groups()), "plan": plan, "resources": res,
            "planned_only": planned_only, "sam": sam_from_state(template, CASES["full"], res)}


def test_plan_after_apply_changes_only_what_moto_does_not_keep(fanout):
    """moto keeps no function logging_config; everything else must be as applied, but what
    only the plan has of FULL_PLAN_ONLY."""
    for addr, (actions, keys) in changes(fanout["plan"]).items():
        short = addr[len("module.trickle."):]
        if short in fanout["planned_only"]:
            assert sorted(actions) == fanout["planned_only"][short], f"{addr}: {actions}"
        else:
            assert moto_drift(addr, actions, keys), f"{addr}: {actions} {keys}"
    planned = {a[len("module.trickle."):] for a in changes(fanout["plan"])}
    assert set(fanout["planned_only"]) <= planned, sorted(planned)


@pytest.mark.parametrize("role", ROLES_WITH_PLAN_ONLY)
def test_roles_with_fan_out_and_optimizers_are_the_templates(aws, fanout, role):
    sam = fanout["sam"]
    role_mismatches(aws("iam"), sam, role).assert_none(
        f"{role} with {FULL_PLAN_ONLY} differs from template.yaml")


def test_fan_out_and_optimizers_on_the_applied_stack(aws, fanout):
    sam, plan = fanout["sam"], fanout["plan"]
    # The consumer, the optimizers' role and its policy added; the Iceberg role's policy changed.
    assert fanout["counts"] == (3, 1, 0), fanout["counts"]
    consumer = sam.getatts[("IcebergStreamConsumer", "ConsumerARN")]
    c = aws("kinesis").describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]
    want = sam.props("IcebergStreamConsumer")
    assert c["ConsumerName"] == want["ConsumerName"] == f"{STACK}-batch-to-iceberg"
    assert c["StreamARN"] == want["StreamARN"]

    planned = h.resource_changes(plan, "trickle")
    bad = Mismatches()
    # The mapping moves to the consumer (a new mapping: the source cannot change in place).
    esm = RESOURCES["IcebergFunction"][1]
    (event,) = [e["Properties"] for e in sam.props("IcebergFunction")["Events"].values()
                if e["Type"] == "Kinesis"]
    after, _ = planned[esm]
    bad.check(after["event_source_arn"] == event["Stream"] == consumer,
              f"{esm} event_source_arn {after['event_source_arn']} vs template {event['Stream']}")
    for rid, r in sam.t["Resources"].items():
        if r["Type"] == "AWS::Glue::TableOptimizer":
            after, unknown = planned[RESOURCES[rid][0]]
            bad.extend(optimizer_mismatches(rid, sam.props(rid), after, unknown,
                                            role_arn=sam.getatts[("IcebergOptimizerRole", "Arn")]))
    bad.assert_none("FULL_PLAN_ONLY on the applied stack differs from template.yaml")


def test_destroy_leaves_nothing(aws, deployment, applied):
    d = deployment
    # What the template retains first (prevent_destroy refuses a destroy while it is here).
    kept = d.release_retained()
    assert kept == [f"module.trickle.{RESOURCES[rid][0]}" for rid in RETAINED], kept
    managed = [a for a in d.tf.run(d.dir, "state", "list").stdout.split()
               if not a.startswith("module.trickle.data.")]
    out = d.destroy()
    m = re.search(r"Resources: (\d+) destroyed", out)
    assert m and int(m.group(1)) == len(managed), out[-2000:]
    print(f"\nterraform destroy: {m.group(1)} resources in {d.times['destroy']:.1f} s; times (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in d.times.items()))
    o = applied["outputs"]
    assert o["stream_name"] not in aws("kinesis").list_streams()["StreamNames"]
    assert o["bucket_name"] not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    lam = aws("lambda")
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(f"{STACK}-")]
    assert not lam.list_event_source_mappings(EventSourceArn=o["stream_arn"])["EventSourceMappings"]
    assert not [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(f"{STACK}-")]
    assert not aws("sqs").list_queues(QueueNamePrefix=f"{STACK}-").get("QueueUrls")
    logs = aws("logs")
    for prefix in (f"/aws/lambda/{STACK}-", f"/aws/kinesisfirehose/{STACK}"):
        assert not logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert o["delivery_stream_name"] not in aws("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert o["alarm_topic_arn"] not in [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert not [s for s in aws("sns").list_subscriptions()["Subscriptions"]
                if s["TopicArn"] == o["alarm_topic_arn"]]
    assert not aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{STACK}-")["MetricAlarms"]
    glue = aws("glue")
    databases = [db["Name"] for db in glue.get_databases()["DatabaseList"]]
    assert FULL["glue_database_name"] not in databases
    # The Iceberg database outlives the destroy, as the template's Retain keeps it.
    assert FULL["iceberg_database_name"] in databases
    glue.delete_database(Name=FULL["iceberg_database_name"])
    left = d.tf.run(d.dir, "state", "list").stdout.split()
    assert left == [], left
