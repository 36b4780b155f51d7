"""A local server that speaks the parts of GOV.UK Notify's API the notifier uses: a real HTTP
server on loopback, with Notify's token check. Notify is a service outside the product, so the
tests run against this instead; the `notify` fixture (tests/integration/conftest.py) starts one."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt

from services.common.embedded import free_port

SERVICE_ID, SECRET = str(uuid.uuid4()), str(uuid.uuid4())
# Notify keys are "{name}-{service id}-{secret}"; the client splits them, so the fake must look real.
API_KEY = f"pairing_test-{SERVICE_ID}-{SECRET}"
TEMPLATES = {"email": str(uuid.uuid4()), "sms": str(uuid.uuid4()), "letter": str(uuid.uuid4())}
REQUIRED = {"email": "email_address", "sms": "phone_number", "letter": "personalisation"}


class FakeNotify:
    """POST /v2/notifications/{email,sms,letter} and GET /v2/notifications/{id}, with the token
    checked as Notify checks it. A message's status is "sending" until a test sets `statuses[id]`."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.fail_next: list[int] = []  # status codes to answer with before working again
        self.kinds: dict[str, str] = {}  # notification id -> email, sms or letter
        self.statuses: dict[str, str] = {}
        self.asked: list[str] = []  # the ids GET asked about
        self.texts: list[dict] = []  # texts people sent us, newest first, as GET /v2/received-text-messages lists them
        self.page_size = 250
        self.server = _NotifyServer(("127.0.0.1", free_port()), _NotifyHandler)
        self.server.fake = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def receive(self, number: str, words: str, at: dt.datetime | None = None) -> str:
        """Someone texts the service's number: the newest text is listed first."""
        at = at or dt.datetime.now(dt.UTC)
        received = {
            "id": str(uuid.uuid4()),
            "user_number": number,
            "notify_number": "07700900000",
            "content": words,
            "created_at": at.isoformat().replace("+00:00", "Z"),
            "service_id": SERVICE_ID,
        }
        self.texts.insert(0, received)
        return received["id"]

    def received_texts(self, path: str) -> dict:
        """One page, newest first, older than the text named by older_than, as Notify pages them."""
        older_than = parse_qs(urlparse(path).query).get("older_than", [None])[0]
        ids = [t["id"] for t in self.texts]
        start = ids.index(older_than) + 1 if older_than in ids else 0
        page = self.texts[start : start + self.page_size]
        links = {"current": "/v2/received-text-messages"}
        if page and start + self.page_size < len(self.texts):
            links["next"] = f"/v2/received-text-messages?older_than={page[-1]['id']}"
        return {"received_text_messages": page, "links": links}


def error(kind: str, message: str) -> dict:
    return {"errors": [{"error": kind, "message": message}], "status_code": 0}


class _NotifyServer(ThreadingHTTPServer):
    fake: FakeNotify


class _NotifyHandler(BaseHTTPRequestHandler):
    """Answers as Notify does; the fake it answers for is the server's `fake`."""

    server: _NotifyServer

    def refused(self) -> bool:
        """Answer as Notify does to a missing or wrong token; False if the token is good."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.answer(401, error("AuthError", "Unauthorized: authentication token must be provided"))
            return True
        try:
            claims = jwt.decode(auth[7:], SECRET, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            self.answer(403, error("AuthError", "Invalid token: signature, api token not found"))
            return True
        if claims.get("iss") != SERVICE_ID or "iat" not in claims:
            self.answer(403, error("AuthError", "Invalid token: iss field not provided"))
            return True
        return False

    def do_GET(self):
        if self.refused():
            return None
        if self.path.startswith("/v2/received-text-messages"):
            return self.answer(200, self.server.fake.received_texts(self.path))
        notification = self.path.rsplit("/", 1)[-1]
        if not self.path.startswith("/v2/notifications/") or notification not in self.server.fake.kinds:
            return self.answer(404, error("NoResultFound", "No result found"))
        self.server.fake.asked.append(notification)
        status = self.server.fake.statuses.get(notification, "sending")
        self.answer(200, {"id": notification, "type": self.server.fake.kinds[notification], "status": status})

    def do_POST(self):
        kind = self.path.rsplit("/", 1)[-1]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.refused():
            return None
        if not self.path.startswith("/v2/notifications/") or kind not in REQUIRED:
            return self.answer(404, error("NotFound", "not found"))
        if self.server.fake.fail_next:
            return self.answer(self.server.fake.fail_next.pop(0), error("Exception", "Internal server error"))
        if body.get("template_id") != TEMPLATES[kind] or REQUIRED[kind] not in body:
            return self.answer(400, error("BadRequestError", "Template not found"))
        if kind == "sms" and not body["phone_number"].replace(" ", "").startswith("07"):
            return self.answer(400, error("ValidationError", "phone_number Not a UK mobile number"))
        self.server.fake.received.append((kind, body))
        notification = str(uuid.uuid4())
        self.server.fake.kinds[notification] = kind
        self.answer(201, {"id": notification, "reference": body.get("reference"), "template": {"id": body["template_id"]}})

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
