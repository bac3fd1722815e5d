#!/usr/bin/env python3
"""Draws docs/benchmarks.png from `msaas-bench --json` output: wall time and peak memory against
song length, ours and the official code's. Standard library only; gnuplot draws.

    python3 bench/plot.py var/bench.json docs/benchmarks.png
"""
import json
import subprocess
import sys
import tempfile


def main():
    results = json.load(open(sys.argv[1]))
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        for run in results["runs"]:
            official = run.get("official", {})
            dat.write(f"{run['seconds'] / 60:.3f} {run['wall']:.2f} {run['peak_mb']:.0f} "
                      f"{official.get('wall', 'NaN')} {official.get('peak_mb', 'NaN')}\n")
    script = f"""
set terminal pngcairo size 1000,420 font 'sans,11'
set output '{sys.argv[2]}'
set multiplot layout 1,2 title 'htdemucs, {results["threads"]} threads, shifts 1, overlap 0.25'
set xlabel 'song length (min)'
set grid
set key top left
set ylabel 'wall time (s)'
plot '{dat.name}' using 1:2 with linespoints lw 2 title 'MSaaS', \\
     '{dat.name}' using 1:4 with linespoints lw 2 title 'official Demucs'
set ylabel 'peak resident memory (MB)'
set yrange [0:*]
plot '{dat.name}' using 1:3 with linespoints lw 2 title 'MSaaS', \\
     '{dat.name}' using 1:5 with linespoints lw 2 title 'official Demucs'
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
