"""`make audit`: pip-audit on requirements.lock, bandit on our code, sqlmap against a running instance's forms."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_SLUG = "webinar-demo"
SQLMAP_SECONDS = 900  # the whole scan of one form, at most (the staff login takes ~7 min: Argon2 on every try)
WARNINGS: dict[str, str] = {}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_RE = re.compile(r'name="consent_version" value="(\d+)"')


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def pip_audit() -> bool:
    """Known vulnerabilities in the locked dependencies fail; an unreachable vulnerability service only warns."""
    step("pip-audit (requirements.lock)")
    result = subprocess.run(
        [BIN / "pip-audit", "-r", ROOT / "requirements.lock", "--no-deps", "--disable-pip", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"pip-audit did not run (exit {result.returncode}):\n{result.stderr[-3000:]}")
        return False
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
                        for v in dep["vulns"])  # fmt: skip
        print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}")
    audited = len(dependencies) - len(skipped)
    print(f"{audited} of {len(dependencies)} locked packages audited, {len(vulnerable)} with known vulnerabilities.")
    if skipped:
        WARNINGS["pip-audit"] = f"only {audited} of {len(dependencies)} packages could be audited"
        print(
            f"WARNING: {len(skipped)} package(s) could not be audited, e.g. {skipped[0]['skip_reason']!r}. "
            "The vulnerability service (PyPI JSON API / OSV) is probably unreachable from this machine: "
            "this is NOT a pass for those packages; run `make audit` where it is reachable."
        )
    return not vulnerable


def bandit() -> bool:
    """Any finding fails; each accepted one is justified in place (# nosec BXXX - reason) or in pyproject.toml."""
    step("bandit (webinar, admin, reports)")
    result = subprocess.run(
        [BIN / "bandit", "-c", ROOT / "pyproject.toml", "-r", "webinar", "admin", "reports", "-q"], cwd=ROOT
    )
    return result.returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlmap_binary() -> str | None:
    found = shutil.which("sqlmap")
    if found or os.geteuid() != 0:
        return found
    print("sqlmap is missing; installing Debian's package")
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "sqlmap"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )
    return shutil.which("sqlmap")


def start_instance(scratch: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """`webinar serve` on a scratch SQLite database with the demo data; rate limits raised for the scanner."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HTTPS_ONLY", "TRUSTED_PROXIES")}
    env |= {
        "DATABASE_URL": f"sqlite:///{scratch / 'scan.db'}",
        "WEBINAR_VAR_DIR": str(scratch),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "BASE_URL": base,
        "MAIL_BACKEND": "console",
        "RATE_LIMIT_SCALE": "10000",  # a scanner sends thousands of requests from one address
    }
    for command in (["migrate"], ["demo"]):
        subprocess.run([BIN / "webinar", *command], env=env, check=True, capture_output=True, cwd=ROOT)
    log = (scratch / "server.log").open("wb")
    server = subprocess.Popen(
        [BIN / "webinar", "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base, env
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the scratch instance did not start:\n{(scratch / 'server.log').read_text()[-3000:]}")


def scan(
    sqlmap: str, scratch: Path, name: str, form_url: str, post_url: str, fields: dict[str, str], only: str = ""
) -> bool:
    """sqlmap on one form, with the form's CSRF token refreshed from `form_url` for every request."""
    with httpx.Client() as http:
        page = http.get(form_url)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    token = CSRF_RE.search(page.text)
    version = VERSION_RE.search(page.text)
    assert token, f"no CSRF token on {form_url}"
    data = {**fields, "csrf_token": token.group(1)}
    if version:
        data["consent_version"] = version.group(1)
    command = [
        sqlmap, "-u", post_url, "--data", urlencode(data), "--cookie", cookie,
        "--csrf-token=csrf_token", f"--csrf-url={form_url}",
        "--batch", "--level=2", "--risk=1", "--time-sec=2", "--timeout=10", "--retries=1",
        "--disable-coloring", "--flush-session", f"--output-dir={scratch / 'sqlmap'}",
        *(["-p", only] if only else []),
    ]  # fmt: skip
    step(f"sqlmap on {name}: POST {post_url}")
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=SQLMAP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"sqlmap did not finish within {SQLMAP_SECONDS} s")
        return False
    output = result.stdout + result.stderr
    (scratch / f"sqlmap-{name}.log").write_text(output)
    if "identified the following injection point" in output:
        print(output[-5000:])
        return False
    if "do not appear to be injectable" not in output:
        print(f"sqlmap did not complete its tests (exit {result.returncode}):\n{output[-3000:]}")
        return False
    tested = sorted(set(re.findall(r"parameter '([^']+)' (?:does not seem|might not be)", output)))
    print(f"nothing injectable ({len(tested)} parameters tested: {', '.join(tested)})")
    return True


def sqlmap() -> bool:
    """No SQL injection in the registration form or the staff login, on a running instance."""
    step("sqlmap (registration and staff login forms)")
    binary = sqlmap_binary()
    if binary is None:
        print("sqlmap is not installed (apt-get install sqlmap)")
        return False
    scratch = Path(tempfile.mkdtemp(prefix="webinar-audit-"))
    server, base, _ = start_instance(scratch)
    try:
        person = {"first_name": "Ana", "last_name": "Pop", "email": "ana@example.org", "job_title": "Inginer",
                  "organisation": "Institut", "consent_processing": "on", "age_confirmed": "on"}  # fmt: skip
        event = f"{base}/events/{DEMO_SLUG}"
        ok = scan(binary, scratch, "registration", event, f"{event}/register", person)
        login = {"email": "operator@demo.example", "password": "not the password"}
        # The password only ever reaches Argon2, never SQL, and each attempt costs a hash: test the e-mail.
        login_url = f"{base}/admin/login"
        ok = scan(binary, scratch, "staff-login", login_url, login_url, login, only="email") and ok
    finally:
        server.terminate()
        server.wait(30)
    log = (scratch / "server.log").read_text(errors="replace")
    errors, limited = log.count("unhandled error"), log.count(" 429 Too Many Requests")
    print(f"server answered {errors} request(s) of the scan with a 500 and {limited} with a 429")
    # A 429 means the scan was rate-limited and tested nothing: RATE_LIMIT_SCALE must reach every limit here.
    clean = ok and errors == 0 and limited == 0
    if clean:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"logs kept in {scratch}")
    return clean


def main() -> int:
    results = {"pip-audit": pip_audit(), "bandit": bandit(), "sqlmap": sqlmap()}
    step("audit summary")
    for name, ok in results.items():
        note = f" (WARNING: {WARNINGS[name]})" if name in WARNINGS else ""
        print(f"{name}: {'ok' if ok else 'FAILED'}{note}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
