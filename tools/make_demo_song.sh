#!/usr/bin/env bash
# Makes data/demo/demo-song.mp3: 20 s of synthetic music with something for every stem (a
# kick/snare/hat pattern, a bass line, chords, and a vibrato "voice"), with ffmpeg alone so that
# anyone can rebuild it. The file is committed; run this only to change it.
set -euo pipefail
out="${1:-$(dirname "$0")/../data/demo/demo-song.mp3}"
mkdir -p "$(dirname "$out")"
d=20
beat=0.5  # 120 bpm
drums="0.9*exp(-30*mod(t,$beat))*sin(2*PI*(50+120*exp(-40*mod(t,$beat)))*t)"
drums="$drums+0.3*exp(-25*mod(t+$beat/2,2*$beat))*(random(0)*2-1)"
drums="$drums+0.08*exp(-80*mod(t,$beat/2))*(random(1)*2-1)"
bass="0.35*sin(2*PI*(55*(1+0.5*gte(mod(t,4),2)+0.25*gte(mod(t,8),6)))*t)"
chords="0.08*(sin(2*PI*261.6*t)+sin(2*PI*329.6*t)+sin(2*PI*392*t))*(0.6+0.4*sin(2*PI*0.25*t))"
voice="0.25*sin(2*PI*(440+30*sin(2*PI*5*t))*(1+0.122*gte(mod(t,2),1))*t)*gte(mod(t,4),0.3)*lt(mod(t,4),3.7)"
ffmpeg -loglevel error -y -f lavfi -i "aevalsrc='$drums+$bass+$chords+$voice|$drums+0.9*($bass)+1.1*($chords)+0.9*($voice)':s=44100:d=$d" \
  -c:a libmp3lame -b:a 192k "$out"
echo "wrote $out"
