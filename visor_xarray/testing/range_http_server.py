"""``python -m http.server`` with HTTP Range requests, for tests and benchmarks over HTTP.

Readers of sharded Zarr fetch byte ranges (a shard's index, then its chunks); Python's
built-in server ignores ``Range`` and answers with the whole file, which obstore (rightly)
refuses. Production web servers and object stores honour ranges; this subclass does too.

Usage: ``python range_http_server.py DIRECTORY PORT`` (binds 127.0.0.1); or
:func:`visor_xarray.testing.http_server`.
"""

from __future__ import annotations

import re
import sys
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Serves files, a single ``bytes=a-b`` range when asked (206), else whole (200)."""

    _remaining: int | None = None

    def send_head(self) -> Any:
        """Answer the headers of a GET/HEAD: a partial response for a satisfiable range."""
        match = _RANGE.match(self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = match.groups()
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last) if last else size - 1)
        if start >= size or start > end:
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return None
        stream = open(path, "rb")
        stream.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return stream

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """Send the body: the requested range only, after a partial response."""
        remaining = self._remaining
        if remaining is None:
            super().copyfile(source, outputfile)
            return
        self._remaining = None
        outputfile.write(source.read(remaining))

    def log_message(self, format: str, *args: object) -> None:
        """Keep quiet (tests and benchmarks read the server's answers, not its log)."""
        return None


if __name__ == "__main__":
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = partial(RangeRequestHandler, directory=directory)
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
