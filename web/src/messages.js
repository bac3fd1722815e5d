// Errors in words a person understands: what went wrong and what to do about it.

export function uploadError(status, serverMessage) {
  if (status === 0) return "Could not reach the server. Check your connection and try again.";
  if (status === 415)
    return "This file could not be read as audio. Is it a song (MP3, WAV, FLAC, OGG, M4A)?";
  if (status === 401) return "This server needs an API key: enter it above and try again.";
  if (status === 413) return `This file is too large for this server. ${serverMessage ?? ""}`.trim();
  if (status === 429) return "Too many uploads at once. Please wait a minute and try again.";
  if (status === 503 || status === 502 || status === 504)
    return "The server is busy or being restarted. Please try again in a minute.";
  if (status >= 500) return "The server ran into a problem with this upload. Please try again.";
  return `The server refused this upload: ${serverMessage ?? `error ${status}`}.`;
}

export function jobError(message) {
  const text = String(message ?? "");
  if (/not a readable audio file|no audio stream|no decoder|is empty/.test(text))
    return "This file could not be read as audio. Is it a song (MP3, WAV, FLAC, OGG, M4A)?";
  if (/lease expired|stopped while separating/.test(text))
    return "The separation was interrupted several times and was given up. Please try again later.";
  if (/has no "|six stems need/.test(text)) return `This model cannot make these stems: ${text}.`;
  if (/unknown model|cannot find|not found/i.test(text))
    return "This model is not installed on the server. Pick another one.";
  return `The separation failed: ${text || "no reason given"}.`;
}
