// Mute and solo, the same in both mixers (mixer.js, live.js): a row's buttons, and which stems
// sound: those not muted and, if any stem is soloed, one of them.
export function wireMuteSolo(row, apply) {
  for (const [button, flag] of [["mute", "muted"], ["solo", "solo"]])
    row.item.querySelector(`.${button}`).addEventListener("click", () => {
      row[flag] = !row[flag];
      row.item.querySelector(`.${button}`).setAttribute("aria-pressed", String(row[flag]));
      apply();
    });
}

// Calls silence(row, silent) for every row and dims the silent ones.
export function applyMutes(rows, silence) {
  const anySolo = rows.some((r) => r.solo);
  for (const r of rows) {
    const silent = r.muted || (anySolo && !r.solo);
    silence(r, silent);
    r.item.classList.toggle("silent", silent);
  }
}
