"""Make the demo event's stream: a few seconds of HLS (fMP4 segments) drawn and encoded by ffmpeg, no footage used.

    .venv/bin/python scripts/demo_stream.py      (needs ffmpeg: `apt-get install ffmpeg`; writes static/demo/stream/)

The output is committed, so running the platform never needs ffmpeg; run this again only to change the sample.
The picture is ffmpeg's `testsrc2` pattern with a caption in DejaVu Sans, the sound a sine tone: nothing is taken
from anyone, and the result is dedicated to the public domain (CC0 1.0, static/demo/stream/LICENSE).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "static" / "demo" / "stream"
FONT = ROOT / "static" / "fonts" / "DejaVuSans-Bold.ttf"
SECONDS = 8
SEGMENT_SECONDS = 2
CAPTION = "Webinar demo"


def command() -> list[str]:
    """The ffmpeg command line: 320x180 at 25 fps, H.264 baseline + AAC mono, a VOD playlist of fMP4 segments."""
    font = str(FONT).replace("\\", "/").replace(":", "\\:")
    box = "box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-12"
    text = f"drawtext=fontfile='{font}':text='{CAPTION}':fontcolor=white:fontsize=20:{box}"
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25,{text}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(SECONDS),
        "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "50", "-b:v", "150k",
        "-c:a", "aac", "-b:a", "32k", "-ac", "1",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", str(OUT / "segment%d.m4s"),
        str(OUT / "index.m3u8"),
    ]  # fmt: skip


def main() -> int:
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not installed (apt-get install ffmpeg).", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for old in [*OUT.glob("*.m4s"), *OUT.glob("*.mp4"), *OUT.glob("*.m3u8")]:
        old.unlink()
    subprocess.run(command(), check=True)
    print(f"Wrote {sorted(p.name for p in OUT.iterdir())} to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
