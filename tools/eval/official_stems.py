#!/usr/bin/python3
"""Separates an evaluation set with the official Demucs code, for comparison with our engine.

Uses the same shift offsets as a previous `msaas eval --json` run (random.randint in
demucs.apply is replaced by them), so both sides do exactly the same work. Writes float32
stems to OUT/<mixture>/<stem>.wav; score them with `msaas eval SET --estimates OUT`.

    PYTHONPATH=<official sources, see docs/parity.md> /usr/bin/python3 \
        tools/eval/official_stems.py SET --repo DIR -n NAME --shifts N --offsets ours.json --out OUT
"""
import argparse
import json
import sys
from pathlib import Path

try:
    import torch
    import torchaudio
    from demucs import apply as demucs_apply
    from demucs.pretrained import get_model
except ImportError as error:
    sys.exit(f"official_stems: {error}; see docs/parity.md for the official sources")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set")
    parser.add_argument("--repo", required=True)
    parser.add_argument("-n", "--name", default="htdemucs")
    parser.add_argument("--shifts", type=int, default=1)
    parser.add_argument("--offsets", help="msaas eval --json output holding the offsets")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    offsets = {}
    if args.offsets:
        offsets = {m["name"]: m.get("offsets", []) for m in
                   json.loads(Path(args.offsets).read_text())["mixtures"]}
    model = get_model(args.name, Path(args.repo))
    for folder in sorted(p for p in Path(args.set).iterdir() if (p / "mixture.wav").exists()):
        wav, rate = torchaudio.load(str(folder / "mixture.wav"))
        assert rate == model.samplerate, "the set must be at the model's rate"
        sequence = iter(offsets.get(folder.name, []) * 64)
        demucs_apply.random.randint = lambda a, b: next(sequence)
        ref = wav.mean(0)
        x = (wav - ref.mean()) / (ref.std() + 1e-8)
        with torch.no_grad():
            out = demucs_apply.apply_model(model, x[None], shifts=args.shifts, split=True,
                                           overlap=0.25)[0]
        out = out * (ref.std() + 1e-8) + ref.mean()
        target = Path(args.out) / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for name, stem in zip(model.sources, out):
            torchaudio.save(str(target / f"{name}.wav"), stem, rate, encoding="PCM_F",
                            bits_per_sample=32)
        print(f"official_stems: {folder.name} done", flush=True)


if __name__ == "__main__":
    main()
