#!/usr/bin/env python3
"""Makes the engine's parity test data by running the official Demucs code.

Builds small random-weight checkpoints in the official format (every branch perturbed so that it
contributes: LayerScale, DConv, transformer, norms), feeds them deterministic synthetic audio,
and records the official outputs. Also records a short excerpt of the real `htdemucs` output
when ../shared/models holds it. Everything lands in tests/data/parity/ with a manifest.json
that tests/engine_parity_test.cpp reads.

Needs Debian's python3-torch, python3-torchaudio, python3-omegaconf and the official sources
on PYTHONPATH (see docs/parity.md):
    PYTHONPATH=$DEMUCS_SRC:... /usr/bin/python3 tools/make_parity_data.py
"""
import argparse
import json
import math
import random
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

try:
    import numpy as np
    import torch
    import torchaudio
    from omegaconf import OmegaConf
    import julius
    from demucs import apply as demucs_apply
    from demucs.audio import convert_audio
    from demucs import separate as demucs_separate
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs
    from demucs.pretrained import get_model
    from demucs.states import save_with_checksum, serialize_model
except ImportError as error:
    sys.exit(f"make_parity_data: {error}; put the official demucs sources and their helpers "
             "on PYTHONPATH and run with /usr/bin/python3 (see docs/parity.md)")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "parity"
FOUR = ["drums", "bass", "other", "vocals"]
SIX = FOUR + ["guitar", "piano"]
RATE = 8000  # small models run at 8 kHz to keep the committed data a few MB


def perturb(model, seed):
    """Makes every branch matter: LayerScale and norm parameters away from their inits."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".scale"):  # LayerScale: 1e-3 / 1e-4 at init
                p.copy_(0.2 + 0.6 * torch.rand(p.shape, generator=gen))
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model


def save_model(model, sig):
    pkg = serialize_model(model, OmegaConf.create({}), half=True)
    save_with_checksum(pkg, OUT / "models" / f"{sig}.th")


def tiny_models():
    torch.manual_seed(0)
    common = dict(samplerate=RATE, segment=Fraction(6, 5), channels=8, dconv_comp=4, t_heads=2,
                  t_layers=3)
    # Like the released htdemucs (bottom_channels, dconv in both), spectral bottleneck of 4 bins.
    save_model(perturb(HTDemucs(FOUR, nfft=2048, bottom_channels=16, dconv_mode=3, **common), 1),
               "tinyht1")
    save_model(perturb(HTDemucs(FOUR, nfft=2048, bottom_channels=16, dconv_mode=3, **common), 2),
               "tinyht2")
    # Six sources; nfft 1024 makes the last frequency layer merge the time branch (inject).
    save_model(perturb(HTDemucs(SIX, nfft=1024, t_cross_first=True, t_emb="cape",
                                **common), 3), "tinyht6")
    # HDemucs (v3) with BLSTM and LocalState in its DConv, long enough to frame the LSTM.
    save_model(perturb(HDemucs(FOUR, channels=8, nfft=256, depth=4, dconv_lstm=1, dconv_attn=1,
                               dconv_comp=2,
                               samplerate=RATE, segment=Fraction(11, 5)), 4), "tinyhd")
    (OUT / "models" / "tinybag.yaml").write_text(
        "models: ['tinyht1', 'tinyht2']\n"
        "weights: [[1., 0.5, 0., 1.], [0.5, 1., 1., 0.25]]\n")


def synth(seconds, rate, channels, seed, frames=None):
    """Chords, a bass line, clicks and noise: audio with something for every stem."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames if frames is not None else int(seconds * rate)) / rate
    x = np.zeros((channels, len(t)))
    for c in range(channels):
        for f in rng.uniform(150, min(2000, rate / 3), 4):
            x[c] += 0.1 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
        x[c] += 0.2 * np.sin(2 * np.pi * 55 * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t))) / 2
        x[c, ::rate // 4] += 0.8
        x[c] += 0.02 * rng.standard_normal(len(t))
    return torch.from_numpy(x.astype(np.float32))


def official_separate(name, repo, wav, shifts, offsets, overlap, segment=None, split=True):
    """demucs.api.Separator.separate_tensor with random.randint replaced by fixed offsets."""
    sequence = iter(offsets * 8)
    demucs_apply.random.randint = lambda a, b: next(sequence)
    model = get_model(name, repo)
    ref = wav.mean(0)
    x = (wav - ref.mean()) / (ref.std() + 1e-8)
    with torch.no_grad():
        out = demucs_apply.apply_model(model, x[None], shifts=shifts, split=split,
                                       overlap=overlap, segment=segment)
    out = out * (ref.std() + 1e-8) + ref.mean()
    demucs_apply.random.randint = random.randint
    return out[0]


def write_f32(path, tensor):
    tensor.contiguous().numpy().astype("<f4").tofile(path)


def engine_cases(manifest):
    repo = OUT / "models"
    cases = [
        dict(id="several_segments", model="tinyht1", seconds=2.6, shifts=1, offsets=[1234],
             overlap=0.25),
        dict(id="overlap_half_two_shifts", model="tinyht1", seconds=2.6, shifts=2,
             offsets=[17, 3999], overlap=0.5),
        dict(id="shorter_than_segment", model="tinyht1", seconds=0.7, shifts=0, offsets=[],
             overlap=0.25),
        dict(id="six_sources", model="tinyht6", seconds=2.6, shifts=1, offsets=[2500],
             overlap=0.25),
        dict(id="hdemucs", model="tinyhd", seconds=2.6, shifts=1, offsets=[777], overlap=0.25),
        dict(id="bag_weights", model="tinybag", seconds=2.6, shifts=1, offsets=[100, 3000],
             overlap=0.25),
        dict(id="segment_override", model="tinyht1", seconds=2.0, shifts=0, offsets=[],
             overlap=0.25, segment=0.8),
        dict(id="no_split", model="tinyhd", seconds=2.6, shifts=1, offsets=[321], overlap=0.25,
             split=False),
    ]
    for k, case in enumerate(cases):
        wav = synth(case["seconds"], RATE, 2, seed=10 + k)
        out = official_separate(case["model"], repo, wav, case["shifts"], case["offsets"],
                                case["overlap"], case.get("segment"), case.get("split", True))
        write_f32(OUT / f"{case['id']}.in.f32", wav)
        write_f32(OUT / f"{case['id']}.out.f32", out)
        case.update(repo="models", channels=2, frames=wav.shape[-1], sources=out.shape[0])
        manifest["engine"].append(case)


def cli_case(manifest):
    """Mono input through the official command line, --two-stems, float32 output."""
    wav = synth(2.5, RATE, 1, seed=99)
    track = OUT / "mono.wav"
    torchaudio.save(str(track), wav, RATE, encoding="PCM_S", bits_per_sample=16)
    tmp = OUT / "cli_tmp"
    demucs_separate.main(["--repo", str(OUT / "models"), "-n", "tinyht1", "--shifts", "0",
                          "--two-stems", "vocals", "--float32", "-o", str(tmp), str(track)])
    for stem in ["vocals", "no_vocals"]:
        shutil.move(tmp / "tinyht1" / "mono" / f"{stem}.wav", OUT / f"mono.{stem}.wav")
    shutil.rmtree(tmp)
    manifest["cli"].append(dict(id="mono_two_stems", model="tinyht1", track="mono.wav",
                                args=["--shifts", "0", "--two-stems", "vocals", "--float32"],
                                stems={"vocals": "mono.vocals.wav",
                                       "no_vocals": "mono.no_vocals.wav"}))


def save_flac(wav, rate, name):
    """Writes `wav` as 16-bit FLAC and returns what both sides will read back from it."""
    track = OUT / name
    plain = OUT / (name + ".tmp.wav")
    torchaudio.save(str(plain), wav.clamp(-1, 1), rate, encoding="PCM_S", bits_per_sample=16)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(plain), str(track)],
                   check=True)
    plain.unlink()
    wav, read_rate = torchaudio.load(str(track))
    assert read_rate == rate
    return wav


def real_checkpoint(shared_models):
    path = next(Path(shared_models).glob("955717e8-*.th"), None)
    if path is None:
        print("make_parity_data: no real htdemucs in", shared_models, "- skipping those cases")
    return path


def real_case(manifest, shared_models):
    """The released htdemucs on 3 s at 44.1 kHz; keeps a 0.5 s excerpt of the output."""
    if real_checkpoint(shared_models) is None:
        return
    wav = save_flac(synth(3.0, 44100, 2, seed=7), 44100, "real_input.flac")
    out = official_separate("955717e8", Path(shared_models), wav, 0, [], 0.25)
    start, length = 44100, 22050
    write_f32(OUT / "real_excerpt.out.f32", out[..., start:start + length])
    manifest["real"] = dict(id="real_htdemucs", model="955717e8", track="real_input.flac",
                            shifts=0, excerpt_start=start, excerpt_frames=length,
                            sources=out.shape[0], channels=2)


def boundary_windows(model, frames, offset, window):
    """Starts of `window`-frame windows centred on every segment edge of apply_model's split
    (as it runs: after a shift, the edges sit `max_shift - offset` frames earlier), plus the
    song's first and last frames."""
    rate = model.samplerate
    segment = int(rate * float(model.segment))
    stride = int((1 - 0.25) * segment)
    lead = int(0.5 * rate) - offset if offset is not None else 0
    edges = set()
    for start in range(0, frames + lead, stride):
        for edge in (start, start + segment):
            edges.add(edge - lead)
    starts = {0, frames - window}
    starts |= {e - window // 2 for e in edges if window // 2 <= e <= frames - window // 2}
    return sorted(starts)


def real_long_cases(manifest, shared_models):
    """21 s through the released htdemucs: four overlapping 7.8 s segments, so the overlap-add
    runs with the real weights; with no shift and with one fixed shift. Keeps the official
    output in windows centred on every segment edge (the whole would be 28 MB)."""
    if real_checkpoint(shared_models) is None:
        return
    wav = save_flac(synth(21.0, 44100, 2, seed=21), 44100, "real_long.flac")
    model = get_model("955717e8", Path(shared_models))
    window = 2048
    manifest["real_long"] = []
    for shifts, offsets in ((0, []), (1, [12345])):
        out = official_separate("955717e8", Path(shared_models), wav, shifts, offsets, 0.25)
        starts = boundary_windows(model, wav.shape[-1], offsets[0] if offsets else None, window)
        name = f"real_long.shifts{shifts}.out.f32"
        write_f32(OUT / name, torch.stack([out[..., s:s + window] for s in starts]))
        manifest["real_long"].append(dict(
            id=f"real_long_shifts{shifts}", model="955717e8", track="real_long.flac",
            shifts=shifts, offsets=offsets, overlap=0.25, windows=starts, window_frames=window,
            reference=name, sources=out.shape[0], channels=2, frames=wav.shape[-1]))


def other_rate_cases(manifest, shared_models):
    """Songs at 48 kHz and 22.05 kHz: the official code resamples them with julius'
    resample_frac (demucs.audio.convert_audio) before separating."""
    if real_checkpoint(shared_models) is None:
        return
    manifest["other_rates"] = []
    for rate in (48000, 22050):
        wav = save_flac(synth(3.0, rate, 2, seed=rate), rate, f"real_{rate}.flac")
        mix = convert_audio(wav, rate, 44100, 2)
        out = official_separate("955717e8", Path(shared_models), mix, 0, [], 0.25)
        start, length = 44100, 22050
        name = f"real_{rate}.out.f32"
        write_f32(OUT / name, out[..., start:start + length])
        manifest["other_rates"].append(dict(
            id=f"real_{rate}", model="955717e8", track=f"real_{rate}.flac", rate=rate, shifts=0,
            excerpt_start=start, excerpt_frames=length, reference=name,
            frames=mix.shape[-1], sources=out.shape[0], channels=2))


def resample_cases(manifest):
    """julius.resample_frac itself, from the rates songs come in to the models' 44.1 kHz."""
    manifest["resample"] = []
    # 0.2 s (whole blocks of every ratio), then lengths that end mid-block, and a single frame
    cases = [(rate, int(0.2 * rate)) for rate in (8000, 22050, 32000, 48000, 96000)]
    cases += [(48000, 9601), (8000, 801), (96000, 4099), (22050, 1)]
    for rate, frames in cases:
        wav = synth(0, rate, 2, seed=rate + frames, frames=frames)
        out = julius.resample_frac(wav, rate, 44100)
        name = f"resample_{rate}_{frames}"
        write_f32(OUT / f"{name}.in.f32", wav)
        write_f32(OUT / f"{name}.out.f32", out)
        manifest["resample"].append(dict(id=name, from_rate=rate, to_rate=44100, channels=2,
                                         frames=wav.shape[-1], out_frames=out.shape[-1]))


PARTS = ["tiny", "real", "real_long", "other_rates", "resample"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-models", default=str(ROOT.parent / "shared" / "models"))
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts to make again, the rest kept: " +
                             ", ".join(PARTS))
    args = parser.parse_args()
    parts = args.only.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        sys.exit(f"make_parity_data: unknown part(s) {', '.join(sorted(unknown))}")
    torch.set_num_threads(2)
    manifest = {"engine": [], "cli": [], "rate": RATE}
    if "tiny" in parts:
        if OUT.exists():
            shutil.rmtree(OUT)
        (OUT / "models").mkdir(parents=True)
        tiny_models()
        engine_cases(manifest)
        cli_case(manifest)
    else:
        manifest = json.loads((OUT / "manifest.json").read_text())
    if "real" in parts:
        real_case(manifest, args.shared_models)
    if "real_long" in parts:
        real_long_cases(manifest, args.shared_models)
    if "other_rates" in parts:
        other_rate_cases(manifest, args.shared_models)
    if "resample" in parts:
        resample_cases(manifest)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"make_parity_data: wrote {OUT} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
