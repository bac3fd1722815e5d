#!/usr/bin/env python3
"""Turns `msaas eval --json` results into the table and chart of docs/quality.md.

    python3 tools/eval/report.py var/quality --chart docs/quality.png
Expects ours-shifts0.json, official-shifts0.json, ours-shifts1.json, official-shifts1.json in
the folder (any missing one is left out). Prints a Markdown table of median SDR per stem and the
largest difference between our engine and the official code on any stem of any mixture.
Standard library only; the chart is drawn by gnuplot.
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

STEMS = ["drums", "bass", "other", "vocals"]
RUNS = [("ours-shifts0", "MSaaS, shifts 0"), ("official-shifts0", "official, shifts 0"),
        ("ours-shifts1", "MSaaS, shifts 1"), ("official-shifts1", "official, shifts 1")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--chart")
    args = parser.parse_args()
    results = {key: json.loads((Path(args.folder) / f"{key}.json").read_text())
               for key, _ in RUNS if (Path(args.folder) / f"{key}.json").exists()}
    print("| run | " + " | ".join(STEMS) + " | mean |")
    print("| --- |" + " ---: |" * (len(STEMS) + 1))
    for key, label in RUNS:
        if key in results:
            med = [results[key]["median"][s] for s in STEMS]
            print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in med) +
                  f" | {sum(med) / len(med):.3f} |")
    for shifts in ("0", "1"):
        ours, theirs = results.get(f"ours-shifts{shifts}"), results.get(f"official-shifts{shifts}")
        if not ours or not theirs:
            continue
        worst = max(abs(a["sdr"][s] - b["sdr"][s]) for a, b in
                    zip(ours["mixtures"], theirs["mixtures"]) for s in STEMS)
        print(f"\nshifts {shifts}: largest |MSaaS - official| over every stem of every mixture: "
              f"{worst:.4f} dB")
    if args.chart:
        present = [(k, label) for k, label in RUNS if k in results]
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
            for s in STEMS:
                dat.write(s + " " + " ".join(f"{results[k]['median'][s]:.3f}"
                                             for k, _ in present) + "\n")
        titles = ", ".join(f"'{dat.name}' using {i + 2}:xtic(1) title '{label}'"
                           for i, (_, label) in enumerate(present))
        script = f"""
set terminal pngcairo size 900,480 font 'sans,11'
set output '{args.chart}'
set title 'htdemucs on the MSaaS evaluation set: median SDR per stem (dB)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel 'SDR (dB)'
set yrange [0:*]
set grid ytics
set key outside right top vertical
plot {titles}
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
