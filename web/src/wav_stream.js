// Reads a 16-bit PCM WAV file as it downloads (a running job's stem, sent as it is separated):
// parses the header, then hands over whole frames as they arrive.
export async function readWavStream(url, headers, { onHeader, onFrames, signal }) {
  const response = await fetch(url, { headers, signal });
  if (!response.ok) throw new Error(`the stem stream answered ${response.status}`);
  const reader = response.body.getReader();
  let header = null;
  let pending = new Uint8Array(0);  // bytes not yet a whole frame (or a whole header)
  let received = 0;                 // frames handed over
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending = joined(pending, value);
    if (!header) {
      if (pending.length < 44) continue;
      header = parseHeader(pending);
      pending = pending.slice(header.dataOffset);
      onHeader(header);
    }
    const frameBytes = 2 * header.channels;
    const whole = pending.length - (pending.length % frameBytes);
    if (whole === 0) continue;
    // A copy: Int16Array needs an even byte offset, and `pending` keeps the rest.
    const samples = new Int16Array(pending.slice(0, whole).buffer);
    pending = pending.slice(whole);
    onFrames(samples, received);
    received += whole / frameBytes;
  }
  if (!header || received < header.frames)
    throw new Error("the stem stream ended early (the job was stopped, or moved to another worker)");
}

function joined(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function parseHeader(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE" || tag(12) !== "fmt " || tag(36) !== "data")
    throw new Error("the stem stream is not the WAV it should be");
  const channels = view.getUint16(22, true);
  const sampleRate = view.getUint32(24, true);
  if (view.getUint16(34, true) !== 16) throw new Error("the stem stream is not 16-bit PCM");
  return { channels, sampleRate, frames: view.getUint32(40, true) / (2 * channels), dataOffset: 44 };
}
