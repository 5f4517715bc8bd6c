"""Open every table of the runs below a folder as one hive-partitioned dataset with
pyarrow, polars and DuckDB, and check that the three read the same rows and key types.

Usage: python notebooks/check_datasets.py RUNS_DIR [RUNS_DIR ...]
A run directory is one that holds manifest.json; each of its sub-folders with
`arm=...` partitions is a table.
"""

import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds


def tables(root: Path):
    for manifest in sorted(root.rglob("manifest.json")):
        run = manifest.parent
        for table in sorted(p for p in run.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if any(c.name.startswith("arm=") for c in table.iterdir()):
                yield table


def check(table: Path) -> str | None:
    glob = str(table / "**" / "*.parquet")
    arrow = ds.dataset(table, format="parquet", partitioning="hive").to_table()
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    ((rows,),) = duckdb.sql(
        f"select count(*) from read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()
    counts = (arrow.num_rows, frame.height, rows)
    if len(set(counts)) != 1:
        return f"{table}: pyarrow, polars and DuckDB read {counts} rows"
    for key in ("arm", "replicate"):
        if key not in arrow.schema.names or key not in frame.columns:
            return f"{table}: no `{key}` column"
    return None


def main() -> int:
    problems, checked = [], 0
    for root in map(Path, sys.argv[1:]):
        for table in tables(root):
            checked += 1
            try:
                problem = check(table)
            except Exception as error:  # a reader refused the dataset
                problem = f"{table}: {type(error).__name__}: {error}"
            if problem:
                problems.append(problem)
    for problem in problems:
        print(problem)
    print(f"{checked - len(problems)} passed, {len(problems)} failed")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
