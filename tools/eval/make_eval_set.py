#!/usr/bin/python3
"""Makes the quality evaluation set: mixtures with their true stems.

Each mixture gets drums (General MIDI channel 10), a bass line, "other" instruments (piano,
guitar, strings, pads) rendered by fluidsynth from MIDI this script writes, and vocals from
espeak-ng (several voices, spoken phrases with pitch contours, sung-like syllables on a melody).
Stems are scaled per mixture (varied loudness and balance) and summed into the mixture.

Deterministic for a given seed; the output folder carries a stamp of this script and its
settings, so the set is made once and remade only when they change.

    /usr/bin/python3 tools/eval/make_eval_set.py --out var/eval-set [--subset quick]
Output: OUT/<mixture>/{mixture,drums,bass,other,vocals}.wav (float32, 44.1 kHz, stereo).
Needs fluidsynth, a General MIDI soundfont (timgm6mb-soundfont), espeak-ng, ffmpeg, python3-numpy.
"""
import argparse
import hashlib
import json
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RATE = 44100
SOUNDFONTS = ["/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2"]
DURATIONS = [20, 21, 22, 24, 25, 27, 28, 30, 32, 36, 45, 60]  # seconds, one per mixture
QUICK = [0, 1, 5]  # the CI quality gate's subset (mix01: where bfloat16 once moved stems most)
VOICES = ["en-us+f3", "en-us+m3", "en-gb+f2", "en-us+m7", "en-gb-scotland+f4", "en-us+klatt2"]
OTHER_PROGRAMS = [0, 4, 24, 25, 27, 48, 49, 88, 89, 91, 95]  # pianos, guitars, strings, pads
BASS_PROGRAMS = [32, 33, 34, 38, 39]
PHRASES = [
    "the night is long and the road is wide", "hold on to the light", "we were young and free",
    "every river finds the sea", "sing it loud sing it clear", "where did all the summers go",
    "come back home tonight", "i will follow you", "dancing in the rain again",
]


# --- MIDI -------------------------------------------------------------------------------------

def vlq(value):
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, (value & 0x7F) | 0x80)
        value >>= 7
    return bytes(out)


def midi_file(events, bpm, ticks=480):
    """events: (beat, kind, channel, a, b) with kind 'on', 'off' or 'program'."""
    track = bytearray(b"\x00\xff\x51\x03" + int(60e6 / bpm).to_bytes(3, "big"))
    last = 0
    order = {"program": 0, "off": 1, "on": 2}
    for beat, kind, channel, a, b in sorted(events, key=lambda e: (e[0], order[e[1]])):
        tick = int(round(beat * ticks))
        track += vlq(tick - last)
        last = tick
        status = {"on": 0x90, "off": 0x80, "program": 0xC0}[kind] | channel
        track += bytes([status, a]) if kind == "program" else bytes([status, a, b])
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" +
            struct.pack(">I", len(track)) + bytes(track))


def note(events, channel, beat, length, pitch, velocity):
    events.append((beat, "on", channel, pitch, velocity))
    events.append((beat + length, "off", channel, pitch, 0))


# --- parts ------------------------------------------------------------------------------------

def song_plan(rng, seconds):
    bpm = rng.choice([84, 92, 100, 108, 116, 124, 132])
    beats = int(seconds * bpm / 60)
    key = rng.randrange(28, 40)  # bass root, E1..D#2
    progression = rng.choice([[0, 5, 7, 5], [0, 9, 5, 7], [0, 7, 9, 5], [0, 3, 10, 5]])
    minor = progression[1] in (3, 9)
    return dict(bpm=bpm, beats=beats, key=key, progression=progression, minor=minor)


def chord_root(plan, beat):
    return plan["key"] + plan["progression"][int(beat // 4) % len(plan["progression"])]


def drums_midi(rng, plan):
    events = []
    fill = rng.random() < 0.5
    for beat in range(plan["beats"]):
        bar_beat = beat % 4
        if bar_beat in (0, 2) or (bar_beat == 3 and rng.random() < 0.3):
            note(events, 9, beat, 0.25, 36, rng.randrange(95, 120))  # kick
        if bar_beat in (1, 3):
            note(events, 9, beat, 0.25, 38, rng.randrange(90, 115))  # snare
        for half in (0, 0.5):
            note(events, 9, beat + half, 0.2, 42 if rng.random() < 0.85 else 46,
                 rng.randrange(50, 80))  # hats
        if fill and beat % 16 == 15:
            for k, tom in enumerate([50, 47, 45, 43]):
                note(events, 9, beat + k * 0.25, 0.2, tom, 100)
        if beat % 16 == 0:
            note(events, 9, beat, 1.0, 49, 90)  # crash
    return midi_file(events, plan["bpm"])


def bass_midi(rng, plan):
    events = [(0, "program", 0, rng.choice(BASS_PROGRAMS), 0)]
    pattern = rng.choice([[0, 1, 2, 3], [0, 1.5, 2, 3.5], [0, 0.5, 1, 2, 2.5, 3]])
    for bar in range(0, plan["beats"], 4):
        root = chord_root(plan, bar)
        for k, offset in enumerate(pattern):
            pitch = root + (12 if k == len(pattern) - 1 and rng.random() < 0.3 else 0)
            note(events, 0, bar + offset, 0.45, pitch, rng.randrange(85, 110))
    return midi_file(events, plan["bpm"])


def other_midi(rng, plan):
    events = []
    instruments = rng.sample(OTHER_PROGRAMS, 2)
    for channel, program in enumerate(instruments):
        events.append((0, "program", channel, program, 0))
    third = 3 if plan["minor"] else 4
    for bar in range(0, plan["beats"], 4):
        root = chord_root(plan, bar) + 36
        chord = [root, root + third, root + 7]
        note(events, 0, bar, 3.9, chord[0], 70)  # sustained chord on the first instrument
        for p in chord[1:]:
            note(events, 0, bar, 3.9, p, 60)
        for k in range(8):  # arpeggio on the second
            note(events, 1, bar + k * 0.5, 0.45, chord[k % 3] + 12, rng.randrange(55, 80))
    return midi_file(events, plan["bpm"])


def render(midi_bytes, soundfont, workdir, name):
    mid = workdir / f"{name}.mid"
    wav = workdir / f"{name}.wav"
    mid.write_bytes(midi_bytes)
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RATE), "-F", str(wav),
                    "-T", "wav", "-O", "float", soundfont, str(mid)],
                   check=True, stdout=subprocess.DEVNULL)
    return read_wav(wav)


def speak(text, voice, pitch, speed, workdir):
    wav = workdir / "say.wav"
    raw = workdir / "say.f32"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav),
                    text], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-ar", str(RATE),
                    "-ac", "1", "-f", "f32le", str(raw)], check=True)
    return np.fromfile(raw, dtype="<f4")


def vocals(rng, plan, seconds, workdir):
    """Spoken phrases with rising/falling pitch, and sung-like 'la/oh' syllables on a melody."""
    out = np.zeros(int(seconds * RATE), dtype=np.float32)
    voice = rng.choice(VOICES)
    beat_s = 60 / plan["bpm"]
    t = rng.uniform(0.5, 2.0)
    while t < seconds - 2:
        if rng.random() < 0.5:  # sung-like: slow vowels, pitch following a melody
            for k in range(rng.randrange(3, 7)):
                pitch = int(np.clip(40 + 8 * np.sin(k + rng.random() * 3) + rng.randrange(-8, 9),
                                    5, 95))
                audio = speak(rng.choice(["laaa", "ooh", "aaah", "naa", "heyy"]), voice, pitch,
                              rng.randrange(80, 110), workdir)
                t = place(out, audio, t, 0.9)
                t += beat_s * rng.choice([0.5, 1.0])
        else:  # spoken phrase, its pitch drifting up or down
            audio = speak(rng.choice(PHRASES), voice, rng.randrange(25, 80),
                          rng.randrange(130, 180), workdir)
            t = place(out, audio, t, 1.0)
        t += beat_s * rng.choice([1, 2, 3])
    return out


def place(track, audio, t, gain):
    start = int(t * RATE)
    n = min(len(audio), len(track) - start)
    if n > 0:
        track[start:start + n] += gain * audio[:n]
    return t + n / RATE


# --- files ------------------------------------------------------------------------------------

def read_wav(path):
    """Reads fluidsynth's float32 stereo WAV (any rate conversion is fluidsynth's)."""
    data = path.read_bytes()
    pos = 12
    fmt = None
    while pos < len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk == b"data":
            samples = np.frombuffer(body, dtype="<f4" if fmt[0] == 3 else "<i2")
            samples = samples.astype(np.float32) / (1 if fmt[0] == 3 else 32768)
            return samples.reshape(-1, fmt[1]).T.copy()
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no audio data")


def write_wav(path, audio):
    """float32 stereo WAV, written under a temporary name then renamed."""
    interleaved = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    header = (b"RIFF" + struct.pack("<I", 36 + len(interleaved)) + b"WAVEfmt " +
              struct.pack("<IHHIIHH", 16, 3, 2, RATE, RATE * 8, 8, 32) + b"data" +
              struct.pack("<I", len(interleaved)))
    tmp = path.with_suffix(".part")
    tmp.write_bytes(header + interleaved)
    tmp.replace(path)


def fit(audio, frames):
    out = np.zeros((2, frames), dtype=np.float32)
    n = min(frames, audio.shape[-1])
    out[:, :n] = audio[:, :n] if audio.ndim == 2 else audio[None, :n]
    return out


def make_mixture(index, seed, soundfont, out_dir):
    rng = random.Random(seed * 1000 + index)
    seconds = DURATIONS[index]
    frames = seconds * RATE
    plan = song_plan(rng, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stems = {
            "drums": fit(render(drums_midi(rng, plan), soundfont, work, "drums"), frames),
            "bass": fit(render(bass_midi(rng, plan), soundfont, work, "bass"), frames),
            "other": fit(render(other_midi(rng, plan), soundfont, work, "other"), frames),
        }
        voice = vocals(rng, plan, seconds, work)
        pan = rng.uniform(0.8, 1.0)
        stems["vocals"] = fit(np.stack([voice * pan, voice * (1.8 - pan)]), frames)
    # Balance: each stem to its own level, then the whole mix to a loudness between -24 and
    # -12 dB RMS, with its peak kept below full scale.
    for name in stems:
        rms = np.sqrt(np.mean(stems[name] ** 2)) + 1e-9
        stems[name] *= 10 ** (rng.uniform(-6, 6) / 20) * 0.1 / rms
    mixture = sum(stems.values())
    gain = 10 ** (rng.uniform(-24, -12) / 20) / (np.sqrt(np.mean(mixture ** 2)) + 1e-9)
    gain = min(gain, 0.98 / (np.abs(mixture).max() + 1e-9))
    folder = out_dir / f"mix{index:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in stems.items():
        write_wav(folder / f"{name}.wav", audio * gain)
    write_wav(folder / "mixture.wav", mixture * gain)
    return dict(name=folder.name, seconds=seconds, bpm=plan["bpm"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="var/eval-set")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--subset", choices=["all", "quick"], default="all")
    args = parser.parse_args()
    soundfont = next((s for s in SOUNDFONTS if Path(s).exists()), None)
    for tool in ["fluidsynth", "espeak-ng", "ffmpeg"]:
        if shutil.which(tool) is None:
            sys.exit(f"make_eval_set: {tool} is missing (run scripts/setup-deps.sh)")
    if soundfont is None:
        sys.exit("make_eval_set: no General MIDI soundfont (install timgm6mb-soundfont)")
    indexes = QUICK if args.subset == "quick" else list(range(len(DURATIONS)))
    stamp = hashlib.sha256(Path(__file__).read_bytes() + f"{args.seed}{indexes}{soundfont}"
                           .encode()).hexdigest()[:16]
    out_dir = Path(args.out)
    stamp_file = out_dir / "stamp.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()).get("stamp") == stamp:
        print(f"make_eval_set: {out_dir} is up to date")
        return
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    mixtures = [make_mixture(i, args.seed, soundfont, out_dir) for i in indexes]
    stamp_file.write_text(json.dumps(dict(stamp=stamp, seed=args.seed, soundfont=soundfont,
                                          mixtures=mixtures), indent=2) + "\n")
    print(f"make_eval_set: wrote {len(mixtures)} mixtures to {out_dir}")


if __name__ == "__main__":
    main()
