#!/usr/bin/env python3
"""An HTTP receiver standing in for a group robot or a webhook endpoint in
linkledger's alert tests (Python standard library only).

It checks what the real service checks, from each one's documentation, with
its own implementation of the signature schemes:
  wecom     body {"msgtype": "markdown", "markdown": {"content": ...}}
  dingtalk  body {"msgtype": "markdown", "markdown": {"title", "text"}};
            with --secret, query timestamp (ms) and sign =
            base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))
  feishu    body {"msg_type": "interactive", "card": {...}}; with --secret,
            body timestamp (s) and sign = base64(HMAC-SHA256 keyed with
            "{timestamp}\\n{secret}" over an empty message)
  webhook   body {"schema": "linkledger.notice/v1", ...}; with --secret,
            header X-Linkledger-Signature = "sha256=" + hex(HMAC-SHA256(secret, body))
and answers the way the service does (errcode / code in a 200, or 401);
  any       accepts any JSON (Alertmanager's webhook notifications)

Every request is written to OUT/NNNN.json (path, query, headers, body,
status, verified). --fail-first N answers 500 to the first N requests;
--stop-after N exits after accepting N. Prints "READY <port>".
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def b64hmac(key, msg):
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def check(kind, secret, query, headers, raw, body):
    """Returns (verified, status, answer)."""
    if kind == "wecom":
        ok = body.get("msgtype") == "markdown" and body.get("markdown", {}).get("content")
        return bool(ok), 200, ({"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 40008, "errmsg": "invalid message type"})
    if kind == "dingtalk":
        md = body.get("markdown", {})
        if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return False, 200, {"errcode": 40035, "errmsg": "missing parameter"}
        if secret:
            ts = query.get("timestamp", [""])[0]
            sign = query.get("sign", [""])[0]
            want = b64hmac(secret.encode(), f"{ts}\n{secret}".encode())
            fresh = ts.isdigit() and abs(int(ts) / 1000 - time.time()) < 3600
            if not (fresh and hmac.compare_digest(sign, want)):
                return False, 200, {"errcode": 310000, "errmsg": "sign not match"}
        return True, 200, {"errcode": 0, "errmsg": "ok"}
    if kind == "feishu":
        if body.get("msg_type") != "interactive" or "card" not in body:
            return False, 200, {"code": 9499, "msg": "Bad Request"}
        if secret:
            ts = str(body.get("timestamp", ""))
            want = b64hmac(f"{ts}\n{secret}".encode(), b"")
            fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
            if not (fresh and hmac.compare_digest(str(body.get("sign", "")), want)):
                return False, 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        return True, 200, {"code": 0, "msg": "success", "data": {}}
    if kind == "any":
        return True, 200, {"ok": True}
    # webhook
    if body.get("schema") != "linkledger.notice/v1":
        return False, 400, {"error": "unknown schema"}
    if secret:
        want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Linkledger-Signature", ""), want):
            return False, 401, {"error": "bad signature"}
    return True, 200, {"ok": True}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--kind", required=True, choices=["wecom", "dingtalk", "feishu", "webhook", "any"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--secret")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--stop-after", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lock = threading.Lock()
    state = {"n": 0, "accepted": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            with lock:
                state["n"] += 1
                n = state["n"]
                if n <= a.fail_first:
                    verified, status, answer = None, 500, {"error": "scripted failure"}
                else:
                    verified, status, answer = check(a.kind, a.secret, query, self.headers, raw, body)
                    if status == 200 and verified:
                        state["accepted"] += 1
                record = {
                    "path": url.path,
                    "query": {k: v[0] for k, v in query.items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "status": status,
                    "verified": verified,
                    "received_at": time.time(),
                }
                tmp = os.path.join(a.out, f".{n:04d}.tmp")
                with open(tmp, "w") as f:
                    json.dump(record, f, ensure_ascii=False)
                os.rename(tmp, os.path.join(a.out, f"{n:04d}.json"))
                stop = a.stop_after and state["accepted"] >= a.stop_after
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            if stop:
                os._exit(0)

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
