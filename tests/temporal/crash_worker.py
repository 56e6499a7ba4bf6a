"""A worker process for the crash tests: `python -m tests.temporal.crash_worker SPEC ADDRESS
QUEUE [GO_FILE]`. It registers the `countdown` provider scheme, waits until GO_FILE exists
(so a standby worker can be started, imports done, before it is needed), then serves the spec
with `spine_temporal.worker.serve` (the call `spine worker --temporal` makes) until killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from spine_core import register_provider
from spine_temporal import ActivityOptions
from spine_temporal.worker import serve

from .fakes import CountdownProvider


def main() -> None:
    spec, address, queue = sys.argv[1:4]
    if len(sys.argv) > 4:
        go = Path(sys.argv[4])
        while not go.exists():  # a standby: started early, serving once told to
            time.sleep(0.02)
    register_provider("countdown", lambda model="10", **_: CountdownProvider(int(model)))
    options = ActivityOptions(heartbeat_timeout_s=1.0, retry_initial_s=0.1, retry_max_s=0.5)
    serve(Path(spec), address=address, task_queue=queue, activities=options, sticky_timeout_s=1.0)


if __name__ == "__main__":
    main()
