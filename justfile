# Agora task runner. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

python := ".venv/bin/python"

# Show the recipes.
default:
    @just --list

# The demo: a survey end to end on the embedded model (fetched once), its results and what next.
# It decodes eight answers together for speed (--local-batch 8); without it answers are exact.
demo agents="20":
    cargo build --release --bin agora
    cargo run -q --release --bin agora -- models fetch
    cargo run -q --release --bin agora -- run scenarios/consumer-survey.ron --model local --local-batch 8 --agents {{agents}} --overwrite --report
    @echo "tables: $PWD/runs/consumer-survey (Parquet; notebooks/ reads them)"
    @echo "The embedded 135M model shows the engine at work, not realistic people; for real answers start a model server (vLLM, Ollama, llama.cpp) and run with OPENAI_BASE_URL=http://HOST:PORT/v1 --model openai:MODEL (or OPENAI_API_KEY for OpenAI)."

# Download the default local model into the cache (once; later calls only verify it).
model:
    cargo run -q -- models fetch

# Formatting, lints, every test, and the notebooks against a fresh rule-based run.
test: lint unit notebooks

# Formatting and clippy, warnings are errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, property and end-to-end tests (the object-store test needs moto from .venv).
unit: model venv
    cargo nextest run --workspace --no-fail-fast

# Decisions per second and memory per agent of the rule-based survey (release build).
bench sizes="10000,100000,1000000":
    cargo build --release
    ./target/release/agora bench scenarios/consumer-survey.ron --agents {{sizes}}

# Prompt and generation tokens per second of the embedded model on this machine.
bench-local threads="2":
    cargo run --release -- models fetch
    cargo run --release -- models bench --threads {{threads}}

# Execute the analysis notebooks headless against rule-based runs made for them, then
# open every table of those runs as one hive dataset with pyarrow, polars and DuckDB.
# Each notebook reads the run named by its AGORA_*_RUN variable.
notebooks: venv
    cargo run -q -- run scenarios/consumer-survey.ron --model rules --agents 2000 --replicates 2 --out runs/notebooks/survey --overwrite --quiet
    for s in auction-first-price auction-second-price auction-english auction-dutch house-auction; do cargo run -q -- run scenarios/$s.ron --model rules --replicates 30 --out runs/notebooks/auctions/$s --overwrite --quiet; done
    for s in debate-two-sided opinion-dynamics focus-group; do cargo run -q -- run scenarios/$s.ron --model rules --replicates 10 --out runs/notebooks/debates/$s --overwrite --quiet; done
    cargo run -q -- run scenarios/anes96-twins.ron --model rules --agents 300 --out runs/notebooks/validation --overwrite --quiet
    cargo run -q -- run scenarios/survey-logic.ron --model rules --agents 2000 --replicates 2 --out runs/notebooks/survey-logic --overwrite --quiet
    AGORA_SURVEY_RUN="$PWD/runs/notebooks/survey" AGORA_AUCTION_RUN="$PWD/runs/notebooks/auctions" AGORA_DEBATE_RUN="$PWD/runs/notebooks/debates" AGORA_VALIDATION_RUN="$PWD/runs/notebooks/validation" {{python}} notebooks/run_notebooks.py
    AGORA_SURVEY_RUN="$PWD/runs/notebooks/survey-logic" {{python}} notebooks/run_notebooks.py notebooks/survey.ipynb
    {{python}} notebooks/check_datasets.py runs/notebooks

# Python environment for the notebooks (.venv), refreshed when requirements change.
venv:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
    if [ ! -f .venv/.installed ] || [ notebooks/requirements.txt -nt .venv/.installed ]; then
        .venv/bin/pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt
        touch .venv/.installed
    fi

# Gateway throughput against the fake server: N agents x 1 call, capacity C, latency L ms.
# Prints wall time and the ratio (N / C x L) / wall time (1.0 = the server kept full).
bench-gateway agents="1000" capacity="64" latency="100" rounds="10":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p agora -p agora-fake-openai
    ./target/release/agora-fake-openai --port 8089 --latency-ms {{latency}} --capacity {{capacity}} > /dev/null &
    server=$!
    trap 'kill $server' EXIT
    sleep 1
    rm -rf /tmp/agora-bench-gateway
    stats=$(OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=bench ./target/release/agora run scenarios/consumer-survey.ron \
        --model openai:bench --agents {{agents}} --rounds {{rounds}} --concurrency {{capacity}} --cache off --out /tmp/agora-bench-gateway --overwrite --stats-json)
    python3 -c "import json,sys; s=json.loads(sys.argv[1]); ideal=s['decisions']/{{capacity}}*{{latency}}/1000; print(f'{s[\"decisions\"]} calls, wall {s[\"seconds\"]:.3f} s, ideal {ideal:.3f} s, ratio {ideal/s[\"seconds\"]:.3f}')" "$stats"

# Prompt tokens per agent and round of the focus group for 10 and 50 participants,
# against the fake server (which counts a request body's bytes / 4 as its tokens).
bench-focus-group: venv
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build -q -p agora -p agora-fake-openai
    ./target/debug/agora-fake-openai --port 8091 > /dev/null &
    server=$!
    trap 'kill $server' EXIT
    sleep 1
    for n in 10 50; do
        OPENAI_BASE_URL=http://127.0.0.1:8091/v1 OPENAI_API_KEY=bench ./target/debug/agora run scenarios/focus-group.ron \
            --model openai:bench --agents $n --replicates 1 --cache off --out runs/bench-focus-group/n$n --overwrite --quiet
    done
    {{python}} - <<'PY'
    import polars as pl
    tasks = ["focus_group.answer", "conversation.opinion", "memory.consolidate"]
    for n in (10, 50):
        calls = pl.read_parquet(f"runs/bench-focus-group/n{n}/llm_calls/**/*.parquet")
        rows = [{"round": r, **{t: calls.filter((pl.col("round") == r) & (pl.col("task") == t))["prompt_tokens"].sum() / n for t in tasks}}
                for r in sorted(calls["round"].unique())]
        table = pl.DataFrame(rows).with_columns(pl.sum_horizontal(tasks).alias("all"))
        print(f"{n} participants: prompt tokens per agent and round")
        print(table.with_columns(pl.exclude("round").round(0).cast(pl.Int64)))
    PY


# Runs in flight together against the fake server: SCENARIO with R replicates, capacity
# C, latency L ms. Prints wall time and ideal / wall, ideal = calls / C x L (1.0 = full).
bench-runs scenario="house-auction" replicates="40" capacity="64" latency="200":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p agora -p agora-fake-openai
    ./target/release/agora-fake-openai --port 8093 --latency-ms {{latency}} --capacity {{capacity}} > /dev/null &
    server=$!
    trap 'kill $server' EXIT
    sleep 1
    rm -rf /tmp/agora-bench-runs
    stats=$(OPENAI_BASE_URL=http://127.0.0.1:8093/v1 OPENAI_API_KEY=bench ./target/release/agora run scenarios/{{scenario}}.ron \
        --model openai:bench --replicates {{replicates}} --concurrency {{capacity}} --cache off --out /tmp/agora-bench-runs --overwrite --stats-json)
    python3 -c "import json,sys; s=json.loads(sys.argv[1]); ideal=s['decisions']/{{capacity}}*{{latency}}/1000; print(f'{s[\"decisions\"]} calls, wall {s[\"seconds\"]:.3f} s, ideal {ideal:.3f} s, ratio {ideal/s[\"seconds\"]:.3f}')" "$stats"

# Conversations against the fake server: SCENARIO with R replicates, capacity C, latency
# L ms (extra arguments after). Prints wall time against the critical path: the longest
# chain of steps of any run (each speaker in turn is a step; a simultaneous round's
# answers, the private opinions, a consolidation are one step each) times L.
bench-chain scenario="debate-two-sided" replicates="32" capacity="64" latency="200" *extra="":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p agora -p agora-fake-openai
    bin=${CARGO_TARGET_DIR:-target}/release
    $bin/agora-fake-openai --port 8095 --latency-ms {{latency}} --capacity {{capacity}} > /dev/null &
    server=$!
    trap 'kill $server' EXIT
    sleep 1
    rm -rf /tmp/agora-bench-chain
    OPENAI_BASE_URL=http://127.0.0.1:8095/v1 OPENAI_API_KEY=bench $bin/agora run scenarios/{{scenario}}.ron \
        --model openai:bench --replicates {{replicates}} --concurrency {{capacity}} --cache off \
        --out /tmp/agora-bench-chain --overwrite --stats-json {{extra}} > /tmp/agora-bench-chain.json
    {{python}} - {{latency}} <<'PY'
    import json, math, sys
    import polars as pl
    latency = float(sys.argv[1]) / 1000
    stats = json.load(open("/tmp/agora-bench-chain.json"))
    agents = stats["agents"]
    calls = pl.read_parquet("/tmp/agora-bench-chain/llm_calls/**/*.parquet")
    messages = pl.read_parquet("/tmp/agora-bench-chain/messages/**/*.parquet")
    # Each distinct turn of a round is a step; the other tasks ask their agents together.
    speak = messages.group_by("replicate", "round").agg(pl.col("turn").n_unique().alias("steps"))
    other = (calls.filter(pl.col("task").is_in(["conversation.opinion", "memory.consolidate", "focus_group.moderator"]))
             .group_by("replicate", "round", "task").agg(pl.len().alias("n"))
             .with_columns((pl.col("n") / agents).ceil().alias("steps")))
    steps = pl.concat([speak.select("replicate", "steps"), other.select("replicate", pl.col("steps").cast(pl.UInt32))])
    chain = steps.group_by("replicate").agg(pl.col("steps").sum())["steps"].max()
    critical = chain * latency
    wall = stats["seconds"]
    share = stats.get("shared_prefix_share", 0.0)
    print(f"{stats['runs']} runs, {stats['decisions']} calls, longest chain {chain} steps: critical path {critical:.2f} s, "
          f"wall {wall:.2f} s, wall / critical {wall / critical:.3f}; "
          f"prompt tokens per call {stats['prompt_tokens'] / stats['decisions']:.0f}, shared prefix {100 * share:.1f}%")
    PY
