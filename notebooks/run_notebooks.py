"""Execute every notebook in this folder headless; exit non-zero if any cell fails.

Usage: python notebooks/run_notebooks.py [NOTEBOOK ...]
Without arguments every notebook here runs. Each reads the run(s) named by its own
environment variable (see its first cell):

    survey.ipynb       AGORA_SURVEY_RUN      a survey run (default runs/consumer-survey)
    auctions.ipynb     AGORA_AUCTION_RUN     an auction run or a folder of them (default runs/)
    debates.ipynb      AGORA_DEBATE_RUN      a debate/focus-group run or a folder of them (default runs/)
    validation.ipynb   AGORA_VALIDATION_RUN  a run with a `validation` table (default runs/anes96-twins)
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted(HERE.glob("*.ipynb"))
    failed = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}})
        try:
            client.execute()
            print(f"ok      {path.name}")
        except CellExecutionError as err:
            failed += 1
            print(f"FAILED  {path.name}\n{err}", file=sys.stderr)
    print(f"{len(notebooks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
