"""Write tests/storage/data/bpic2012_excerpt.xes.gz: every 20th trace of BPIC 2012, verbatim.

Source: BPI Challenge 2012, B.F. van Dongen, 4TU.ResearchData,
doi:10.4121/uuid:3926db30-f712-4394-aebc-75976070e91f (4TU.ResearchData's general terms).
Usage: python tools/make_bpic_excerpt.py /path/to/bpic2012.xes.gz
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "storage" / "data" / "bpic2012_excerpt.xes.gz"


def main(src: str, every: int = 20) -> None:
    text = gzip.open(src, "rt", encoding="utf-8").read()
    head = text[: text.index("\t<trace>")]
    cut = head.rindex("<classifier")
    head = head[: head.index("\n", cut) + 1]  # extensions, globals, classifiers; not the log-level statistics
    traces = re.findall(r"\t<trace>.*?</trace>\n", text, flags=re.S)
    keep = traces[::every]
    body = head + "".join(keep) + "</log>\n"
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
        fh.write(body.encode("utf-8"))
    print(f"{len(keep)} of {len(traces)} traces -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
