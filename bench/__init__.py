"""citebot benchmarks: quality, latency, ingest and memory, each beside a peer baseline.

Run ``python -m bench all`` (full, 20-40 min on 2 cores) or ``python -m bench
all --quick`` (CI smoke test, < 3 min; written to ``bench/results/quick/``).
Results go to ``bench/results/``:
``results.json``, ``summary.md`` and PNG plots. Datasets are read from
``CITEBOT_DATASETS_DIR`` (default ``<project root>/../shared/datasets``).
"""
