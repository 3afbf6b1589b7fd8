#!/usr/bin/env python3
"""`make token [CONFIG=public-url]`: a new bearer token for a public function URL.

Makes a random token, writes its SHA-256 as `IngestTokenSha256` into the named configuration
of samconfig.toml (only the hash is ever deployed) and prints the token once: keep it in your
secret store and send it as `Authorization: Bearer TOKEN`. Run it again to rotate the token,
then `sam deploy --config-env public-url`.
"""

import hashlib
import pathlib
import re
import secrets
import sys

SAMCONFIG = pathlib.Path(__file__).resolve().parents[1] / "samconfig.toml"


def with_token_hash(text, config, token_sha256):
    """samconfig.toml's text with `IngestTokenSha256` of `config`'s deploy overrides set."""
    header = f"[{config}.deploy.parameters]"
    start = text.find(header)
    if start < 0:
        raise SystemExit(f"samconfig.toml has no [{config}.deploy.parameters]")
    end = text.find("\n[", start + len(header))
    end = len(text) if end < 0 else end
    section = text[start:end]
    new, n = re.subn(r"""'IngestTokenSha256=[^']*'""",
                     f"""'IngestTokenSha256="{token_sha256}"'""", section)
    if n != 1:
        raise SystemExit(f"[{config}.deploy.parameters] has no 'IngestTokenSha256=...' override")
    return text[:start] + new + text[end:]


def main(argv):
    config = argv[1] if len(argv) > 1 and argv[1] else "public-url"
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    SAMCONFIG.write_text(with_token_hash(SAMCONFIG.read_text(), config, digest))
    print(f"Wrote IngestTokenSha256 for [{config}] into samconfig.toml. The token (shown once):")
    print(token)
    print(f"Deploy with: sam build && sam deploy --config-env {config}")


if __name__ == "__main__":
    main(sys.argv)
