"""Many shoppers at once: latency per operation and requests/s of the launched app under load.

    PYTHONPATH=tests/support python bench/many_shoppers.py --clients 20 50 --rounds 2 --concurrency 8 [--client gradio_client]

(from the repository root: the simulated shoppers live with the tests, in tests/support/shoppers.py).

The app runs in its own process (``serve()`` as ``python app.py`` runs it), on loopback, over a
store that ``vlm4rec ingest`` filled beforehand (the 40-item generated catalog by default, or
--catalog). In this process, N shoppers (threads, each with its own HTTP client and user id)
start together and each does the visit of ``tests/support/shoppers.py``: chat search, three
likes at once, a dislike, recommend (tool and chat), two more likes each followed at once by
recommend and explain, the profile, a personalised search and an explanation: 18 requests.
Each round is a fresh set of shoppers. Prints p50/p95/p99/max per operation, requests/s, and
the problems and errors found (both must be 0). --concurrency sets the app's
``default_concurrency_limit`` (requests of one kind served at once); give several to compare.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SERVER = """
import sys
from vlm4rec_agent.app.launch import serve
from vlm4rec_agent.settings import Settings
serve(Settings(), block=True, concurrency_limit=int(sys.argv[1]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], concurrency: int, cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """The app in its own process; ``cwd``: the folder it runs in (first on its ``sys.path``)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(concurrency)],
        env={**env, "VLM4REC_APP_PORT": str(port)},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"the app did not start:\n{server.stderr.read().decode()[-3000:]}")
        time.sleep(0.2)
    raise SystemExit("the app did not answer within two minutes")


def warm_up(url: str) -> None:
    """Load the encoder and fill the query memo once, as a running shop would have."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict("show me red dresses", "warm-up", api_name="/chat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--rounds", type=int, default=2, help="fresh sets of shoppers per client count")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8], help="the app's concurrency limits")
    parser.add_argument("--client", choices=["http", "gradio_client"], default="http",
                        help="each shopper's client: plain HTTP calls, or gradio_client (adds its own polling)")  # fmt: skip
    parser.add_argument("--catalog", type=Path, help="a catalog to use instead of the generated 40 items")
    parser.add_argument("--limit", type=int, help="with --catalog: ingest only the first N items")
    args = parser.parse_args()

    from vlm4rec_agent.catalogs import read_catalog

    try:
        from shoppers import HttpApi, latency_table, run_shoppers, write_catalog
    except ModuleNotFoundError as error:
        if error.name != "shoppers":
            raise
        sys.exit("run from the repository root as: PYTHONPATH=tests/support python bench/many_shoppers.py ...")

    home = Path(tempfile.mkdtemp(prefix="vlm4rec-bench-shoppers-"))
    catalog = args.catalog or write_catalog(home / "catalog")
    env = {**os.environ, "VLM4REC_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    ingest = [sys.executable, "-m", "vlm4rec_agent", "ingest", str(catalog)]
    subprocess.run(ingest + (["--limit", str(args.limit)] if args.limit else []), env=env, check=True)
    if args.client == "gradio_client":
        from gradio_client import Client

        def factory(url: str):
            return Client(url, verbose=False)
    else:
        factory = HttpApi
    ids = [item.id for item in read_catalog(catalog, limit=args.limit).items]
    print(f"catalog: {len(ids)} items; machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")

    for concurrency in args.concurrency:
        server, url = start_server(env, concurrency)
        try:
            warm_up(url)
            for clients in args.clients:
                for round_ in range(args.rounds):
                    users = [f"c{concurrency}-n{clients}-r{round_}-shopper-{i:02d}" for i in range(clients)]
                    visits = run_shoppers(url, users, ids, factory)
                    problems = [p for v in visits for p in v.problems]
                    errors = [e for v in visits for e in v.errors]
                    print(f"\nconcurrency limit {concurrency}, {clients} clients, round {round_ + 1}: "
                          f"{len(problems)} problems, {len(errors)} errors; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
                    print(latency_table(visits))
                    for line in (problems + errors)[:5]:
                        print("  ", line)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
