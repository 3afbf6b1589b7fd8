"""The offline deploy proof of template.yaml.

1. Translate it as CloudFormation's SAM transform does (aws-sam-translator) for each
   meaningful parameter set and assert what AWS requires of the result: the function URL's
   permissions, every role's actions against what the code and Firehose call, parameter
   ranges and Rules against AWS's, and the properties moto ignores (encryption, arm64, ...).
2. Create each translated stack in moto's CloudFormation and check what it builds.
"""

import ast
import io
import urllib.parse
import json
import re
import time
import tomllib
import uuid
import zipfile

import boto3
import botocore.session
import pytest

import cfn

TOKEN = "a" * 64
SAMCONFIG = cfn.ROOT / "samconfig.toml"
PARAMETER_SETS = {
    # The defaults: signed requests, Firehose beside batch-to-s3, no partitioning.
    "iam-firehose": {},
    # A public URL with a token, Firehose dynamic partitioning, Parquet with a Glue table.
    "public-partitioned": {
        "IngestAuthType": "NONE",
        "IngestTokenSha256": TOKEN,
        "FirehosePartitionPointers": "type=/type",
        "FirehoseBufferSizeMiB": "64",
        "CorsAllowOrigins": "https://example.com",
        "Format": "parquet",
        "Schema": "ts timestamp, user string, tags array<string>",
        "GlueDatabaseName": "trickle_db",
        "GlueTableName": "events",
    },
    # batch-to-s3 only, with reservations, an alarm email and partitioned objects.
    "no-firehose": {
        "EnableFirehose": "false",
        "IngestReservedConcurrency": "5",
        "BatchToS3ReservedConcurrency": "2",
        "AlarmEmail": "ops@example.com",
        "ObjectPartitionPointer": "/type",
        "StreamMode": "ON_DEMAND",
    },
    # The third reader beside batch-to-s3 and Firehose, sharing each shard's throughput; a
    # partitioned table it creates from Schema.
    "iceberg": {
        "EnableIceberg": "true",
        "Schema": "ts timestamp, customer string, latency_ms bigint",
        "IcebergPartitionSpec": "day(ts), identity(customer)",
    },
    # batch-to-iceberg through its own enhanced fan-out consumer, with the table optimizers
    # (a second deploy, once the table exists), a reservation and a warehouse elsewhere; a
    # Glue table of batch-to-s3's in a database of its own beside it; no Firehose.
    "iceberg-efo-optimizers": {
        "EnableIceberg": "true",
        "IcebergEnhancedFanOut": "true",
        "IcebergOptimizers": "true",
        "IcebergReservedConcurrency": "2",
        "IcebergWarehousePrefix": "lake/iceberg",
        "IcebergDatabaseName": "lake",
        "IcebergTableName": "clicks",
        "IcebergPartitionSpec": "bucket(16, user)",
        "IcebergSnapshotRetentionDays": "14",
        "Format": "parquet",
        "Schema": "ts timestamp, user string",
        "GlueDatabaseName": "trickle_db",
        "GlueTableName": "events",
        "EnableFirehose": "false",
    },
    # batch-to-iceberg with its table in Amazon S3 Tables: the stack's table bucket, namespace
    # and (empty) table, snapshot expiry and unreferenced file removal set; beside batch-to-s3
    # and Firehose. Its namespace may share its name with batch-to-s3's Glue database.
    "iceberg-s3tables": {
        "EnableIceberg": "true",
        "IcebergCatalog": "s3tables",
        "IcebergDatabaseName": "lake",
        "IcebergTableName": "clicks",
        "IcebergSnapshotRetentionDays": "14",
        "IcebergOrphanFileRetentionDays": "5",
        "Schema": "ts timestamp, user string",
        "IcebergPartitionSpec": "hour(ts)",
        "Format": "parquet",
        "GlueDatabaseName": "lake",
        "GlueTableName": "events",
    },
}



def samconfig_overrides(text):
    """Each samconfig.toml configuration's parameter overrides, read by SAM CLI's own parser
    (a value with spaces must be quoted, an empty one written as ""), and its stack name."""
    from samcli.cli.types import CfnParameterOverridesType

    configs = {}
    for name, config in tomllib.loads(text).items():
        if name == "version":
            continue
        overrides = config["deploy"]["parameters"].get("parameter_overrides", [])
        params = CfnParameterOverridesType().convert(overrides, None, None)
        configs[name] = (config["global"]["parameters"]["stack_name"], params)
    return configs


def token_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("token_script", cfn.ROOT / "scripts" / "new_token.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The named configurations a first deploy uses (`sam deploy --config-env NAME`), proven like
# the sets above; public-url with a token hash written as `make token` writes it.
SAMCONFIG_CONFIGS = samconfig_overrides(
    token_script().with_token_hash(SAMCONFIG.read_text(), "public-url", TOKEN))
PARAMETER_SETS.update({f"samconfig-{name}": params
                       for name, (_, params) in SAMCONFIG_CONFIGS.items()})


@pytest.fixture(scope="module", params=sorted(PARAMETER_SETS))
def case(request):
    params = PARAMETER_SETS[request.param]
    r = cfn.Resolved(cfn.translate(params), params)
    r.check_rules()
    r.check_parameter_constraints()
    return request.param, r


def statements(policy_doc):
    s = policy_doc["Statement"]
    return s if isinstance(s, list) else [s]


def as_list(x):
    return x if isinstance(x, list) else [x]


def role_actions(r, role_id):
    """Every action the role allows, with its resources: its inline policies and the
    AWS::IAM::Policy resources attached to it."""
    props = r.props(role_id)
    policies = list(props.get("Policies", []))
    policies += [p["Properties"] for p in r.of_type("AWS::IAM::Policy").values()
                 if {"Ref": role_id} in p["Properties"]["Roles"]]
    actions = {}
    for policy in policies:
        for st in statements(policy["PolicyDocument"]):
            assert st["Effect"] == "Allow", st
            for a in as_list(st["Action"]):
                actions.setdefault(a, []).extend(as_list(st["Resource"]))
    return actions


# ---------------------------------------------------------------- the function URL
def test_public_url_is_open_to_everyone_and_signed_url_to_no_one(case):
    name, r = case
    url = r.of_type("AWS::Lambda::Url")["IngestFunctionUrl"]["Properties"]
    auth = r.params["IngestAuthType"]
    assert url["AuthType"] == auth
    public = [
        p["Properties"] for p in r.of_type("AWS::Lambda::Permission").values()
        if p["Properties"].get("Principal") == "*"
    ]
    if auth == "NONE":
        # Lambda answers 403 unless both statements are in the resource policy (URLs made
        # since October 2025 need lambda:InvokeFunction too).
        by_action = {p["Action"]: p for p in public}
        assert set(by_action) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}, public
        assert by_action["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
        assert by_action["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
        for p in public:
            assert p["FunctionName"] == {"Ref": "IngestFunction"}
        env = r.props("IngestFunction")["Environment"]["Variables"]
        assert env["AUTH_TOKEN_SHA256"] == TOKEN
    else:
        assert public == [], "a signed URL must not be opened to everyone"
    if r.params["CorsAllowOrigins"]:
        assert url["Cors"]["AllowOrigins"] == r.params["CorsAllowOrigins"].split(",")
    else:
        assert "Cors" not in url


def test_ingest_identifies_records_by_the_field_it_is_given():
    for given in ("", "/message_id"):
        params = {"RecordIdPointer": given}
        r = cfn.Resolved(cfn.translate(params), params)
        env = r.props("IngestFunction")["Environment"]["Variables"]
        assert env["RECORD_ID_POINTER"] == given


def test_a_public_url_without_a_token_is_refused_before_anything_is_created():
    params = {"IngestAuthType": "NONE"}
    r = cfn.Resolved(cfn.translate(params), params)
    with pytest.raises(cfn.RuleFailed, match="IngestTokenSha256"):
        r.check_rules()


def test_each_named_configuration_deploys_a_stack_of_its_own():
    stacks = [stack for stack, _ in SAMCONFIG_CONFIGS.values()]
    assert {"default", "parquet", "iceberg", "otel", "public-url"} <= set(SAMCONFIG_CONFIGS)
    assert len(set(stacks)) == len(stacks), f"two configurations share a stack: {stacks}"
    config = tomllib.loads(SAMCONFIG.read_text())
    for name in SAMCONFIG_CONFIGS:
        deploy = config[name]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM", name
        # A list: one override per item, so a user edits one line.
        assert isinstance(deploy["parameter_overrides"], list), name


def test_public_url_config_is_refused_until_make_token_writes_a_hash():
    (_, params), = [v for k, v in samconfig_overrides(SAMCONFIG.read_text()).items()
                    if k == "public-url"]
    r = cfn.Resolved(cfn.translate(params), params)
    with pytest.raises(cfn.RuleFailed, match="make token"):
        r.check_rules()
    # `make token`'s edit: the hash into public-url's list, nothing else in the file changed.
    text = SAMCONFIG.read_text()
    written = token_script().with_token_hash(text, "public-url", "b" * 64)
    assert samconfig_overrides(written)["public-url"][1]["IngestTokenSha256"] == "b" * 64
    rest = {k: v for k, v in samconfig_overrides(written).items() if k != "public-url"}
    assert rest == {k: v for k, v in samconfig_overrides(text).items() if k != "public-url"}
    assert len(written.splitlines()) == len(text.splitlines())


def test_no_logical_id_of_the_previous_template_changed():
    """A renamed parameter must not rename a resource: CloudFormation would replace it (a new
    stream, bucket or function) on the next deploy. The ids are those of the last template
    before the renames, translated for that commit's parameter sets."""
    previous = json.loads((cfn.ROOT / "tests" / "deploy" / "previous_logical_ids.json").read_text())
    resources, outputs = set(), set()
    for params in PARAMETER_SETS.values():
        t = cfn.translate(params)
        resources |= set(t["Resources"])
        outputs |= set(t.get("Outputs", {}))
    assert set(previous["resources"]) - resources == set()
    assert set(previous["outputs"]) - outputs == set()


def test_the_console_shows_every_parameter_in_a_group():
    t = cfn.load_template()
    interface = t["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(t["Parameters"]), "each parameter in exactly one group"
    assert len(grouped) == len(set(grouped))
    assert set(interface.get("ParameterLabels", {})) <= set(t["Parameters"])


# ---------------------------------------------------------------- concurrency
def test_concurrency_is_reserved_only_when_asked(case):
    name, r = case
    wanted = {
        "IngestFunction": r.params["IngestReservedConcurrency"],
        "BatchToS3Function": r.params["BatchToS3ReservedConcurrency"],
        "FirehoseTransformFunction": r.params["FirehoseTransformReservedConcurrency"],
        "IcebergFunction": r.params["IcebergReservedConcurrency"],
    }
    for fid, fn in r.of_type("AWS::Lambda::Function").items():
        got = fn["Properties"].get("ReservedConcurrentExecutions")
        if wanted[fid] == "0":
            # A reservation fails the deploy on accounts with a small quota (Lambda keeps
            # 100 unreserved): none unless the user asks.
            assert got is None, f"{fid} reserves {got} by default"
        else:
            assert str(got) == wanted[fid]


# ---------------------------------------------------------------- roles against calls
def source_files(binary):
    """The Rust source a function's binary is built from: its own crate's and that of every
    workspace crate it depends on (both writers' Glue calls are in shared/glue)."""
    workspace = tomllib.loads((cfn.ROOT / "Cargo.toml").read_text())["workspace"]
    paths = {name: spec["path"] for name, spec in workspace["dependencies"].items()
             if isinstance(spec, dict) and "path" in spec}
    crate = cfn.ROOT / "functions" / binary
    dependencies = tomllib.loads((crate / "Cargo.toml").read_text()).get("dependencies", {})
    crates = [crate] + [cfn.ROOT / paths[d] for d in dependencies if d in paths]
    return [path for c in crates for path in sorted((c / "src").rglob("*.rs"))]


def sdk_calls(binary):
    """IAM actions for the AWS SDK operations a function's source (with the workspace
    crates it depends on) calls."""
    services = {"aws_sdk_s3": "s3", "aws_sdk_kinesis": "kinesis", "aws_sdk_firehose": "firehose",
                "aws_sdk_glue": "glue", "aws_sdk_s3tables": "s3tables",
                "aws_sdk_dynamodb": "dynamodb"}
    # botocore's service names (its model of S3 Tables is "s3tables", IAM prefix s3tables).
    botocore_names = {"s3": "s3", "kinesis": "kinesis", "firehose": "firehose", "glue": "glue",
                      "s3tables": "s3tables", "dynamodb": "dynamodb"}
    session = botocore.session.get_session()
    calls = set()
    for path in source_files(binary):
        text = path.read_text()
        for crate, prefix in services.items():
            # A whole crate name: aws_sdk_s3tables is not aws_sdk_s3.
            if not re.search(r"\b" + crate + r"\b", text):
                continue
            model = session.get_service_model(botocore_names[prefix])
            for op in model.operation_names:
                snake = re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
                if re.search(r"\.\s*" + snake + r"\(\)", text):
                    calls.add(f"{prefix}:{op}")
    return calls


# The calls batch-to-iceberg is designed to make (its catalog commits, Glue's or S3 Tables',
# and its data, metadata and error objects; it never deletes). Its role is checked against
# these and the calls found in its source; test_the_scan_finds_the_calls_it_should checks
# that the source makes exactly these, so neither can drift from the other unnoticed.
DESIGNED_CALLS = {
    "batch-to-iceberg": {"glue:GetTable", "glue:UpdateTable", "glue:CreateTable",
                         "s3tables:GetTableMetadataLocation",
                         "s3tables:UpdateTableMetadataLocation", "s3tables:CreateTable",
                         "s3:GetObject", "s3:PutObject", "s3:HeadObject"},
}
# batch-to-iceberg's catalog (ICEBERG_CATALOG, the template's IcebergCatalog): the calls to
# the other catalog's API are not made, and with S3 Tables the S3 object calls on the table's
# files go to its warehouse location, which S3 Tables authorizes with its own actions
# (S3 user guide, "Access management for S3 Tables": GetTableData covers GetObject,
# PutTableData PutObject); only the error objects stay in the stack's bucket.
S3TABLES_DATA_ACTION = {"s3:GetObject": "s3tables:GetTableData",
                        "s3:HeadObject": "s3tables:GetTableData",
                        "s3:PutObject": "s3tables:PutTableData"}


def iceberg_needed(r, needed):
    """`needed` (the IAM actions for every call batch-to-iceberg's source makes) narrowed to
    the catalog the parameter set chooses."""
    if r.params["IcebergCatalog"] == "glue":
        return {a for a in needed if not a.startswith("s3tables:")}
    data = {S3TABLES_DATA_ACTION[c] for c in calls("batch-to-iceberg")
            if c in S3TABLES_DATA_ACTION}
    # In the stack's bucket: the error objects (s3:PutObject, iceberg-errors/) and the
    # identity windows (s3:GetObject and s3:PutObject, iceberg-state/), read only where the
    # table names them (they exist): no s3:ListBucket.
    return ({a for a in needed if a.startswith(("s3tables:", "kinesis:", "logs:", "sqs:"))}
            | data | {"s3:PutObject", "s3:GetObject"})


def calls(binary):
    return sdk_calls(binary) | DESIGNED_CALLS.get(binary, set())


# What an SDK operation needs in IAM, where the names differ.
IAM_ACTION = {"s3:HeadObject": "s3:GetObject", "s3:ListObjectsV2": "s3:ListBucket"}

# Calls the code can make that this stack never asks for, with the reason.
NOT_NEEDED = {
    # Re-ingestion into a Direct PUT delivery stream; the template's delivery stream reads
    # the Kinesis stream, so the transform re-ingests with kinesis:PutRecords.
    ("firehose-transform", "firehose:PutRecordBatch"),
    # With S3 Tables the stack creates the table (IcebergS3Table, its snapshot management set),
    # and the role names that table's ARN, which carries the table's id: a table the function
    # made itself would be another ARN, out of the role's reach anyway. A missing table then
    # fails the batch visibly (AccessDenied on CreateTable) instead of appearing with S3
    # Tables' default snapshot expiry.
    ("batch-to-iceberg", "s3tables:CreateTable"),
}

# What Lambda itself calls for the function: logs, and for the Kinesis event source
# mapping what AWSLambdaKinesisExecutionRole grants plus the on-failure destination.
SERVICE_CALLS = {
    "ingest": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "batch-to-s3": {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
        "kinesis:GetShardIterator", "kinesis:ListShards", "sqs:SendMessage",
        # Without it S3 answers a GetObject of a missing high-water mark with 403, not 404.
        "s3:ListBucket",
    },
    "firehose-transform": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "batch-to-iceberg": {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
        "kinesis:GetShardIterator", "kinesis:ListShards", "sqs:SendMessage",
        # Without it S3 answers a HEAD or GET of a missing key with 403, not 404.
        "s3:ListBucket",
    },
}
# With enhanced fan-out Lambda also describes the function's consumer (and subscribes
# through it: SubscribeToShard, allowed to every Kinesis reader below).
EFO_CALLS = {"kinesis:DescribeStreamConsumer"}

# What Firehose calls with its role for a Kinesis source, S3 destination, Lambda processor
# and CloudWatch error logging (Firehose developer guide, "Controlling access").
FIREHOSE_CALLS = {
    "kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords",
    "kinesis:ListShards",
    "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
    "s3:ListBucketMultipartUploads", "s3:PutObject",
    "lambda:InvokeFunction", "lambda:GetFunctionConfiguration",
    "logs:PutLogEvents",
}
# Allowed beyond that list: a read Firehose's console-made roles carry too.
FIREHOSE_MAY_CALL = {"kinesis:DescribeStreamSummary"}


def test_the_scan_finds_the_calls_it_should():
    # The scan itself can fail: these calls are known to be in the code.
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= sdk_calls("ingest")
    # The request memory (Idempotency-Key).
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= sdk_calls("ingest")
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"} <= sdk_calls("batch-to-s3")
    assert "kinesis:PutRecords" in sdk_calls("firehose-transform")
    # Exactly the designed calls: a call added to the code needs its permission (and this
    # set) updated, a call dropped its permission removed. (Until batch-to-iceberg's source
    # makes its calls, this fails and names them.)
    assert sdk_calls("batch-to-iceberg") == DESIGNED_CALLS["batch-to-iceberg"], (
        "functions/batch-to-iceberg/src (with shared/glue) calls "
        f"{sorted(sdk_calls('batch-to-iceberg'))}, designed: "
        f"{sorted(DESIGNED_CALLS['batch-to-iceberg'])}")


def test_every_role_allows_every_call_its_function_makes_and_no_more(case):
    name, r = case
    functions = r.of_type("AWS::Lambda::Function")
    for fid, binary in cfn.FUNCTIONS.items():
        if fid not in functions:
            continue
        role_id = functions[fid]["Properties"]["Role"]["Fn::GetAtt"][0]
        allowed = set(role_actions(r, role_id))
        needed = {IAM_ACTION.get(c, c) for c in calls(binary)
                  if (binary, c) not in NOT_NEEDED} | SERVICE_CALLS[binary]
        if binary == "batch-to-s3" and not r.conditions["HasGlueTable"]:
            # batch-to-s3 makes its catalog calls only with a Glue table.
            needed = {a for a in needed if not a.startswith("glue:")}
        if binary == "batch-to-iceberg":
            needed = iceberg_needed(r, needed)
            if r.conditions["IcebergUsesEnhancedFanOut"]:
                needed |= EFO_CALLS
        missing = needed - allowed
        assert not missing, f"{role_id} lacks {sorted(missing)}"
        # Least privilege: nothing the function does not call (SubscribeToShard: Lambda's
        # event source mapping uses it for enhanced fan-out).
        extra = allowed - needed - {"kinesis:SubscribeToShard"}
        assert not extra, f"{role_id} allows {sorted(extra)} that nothing calls"
        for action, resources in role_actions(r, role_id).items():
            assert "*" not in resources, (role_id, action)


def test_firehose_role_allows_what_firehose_calls_and_trusts_only_firehose(case):
    name, r = case
    if "FirehoseRole" not in r.resources:
        assert r.params["EnableFirehose"] == "false"
        return
    actions = role_actions(r, "FirehoseRole")
    assert FIREHOSE_CALLS <= set(actions) <= FIREHOSE_CALLS | FIREHOSE_MAY_CALL, sorted(actions)
    # Firehose may invoke the transform by its unqualified or qualified ARN.
    invoke = actions["lambda:InvokeFunction"]
    assert {"Fn::GetAtt": ["FirehoseTransformFunction", "Arn"]} in invoke
    assert {"Fn::Sub": "${FirehoseTransformFunction.Arn}:*"} in invoke
    trust = statements(r.props("FirehoseRole")["AssumeRolePolicyDocument"])
    assert len(trust) == 1
    assert trust[0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    # The documented guard is the external id; Firehose sends no aws:SourceAccount.
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": "123456789012"}}


# ---------------------------------------------------------------- the event source
def expected_mappings(r):
    """function -> (event source, on-failure queue) of every Kinesis event source mapping the
    parameter set makes."""
    want = {"BatchToS3Function": ({"Fn::GetAtt": ["Stream", "Arn"]}, "BatchToS3FailureQueue")}
    if r.conditions["IcebergEnabled"]:
        source = ({"Fn::GetAtt": ["IcebergStreamConsumer", "ConsumerARN"]}
                  if r.conditions["IcebergUsesEnhancedFanOut"]
                  else {"Fn::GetAtt": ["Stream", "Arn"]})
        want["IcebergFunction"] = (source, "IcebergFailureQueue")
    return want


def test_event_source_mapping_has_every_setting(case):
    name, r = case
    mappings = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
                for m in r.of_type("AWS::Lambda::EventSourceMapping").values()}
    want = expected_mappings(r)
    assert set(mappings) == set(want)
    for fid, (source, queue) in want.items():
        p = mappings[fid]
        assert p["EventSourceArn"] == source, fid
        assert p["StartingPosition"] == "TRIM_HORIZON"
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert p["BisectBatchOnFunctionError"] is True
        # One invocation per shard at a time: batch-to-s3's high-water mark, batch-to-iceberg's
        # per-shard checkpoint in the snapshot history.
        assert p["ParallelizationFactor"] == 1
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts",
                    "MaximumRecordAgeInSeconds"):
            assert str(p[key]) == r.params[key], (fid, key)
        assert p["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": [queue, "Arn"]}, fid
    consumers = r.of_type("AWS::Kinesis::StreamConsumer")
    if r.conditions["IcebergUsesEnhancedFanOut"]:
        (consumer,) = consumers.values()
        assert consumer["Properties"]["StreamARN"] == {"Fn::GetAtt": ["Stream", "Arn"]}
    else:
        assert consumers == {}


# ---------------------------------------------------------------- parameters
# AWS's own ranges (Lambda event source mapping, Kinesis, Firehose, CloudWatch Logs).
AWS_RANGES = {
    "ShardCount": (1, None),
    "StreamRetentionHours": (24, 8760),
    "BatchSize": (1, 10000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "MaximumRetryAttempts": (-1, 10000),
    "MaximumRecordAgeInSeconds": (-1, 604800),
    "FirehoseBufferIntervalSeconds": (0, 900),
    "FirehoseBufferSizeMiB": (1, 128),
    "IngestReservedConcurrency": (0, None),
    "BatchToS3ReservedConcurrency": (0, None),
    "FirehoseTransformReservedConcurrency": (0, None),
    "IcebergReservedConcurrency": (0, None),
}
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653}


def test_parameter_ranges_are_awss():
    params = cfn.load_template()["Parameters"]
    for name, (lo, hi) in AWS_RANGES.items():
        p = params[name]
        assert p["Type"] == "Number", name
        assert p.get("MinValue") == lo, (name, p.get("MinValue"))
        assert p.get("MaxValue") == hi, (name, p.get("MaxValue"))
    assert set(params["LogRetentionDays"]["AllowedValues"]) == LOG_RETENTION_DAYS
    # batch-to-iceberg finds a shard's checkpoint in the snapshot history: snapshots must
    # outlive the longest redelivery the event source mapping allows,
    # MaximumRecordAgeInSeconds' maximum.
    longest = params["MaximumRecordAgeInSeconds"]["MaxValue"]
    days = params["IcebergSnapshotRetentionDays"]["AllowedValues"]
    assert min(days) * 86400 >= longest
    # S3 Tables counts hours: each allowed number of days has its hours in the mapping.
    hours = cfn.load_template()["Mappings"]["SnapshotRetention"]
    assert {int(d): v["Hours"] for d, v in hours.items()} == {d: 24 * d for d in days}
    # An orphan is a file of a failed commit; a commit writes its files within its
    # invocation, so a day is far more than any file waits for its commit.
    assert params["IcebergOrphanFileRetentionDays"]["MinValue"] * 86400 > int(
        cfn.load_template()["Resources"]["IcebergFunction"]["Properties"]["Timeout"])


@pytest.mark.parametrize("params,message", [
    ({"MaximumRecordAgeInSeconds": "0"}, "MaximumRecordAgeInSeconds"),
    ({"MaximumRecordAgeInSeconds": "59"}, "MaximumRecordAgeInSeconds"),
    ({"FirehosePartitionPointers": "type=/type", "FirehoseBufferSizeMiB": "32"}, "at least 64"),
    ({"FirehosePartitionPointers": "type=/type", "FirehoseBufferIntervalSeconds": "0"}, "above 0"),
    ({"FirehoseDynamicPrefix": "data/type=!{partitionKeyFromLambda:type}/"}, "AllowedPattern"),
    ({"AlarmEmail": "not an address"}, "AllowedPattern"),
    ({"BatchSize": "10001"}, "MaxValue"),
    ({"Format": "parquet"}, "needs Schema"),
    ({"GlueDatabaseName": "db", "Schema": "a int"}, "together"),
    ({"GlueDatabaseName": "db", "GlueTableName": "t"}, "columns from Schema"),
    ({"GlueDatabaseName": "Has-Dash"}, "AllowedPattern"),
    ({"EnableIceberg": "true", "GlueDatabaseName": "same", "GlueTableName": "t", "Schema": "a int",
      "IcebergDatabaseName": "same"}, "must differ from GlueDatabaseName"),
    ({"IcebergDatabaseName": "Has-Dash"}, "AllowedPattern"),
    ({"IcebergDatabaseName": ""}, "AllowedPattern"),
    ({"IcebergTableName": "Events"}, "AllowedPattern"),
    # The warehouse is a prefix of its own: not another path's, no slash at either end.
    ({"IcebergWarehousePrefix": "data"}, "AllowedPattern"),
    ({"IcebergWarehousePrefix": "state/iceberg"}, "AllowedPattern"),
    ({"IcebergWarehousePrefix": "firehose-errors"}, "AllowedPattern"),
    ({"IcebergWarehousePrefix": "iceberg/"}, "AllowedPattern"),
    ({"IcebergWarehousePrefix": "/iceberg"}, "AllowedPattern"),
    ({"IcebergWarehousePrefix": ""}, "AllowedPattern"),
    ({"IcebergPartitionSpec": "hourly(ts)"}, "AllowedPattern"),
    ({"IcebergPartitionSpec": "bucket(user)"}, "AllowedPattern"),
    ({"IcebergPartitionSpec": "day(ts),"}, "AllowedPattern"),
    # Transforms the function's parser does not take (void; nested columns).
    ({"IcebergPartitionSpec": "void(ts)"}, "AllowedPattern"),
    ({"IcebergPartitionSpec": "identity(geo.lat)"}, "AllowedPattern"),
    ({"IcebergSnapshotRetentionDays": "6"}, "AllowedValues"),
    ({"IcebergOrphanFileRetentionDays": "0"}, "MinValue"),
    ({"IcebergEnhancedFanOut": "yes"}, "AllowedValues"),
    ({"IcebergCatalog": "hive"}, "AllowedValues"),
    ({"IcebergSnapshotRetentionDays": "31"}, "AllowedValues"),
    # Glue's optimizers act on a Glue table; S3 Tables maintains its own.
    ({"EnableIceberg": "true", "IcebergCatalog": "s3tables", "IcebergOptimizers": "true"},
     "S3 Tables maintains its tables itself"),
    # Routing: the three settings together, on Glue, without the one table's optimizers.
    ({"EnableIceberg": "true", "IcebergRoutePointer": "/signal"}, "set it too"),
    ({"EnableIceberg": "true", "IcebergRoutePointer": "/signal", "IcebergRoutes": "logs: otel_logs"},
     "IcebergRoutedTables"),
    ({"EnableIceberg": "true", "IcebergRoutes": "logs: otel_logs", "IcebergRoutedTables": "otel_logs"},
     "IcebergRoutePointer - set it too"),
    ({"EnableIceberg": "true", "IcebergRoutedTables": "otel_logs"}, "IcebergRoutePointer - set it too"),
    ({"IcebergRoutePointer": "signal"}, "AllowedPattern"),
    ({"EnableIceberg": "true", "IcebergRoutePointer": "/signal", "IcebergRoutes": "logs: otel_logs",
      "IcebergRoutedTables": "otel_logs", "IcebergCatalog": "s3tables"}, "Glue catalog"),
    ({"EnableIceberg": "true", "IcebergRoutePointer": "/signal", "IcebergRoutes": "logs: otel_logs",
      "IcebergRoutedTables": "otel_logs", "IcebergOptimizers": "true"},
     "IcebergOptimizers act on IcebergTableName"),
])
def test_values_aws_rejects_are_refused_before_deploy(params, message):
    r = cfn.Resolved(cfn.translate({}), params)
    with pytest.raises(cfn.RuleFailed, match=message):
        r.check_parameter_constraints()
        r.check_rules()


@pytest.mark.parametrize("params", [
    {"MaximumRecordAgeInSeconds": "-1"},
    {"MaximumRecordAgeInSeconds": "60"},
    {"MaximumRecordAgeInSeconds": "604800"},
    {"FirehosePartitionPointers": "type=/type", "FirehoseBufferSizeMiB": "64"},
    # Without partitioning a small buffer is fine.
    {"FirehoseBufferSizeMiB": "1", "FirehoseBufferIntervalSeconds": "0"},
    # Firehose off: its partitioning settings do not matter.
    {"EnableFirehose": "false", "FirehosePartitionPointers": "x=/x", "FirehoseBufferSizeMiB": "1"},
    {"IcebergPartitionSpec": "hour(ts)"},
    {"IcebergPartitionSpec": "day(ts), identity(customer)"},
    {"IcebergPartitionSpec": "bucket(16, user)"},
    {"IcebergPartitionSpec": "truncate(4,name), region"},
    {"IcebergPartitionSpec": " HOURS (ts) , `customer`"},
    {"IcebergWarehousePrefix": "datalake"},
    {"IcebergWarehousePrefix": "lake/iceberg-v2"},
    # Iceberg off: its database name does not matter.
    {"GlueDatabaseName": "same", "GlueTableName": "t", "Schema": "a int",
     "IcebergDatabaseName": "same"},
    # No Schema: batch-to-iceberg can append to a table that exists (it needs Schema only to
    # create one), so nothing refuses it here.
    {"EnableIceberg": "true"},
    # With S3 Tables the Iceberg "database" is a namespace in the table bucket: it may share
    # its name with batch-to-s3's Glue database.
    {"EnableIceberg": "true", "IcebergCatalog": "s3tables", "GlueDatabaseName": "same",
     "GlueTableName": "t", "Schema": "a int", "IcebergDatabaseName": "same"},
    {"EnableIceberg": "true", "IcebergCatalog": "s3tables", "IcebergSnapshotRetentionDays": "365"},
])
def test_values_aws_accepts_pass(params):
    r = cfn.Resolved(cfn.translate({}), params)
    r.check_parameter_constraints()
    r.check_rules()


def test_turning_partitioning_on_replaces_the_delivery_stream():
    names = {}
    for keys in ("", "type=/type"):
        params = {"FirehosePartitionPointers": keys}
        r = cfn.Resolved(cfn.translate(params), params)
        p = r.props("DeliveryStream")
        names[keys] = p["DeliveryStreamName"]
        s3 = p["ExtendedS3DestinationConfiguration"]
        if keys:
            assert s3["DynamicPartitioningConfiguration"] == {"Enabled": True}
            assert s3["Prefix"].startswith("firehose/")
        else:
            assert "DynamicPartitioningConfiguration" not in s3
            assert s3["Prefix"] == "firehose/"
    # DeliveryStreamName is a replacement property: a new name makes CloudFormation create
    # a new stream instead of failing an update Firehose cannot make.
    assert names[""] != names["type=/type"], names


# ---------------------------------------------------------------- alarms
def test_every_alarm_notifies_the_topic(case):
    name, r = case
    alarms = r.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for aid, a in alarms.items():
        assert a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], aid
    # Each function reading the stream: its iterator age and its on-failure queue.
    watched = {(a["Properties"]["MetricName"], json.dumps(a["Properties"]["Dimensions"][0]["Value"]))
               for a in alarms.values()}
    readers = [("BatchToS3Function", "BatchToS3FailureQueue")]
    if r.conditions["IcebergEnabled"]:
        readers.append(("IcebergFunction", "IcebergFailureQueue"))
    for fid, queue in readers:
        assert ("IteratorAge", json.dumps({"Ref": fid})) in watched, fid
        assert ("ApproximateNumberOfMessagesVisible",
                json.dumps({"Fn::GetAtt": [queue, "QueueName"]})) in watched, queue
    iceberg_alarms = {k for k in alarms if k.startswith("Iceberg")}
    assert bool(iceberg_alarms) == r.conditions["IcebergEnabled"], iceberg_alarms
    subs = r.of_type("AWS::SNS::Subscription")
    if r.params["AlarmEmail"]:
        (sub,) = subs.values()
        assert sub["Properties"]["Endpoint"] == r.params["AlarmEmail"]
        assert sub["Properties"]["Protocol"] == "email"
    else:
        assert subs == {}


def test_the_glue_database_and_the_table_settings_reach_batch_to_s3(case):
    name, r = case
    env = r.props("BatchToS3Function")["Environment"]["Variables"]
    for var, param in [("FORMAT", "Format"), ("SCHEMA", "Schema"),
                       ("PARQUET_COMPRESSION", "ParquetCompression"),
                       ("EXTRA_COLUMN", "ExtraColumn"), ("GLUE_DATABASE", "GlueDatabaseName"),
                       ("GLUE_TABLE", "GlueTableName")]:
        assert env[var] == r.params[param], var
    # (batch-to-iceberg's database: test_the_iceberg_settings_reach_batch_to_iceberg.)
    dbs = {k: v for k, v in r.of_type("AWS::Glue::Database").items() if k == "GlueDatabase"}
    if r.conditions["HasGlueTable"]:
        # (moto's CloudFormation skips AWS::Glue::Database: asserted here.)
        (db,) = dbs.values()
        assert db["Properties"]["DatabaseInput"]["Name"] == r.params["GlueDatabaseName"]
        assert db["Properties"]["CatalogId"] == "123456789012"
        glue = role_actions(r, "BatchToS3Role")
        for action in ("glue:GetTable", "glue:CreateTable", "glue:UpdateTable"):
            resources = [x["Fn::Sub"] for x in glue[action]]
            # That database and that table only.
            assert any(x.endswith(":database/${GlueDatabaseName}") for x in resources)
            assert any(x.endswith(":table/${GlueDatabaseName}/${GlueTableName}") for x in resources)
            assert all("*" not in x for x in resources)
    else:
        assert dbs == {}


# ---------------------------------------------------------------- batch-to-iceberg
ICEBERG_RESOURCES = {
    "IcebergLogGroup", "IcebergFailureQueue", "IcebergRole", "IcebergFunction",
    "IcebergFunctionStream", "IcebergIteratorAgeAlarm", "IcebergFailureQueueAlarm",
}
ICEBERG_GLUE_RESOURCES = {"IcebergGlueDatabase"}
ICEBERG_S3TABLES_RESOURCES = {"IcebergTableBucket", "IcebergNamespace", "IcebergS3Table"}
ICEBERG_EFO_RESOURCES = {"IcebergStreamConsumer"}
ICEBERG_OPTIMIZER_RESOURCES = {"IcebergOptimizerRole", "IcebergCompaction",
                               "IcebergSnapshotRetention", "IcebergOrphanFileDeletion"}
ICEBERG_OUTPUTS = {"IcebergFunctionName", "IcebergDatabase", "IcebergTable",
                   "IcebergWarehouse", "IcebergFailureQueueUrl"}
ICEBERG_S3TABLES_OUTPUTS = {"IcebergTableBucketArn"}


def on_s3tables(r):
    return r.conditions["IcebergOnS3Tables"]


def test_iceberg_resources_exist_exactly_when_asked(case):
    name, r = case
    got = {k for k in r.resources if k.startswith("Iceberg")}
    want = set()
    if r.conditions["IcebergEnabled"]:
        want |= ICEBERG_RESOURCES
        want |= ICEBERG_S3TABLES_RESOURCES if on_s3tables(r) else ICEBERG_GLUE_RESOURCES
    if r.conditions["IcebergUsesEnhancedFanOut"]:
        want |= ICEBERG_EFO_RESOURCES
    if r.conditions["IcebergHasOptimizers"]:
        want |= ICEBERG_OPTIMIZER_RESOURCES
    assert got == want
    outputs = {k for k, o in r.cfn["Outputs"].items() if k.startswith("Iceberg")
               and ("Condition" not in o or r.conditions[o["Condition"]])}
    want = set()
    if r.conditions["IcebergEnabled"]:
        want = ICEBERG_OUTPUTS | (ICEBERG_S3TABLES_OUTPUTS if on_s3tables(r) else set())
    assert outputs == want
    assert r.conditions["IcebergOnGlue"] == (
        r.conditions["IcebergEnabled"] and r.params["IcebergCatalog"] == "glue")


def test_the_iceberg_settings_reach_batch_to_iceberg(case):
    name, r = case
    if not r.conditions["IcebergEnabled"]:
        return
    p = r.props("IcebergFunction")
    assert p["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-batch-to-iceberg"}
    assert (p["MemorySize"], p["Timeout"]) == (512, 120)
    assert p["LoggingConfig"]["LogGroup"] == {"Ref": "IcebergLogGroup"}
    env = p["Environment"]["Variables"]
    # Exactly what the function's config reads for its catalog (functions/batch-to-iceberg/
    # src/config.rs): ICEBERG_WAREHOUSE for glue, ICEBERG_TABLE_BUCKET_ARN for s3tables.
    catalog = ({"ICEBERG_TABLE_BUCKET_ARN": {"Fn::GetAtt": ["IcebergTableBucket",
                                                            "TableBucketARN"]}}
               if on_s3tables(r) else
               # s3://bucket/prefix, no trailing slash (the pattern refuses one).
               {"ICEBERG_WAREHOUSE": {"Fn::Sub": "s3://${Bucket}/${IcebergWarehousePrefix}"}})
    # The one table, or the routed ones: exactly one of the two reaches the function.
    tables = ({"ICEBERG_ROUTE_POINTER": r.params["IcebergRoutePointer"],
               "ICEBERG_ROUTES": r.params["IcebergRoutes"]}
              if r.conditions["IcebergIsRouted"] else
              {"ICEBERG_TABLE": r.params["IcebergTableName"]})
    assert env == {
        "ICEBERG_CATALOG": r.params["IcebergCatalog"],
        "ICEBERG_DATABASE": r.params["IcebergDatabaseName"],
        **tables,
        **catalog,
        "ICEBERG_PARTITION_SPEC": r.params["IcebergPartitionSpec"],
        "SCHEMA": r.params["Schema"],
        "EXTRA_COLUMN": r.params["ExtraColumn"],
        # The error objects stay in the stack's bucket with either catalog.
        "ERROR_BUCKET": {"Ref": "Bucket"},
        "ERROR_PREFIX": "iceberg-errors/",
        "STATE_PREFIX": "iceberg-state/",
    }
    # Log level and format come from LoggingConfig, as for every function.
    assert "RUST_LOG" not in env and "AWS_LAMBDA_LOG_FORMAT" not in env
    assert not r.params["IcebergWarehousePrefix"].endswith("/")
    if on_s3tables(r):
        # No Glue database: the namespace in the table bucket (test_s3_tables_...).
        assert "IcebergGlueDatabase" not in r.resources
        return
    db = r.resources["IcebergGlueDatabase"]
    # (moto's CloudFormation skips AWS::Glue::Database: asserted here.)
    assert db["Properties"]["DatabaseInput"]["Name"] == {"Ref": "IcebergDatabaseName"}
    assert r.props("IcebergGlueDatabase")["CatalogId"] == "123456789012"
    # Deleting a Glue database deletes its tables: the table's catalog entry is kept.
    assert db["DeletionPolicy"] == db["UpdateReplacePolicy"] == "Retain"
    if r.conditions["HasGlueTable"]:
        assert r.params["IcebergDatabaseName"] != r.params["GlueDatabaseName"]


def resources_of(actions, action):
    return [x.get("Fn::Sub", x) if isinstance(x, dict) else x for x in actions[action]]


def test_iceberg_role_reaches_only_its_prefixes_table_consumer_and_queue(case):
    name, r = case
    if not r.conditions["IcebergEnabled"]:
        return
    a = role_actions(r, "IcebergRole")
    warehouse = "${Bucket.Arn}/${IcebergWarehousePrefix}/*"
    errors = "${Bucket.Arn}/iceberg-errors/*"
    state = "${Bucket.Arn}/iceberg-state/*"
    for st in statements(r.props("IcebergRole")["Policies"][0]["PolicyDocument"]):
        assert "Condition" not in st, st
    assert not [x for x in a if x.startswith(("s3:Delete", "s3tables:Delete"))], (
        "batch-to-iceberg never deletes")
    if on_s3tables(r):
        # Its table only (the ARN CloudFormation gives the stack's table: it carries the
        # table's id), and in the stack's bucket only the error objects.
        table = [{"Fn::GetAtt": ["IcebergS3Table", "TableARN"]}]
        for action in ("s3tables:GetTableMetadataLocation", "s3tables:UpdateTableMetadataLocation",
                       "s3tables:GetTableData", "s3tables:PutTableData"):
            assert a[action] == table, action
        assert sorted(resources_of(a, "s3:PutObject")) == sorted([errors, state])
        assert "s3tables:CreateTable" not in a  # the stack makes the table (NOT_NEEDED)
        assert not [x for x in a if x.startswith("glue:")]
        assert resources_of(a, "s3:GetObject") == [state] and "s3:ListBucket" not in a
    else:
        assert sorted(resources_of(a, "s3:GetObject")) == sorted([warehouse, state])
        assert sorted(resources_of(a, "s3:PutObject")) == sorted([warehouse, errors, state])
        # Bucket-level, unconditioned: a prefix condition would make a missing key 403 again.
        assert a["s3:ListBucket"] == [{"Fn::GetAtt": ["Bucket", "Arn"]}]
        glue_arns = [
            "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog",
            "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${IcebergDatabaseName}",
        ]
        if r.conditions["IcebergIsRouted"]:
            # Each routed table, by its slot of the padded list (as moto's CloudFormation
            # evaluates it: test_a_routed_stack_grants_exactly_its_tables).
            assert r.params["IcebergRoutedTables"]
        else:
            glue_arns.append("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
                             ":table/${IcebergDatabaseName}/${IcebergTableName}")
        for action in ("glue:GetTable", "glue:CreateTable", "glue:UpdateTable"):
            got = resources_of(a, action)
            if r.conditions["IcebergIsRouted"]:
                assert got[:2] == glue_arns and len(got) == 10, action
            else:
                assert sorted(got) == sorted(glue_arns), action
        assert not [x for x in a if x.startswith("s3tables:")]
    assert a["sqs:SendMessage"] == [{"Fn::GetAtt": ["IcebergFailureQueue", "Arn"]}]
    stream = {"Fn::GetAtt": ["Stream", "Arn"]}
    consumer = {"Fn::GetAtt": ["IcebergStreamConsumer", "ConsumerARN"]}
    for action in ("kinesis:DescribeStream", "kinesis:ListShards", "kinesis:GetRecords"):
        assert a[action] == [stream], action
    if r.conditions["IcebergUsesEnhancedFanOut"]:
        assert a["kinesis:DescribeStreamConsumer"] == [consumer]
        assert sorted(map(json.dumps, a["kinesis:SubscribeToShard"])) == sorted(
            map(json.dumps, [stream, consumer]))
    else:
        assert "kinesis:DescribeStreamConsumer" not in a
    assert a["logs:PutLogEvents"] == [{"Fn::Sub": "${IcebergLogGroup.Arn}"}]


# S3 Tables' naming rules (S3 user guide, "Amazon S3 table bucket, table, and namespace
# naming rules"): table buckets 3-63 lower-case letters, digits and hyphens, beginning and
# ending with a letter or digit, without the reserved prefixes and suffixes.
TABLE_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
TABLE_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-", "aws")
TABLE_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


def evaluate(node, pseudo):
    """Fn::Join / Fn::Select / Fn::Split over Refs to pseudo parameters, as CloudFormation
    evaluates them."""
    if isinstance(node, str):
        return node
    (fn, arg), = node.items()
    if fn == "Ref":
        return pseudo[arg]
    if fn == "Fn::Join":
        return arg[0].join(evaluate(x, pseudo) for x in arg[1])
    if fn == "Fn::Select":
        return evaluate_list(arg[1], pseudo)[int(arg[0])]
    raise ValueError(fn)


def evaluate_list(node, pseudo):
    (fn, arg), = node.items()
    assert fn == "Fn::Split", node
    return evaluate(arg[1], pseudo).split(arg[0])


def test_s3_tables_resources_are_the_stacks_retained_and_keep_snapshots_long_enough(case):
    name, r = case
    if not on_s3tables(r):
        assert not r.of_type("AWS::S3Tables::TableBucket"), name
        return
    # (moto's CloudFormation cannot make S3 Tables resources: asserted here.)
    bucket = r.resources["IcebergTableBucket"]
    namespace = r.resources["IcebergNamespace"]
    table = r.resources["IcebergS3Table"]
    for rid, res in (("IcebergTableBucket", bucket), ("IcebergNamespace", namespace),
                     ("IcebergS3Table", table)):
        # The table holds the data; a namespace or table bucket that is not empty cannot be
        # deleted anyway (the stack's delete would fail on it).
        assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain", rid
    # The name from the stack's id, valid whatever the stack's name (capitals, 128 characters).
    for stack in ("trickle", "A" * 128, "My-Stack-2"):
        pseudo = dict(r.pseudo, **{
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/"
                            "1c2fa620-982a-11e3-aff7-50e2416294e0"})
        got = evaluate(r.props("IcebergTableBucket")["TableBucketName"], pseudo)
        assert got == "trickle-1c2fa620-982a-11e3-aff7-50e2416294e0", got
        assert TABLE_BUCKET_NAME.fullmatch(got) and "." not in got and "_" not in got
        assert not got.startswith(TABLE_BUCKET_RESERVED_PREFIXES)
        assert not got.endswith(TABLE_BUCKET_RESERVED_SUFFIXES)
    bucket_arn = {"Fn::GetAtt": ["IcebergTableBucket", "TableBucketARN"]}
    removal = r.props("IcebergTableBucket")["UnreferencedFileRemoval"]
    assert removal == {"Status": "Enabled",
                       "UnreferencedDays": r.params["IcebergOrphanFileRetentionDays"]}
    assert r.props("IcebergNamespace") == {"TableBucketARN": bucket_arn,
                                           "Namespace": r.params["IcebergDatabaseName"]}
    t = r.props("IcebergS3Table")
    assert table["DependsOn"] == "IcebergNamespace"  # the namespace must exist first
    assert t["TableBucketARN"] == bucket_arn
    assert (t["Namespace"], t["TableName"]) == (r.params["IcebergDatabaseName"],
                                                r.params["IcebergTableName"])
    # Empty: the function writes the first metadata (Schema, IcebergPartitionSpec) and points
    # the table at it, as it would after its own CreateTable.
    assert t["OpenTableFormat"] == "ICEBERG" and t["WithoutMetadata"] == "Yes"
    assert "IcebergMetadata" not in t
    snapshots = t["SnapshotManagement"]
    assert snapshots["Status"] == "enabled" and snapshots["MinSnapshotsToKeep"] == 1
    hours = int(snapshots["MaxSnapshotAgeHours"])
    assert hours == 24 * int(r.params["IcebergSnapshotRetentionDays"])
    # The shard checkpoints are in the snapshot summaries: snapshots outlive every
    # redelivery - the record age Lambda retries for, and a new mapping's TRIM_HORIZON.
    age = int(r.params["MaximumRecordAgeInSeconds"])
    assert hours * 3600 >= (604800 if age == -1 else age)
    assert hours >= int(r.params["StreamRetentionHours"])
    assert t["Compaction"] == {"Status": "enabled"}
    # Glue's maintenance is Glue's only.
    assert not r.of_type("AWS::Glue::TableOptimizer") and "IcebergOptimizerRole" not in r.resources


def test_every_if_in_an_environment_is_false_at_the_defaults():
    """The local runs and the Rust template test (tools/local-pipeline settings.rs,
    function_environments) read each function's environment at the parameters' defaults and
    take an `!If`'s else branch; that is right only while each such condition is false at
    the defaults."""
    r = cfn.Resolved(cfn.translate({}), {})
    sam = cfn.load_template()
    found = 0
    for rid, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for var, v in res["Properties"].get("Environment", {}).get("Variables", {}).items():
            if isinstance(v, dict) and "Fn::If" in v:
                found += 1
                assert not r.condition(v["Fn::If"][0]), (rid, var)
    # ICEBERG_WAREHOUSE, ICEBERG_TABLE_BUCKET_ARN; ICEBERG_TABLE, ICEBERG_ROUTE_POINTER,
    # ICEBERG_ROUTES.
    assert found == 5


# Glue's documented permissions for table optimizers (Glue developer guide, "Table
# optimization prerequisites"): S3 read/write/delete on the data, ListBucket, GetTable and
# UpdateTable, and the optimizers' log groups.
OPTIMIZER_CALLS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                   "glue:GetTable", "glue:UpdateTable",
                   "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_iceberg_optimizers_only_when_asked_with_a_role_only_glue_assumes(case):
    name, r = case
    optimizers = r.of_type("AWS::Glue::TableOptimizer")
    if not r.conditions["IcebergHasOptimizers"]:
        # The table does not exist before the first batch: an optimizer would fail the deploy.
        assert optimizers == {}
        return
    by_type = {o["Properties"]["Type"]: o["Properties"] for o in optimizers.values()}
    assert set(by_type) == {"compaction", "retention", "orphan_file_deletion"}
    for kind, p in by_type.items():
        assert p["CatalogId"] == "123456789012", kind
        # A Ref to the database resource: created after it.
        assert p["DatabaseName"] == {"Ref": "IcebergGlueDatabase"}, kind
        assert p["TableName"] == r.params["IcebergTableName"], kind
        c = p["TableOptimizerConfiguration"]
        assert c["Enabled"] is True and c["RoleArn"] == {"Fn::GetAtt": ["IcebergOptimizerRole", "Arn"]}
    assert by_type["compaction"]["TableOptimizerConfiguration"]["CompactionConfiguration"] == {
        "IcebergConfiguration": {"Strategy": "binpack"}}
    ret = by_type["retention"]["TableOptimizerConfiguration"]["RetentionConfiguration"][
        "IcebergConfiguration"]
    days = int(ret["SnapshotRetentionPeriodInDays"])
    assert days == int(r.params["IcebergSnapshotRetentionDays"])
    # Snapshots outlive every redelivery (the shard checkpoints are in their summaries).
    age = int(r.params["MaximumRecordAgeInSeconds"])
    assert days * 86400 >= (604800 if age == -1 else age)
    assert ret["CleanExpiredFiles"] is True and ret["NumberOfSnapshotsToRetain"] == 1
    orphans = by_type["orphan_file_deletion"]["TableOptimizerConfiguration"][
        "OrphanFileDeletionConfiguration"]["IcebergConfiguration"]
    assert int(orphans["OrphanFileRetentionPeriodInDays"]) == int(
        r.params["IcebergOrphanFileRetentionDays"]) >= 1
    assert "Location" not in orphans  # the table's own location

    role = r.props("IcebergOptimizerRole")
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    a = role_actions(r, "IcebergOptimizerRole")
    assert set(a) == OPTIMIZER_CALLS, sorted(a)
    warehouse = "${Bucket.Arn}/${IcebergWarehousePrefix}/*"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert resources_of(a, action) == [warehouse], action
    assert a["s3:ListBucket"] == [{"Fn::GetAtt": ["Bucket", "Arn"]}]
    for action in ("glue:GetTable", "glue:UpdateTable"):
        assert all(x.endswith((":catalog", ":database/${IcebergDatabaseName}",
                               ":table/${IcebergDatabaseName}/${IcebergTableName}"))
                   for x in resources_of(a, action)), action
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
        assert sorted(x.rsplit(":log-group:", 1)[1] for x in resources_of(a, action)) == [
            "/aws-glue/iceberg-compaction/logs:*", "/aws-glue/iceberg-orphan-file-deletion/logs:*",
            "/aws-glue/iceberg-retention/logs:*"], action
    for action, resources in a.items():
        assert "*" not in resources, action


# ---------------------------------------------------------------- what moto ignores
def test_properties_moto_ignores_are_right_in_the_translation(case):
    name, r = case
    stream = r.props("Stream")
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert stream["StreamModeDetails"]["StreamMode"] == r.params["StreamMode"]
    assert ("ShardCount" in stream) == (r.params["StreamMode"] == "PROVISIONED")
    bucket = r.props("Bucket")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policy = r.props("BucketPolicy")["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    # ingest's request memory forgets a request a day after its last write: by TTL on the
    # attribute ingest writes (functions/ingest/src/idempotency/sdk.rs).
    assert r.props("IngestRequestMemory")["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at", "Enabled": True}
    for fid, fn in r.of_type("AWS::Lambda::Function").items():
        p = fn["Properties"]
        assert p["Architectures"] == ["arm64"], fid
        assert p["Runtime"] == "provided.al2023" and p["Handler"] == "bootstrap"
        assert p["LoggingConfig"]["LogFormat"] == "JSON"
        assert p["Code"] == {"S3Bucket": "trickle-deploy-artifacts", "S3Key": "functions.zip"}
    if "DeliveryStream" in r.resources:
        d = r.props("DeliveryStream")
        assert d["DeliveryStreamType"] == "KinesisStreamAsSource"
        s3 = d["ExtendedS3DestinationConfiguration"]
        assert s3["CompressionFormat"] == "GZIP"
        assert s3["BufferingHints"] == {
            "IntervalInSeconds": r.params["FirehoseBufferIntervalSeconds"],
            "SizeInMBs": r.params["FirehoseBufferSizeMiB"]}
        assert s3["ErrorOutputPrefix"].startswith("firehose-errors/")
        (proc,) = s3["ProcessingConfiguration"]["Processors"]
        params = {x["ParameterName"]: x["ParameterValue"] for x in proc["Parameters"]}
        assert params["LambdaArn"] == {"Fn::GetAtt": ["FirehoseTransformFunction", "Arn"]}


# ---------------------------------------------------------------- moto's CloudFormation
def zip_with_bootstrap():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n# placeholder: moto never runs it\n")
    return buf.getvalue()


def test_stack_creates_in_moto_with_what_the_template_says(case, moto_url):
    name, r = case
    region = "us-east-1"
    s3 = boto3.client("s3", region_name=region)
    try:
        s3.create_bucket(Bucket="trickle-deploy-artifacts")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket="trickle-deploy-artifacts", Key="functions.zip", Body=zip_with_bootstrap())
    stack = f"trickle-{name}-{uuid.uuid4().hex[:6]}"
    cf = boto3.client("cloudformation", region_name=region)
    cf.create_stack(
        StackName=stack,
        TemplateBody=r.deployable(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                    for k, v in PARAMETER_SETS[name].items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.time() + 120
    while True:
        status = cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status != "CREATE_IN_PROGRESS" or time.time() > deadline:
            break
        time.sleep(0.5)
    events = cf.describe_stack_events(StackName=stack)["StackEvents"]
    assert status == "CREATE_COMPLETE", [
        (e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in events
        if "FAILED" in e["ResourceStatus"]]
    # (moto lists the types it skipped without ids.)
    physical = {x["LogicalResourceId"]: x["PhysicalResourceId"]
                for x in cf.describe_stack_resources(StackName=stack)["StackResources"]
                if "LogicalResourceId" in x and "PhysicalResourceId" in x}
    try:
        check_moto_stack(r, stack, physical)
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cf.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
        if r.conditions["IcebergEnabled"]:
            assert outputs["IcebergFunctionName"] == f"{stack}-batch-to-iceberg"
            if on_s3tables(r):
                # (Stand-ins for what moto cannot make, cfn.MOTO_CANNOT: the table bucket's
                # ARN from the name the template derives from the stack's id, as moto
                # evaluated it, and S3 Tables' warehouse bucket.)
                assert outputs["IcebergTableBucketArn"] == table_bucket_arn(cf, stack)
                assert outputs["IcebergWarehouse"].endswith("--table-s3")
            else:
                assert outputs["IcebergWarehouse"] == (
                    f"s3://{physical['Bucket']}/{r.params['IcebergWarehousePrefix']}")
            tables = (f"{{{r.params['IcebergRoutedTables']}}}" if r.conditions["IcebergIsRouted"]
                      else r.params["IcebergTableName"])
            assert outputs["IcebergTable"] == f"{r.params['IcebergDatabaseName']}.{tables}"
            assert outputs["IcebergDatabase"] == r.params["IcebergDatabaseName"]
            assert outputs["IcebergFailureQueueUrl"] == physical["IcebergFailureQueue"]
        else:
            assert not [k for k in outputs if k.startswith("Iceberg")], outputs
    finally:
        cf.delete_stack(StackName=stack)


def check_routed_tables_granted(r, doc):
    """Routed, the role's Glue table actions reach exactly IcebergRoutedTables (as moto's
    CloudFormation evaluated the padded list's slots) and no other table."""
    (st,) = [st for st in statements(doc) if st and st.get("Sid") == "CommitToItsTable"]
    db = r.params["IcebergDatabaseName"]
    prefix = "arn:aws:glue:us-east-1:123456789012:"
    tables = sorted(x[len(f"{prefix}table/{db}/"):] for x in as_list(st["Resource"])
                    if x.startswith(f"{prefix}table/"))
    want = r.params["IcebergRoutedTables"].split(",")
    assert [t for t in tables if t] == sorted(want), tables
    assert tables.count("") == 8 - len(want), "the empty slots name no table"
    assert f"{prefix}database/{db}" in as_list(st["Resource"])


def table_bucket_arn(cf, stack):
    """The table bucket's ARN for this stack: trickle-<the UUID of the stack's id>."""
    stack_id = cf.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    return f"arn:aws:s3tables:us-east-1:123456789012:bucket/trickle-{stack_id.split('/')[2]}"


def check_moto_stack(r, stack, physical):
    kinesis = boto3.client("kinesis")
    lam = boto3.client("lambda")
    iam = boto3.client("iam")
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")

    stream = kinesis.describe_stream_summary(StreamName=physical["Stream"])[
        "StreamDescriptionSummary"]
    assert stream["RetentionPeriodHours"] == int(r.params["StreamRetentionHours"])
    stream_arn = stream["StreamARN"]
    s3.head_bucket(Bucket=physical["Bucket"])

    # Functions: name, role, memory, timeout and the environment, resolved.
    known = {"Stream": stream_arn, "Bucket": physical["Bucket"], "AWS::StackName": stack,
             "IngestRequestMemory": physical["IngestRequestMemory"]}
    # ingest's request memory: on demand, keyed by id. (moto's CloudFormation leaves out
    # TimeToLiveSpecification: its TTL is asserted on the translation,
    # test_properties_moto_ignores_are_right_in_the_translation.)
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=physical["IngestRequestMemory"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    if on_s3tables(r):
        known["IcebergTableBucket"] = table_bucket_arn(boto3.client("cloudformation"), stack)

    def sub(text):
        return re.sub(r"\$\{([^}]+)\}",
                      lambda m: known.get(m[1]) or r.params.get(m[1]) or r.pseudo[m[1]], text)

    for fid, fn in r.of_type("AWS::Lambda::Function").items():
        p = fn["Properties"]
        got = lam.get_function(FunctionName=f"{stack}-{cfn.FUNCTIONS[fid]}")["Configuration"]
        assert got["MemorySize"] == p["MemorySize"] and got["Timeout"] == p["Timeout"], fid
        role_name = physical[p["Role"]["Fn::GetAtt"][0]]
        assert got["Role"].endswith("/" + role_name), (got["Role"], role_name)
        want = {}
        for k, v in p["Environment"]["Variables"].items():
            if isinstance(v, dict) and "Fn::GetAtt" in v:
                v = (known[v["Fn::GetAtt"][0]] if v["Fn::GetAtt"][1] in ("Arn", "TableBucketARN")
                     else v)
            elif isinstance(v, dict) and "Ref" in v:
                v = known[v["Ref"]]
            elif isinstance(v, dict) and "Fn::Sub" in v:
                v = sub(v["Fn::Sub"])
            want[k] = str(v)
        assert got["Environment"]["Variables"] == want, fid
        concurrency = lam.get_function_concurrency(FunctionName=got["FunctionName"]).get(
            "ReservedConcurrentExecutions")
        want = p.get("ReservedConcurrentExecutions")
        assert concurrency == (None if want is None else int(want)), fid

    # The event source mappings with every setting, each to its own on-failure queue. One
    # that reads through an enhanced fan-out consumer is not made in moto (cfn.deployable):
    # test_event_source_mapping_has_every_setting asserts it on the translation.
    left_out = {r.props(k)["FunctionName"]["Ref"] for k in r.moto_left_out()}
    for fid, (_source, queue) in expected_mappings(r).items():
        got = lam.list_event_source_mappings(
            FunctionName=f"{stack}-{cfn.FUNCTIONS[fid]}")["EventSourceMappings"]
        if fid in left_out:
            assert got == [], fid
            continue
        (esm,) = got
        queue_arn = sqs.get_queue_attributes(QueueUrl=physical[queue], AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        assert esm["EventSourceArn"] == stream_arn
        assert esm["BatchSize"] == int(r.params["BatchSize"])
        assert esm["MaximumBatchingWindowInSeconds"] == int(r.params["MaximumBatchingWindowInSeconds"])
        assert esm["MaximumRetryAttempts"] == int(r.params["MaximumRetryAttempts"])
        assert esm["MaximumRecordAgeInSeconds"] == int(r.params["MaximumRecordAgeInSeconds"])
        assert esm["BisectBatchOnFunctionError"] is True
        assert esm["ParallelizationFactor"] == 1
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert esm["StartingPosition"] == "TRIM_HORIZON"
        assert esm["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn, fid
    assert left_out == ({"IcebergFunction"} if r.conditions["IcebergUsesEnhancedFanOut"] else set())

    # Roles: the inline policies' actions, as translated.
    for rid in r.of_type("AWS::IAM::Role"):
        name = physical[rid]
        got = set()
        for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
            if isinstance(doc, str):
                # moto hands back the document as the template's Python repr.
                doc = ast.literal_eval(urllib.parse.unquote(doc))
            for st in statements(doc):
                if st is None:
                    # moto keeps an Fn::If's AWS::NoValue in a list as null (IcebergRole's
                    # consumer statement without enhanced fan-out); CloudFormation drops it.
                    continue
                got |= set(as_list(st["Action"]))
        assert got == set(role_actions(r, rid)), rid
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        if rid == "IcebergRole" and r.conditions["IcebergIsRouted"]:
            check_routed_tables_granted(r, doc)

    # Log groups with retention.
    logs = boto3.client("logs")
    for lid, lg in r.of_type("AWS::Logs::LogGroup").items():
        want = lg["Properties"]["LogGroupName"]["Fn::Sub"].replace("${AWS::StackName}", stack)
        (got,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=want)["logGroups"]
                  if g["logGroupName"] == want]
        assert got["retentionInDays"] == int(r.params["LogRetentionDays"])

    # The alarm topic. (moto skips the email subscription and the alarms: both are asserted
    # on the translation, test_every_alarm_notifies_the_topic.)
    sns = boto3.client("sns")
    topic = physical["AlarmTopic"]
    assert topic.endswith(f":{stack}-alarms")
    sns.get_topic_attributes(TopicArn=topic)
