"""A stand-in `claude` executable for the process-handling tests: a real child process that
prints a recorded CLI transcript (`recorded/*.jsonl`) and then does what `FAKE_CLAUDE_MODE`
says, so timeouts, exits and escaped grandchildren are tested without the real CLI's startup
time (the real CLI's own behaviour is tested in test_claude_code_cli.py).

Environment: `FAKE_CLAUDE_RECORDING` (a file of stdout lines to print), `FAKE_CLAUDE_ARGS`
(a file the argv and stdin are written to, as JSON), `FAKE_CLAUDE_MODE`:
- `exit` (default): exit with `FAKE_CLAUDE_CODE` (default 0) after printing;
- `hang`: keep running after printing (until killed);
- `escape`: start a grandchild in a new session (outside the process group), then hang;
- `stderr`: write `FAKE_CLAUDE_STDERR` to stderr and exit 1 without printing a result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> None:
    prompt = sys.stdin.read()
    args_file = os.environ.get("FAKE_CLAUDE_ARGS")
    if args_file:
        with open(args_file, "w", encoding="utf-8") as file:
            json.dump({"argv": sys.argv[1:], "stdin": prompt, "cwd": os.getcwd()}, file)
    mode = os.environ.get("FAKE_CLAUDE_MODE", "exit")
    if mode == "stderr":
        sys.stderr.write(os.environ.get("FAKE_CLAUDE_STDERR", "") + "\n")
        sys.exit(1)
    recording = os.environ.get("FAKE_CLAUDE_RECORDING")
    if recording:
        with open(recording, encoding="utf-8") as file:
            for line in file:
                sys.stdout.write(line)
                sys.stdout.flush()
    if mode == "escape":
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
        )
        print(json.dumps({"type": "system", "subtype": "status", "status": "escaped"}), flush=True)
    if mode in ("hang", "escape"):
        while True:
            time.sleep(1)
    sys.exit(int(os.environ.get("FAKE_CLAUDE_CODE", "0")))


if __name__ == "__main__":
    main()
