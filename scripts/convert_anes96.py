#!/usr/bin/env python3
"""Convert the ANES 1996 subset shipped with statsmodels into Agora's reference files.

Reads  statsmodels.datasets.anes96 (944 respondents, installed with the statsmodels package;
       nothing is downloaded)
Writes assets/reference/anes96.csv            one row per respondent
       assets/reference/anes96-marginals.md   marginal distributions (population targets)

Usage (from the repository root):

    python3 scripts/convert_anes96.py [--out-dir assets/reference]

Requires Python 3 with statsmodels and pandas (1.5 or newer). The output depends only on the data file
inside statsmodels, so re-running it reproduces the committed files byte for byte.

Column mapping (statsmodels name -> output column):

    (row order)  -> respondent_id          1..944 in the order statsmodels returns the rows
    age          -> age                    years
    educ         -> education              label of codes 1-7
    income       -> income_bracket         label of codes 1-24
    income       -> income_midpoint        dollars, midpoint of the bracket (empty for the
                                           open top bracket "$105,000 and over")
    popul        -> population_thousands   census place population, thousands
    TVnews       -> tv_news_days           0-7 per week
    PID          -> party_id               label of codes 0-6
    PID          -> party_id_point         1-7 (= statsmodels PID + 1)
    selfLR       -> self_lr                1-7, 1 = extremely liberal, 7 = extremely conservative
    ClinLR       -> clinton_lr             1-7, same scale, placement of Bill Clinton
    DoleLR       -> dole_lr                1-7, same scale, placement of Bob Dole
    vote         -> vote                   0 -> "Clinton", 1 -> "Dole"
    logpopul     -> (dropped)              log(popul + 0.1), derived by statsmodels
"""

import argparse
from pathlib import Path

import pandas as pd
import statsmodels
from statsmodels.datasets import anes96

N_RESPONDENTS = 944

# Labels as documented in anes96.NOTE.
EDUCATION = {
    1: "1-8 grades",
    2: "Some high school",
    3: "High school graduate",
    4: "Some college",
    5: "College degree",
    6: "Master's degree",
    7: "PhD",
}

PARTY_ID = {
    0: "Strong Democrat",
    1: "Weak Democrat",
    2: "Independent-Democrat",
    3: "Independent-Independent",
    4: "Independent-Republican",
    5: "Weak Republican",
    6: "Strong Republican",
}

VOTE = {0: "Clinton", 1: "Dole"}

# Income brackets as documented in anes96.NOTE: code -> (label, lower bound, upper bound).
# Two typos of the NOTE are corrected in the labels: "$14,000-$14.999" (code 10) and
# "$75,000-89,999" (code 22). The upper bound of the top bracket is not documented (None).
INCOME = {
    1: ("None or less than $2,999", 0, 2999),
    2: ("$3,000-$4,999", 3000, 4999),
    3: ("$5,000-$6,999", 5000, 6999),
    4: ("$7,000-$8,999", 7000, 8999),
    5: ("$9,000-$9,999", 9000, 9999),
    6: ("$10,000-$10,999", 10000, 10999),
    7: ("$11,000-$11,999", 11000, 11999),
    8: ("$12,000-$12,999", 12000, 12999),
    9: ("$13,000-$13,999", 13000, 13999),
    10: ("$14,000-$14,999", 14000, 14999),
    11: ("$15,000-$16,999", 15000, 16999),
    12: ("$17,000-$19,999", 17000, 19999),
    13: ("$20,000-$21,999", 20000, 21999),
    14: ("$22,000-$24,999", 22000, 24999),
    15: ("$25,000-$29,999", 25000, 29999),
    16: ("$30,000-$34,999", 30000, 34999),
    17: ("$35,000-$39,999", 35000, 39999),
    18: ("$40,000-$44,999", 40000, 44999),
    19: ("$45,000-$49,999", 45000, 49999),
    20: ("$50,000-$59,999", 50000, 59999),
    21: ("$60,000-$74,999", 60000, 74999),
    22: ("$75,000-$89,999", 75000, 89999),
    23: ("$90,000-$104,999", 90000, 104999),
    24: ("$105,000 and over", 105000, None),
}


def income_midpoint(code):
    """Midpoint of a bracket in whole dollars: (lower + upper + 1) / 2, so "$3,000-$4,999"
    gives 4000. None for the open top bracket."""
    _, lower, upper = INCOME[code]
    if upper is None:
        return None
    return (lower + upper + 1) // 2


# Valid range of each statsmodels column (inclusive), checked before converting.
RANGES = {
    "popul": (0, None),
    "TVnews": (0, 7),
    "selfLR": (1, 7),
    "ClinLR": (1, 7),
    "DoleLR": (1, 7),
    "PID": (0, 6),
    "age": (18, None),
    "educ": (1, 7),
    "income": (1, 24),
    "vote": (0, 1),
}


def load_source():
    raw = anes96.load_pandas().data
    if len(raw) != N_RESPONDENTS:
        raise SystemExit(f"expected {N_RESPONDENTS} rows, statsmodels returned {len(raw)}")
    missing = raw[list(RANGES)].isna().sum()
    if missing.any():
        raise SystemExit(f"missing values in the source:\n{missing[missing > 0]}")
    for col, (lo, hi) in RANGES.items():
        values = raw[col]
        if not (values == values.round()).all():
            raise SystemExit(f"{col}: non-integer values")
        if values.min() < lo or (hi is not None and values.max() > hi):
            raise SystemExit(f"{col}: values outside {lo}..{hi}")
    return raw[list(RANGES)].astype(int)


def convert(raw):
    out = pd.DataFrame(
        {
            "respondent_id": range(1, len(raw) + 1),
            "age": raw["age"],
            "education": raw["educ"].map(EDUCATION),
            "income_bracket": raw["income"].map(lambda c: INCOME[c][0]),
            "income_midpoint": raw["income"].map(income_midpoint).astype("Int64"),
            "population_thousands": raw["popul"],
            "tv_news_days": raw["TVnews"],
            "party_id": raw["PID"].map(PARTY_ID),
            "party_id_point": raw["PID"] + 1,
            "self_lr": raw["selfLR"],
            "clinton_lr": raw["ClinLR"],
            "dole_lr": raw["DoleLR"],
            "vote": raw["vote"].map(VOTE),
        }
    )
    labelled = ["education", "income_bracket", "party_id", "vote"]
    if out[labelled].isna().any().any():
        raise SystemExit("a code without a documented label")
    return out


def share_table(series, order, title):
    counts = series.value_counts()
    lines = [f"| {title} | n | share |", "|---|---:|---:|"]
    for label in order:
        n = int(counts.get(label, 0))
        lines.append(f"| {label} | {n} | {n / len(series):.4f} |")
    lines.append(f"| total | {len(series)} | 1.0000 |")
    return "\n".join(lines)


def numeric_table(df, columns):
    lines = ["| column | n | mean | sd | min | max |", "|---|---:|---:|---:|---:|---:|"]
    for col in columns:
        v = df[col]
        lines.append(
            f"| {col} | {v.count()} | {v.mean():.2f} | {v.std(ddof=1):.2f} "
            f"| {v.min()} | {v.max()} |"
        )
    return "\n".join(lines)


def marginals(out):
    income_order = [INCOME[c][0] for c in sorted(INCOME)]
    parts = [
        "# ANES 1996 (statsmodels `anes96`): marginal distributions",
        "",
        f"Generated by `scripts/convert_anes96.py` from statsmodels {statsmodels.__version__} "
        f"(`anes96.csv` in this folder, {len(out)} respondents). Do not edit by hand; "
        "re-run the script. Shares are unweighted shares of the 944 respondents "
        "(the data set carries no survey weights); sd is the sample standard deviation "
        "(n - 1).",
        "",
        "## education",
        "",
        share_table(out["education"], [EDUCATION[c] for c in sorted(EDUCATION)], "education"),
        "",
        "## party_id",
        "",
        share_table(out["party_id"], [PARTY_ID[c] for c in sorted(PARTY_ID)], "party_id"),
        "",
        "## income_bracket",
        "",
        share_table(out["income_bracket"], income_order, "income_bracket"),
        "",
        "## numeric attributes",
        "",
        numeric_table(out, ["age", "tv_news_days", "population_thousands"]),
        "",
    ]
    return "\n".join(parts)


def main():
    repo_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=repo_root / "assets" / "reference",
        help="output folder (default: assets/reference in the repository)",
    )
    args = parser.parse_args()

    out = convert(load_source())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.out_dir / "anes96.csv"
    md_path = args.out_dir / "anes96-marginals.md"
    out.to_csv(csv_path, index=False, lineterminator="\n")
    md_path.write_text(marginals(out), encoding="utf-8")
    print(f"wrote {csv_path} ({len(out)} rows) and {md_path}")


if __name__ == "__main__":
    main()
