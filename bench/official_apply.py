#!/usr/bin/python3
"""The official side of bench/bench.cpp: times demucs.apply.apply_model with its defaults
(shifts=1, overlap=0.25, split) on one WAV file, normalised as demucs.separate does, and prints
{"wall": seconds} as JSON. Peak memory is measured by the caller. Needs the official sources on
PYTHONPATH (bench.cpp sets it from $DEMUCS_SRC)."""
import json
import sys
import time
from pathlib import Path

import torch
import torchaudio
from demucs.apply import apply_model
from demucs.pretrained import get_model


def main():
    path, repo, name, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    model = get_model(name, Path(repo))
    wav, _ = torchaudio.load(path)
    start = time.perf_counter()
    ref = wav.mean(0)
    wav = (wav - ref.mean()) / (ref.std() + 1e-8)
    with torch.no_grad():
        out = apply_model(model, wav[None], shifts=1, split=True, overlap=0.25)
    out = out * (ref.std() + 1e-8) + ref.mean()
    print(json.dumps({"wall": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
