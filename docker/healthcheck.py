"""Container health check of the web service: GET /healthz (which checks the database).

Sent as the proxy would: with a Host from ALLOWED_HOSTS and X-Forwarded-Proto: https, so
Django's host check and HTTPS redirect answer as they do in production.
"""

from __future__ import annotations

import http.client
import os
import sys


def main(port: int = 8000) -> int:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h for h in hosts if not h.startswith(".") and h != "*"), "localhost")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"})
        status = conn.getresponse().status
    except OSError as exc:
        print(f"unhealthy: {exc}")
        return 1
    print(f"/healthz: {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
