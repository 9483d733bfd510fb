"""terminado for `cargo xtask bench` (the web scenario, `scenarios/web.rs`).

A tornado application serving terminado's `TermSocket` at `/websocket` on 127.0.0.1,
with a `UniqueTermManager`: every WebSocket connection gets a terminal of its own,
running COMMAND (default `/bin/sh`), so no output buffered for an earlier connection
is ever replayed to a later one.

    python terminado_server.py [--port PORT] [-- COMMAND...]

It prints the port it listens on (PORT, or the one the kernel chose for 0) on a line of
its own once it accepts connections, and runs until SIGTERM or SIGINT, when it closes
the listener and ends its terminals.

terminado's wire format, both ways: text frames holding a JSON array whose first item
names the message. Server to client: `["setup", {}]` on connecting, `["stdout", TEXT]`
for output (the PTY's bytes decoded as UTF-8), `["disconnect", 1]` when the program
exits. Client to server: `["stdin", TEXT]` for input, `["set_size", ROWS, COLS, ...]`.
"""

import argparse
import asyncio
import signal
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web
from terminado import TermSocket, UniqueTermManager


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("command", nargs="*", help="the terminal's program and arguments")
    return parser.parse_args(argv)


async def serve(port, command):
    manager = UniqueTermManager(shell_command=command)
    app = tornado.web.Application(
        [(r"/websocket", TermSocket, {"term_manager": manager})],
    )
    sockets = tornado.netutil.bind_sockets(port, address="127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(sockets[0].getsockname()[1], flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    server.stop()
    await manager.shutdown()


def main():
    args = parse_args(sys.argv[1:])
    asyncio.run(serve(args.port, args.command or ["/bin/sh"]))


if __name__ == "__main__":
    main()
