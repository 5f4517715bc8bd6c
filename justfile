# Agora task runner. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

python := ".venv/bin/python"

# Show the recipes.
default:
    @just --list

# Run the demo survey end to end and print its summary.
demo:
    cargo run --release -- run scenarios/consumer-survey.ron --overwrite

# Formatting, lints, every test, and the notebooks against a fresh rule-based run.
test: lint unit notebooks

# Formatting and clippy, warnings are errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, property and end-to-end tests.
unit:
    cargo nextest run --workspace --no-fail-fast

# Decisions per second and memory per agent of the rule-based survey (release build).
bench sizes="10000,100000,1000000":
    cargo build --release
    ./target/release/agora bench scenarios/consumer-survey.ron --agents {{sizes}}

# Execute the analysis notebooks headless against rule-based runs made for them.
# Each notebook reads the run named by its AGORA_*_RUN variable.
notebooks: venv
    cargo run -q -- run scenarios/consumer-survey.ron --model rules --agents 2000 --replicates 2 --out runs/notebooks/survey --overwrite --quiet
    for s in auction-first-price auction-second-price auction-english auction-dutch house-auction; do cargo run -q -- run scenarios/$s.ron --model rules --replicates 30 --out runs/notebooks/auctions/$s --overwrite --quiet; done
    AGORA_SURVEY_RUN="$PWD/runs/notebooks/survey" AGORA_AUCTION_RUN="$PWD/runs/notebooks/auctions" {{python}} notebooks/run_notebooks.py

# Python environment for the notebooks (.venv), refreshed when requirements change.
venv:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
    if [ ! -f .venv/.installed ] || [ notebooks/requirements.txt -nt .venv/.installed ]; then
        .venv/bin/pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt
        touch .venv/.installed
    fi
