"""The benchmark's stand-in for the `lameenc` Python package, which the official
`demucs.separate --mp3` imports and Debian does not package: the Encoder calls the official code
makes (demucs/audio.py, encode_mp3), with the package's own settings (its defaults, and no
blank VBR-tag frame at the start), on the system's LAME library (libmp3lame0, which FFmpeg's MP3
encoder uses too) through ctypes. The encoding is LAME's own, as with the real package, so the
official MP3 runs in `msaas-bench --end-to-end` cost what they cost a user. Only for the
benchmark: nothing in the service or the tests imports it. It comes first on the official runs'
PYTHONPATH, so it stands in for a real lameenc too (the bench says so).
"""
import ctypes

# Loaded by its soname: ctypes.util.find_library would run a program at every import, a cost
# the real package (a C extension) does not have.
_lame = ctypes.CDLL("libmp3lame.so.0")
_lame.lame_init.restype = ctypes.c_void_p
for _name in ("lame_set_num_channels", "lame_set_in_samplerate", "lame_set_brate",
              "lame_set_quality", "lame_set_bWriteVbrTag"):
    getattr(_lame, _name).argtypes = [ctypes.c_void_p, ctypes.c_int]
for _name in ("lame_init_params", "lame_close"):
    getattr(_lame, _name).argtypes = [ctypes.c_void_p]
_lame.lame_encode_buffer_interleaved.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
_lame.lame_encode_buffer.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
    ctypes.c_int]
_lame.lame_encode_flush.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]


def _written(buffer, n):
    """The first n bytes LAME wrote, copied once (not the whole worst-case buffer)."""
    return bytearray(memoryview(buffer)[:n])


class Encoder:
    """lameenc.Encoder's interface: set the parameters, then encode() and flush()."""

    def __init__(self):
        self._handle = _lame.lame_init()
        if not self._handle:
            raise MemoryError("lame_init failed")
        self._channels = 2
        self._ready = False
        _lame.lame_set_bWriteVbrTag(self._handle, 0)  # as the real package: no blank frame
        self.set_channels(2)
        self.set_in_sample_rate(44100)
        self.set_bit_rate(128)
        self.set_quality(2)

    def set_bit_rate(self, kbps):
        _lame.lame_set_brate(self._handle, int(kbps))

    def set_in_sample_rate(self, rate):
        _lame.lame_set_in_samplerate(self._handle, int(rate))

    def set_channels(self, channels):
        if int(channels) not in (1, 2):
            raise ValueError("1 or 2 channels")
        self._channels = int(channels)
        _lame.lame_set_num_channels(self._handle, self._channels)

    def set_quality(self, quality):
        _lame.lame_set_quality(self._handle, int(quality))

    def silence(self):
        pass  # demucs calls it only when not verbose; LAME's messages do not change its cost

    def encode(self, pcm):
        """Signed 16-bit samples (bytes, interleaved when stereo) in; MP3 bytes out."""
        pcm = bytes(pcm)
        if len(pcm) % (2 * self._channels):
            raise ValueError("not a whole number of 16-bit frames")
        if not self._ready:
            if _lame.lame_init_params(self._handle) < 0:
                raise RuntimeError("LAME refused the encoder's parameters")
            self._ready = True
        frames = len(pcm) // (2 * self._channels)
        room = frames * 5 // 4 + 7200  # LAME's documented worst case
        out = ctypes.create_string_buffer(room)
        if self._channels == 2:
            n = _lame.lame_encode_buffer_interleaved(self._handle, pcm, frames, out, room)
        else:
            n = _lame.lame_encode_buffer(self._handle, pcm, pcm, frames, out, room)
        if n < 0:
            raise RuntimeError(f"LAME failed to encode ({n})")
        return _written(out, n)

    def flush(self):
        if not self._ready:
            raise RuntimeError("Not currently encoding")
        out = ctypes.create_string_buffer(7200)
        n = _lame.lame_encode_flush(self._handle, out, 7200)
        if n < 0:
            raise RuntimeError(f"LAME failed to flush ({n})")
        return _written(out, n)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lame.lame_close(self._handle)
            self._handle = None
