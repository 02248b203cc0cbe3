"""Runs localstripe's own server on a loopback port, with its disk snapshots off.

localstripe pickles its whole store to /tmp/localstripe.pickle on every write (one file for
every instance on the machine) and listens on all interfaces; the tests want neither.

    python tests/payments/localstripe_server.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]

if __name__ == "__main__":
    web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
