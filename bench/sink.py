"""Bare aiosmtpd sink for the benchmark: accepts every message with '250 OK' and discards it.

Same SIZE limit as our server (80 MiB). Listens on 127.0.0.1 only; prints READY when serving
and exits on SIGTERM/SIGINT. Usage: python bench/sink.py --port 2600
"""

from __future__ import annotations

import argparse
import signal
import threading

from aiosmtpd.controller import Controller

DATA_SIZE_LIMIT = 80 * 1024 * 1024


class DiscardHandler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    controller = Controller(DiscardHandler(), hostname="127.0.0.1", port=args.port,
                            data_size_limit=DATA_SIZE_LIMIT, ready_timeout=10)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    print("READY", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
