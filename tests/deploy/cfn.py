"""template.yaml as CloudFormation would deploy it, offline.

- `load_template` reads the SAM template with its short-form tags (!Ref, !Sub, ...).
- `translate` runs aws-sam-translator, as CloudFormation's SAM transform does, after putting
  an S3 URI where `CodeUri: .` stands (what `sam package` does).
- `Resolved` evaluates the translated template for one parameter set: conditions, `Fn::If`,
  `Ref` to parameters, and the Rules (which CloudFormation checks before it creates
  anything, and moto does not check at all).
"""

import copy
import json
import pathlib

import boto3
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CODE_URI = "s3://trickle-deploy-artifacts/functions.zip"

# SAM logical id -> binary name.
FUNCTIONS = {
    "IngestFunction": "ingest",
    "BatchToS3Function": "batch-to-s3",
    "FirehoseTransformFunction": "firehose-transform",
    "IcebergFunction": "batch-to-iceberg",
}


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = suffix if suffix in ("Ref", "Condition") else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path=TEMPLATE):
    return yaml.load(pathlib.Path(path).read_text(), Loader=_CfnLoader)


def parameter_defaults(template):
    return {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}


def translate(parameters):
    """The CloudFormation template that `sam deploy` would hand to CloudFormation."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = load_template()
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = CODE_URI
    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    values = parameter_defaults(sam)
    values.update(parameters)
    return translator.translate(
        sam_template=sam,
        parameter_values=values,
        get_managed_policy_map=lambda: {},
    )


def truth(node, value, condition):
    """A condition (or Rule assertion) evaluated: `value` resolves a value node (Ref to a
    parameter, Join), `condition` a named condition."""
    (fn, arg), = node.items()
    if fn == "Fn::Equals":
        a, b = (value(x) for x in arg)
        return str(a) == str(b)
    if fn == "Fn::Not":
        return not truth(arg[0], value, condition)
    if fn == "Fn::And":
        return all(truth(x, value, condition) for x in arg)
    if fn == "Fn::Or":
        return any(truth(x, value, condition) for x in arg)
    if fn == "Condition":
        return condition(arg)
    if fn == "Fn::Contains":
        items, v = arg
        return str(value(v)) in [str(x) for x in value(items)]
    if fn == "Fn::EachMemberEquals":
        items, v = arg
        return all(str(x) == str(value(v)) for x in value(items))
    raise ValueError(f"unknown condition function {fn}")


class RuleFailed(Exception):
    pass


class Resolved:
    """A translated template evaluated for one parameter set."""

    def __init__(self, cfn, parameters, account="123456789012", region="us-east-1",
                 stack="trickle"):
        self.cfn = cfn
        self.params = {k: str(v.get("Default", "")) for k, v in cfn["Parameters"].items()}
        self.params.update({k: str(v) for k, v in parameters.items()})
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::StackName": stack,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.conditions = {}
        for name in cfn.get("Conditions", {}):
            self.condition(name)
        self.resources = {
            k: v for k, v in cfn["Resources"].items()
            if "Condition" not in v or self.conditions[v["Condition"]]
        }

    # -- conditions and rules
    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.cfn["Conditions"][name])
        return self.conditions[name]

    def value(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg in self.params:
                    param = self.cfn["Parameters"][arg]
                    v = self.params[arg]
                    if param["Type"] == "CommaDelimitedList":
                        return [] if v == "" else v.split(",")
                    return v
                if arg in self.pseudo:
                    return self.pseudo[arg]
                return {"Ref": arg}
            if fn == "Fn::Join":
                sep, items = arg
                return sep.join(self.value(items))
            if fn == "Fn::FindInMap":
                mapping, top, second = (self.value(x) for x in arg)
                return self.cfn["Mappings"][mapping][str(top)][second]
        if isinstance(node, list):
            return [self.value(x) for x in node]
        return node

    def truth(self, node):
        return truth(node, self.value, self.condition)

    def check_rules(self):
        """Raises RuleFailed with the AssertDescription of the first failed assertion."""
        for name, rule in self.cfn.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            for a in rule["Assertions"]:
                if not self.truth(a["Assert"]):
                    raise RuleFailed(f"{name}: {a['AssertDescription']}")

    def check_parameter_constraints(self):
        """AllowedValues, AllowedPattern, MinValue/MaxValue: what CloudFormation checks."""
        import re

        for name, p in self.cfn["Parameters"].items():
            v = self.params[name]
            if "AllowedValues" in p and v not in [str(x) for x in p["AllowedValues"]]:
                raise RuleFailed(f"{name}={v!r} is not in AllowedValues")
            if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], v):
                raise RuleFailed(f"{name}={v!r} does not match AllowedPattern")
            if p["Type"] == "Number":
                n = float(v)
                if "MinValue" in p and n < float(p["MinValue"]):
                    raise RuleFailed(f"{name}={v} is under MinValue")
                if "MaxValue" in p and n > float(p["MaxValue"]):
                    raise RuleFailed(f"{name}={v} is over MaxValue")

    # -- resources
    def resolve(self, node):
        """`Fn::If` and `Ref` to parameters resolved; AWS::NoValue removed."""
        if isinstance(node, dict):
            if len(node) == 1:
                (fn, arg), = node.items()
                if fn == "Fn::If":
                    cond, yes, no = arg
                    return self.resolve(yes if self.condition(cond) else no)
                if fn == "Ref" and (arg in self.params or arg in self.pseudo):
                    return self.value(node)
                if fn == "Fn::FindInMap":
                    return self.value(node)
            out = {}
            for k, v in node.items():
                r = self.resolve(v)
                if r != {"Ref": "AWS::NoValue"}:
                    out[k] = r
            return out
        if isinstance(node, list):
            return [r for r in (self.resolve(x) for x in node) if r != {"Ref": "AWS::NoValue"}]
        return node

    def of_type(self, type_):
        return {k: self.resolve(v) for k, v in self.resources.items() if v["Type"] == type_}

    def props(self, logical_id):
        return self.resolve(self.resources[logical_id]).get("Properties", {})

    def deployable(self):
        """The translated template as moto's CloudFormation takes it: outputs on types moto
        does not create are left out (moto fails the stack on them); Rules are dropped
        (checked here instead). The types moto's CloudFormation cannot make (MOTO_CANNOT)
        are left out and each attribute of theirs that is used stands as the value AWS would
        give it: a Kinesis stream consumer (enhanced fan-out) as its ARN (`Stream
        ARN/consumer/NAME:1`, AWS's form), S3 Tables' table bucket, namespace and table as
        their ARNs and the table's warehouse location. An event source mapping that would
        read through a consumer is left out: moto's CreateEventSourceMapping takes only
        stream, queue and table ARNs. `moto_left_out()` names those mappings; the translation
        tests assert them and the S3 Tables resources."""
        t = copy.deepcopy(self.cfn)
        t.pop("Rules", None)
        cannot = {k: v for k, v in t["Resources"].items() if v["Type"] in MOTO_CANNOT}
        for k in cannot:
            del t["Resources"][k]
        for k in self.moto_left_out():
            del t["Resources"][k]
        t["Resources"] = _stand_in(t["Resources"], cannot)
        t["Outputs"] = _stand_in(t.get("Outputs", {}), cannot)
        for v in t["Resources"].values():
            # A DependsOn on a resource left out goes with it.
            if "DependsOn" in v:
                kept = [d for d in as_list(v["DependsOn"]) if d not in cannot]
                if kept:
                    v["DependsOn"] = kept
                else:
                    del v["DependsOn"]
        skipped = {k for k, v in t["Resources"].items() if v["Type"] in MOTO_SKIPS}
        t["Outputs"] = {
            k: v for k, v in t.get("Outputs", {}).items()
            if not (set(_refs(v)) & (skipped | set(cannot)))
        }
        return json.dumps(t)

    def moto_left_out(self):
        """The event source mappings moto cannot create for this parameter set: those that
        read through a stream consumer."""
        consumers = {k for k, v in self.resources.items() if v["Type"] in MOTO_CANNOT}
        return {k for k, v in self.of_type("AWS::Lambda::EventSourceMapping").items()
                if set(_refs(v["Properties"]["EventSourceArn"])) & consumers}


def as_list(x):
    return x if isinstance(x, list) else [x]


def s3tables_bucket_arn(props):
    """A table bucket's ARN, as CloudFormation expressions, from its properties."""
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3tables:",
                              {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
                              ":bucket/", props["TableBucketName"]]]}


# Types moto's CloudFormation skips with only a log line (../shared/LOCAL-AWS.md).
MOTO_SKIPS = {
    "AWS::Lambda::Url",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::CloudWatch::Alarm",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogStream",
    "AWS::SNS::Subscription",
    "AWS::Glue::Database",
    "AWS::Glue::TableOptimizer",
}
# Types moto's CloudFormation does not know (moto 5.2: no CloudFormation model for them, it
# skips them with a warning) and that other resources use: attribute -> the value AWS gives
# it, from the resource's properties and the template's resources (deployable()).
MOTO_CANNOT = {
    "AWS::Kinesis::StreamConsumer": {
        "ConsumerARN": lambda p, res: {"Fn::Join": ["", [p["StreamARN"], "/consumer/",
                                                         p["ConsumerName"], ":1"]]},
    },
    "AWS::S3Tables::TableBucket": {
        "TableBucketARN": lambda p, res: s3tables_bucket_arn(p),
    },
    "AWS::S3Tables::Namespace": {},
    # AWS's table ARN ends in the table's id (bucket/NAME/table/ID); moto's, and this stand
    # in, in its name. The table's warehouse location is a bucket of S3 Tables' own.
    "AWS::S3Tables::Table": {
        "TableARN": lambda p, res: {"Fn::Join": ["", [
            _stand_in(p["TableBucketARN"], res), "/table/", p["TableName"]]]},
        "WarehouseLocation": lambda p, res: {"Fn::Join": ["", [
            "s3://", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
            "--table-s3"]]},
    },
}


def _stand_in(node, cannot):
    """GetAtt RESOURCE.ATTRIBUTE of a resource moto cannot make replaced by the value AWS
    would give it (MOTO_CANNOT)."""
    if isinstance(node, dict):
        if list(node) == ["Fn::GetAtt"] and node["Fn::GetAtt"][0] in cannot:
            rid, attr = node["Fn::GetAtt"]
            r = cannot[rid]
            assert attr in MOTO_CANNOT[r["Type"]], node
            return MOTO_CANNOT[r["Type"]][attr](r["Properties"], cannot)
        return {k: _stand_in(v, cannot) for k, v in node.items()}
    if isinstance(node, list):
        return [_stand_in(x, cannot) for x in node]
    return node


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                yield v
            elif k == "Fn::GetAtt":
                yield v[0] if isinstance(v, list) else v.split(".")[0]
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for x in node:
            yield from _refs(x)
