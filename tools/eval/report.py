#!/usr/bin/env python3
"""Turns `msaas eval --json` results into the table and chart of docs/quality.md.

    python3 tools/eval/report.py docs/quality --chart docs/quality.png
Reads ours-shifts0.json, official-shifts0.json, ours-shifts1.json, official-shifts1.json and
ours-shifts0-fast.json from the folder (docs/quality, where they are committed, by default; any
missing one is left out). Prints a Markdown table of median SDR per stem, the largest difference
between our engine and the official code on any stem of any mixture, the fast mode against the
exact one, and the table per mixture of ours-shifts0.json. The chart shows the exact-mode runs.
Standard library only; the chart is drawn by gnuplot.
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

STEMS = ["drums", "bass", "other", "vocals"]
RUNS = [("ours-shifts0", "MSaaS, shifts 0"), ("official-shifts0", "official, shifts 0"),
        ("ours-shifts1", "MSaaS, shifts 1"), ("official-shifts1", "official, shifts 1"),
        ("ours-shifts0-fast", "MSaaS fast mode (`--fast`), shifts 0")]
FOLDER = Path(__file__).resolve().parents[2] / "docs" / "quality"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(FOLDER))
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
    exact, fast = results.get("ours-shifts0"), results.get("ours-shifts0-fast")
    if exact and fast:
        moves = ", ".join(f"{fast['median'][s] - exact['median'][s]:+.3f} ({s})" for s in STEMS)
        mean = sum(fast["median"][s] - exact["median"][s] for s in STEMS) / len(STEMS)
        size, name, stem = max((abs(b["sdr"][s] - a["sdr"][s]), a["name"], s) for a, b in
                               zip(exact["mixtures"], fast["mixtures"]) for s in STEMS)
        print(f"\nfast mode against the exact mode, shifts 0: medians {moves} dB, {mean:+.3f} dB "
              f"on the mean; largest change on one stem of one mixture {size:.2f} dB "
              f"({name}, {stem})")
    if exact:
        print("\n| mixture | length | " + " | ".join(STEMS) + " |")
        print("| --- | ---: |" + " ---: |" * len(STEMS))
        for mix in exact["mixtures"]:
            print(f"| {mix['name']} | {mix['seconds']:.0f} s | " +
                  " | ".join(f"{mix['sdr'][s]:.2f}" for s in STEMS) + " |")
    if args.chart:
        present = [(k, label) for k, label in RUNS if k in results and "fast" not in k]
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
