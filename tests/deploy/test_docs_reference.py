"""The docs' reference is complete: every name the template, Terraform and the config code know.

Offline (no moto, no AWS): reads template.yaml (with cfn.load_template, which accepts the
short-form tags), deploy/terraform/variables.tf and functions/<fn>/src/*.rs at run time, and
checks the markdown under docs/ and README.md:

1. every template Parameter appears as `Name` in docs/reference/parameters.md;
2. every Terraform variable appears as `name` in docs/reference/parameters.md;
3. every environment variable a function's config reads appears as `NAME` in that function's
   reference page (the scan must find at least the known names, so it cannot silently find
   nothing);
4. every docs/reference/*.md page is linked from README.md, every relative link in README.md
   and docs/**/*.md points to a file inside the repository that exists (and its #anchor to a
   heading there), and links out of the repository go to official documentation only;
5. README.md stays a page: at most 220 lines.
"""

import pathlib
import re

import pytest

import cfn

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PARAMETERS_PAGE = DOCS / "reference" / "parameters.md"
VARIABLES_TF = ROOT / "deploy" / "terraform" / "variables.tf"
README_MAX_LINES = 220

# function -> names its config must be found to read (a floor for the scan, not the list).
KNOWN_ENV = {
    "ingest": {"STREAM_NAME", "STREAM_ARN", "STREAM_PARTITION_KEY_POINTER", "RETRY_BUDGET_MS",
               "AGGREGATE", "AUTH_TOKEN_SHA256", "IDEMPOTENCY_TABLE", "RECORD_ID_POINTER"},
    "batch-to-s3": {"BUCKET_NAME", "PREFIX", "ERROR_PREFIX", "STATE_PREFIX", "COMPRESSION",
                    "GZIP_LEVEL", "KEY_LAYOUT", "OBJECT_PARTITION_POINTER", "PARTITION_NAME",
                    "DEFAULT_PARTITION", "MAX_PARTITIONS", "FORMAT", "SCHEMA",
                    "EXTRA_COLUMN", "PARQUET_COMPRESSION", "GLUE_DATABASE", "GLUE_TABLE"},
    "batch-to-iceberg": {"ICEBERG_CATALOG", "ICEBERG_DATABASE", "ICEBERG_TABLE",
                         "ICEBERG_WAREHOUSE", "ICEBERG_TABLE_BUCKET_ARN", "ICEBERG_PARTITION_SPEC",
                         "SCHEMA", "EXTRA_COLUMN", "ERROR_BUCKET", "ERROR_PREFIX",
                         "STATE_PREFIX", "COMMIT_ATTEMPTS"},
    "firehose-transform": {"MAX_DECOMPRESSED_BYTES", "RESPONSE_BUDGET_BYTES",
                           "REINGEST_ENABLED", "REINGEST_MAX_ATTEMPTS", "ENRICH",
                           "ENRICH_ARRIVAL_TIME_FIELD", "ENRICH_PARTITION_KEY_FIELD",
                           "ENRICH_SEQUENCE_NUMBER_FIELD", "PARTITION_POINTERS",
                           "DROP_FILTER_POINTER", "DROP_FILTER_VALUE"},
}
MIN_ENV = {"ingest": 6, "batch-to-s3": 15, "batch-to-iceberg": 10, "firehose-transform": 10}

NAME = r'"([A-Z][A-Z0-9_]*[A-Z0-9])"'
# The ways a config names a variable: a lookup helper given the lookup and the name (on one
# line or several), the lookup itself, a helper closure taking only the name, and the name
# of a variable in a ConfigError.
ENV_PATTERNS = [
    re.compile(r"\b[a-z_]+\(\s*&?lookup\s*,\s*" + NAME),  # cfg::required(&lookup, "X"), key_prefix(..)
    re.compile(r"\blookup\(\s*" + NAME + r"\s*\)"),  # lookup("X")
    re.compile(r"\b(?:field|invalid)\(\s*" + NAME),  # field("X", default), invalid("X", ..)
    re.compile(r"\bname:\s*" + NAME),  # ConfigError::Invalid { name: "X", .. }
]


def load(path):
    return pathlib.Path(path).read_text(encoding="utf-8")


def backticked(text):
    return set(re.findall(r"`([^`\n]+)`", text))


def without_tests(source):
    """A Rust file's text before its `#[cfg(test)]` module: tests name variables too."""
    return source.split("#[cfg(test)]", 1)[0]


def env_vars_read(function):
    src = ROOT / "functions" / function / "src"
    assert src.is_dir(), f"{src} is missing"
    found = set()
    for path in sorted(src.rglob("*.rs")):
        text = without_tests(load(path))
        for pattern in ENV_PATTERNS:
            found.update(pattern.findall(text))
    return found


def reference_page(function):
    return DOCS / "reference" / f"{function}.md"


def test_every_template_parameter_is_in_the_reference():
    params = cfn.load_template()["Parameters"]
    assert len(params) >= 40, f"only {len(params)} parameters read from template.yaml"
    names = backticked(load(PARAMETERS_PAGE))
    missing = sorted(p for p in params if p not in names)
    assert not missing, f"{PARAMETERS_PAGE.relative_to(ROOT)} lacks template parameters: {missing}"


def test_every_terraform_variable_is_in_the_reference():
    variables = re.findall(r'^variable\s+"([A-Za-z0-9_]+)"', load(VARIABLES_TF), re.M)
    assert len(variables) >= 40, f"only {len(variables)} variables read from {VARIABLES_TF}"
    names = backticked(load(PARAMETERS_PAGE))
    missing = sorted(v for v in variables if v not in names)
    assert not missing, f"{PARAMETERS_PAGE.relative_to(ROOT)} lacks Terraform variables: {missing}"


@pytest.mark.parametrize("function", sorted(KNOWN_ENV))
def test_every_environment_variable_is_on_its_function_page(function):
    read = env_vars_read(function)
    unfound = sorted(KNOWN_ENV[function] - read)
    assert not unfound, f"the scan of functions/{function}/src missed {unfound}: fix ENV_PATTERNS"
    assert len(read) >= MIN_ENV[function], f"the scan found only {sorted(read)} for {function}"
    page = reference_page(function)
    assert page.is_file(), f"{page.relative_to(ROOT)} is missing"
    names = backticked(load(page))
    # A cell may name several variables: `A`, `B` are two backticked names, so this holds.
    missing = sorted(v for v in read if v not in names)
    assert not missing, f"{page.relative_to(ROOT)} lacks environment variables {function} reads: {missing}"


def test_the_template_sets_no_variable_a_page_lacks():
    """Every variable the template sets for a function is on that function's page too."""
    template = cfn.load_template()
    for logical_id, function in cfn.FUNCTIONS.items():
        variables = template["Resources"][logical_id]["Properties"].get(
            "Environment", {}).get("Variables", {})
        names = backticked(load(reference_page(function)))
        missing = sorted(v for v in variables if v not in names)
        assert not missing, f"docs/reference/{function}.md lacks {missing}, set by {logical_id}"


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files():
    files = [README] + sorted(DOCS.rglob("*.md"))
    assert len(files) > 10, f"only {len(files)} markdown files found under docs/"
    return files


def links(path):
    text = load(path)
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


def test_every_reference_page_is_linked_from_the_readme():
    linked = {
        (README.parent / target.split("#", 1)[0]).resolve()
        for target in links(README)
        if "://" not in target
    }
    pages = sorted((DOCS / "reference").glob("*.md"))
    assert len(pages) >= 6, f"only {len(pages)} reference pages"
    unlinked = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # an external URL (https:, mailto:) or an anchor on the same page
        file_part = target.split("#", 1)[0]
        resolved = (path.parent / file_part).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def anchors(path):
    """The anchors GitHub makes for a page's headings (lower case, punctuation dropped)."""
    text = re.sub(r"```.*?```", "", load(path), flags=re.S)
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_anchor_points_to_a_heading(path):
    broken = []
    for target in links(path):
        if "://" in target or "#" not in target:
            continue
        file_part, anchor = target.split("#", 1)
        resolved = (path.parent / file_part).resolve() if file_part else path
        if resolved.suffix == ".md" and resolved.exists() and anchor not in anchors(resolved):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing headings: {broken}"


def test_external_links_are_official_docs_only():
    allowed = ("https://docs.aws.amazon.com/", "https://pypi.org/project/")
    for path in markdown_files():
        for target in links(path):
            if "://" in target:
                assert target.startswith(allowed), f"{path.relative_to(ROOT)} links to {target}"


def test_readme_is_a_page():
    lines = load(README).count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; at most {README_MAX_LINES}"
