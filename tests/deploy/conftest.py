"""Shared fixtures of the deploy proofs: the local stack (moto) they talk to."""

import os
import urllib.request

import pytest


@pytest.fixture(scope="session")
def moto_url():
    """The moto server named by AWS_ENDPOINT_URL (scripts/env.sh); fails loudly if absent."""
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    assert url.startswith("http://127.0.0.1:"), (
        "AWS_ENDPOINT_URL must name the local moto server on 127.0.0.1 "
        "(run through `make test`, or `make stack && source .local/stack.env`)"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        assert os.environ.get(name), f"{name} must be set (scripts/env.sh)"
    assert os.environ.get("AWS_EC2_METADATA_DISABLED") == "true"
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=5).read()
    except OSError as e:
        pytest.fail(f"moto does not answer at {url}: {e}")
    return url
