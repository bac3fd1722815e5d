// Each stem's colour, the same in both mixers (mixer.js, live.js).
const colours = { vocals: "#d9480f", drums: "#1971c2", bass: "#2f9e44", other: "#7048e8",
                  guitar: "#e8590c", piano: "#0c8599" };

export function stemColour(name) {
  return colours[name] ?? "#868e96";
}
