"""A client of `quco serve`: wait until ready, then check a draft.

    QUCO_API_TOKEN=secret quco serve --index indexes/wiki.duckdb &
    QUCO_URL=http://127.0.0.1:8000 QUCO_API_TOKEN=secret python examples/serve_client.py
"""

import json
import os
import time
import urllib.error
import urllib.request

URL = os.environ.get("QUCO_URL", "http://127.0.0.1:8000").rstrip("/")
TOKEN = os.environ.get("QUCO_API_TOKEN", "")


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(URL + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


deadline = time.monotonic() + 60
while True:  # /readyz: 200 once a check can be answered (the model is loaded, the index open)
    try:
        if call("GET", "/readyz")[0] == 200:
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        raise SystemExit(f"{URL} is not ready after 60 s")
    time.sleep(0.5)

status, report = call("POST", "/v1/check", {"question": "Who wrote Hamlet?",
                                             "draft": "Hamlet was written by Charles Dickens."})
print(status, report["decision"], report["stage"], report["flagged"]["text"] if report["flagged"] else None)
