# The two commands of the quick start: `make demo` and `make test`. Everything else they
# need is installed into .venv / .venv-checkov by scripts/setup.sh. `make help` lists all.
.PHONY: help demo test check itest senders deploy-proof setup stack down check-template token bench fuzz fmt

help:            ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 17

demo:            ## run the pipeline locally and show what it did
	bash scripts/demo.sh

test:            ## every test: unit, property, handler, integration (moto), template checks
	bash scripts/test.sh

check:           ## the fast loop: formatting, clippy, every test that needs no server
	bash scripts/check.sh

itest:           ## one integration test file against moto: make itest T=batch_to_s3 [F=filter]
	bash scripts/itest.sh "$(T)" "$(F)"

senders:         ## the sender tests through the local function-URL front: make senders [K=fluent]
	bash scripts/senders.sh "$(K)"

deploy-proof:    ## the deploy proofs, or those matching K: make deploy-proof K=terraform
	bash scripts/deploy-proof.sh "$(K)"

setup:           ## install the local tools only
	WITH_CHECKOV=1 bash scripts/setup.sh

stack:           ## start moto on 127.0.0.1:$${MOTO_PORT:-4566} and write .local/stack.env
	bash scripts/stack.sh start

down:            ## stop anything the demo or `make stack` left running
	bash scripts/down.sh

check-template:  ## sam validate, cfn-lint, checkov
	bash scripts/check-template.sh

token:           ## a bearer token for a public URL: its hash into samconfig.toml [CONFIG=public-url]
	python3 scripts/new_token.py "$(CONFIG)"

bench:           ## release benchmarks: throughput vs floors, peak memory, cold start
	bash scripts/bench.sh

fuzz:            ## every cargo-fuzz target for $${FUZZ_SECONDS:-60} s each; fails on a crash
	bash scripts/fuzz.sh

fmt:
	cargo fmt --all
