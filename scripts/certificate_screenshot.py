"""The README's picture of a certificate: a sample certificate drawn by the platform's own code (webinar/certificates/
pdf.py), turned into a PNG by pdftoppm (poppler-utils).

    .venv/bin/python scripts/certificate_screenshot.py       (writes docs/screenshots/certificate.png)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from webinar.certificates import pdf  # noqa: E402 - after the path is set, so the checkout's code draws it

OUT = ROOT / "docs" / "screenshots" / "certificate.png"
DPI = 60  # an A4 landscape page 700 px wide: legible in the README, small in the repository
SAMPLE = pdf.Page(
    language="ro",
    full_name="Ștefania Țuțuianu-Răcăreanu",
    member_id="CMR 40213",
    event_title="Actualități în managementul diabetului zaharat de tip 2",
    starts_at_local="20 noiembrie 2026",
    minutes=238,
    credits="4 credite EMC",
    organiser="Societatea Română de Diabet",
    number="CMSR-2026-0413-17-K7QF3M2A",
    verification_url="https://webinar.example.ro/certificates/CMSR-2026-0413-17-K7QF3M2A",
    kind=pdf.COMPLETION,
)


def main() -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        sys.exit("pdftoppm is missing: apt-get install poppler-utils")
    with tempfile.TemporaryDirectory() as scratch:
        document = Path(scratch) / "certificate.pdf"
        document.write_bytes(pdf.render(SAMPLE))
        stem = Path(scratch) / "certificate"
        subprocess.run([pdftoppm, "-png", "-r", str(DPI), "-singlefile", str(document), str(stem)], check=True)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stem.with_suffix(".png"), OUT)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
