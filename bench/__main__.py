"""``python -m bench``: run every benchmark and write ``docs/benchmarks.md``."""

from bench.run_all import main

main()
