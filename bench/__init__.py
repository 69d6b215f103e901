"""rassegna's benchmark suite: every figure is a ratio against a baseline measured in the
same process run (interleaved rounds, median), plus the absolute numbers.

Run it with `make bench` or `python -m bench` (`BENCH_SCALE=large` for the large sizes,
`BENCH_ONLY=name,name` to run some figure families only). Results go to
`bench/results.json`; see `bench/README.md` for what each figure means.
"""
