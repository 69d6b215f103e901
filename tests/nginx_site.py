"""`docs/nginx.conf` adapted to run on a loopback port as an unprivileged nginx, serving a
given folder: shared by `tests/test_nginx.py` and `bench/serve_bench.py`, so that both
run the very configuration the README tells people to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SITE_CONF = REPO / "docs" / "nginx.conf"


def find_nginx() -> str | None:
    """The nginx binary (Debian's nginx-light puts it in /usr/sbin), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def _temp_paths(nginx: str, prefix: Path) -> str:
    """Temp path directives for the modules this nginx has (unknown ones are errors)."""
    version = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    lines = [f"client_body_temp_path {prefix}/body;"]
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--http-{module}-temp-path" in version:
            lines.append(f"{module}_temp_path {prefix}/{module};")
    return "\n    ".join(lines)


def nginx_command(
    nginx: str,
    prefix: Path,
    public: Path,
    port: int,
    *,
    worker_connections: int = 64,
    http_extra: str = "",
) -> list[str]:
    """Write `prefix/site.conf` (docs/nginx.conf on 127.0.0.1:`port`, root `public`) and
    the `prefix/nginx.conf` including it; return the nginx command line to which `-t` or
    `-g "daemon off;"` is added. `http_extra` goes into the `http` block.

    Raises RuntimeError when docs/nginx.conf no longer has a line this adapts.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    site = SITE_CONF.read_text(encoding="utf-8")
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{port};\n",
        "    listen [::]:80;\n": "",
        "root /var/lib/rassegna/public;": f"root {public};",
    }
    for old, new in replacements.items():
        if old not in site:
            raise RuntimeError(f"docs/nginx.conf no longer has {old!r}")
        site = site.replace(old, new)
    (prefix / "site.conf").write_text(site, encoding="utf-8")
    # As root, nginx would hand the workers to "nobody", who cannot enter pytest's 0700
    # temp folders; they stay root instead.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections {worker_connections}; }}
http {{
    include /etc/nginx/mime.types;
    {http_extra}
    {_temp_paths(nginx, prefix)}
    include {prefix}/site.conf;
}}
""",
        encoding="utf-8",
    )
    return [
        nginx,
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "error.log"),
    ]
