"""A small client for the registry's HTTP API, used by the demo and the tests."""

from __future__ import annotations

import time

import httpx


class RegistryError(Exception):
    pass


class RegistryClient:
    def __init__(self, base_url: str, auth: tuple[str, str] | str | None = None, timeout: float = 10):
        """`auth` is an API token (sent as Bearer) or, for older scripts, an email address and password (HTTP Basic)."""
        if isinstance(auth, str):
            self.http = httpx.Client(base_url=base_url, timeout=timeout, headers={"Authorization": f"Bearer {auth}"})
        else:
            self.http = httpx.Client(base_url=base_url, timeout=timeout, auth=auth)

    def _check(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            detail = response.json().get("detail", response.text) if response.content else response.reason_phrase
            raise RegistryError(f"{response.request.method} {response.request.url.path}: {detail}")
        return response.json()

    def register_leader(self, leader: dict) -> dict:
        return self._check(self.http.post("/leaders", json=leader))

    def launch_round(self, spec: dict) -> dict:
        return self._check(self.http.post("/rounds", json=spec))

    def read_round(self, round_id: str) -> dict:
        return self._check(self.http.get(f"/rounds/{round_id}"))

    def approve(self, round_id: str, approved_by: str) -> dict:
        return self._check(self.http.post(f"/rounds/{round_id}/approve", json={"approved_by": approved_by}))

    def publish(self, round_id: str) -> dict:
        return self._check(self.http.post(f"/rounds/{round_id}/publish"))

    def record_answer(self, round_id: str, answer: dict) -> dict:
        """An answer someone gave the programme team (by phone, letter, text, in person or email)."""
        return self._check(self.http.post(f"/rounds/{round_id}/answers", json=answer))

    def end_pair(self, round_id: str, ending: dict) -> dict:
        return self._check(self.http.post(f"/rounds/{round_id}/pairs/end", json=ending))

    def close(self, round_id: str, feedback: str | None = None) -> dict:
        """Close a published round; with `feedback`, everyone in it is told what difference the pairs made."""
        return self._check(self.http.post(f"/rounds/{round_id}/close", json={"feedback": feedback}))

    def wait_for_round(self, round_id: str, statuses: set[str], seconds: float = 60) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            view = self.read_round(round_id)
            if view["status"] in statuses:
                return view
            if time.monotonic() > deadline:
                raise RegistryError(f"round {round_id} is still {view['status']} after {seconds:.0f} seconds")
            time.sleep(0.2)

    def wait_for_deliveries(self, round_id: str, expected: int, seconds: float = 60) -> dict:
        """Wait until the notifier has reported on `expected` people."""
        deadline = time.monotonic() + seconds
        while True:
            view = self.read_round(round_id)
            if sum(view["deliveries"].values()) >= expected or time.monotonic() > deadline:
                return view
            time.sleep(0.2)
