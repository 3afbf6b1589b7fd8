"""Helpers of the Terraform deploy proof (test_terraform.py).

- `Terraform`: the binary, the provider mirror found at run time, a CLI config of its own
  (the environment's TF_CLI_CONFIG_FILE names a file that does not exist), and the
  environment every run gets (dummy credentials, us-east-1, no instance metadata).
- `write_root`: a root module in a temporary folder that calls deploy/terraform (by a relative
  path, so nothing is copied and nothing is written under deploy/terraform) with a provider
  whose every endpoint is one loopback URL.
- `load_template` / `Sam`: template.yaml read with its short-form tags, and evaluated for one
  parameter set (conditions, Fn::If, Ref, Fn::Sub, Fn::GetAtt) from values the caller gives.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import zipfile

import cfn


ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "deploy" / "terraform"
TEMPLATE = ROOT / "template.yaml"

# Every service the module's resources and data sources call.
SERVICES = ["cloudwatch", "firehose", "glue", "iam", "kinesis", "kms", "lambda", "logs", "s3",
            "sns", "sqs", "sts"]
# Where every other service goes (AWS_ENDPOINT_URL, which the provider honours for any service
# without an endpoint of its own): a closed loopback port unless the root names one.
CLOSED = "http://127.0.0.1:1"

AWS_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class TerraformFailed(AssertionError):
    pass


def find_mirror():
    """The provider mirror: the parent of the registry.terraform.io folder that
    `find / -xdev -maxdepth 4 -type d -name registry.terraform.io` prints. None if absent."""
    out = subprocess.run(
        ["find", "/", "-xdev", "-maxdepth", "4", "-type", "d", "-name", "registry.terraform.io"],
        capture_output=True, text=True, timeout=120,
    ).stdout.split()
    for d in sorted(out):
        if list(pathlib.Path(d).glob("hashicorp/aws/*/*/terraform-provider-aws*")):
            return str(pathlib.Path(d).parent)
    return None


class Terraform:
    def __init__(self, workdir):
        self.binary = shutil.which("terraform")
        if not self.binary:
            raise TerraformFailed("the terraform binary is not on PATH (Terraform 1.11 is expected "
                                  "on this machine, ../shared/LOCAL-AWS.md)")
        self.mirror = find_mirror()
        if not self.mirror:
            raise TerraformFailed(
                "the AWS provider mirror is missing: `find / -xdev -maxdepth 4 -type d -name "
                "registry.terraform.io` found no folder holding hashicorp/aws, and nothing can "
                "be downloaded from Terraform's registry here")
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.cli_config = workdir / "terraform.tfrc"
        self.cli_config.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path = {json.dumps(self.mirror)}\n  }}\n"
            "}\n"
            "disable_checkpoint = true\n"
        )
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TF_", "AWS_")) and k != "CHECKPOINT_DISABLE"}
        env.update(AWS_ENV)
        env.update({
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            **{f"TF_CLI_ARGS_{c}": "-no-color"
               for c in ("init", "validate", "plan", "apply", "destroy")},
            # Loopback is never reached through a proxy.
            "NO_PROXY": "127.0.0.1,localhost",
        })
        self.env = env
        self._endpoints = {}

    def write_root(self, directory, endpoint, modules, outputs=True, extra=""):
        """write_root, remembering the endpoint: every service the root does not name goes
        there too."""
        d = write_root(directory, endpoint, modules, outputs, extra)
        self._endpoints[pathlib.Path(d).resolve()] = endpoint
        return d

    def run(self, cwd, *args, check=True, timeout=600):
        env = dict(self.env)
        env["AWS_ENDPOINT_URL"] = self._endpoints.get(pathlib.Path(cwd).resolve(), CLOSED)
        p = subprocess.run([self.binary, *args], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise TerraformFailed(
                f"terraform {' '.join(args)} (in {cwd}) exited {p.returncode}\n"
                f"--- stdout (tail)\n{p.stdout[-6000:]}\n--- stderr\n{p.stderr[-6000:]}")
        return p

    def version(self):
        return json.loads(self.run(".", "version", "-json").stdout)["terraform_version"]

    def plan_json(self, cwd, *var_args):
        self.run(cwd, "plan", "-input=false", "-lock=false", "-out=tf.plan", *var_args)
        return json.loads(self.run(cwd, "show", "-json", "tf.plan").stdout)


def hcl(value):
    """A Python value as an HCL expression (JSON syntax, with template sequences escaped)."""
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    raise TypeError(value)


def write_root(directory, endpoint, modules, outputs=True, extra=""):
    """A root module calling deploy/terraform once per entry of `modules` (name -> arguments),
    with every provider endpoint at `endpoint` (and `extra` HCL appended)."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = os.path.relpath(MODULE, directory)
    endpoints = "\n".join(f"    {s:<10} = {json.dumps(endpoint)}" for s in SERVICES)
    text = f"""# Written by tests/deploy/test_terraform.py: deploy/terraform against {endpoint}.
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 2

  endpoints {{
{endpoints}
  }}
}}
"""
    for name, args in modules.items():
        body = "\n".join(f"  {k} = {hcl(v)}" for k, v in args.items())
        text += f'\nmodule "{name}" {{\n  source = {json.dumps(source)}\n{body}\n}}\n'
        if outputs:
            text += f'\noutput "{name}" {{\n  value = module.{name}\n}}\n'
    (directory / "main.tf").write_text(text + extra)
    return directory


def placeholder_zip(path):
    """A function zip holding an executable `bootstrap` (moto never runs it)."""
    path = pathlib.Path(path)
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\nexit 1\n")
    return str(path)


# ---------------------------------------------------------------- template.yaml

# One reader of the template's short-form tags for both proofs (cfn.py).
load_template = cfn.load_template


_WORD = re.compile(r"MiB|[A-Z][a-z]+[0-9]*|[A-Z]+[0-9]*(?![a-z])|[0-9]+")


def snake(name):
    """A SAM name in snake_case: FirehoseBufferSizeMiB -> firehose_buffer_size_mib,
    BatchToS3ReservedConcurrency -> batch_to_s3_reserved_concurrency."""
    words = _WORD.findall(name)
    assert "".join(words) == name, f"cannot split {name!r} into words: {words}"
    return "_".join(w.lower() for w in words)


NOVALUE = object()


class Sam:
    """template.yaml evaluated for one parameter set (SAM parameter name -> string, defaults
    for the rest). `refs` and `getatts` give what Ref/GetAtt of a resource stand for (e.g.
    the names and ARNs Terraform created); anything else unknown is left as it is."""

    def __init__(self, template, params, stack="trickle", account="123456789012",
                 region="us-east-1", refs=None, getatts=None):
        self.t = template
        self.params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
        unknown = set(params) - set(self.params)
        assert not unknown, f"not parameters of template.yaml: {unknown}"
        self.params.update(params)
        self.pseudo = {"AWS::StackName": stack, "AWS::AccountId": account,
                       "AWS::Region": region, "AWS::Partition": "aws",
                       "AWS::URLSuffix": "amazonaws.com"}
        self.refs = refs or {}
        self.getatts = getatts or {}
        self._conditions = {}

    def param(self, name):
        p = self.t["Parameters"][name]
        v = self.params[name]
        if p["Type"] == "CommaDelimitedList":
            return [] if v == "" else v.split(",")
        return v

    def condition(self, name):
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.t["Conditions"][name])
        return self._conditions[name]

    def truth(self, node):
        return cfn.truth(node, self.resolve, self.condition)

    def present(self, logical_id):
        r = self.t["Resources"][logical_id]
        return "Condition" not in r or self.condition(r["Condition"])

    def _sub(self, text, extra=None):
        def one(m):
            key = m.group(1)
            if extra and key in extra:
                return str(extra[key])
            if key in self.pseudo:
                return self.pseudo[key]
            if key in self.params:
                return str(self.params[key])
            if "." in key:
                rid, att = key.split(".", 1)
                if (rid, att) in self.getatts:
                    return self.getatts[(rid, att)]
            elif key in self.refs:
                return self.refs[key]
            return "${" + key + "}"
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, dict):
            if len(node) == 1:
                (fn, arg), = node.items()
                if fn == "Ref":
                    if arg == "AWS::NoValue":
                        return NOVALUE
                    if arg in self.params:
                        return self.param(arg)
                    if arg in self.pseudo:
                        return self.pseudo[arg]
                    return self.refs.get(arg, node)
                if fn == "Fn::GetAtt":
                    return self.getatts.get(tuple(arg), node)
                if fn == "Fn::If":
                    cond, yes, no = arg
                    return self.resolve(yes if self.condition(cond) else no)
                if fn == "Fn::Sub":
                    if isinstance(arg, str):
                        return self._sub(arg)
                    text, extra = arg
                    return self._sub(text, {k: self.resolve(v) for k, v in extra.items()})
                if fn == "Fn::Join":
                    sep, items = arg
                    return sep.join(str(x) for x in self.resolve(items))
            out = {}
            for k, v in node.items():
                r = self.resolve(v)
                if r is not NOVALUE:
                    out[k] = r
            return out
        if isinstance(node, list):
            return [r for r in (self.resolve(x) for x in node) if r is not NOVALUE]
        return node

    def props(self, logical_id):
        return self.resolve(self.t["Resources"][logical_id].get("Properties", {}))

    def function_setting(self, logical_id, key):
        """A function property, or the Globals.Function one it inherits."""
        props = self.t["Resources"][logical_id].get("Properties", {})
        if key in props:
            return self.resolve(props[key])
        return self.resolve(self.t.get("Globals", {}).get("Function", {}).get(key))


# ---------------------------------------------------------------- plan and state JSON

def module_resources(doc, module):
    """address (without `module.<name>.`) -> resource, from planned_values or state values."""
    root = doc.get("planned_values", doc.get("values", {})).get("root_module", {})
    out = {}
    for child in root.get("child_modules", []):
        if child["address"] != f"module.{module}":
            continue
        for r in child.get("resources", []):
            out[r["address"][len(f"module.{module}."):]] = r
    return out


def state_resources(state_file, module):
    """address (without `module.<name>.`) -> {type, mode, values}, from a terraform.tfstate
    file (format version 4) as the local backend writes it."""
    state = json.loads(pathlib.Path(state_file).read_text())
    assert state.get("version") == 4, f"unexpected state format {state.get('version')}"
    out = {}
    for r in state.get("resources", []):
        if r.get("module") != f"module.{module}":
            continue
        prefix = ("data." if r["mode"] == "data" else "") + f"{r['type']}.{r['name']}"
        for inst in r["instances"]:
            key = inst.get("index_key")
            addr = prefix + ("" if key is None else f"[{json.dumps(key)}]")
            out[addr] = {"type": r["type"], "mode": r["mode"], "values": inst["attributes"]}
    return out


def resource_changes(plan, module):
    """address -> (after, after_unknown) of the planned changes."""
    out = {}
    for rc in plan.get("resource_changes", []):
        if rc.get("module_address") == f"module.{module}":
            addr = rc["address"][len(f"module.{module}."):]
            out[addr] = (rc["change"].get("after") or {}, rc["change"].get("after_unknown") or {})
    return out


def module_variables(plan, module):
    calls = plan["configuration"]["root_module"]["module_calls"]
    return calls[module]["module"]["variables"]


def statements(doc):
    s = doc["Statement"]
    return s if isinstance(s, list) else [s]


def as_list(x):
    return x if isinstance(x, list) else [x]


def normalize_policy(doc):
    """A policy document with every Action/Resource a sorted list, for comparison."""
    out = []
    for st in statements(doc):
        st = dict(st)
        for k in ("Action", "Resource", "NotAction", "NotResource"):
            if k in st:
                st[k] = sorted(as_list(st[k]))
        if "Condition" in st:
            st["Condition"] = {
                op: {key: sorted(as_list(v)) for key, v in cond.items()}
                for op, cond in st["Condition"].items()
            }
        out.append(st)
    return {"Version": doc.get("Version"),
            "Statement": sorted(out, key=lambda st: json.dumps(st, sort_keys=True))}
