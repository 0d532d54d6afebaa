"""A headless Chromium the page tests drive through the DevTools protocol, over a pipe
(``--remote-debugging-pipe``: fd 3 to the browser, fd 4 back; no extra package).

Tests open a page, wait for a condition in the page (a JavaScript expression polled by
the page itself until it is truthy: no sleeping in the test), click, type, read the DOM
and take screenshots.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any
from typing import Self

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT_MS = 15_000
"""How long :meth:`Browser.wait` lets a condition take before failing the test."""

_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)
"""Starts Chromium with the pipe's ends as its fds 3 and 4."""


class BrowserError(AssertionError):
    """The browser answered a command with an error, or a condition never held."""


class Browser:
    """One headless Chromium with one tab (see the module docstring)."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None, "install chromium (apt-get install chromium)"
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Above 4, so that moving them to 3 and 4 never overwrites one another.
        keep_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 5)
        keep_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 5)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(keep_r), str(keep_w), CHROMIUM, *args],
            pass_fds=(keep_r, keep_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(keep_r)
        os.close(keep_w)
        self._out = os.fdopen(to_browser_w, "wb")
        self._in = os.fdopen(from_browser_r, "rb")
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        self.call("Page.enable")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._session = None
            self._call("Browser.close")
        except (BrowserError, OSError):
            self.process.kill()
        finally:
            self.process.wait(timeout=30)
            self._out.close()
            self._in.close()

    # --- the protocol ------------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        self._out.write(json.dumps(message).encode() + b"\0")
        self._out.flush()
        while True:
            answer = self._read()
            if answer.get("id") != self._next_id:
                continue  # an event, or the answer to nothing we wait for
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer["result"]
            return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in.fileno(), 1 << 16)
            if not chunk:
                raise BrowserError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A DevTools command to the tab; its result."""
        return self._call(method, params)

    # --- what tests do -----------------------------------------------------------------

    def open(self, url: str, *, width: int = 1200, height: int = 900) -> None:
        """Load ``url`` in a ``width`` × ``height`` window and wait until it has loaded."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.call("Page.navigate", {"url": url})
        self.wait(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression}: {text}")
        return result["result"].get("value")

    def wait(self, condition: str, timeout_ms: int = WAIT_MS) -> Any:
        """Wait until the JavaScript ``condition`` is truthy in the page; its value. The
        page polls it itself (every 20 ms); after ``timeout_ms`` the test fails."""
        script = f"""new Promise((resolve, reject) => {{
          const started = performance.now();
          const check = () => {{
            let value = null;
            try {{ value = ({condition}); }} catch (error) {{ value = null; }}
            if (value) resolve(value);
            else if (performance.now() - started > {timeout_ms}) reject(new Error("timed out"));
            else setTimeout(check, 20);
          }};
          check();
        }})"""
        for _ in range(5):  # a navigation may replace the page while we wait
            try:
                return self.evaluate(script)
            except BrowserError as error:
                if "context was destroyed" not in str(error) and "navigat" not in str(error):
                    raise BrowserError(f"never true: {condition}") from error
        raise BrowserError(f"never true: {condition}")

    def text(self, selector: str) -> str:
        """The text of the first element ``selector`` matches."""
        value = self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")
        return str(value)

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def type_into(self, selector: str, text: str) -> None:
        """Set an input's value and fire its ``input`` event, as typing does."""
        self.evaluate(
            f"(() => {{ const input = document.querySelector({json.dumps(selector)});"
            f" input.value = {json.dumps(text)};"
            " input.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )

    def dom(self) -> str:
        """The page's DOM as HTML, as ``chromium --dump-dom`` prints it."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> bytes:
        """A PNG of the whole page (up to its full height), written to ``path``."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        width = int(self.evaluate("window.innerWidth"))
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        data = base64.b64decode(shot["data"])
        path.write_bytes(data)
        return data
