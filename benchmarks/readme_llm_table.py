"""Regenerate the README's LLM table from the code: ``accessrl llm demo``'s defaults (RLOO,
betas 0 / 0.05 / 0.2, seed 0, one PyTorch thread), its final evaluation as a Markdown
table and its sample responses.

Usage: ``python benchmarks/readme_llm_table.py``.  Writes ``benchmarks/results/llm_demo.md``
and replaces the table between the README's ``<!-- llm-demo-table -->`` markers;
``tests/test_readme.py`` checks the README quotes the file and (slow) that a fresh run
reproduces it.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

from accessrl.llm.demo import DemoConfig, demo_table, run_demo, sample_lines

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "llm_demo.md"
START, END = "<!-- llm-demo-table -->", "<!-- /llm-demo-table -->"


def main() -> None:
    torch.set_num_threads(1)  # the CLI's setting: bit-for-bit repeatable on one machine
    res = run_demo(DemoConfig(), seed=0)
    table = demo_table(res)
    RESULTS.write_text(
        "# accessrl llm demo (RLOO, seed 0): final evaluation\n\n"
        "Written by `python benchmarks/readme_llm_table.py` (the same numbers as `accessrl llm demo`).\n"
        f"PyTorch {torch.__version__}, one thread, {platform.machine()} {platform.processor() or ''}".rstrip() + ".\n\n"
        + table + "\nSample responses (the same random numbers for every policy):\n\n```\n"
        + "\n".join(sample_lines(res)) + "\n```\n", encoding="utf-8")
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = f"{START}\n{table}{END}"
    new, n = re.subn(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    if n != 1:
        raise SystemExit(f"README.md: expected one {START} ... {END} block, found {n}")
    readme.write_text(new, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
