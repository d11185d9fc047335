"""``python -m estate [--host H] [--port P] [--hostile] [--username U --password P]``.

Serves the legacy estate in the foreground until interrupted and prints its URLs first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from estate.server import base_url_of, bind_socket, describe, make_config
from estate.soap_service import create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m estate", description="Serve the demo legacy SOAP estate."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8801, help="0 picks a free port")
    parser.add_argument(
        "--hostile", action="store_true", help="enable the failure CUSTNOs (tests only)"
    )
    parser.add_argument("--username", help="require a WS-Security UsernameToken")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)

    credentials = (args.username, args.password) if args.username else None
    app = create_app(hostile=args.hostile, credentials=credentials)
    sock = bind_socket(args.host, args.port)
    base_url = base_url_of(args.host, sock.getsockname()[1])
    print(f"legacy estate serving on {base_url}", flush=True)
    for line in describe(base_url):
        print(f"  {line}", flush=True)
    uvicorn.Server(make_config(app)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
