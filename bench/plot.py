#!/usr/bin/env python3
"""Draws docs/benchmarks.png from `msaas-bench --json` output: wall time and peak memory against
song length: ours (exact and fast modes) and the official code's (as installed and tuned).
Standard library only; gnuplot draws.

    python3 bench/plot.py var/bench.json docs/benchmarks.png
"""
import json
import subprocess
import sys
import tempfile


# (key in each run of the JSON, curve title), in the order of the data file's columns.
LINES = [("exact", "MSaaS"), ("fast", "MSaaS --fast"), ("official", "official Demucs"),
         ("official_tuned", "official Demucs, tuned")]


def curves(data, first_column, present):
    """A curve per line with figures: wall time from column 2, 4, 6, 8; memory from 3, 5, 7, 9."""
    return ", ".join(f"'{data}' using 1:{first_column + 2 * i} with linespoints lw 2 "
                     f"title '{title}'" for i, (key, title) in enumerate(LINES) if key in present)


def main():
    results = json.load(open(sys.argv[1]))
    present = {key for run in results["runs"] for key, _ in LINES if key in run}
    if not present:
        sys.exit("plot.py: no figures in " + sys.argv[1] + " (made by an older msaas-bench?)")
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        for run in results["runs"]:
            row = [f"{run['seconds'] / 60:.3f}"]
            for part, _ in LINES:
                figures = run.get(part, {})
                row += [str(figures.get("wall", "NaN")), str(figures.get("peak_mb", "NaN"))]
            dat.write(" ".join(row) + "\n")
    script = f"""
set terminal pngcairo size 1000,420 font 'sans,11'
set output '{sys.argv[2]}'
set multiplot layout 1,2 title 'htdemucs, {results["threads"]} threads, shifts 1, overlap 0.25'
set xlabel 'song length (min)'
set grid
set key top left
set ylabel 'wall time (s)'
set yrange [0:*]
plot {curves(dat.name, 2, present)}
set ylabel 'peak resident memory (MB)'
set key right center
plot {curves(dat.name, 3, present)}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
