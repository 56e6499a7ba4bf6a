"""`spine chat`: a conversation with an agent, turn by turn, in one session of its store.

The prompt runs in the main thread (line editing and history through `readline`; Ctrl-C at
the prompt leaves at once) and the agent in an event loop on a second thread, reached through
an anyio `BlockingPortal`. Ctrl-C during a turn cancels that turn (the session keeps every
finished step) and returns to the prompt; a sync tool still running in its worker thread
does not hold the exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import typer
from anyio.from_thread import BlockingPortal, start_blocking_portal
from rich.console import Console
from rich.text import Text

from spine_core import EventType, Result, State, StopReason

from . import render
from .runtime import CliError, Loaded, failure, fetch, load, new_session_id, unwrap
from .session_view import print_messages, usage_text

__all__ = ["chat", "register"]

COMMANDS = {
    "/reset": "start a new session (the current one stays in the store)",
    "/history": "show this session's messages",
    "/usage": "tokens, requests and cost of this session",
    "/exit": "leave (also /quit, Ctrl-D or Ctrl-C at the prompt)",
    "/help": "list these commands",
}


def register(app: typer.Typer) -> None:
    """Add the `chat` command to `app`."""
    app.command()(chat)


def chat(
    spec: Annotated[Path, typer.Argument(help="The agent spec (YAML).", show_default=False)],
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Continue this session (default: a new one)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Override the spec's model.", metavar="SCHEME:MODEL"),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Print the answer as it is written.")
    ] = True,
) -> None:
    """Talk with the agent turn by turn; the session lives in the spec's checkpoint store.

    Commands: /reset, /history, /usage, /exit, /help. The up arrow recalls earlier lines.
    When the agent asks for approval, answer y or n; when a tool asks a question, type the
    answer. Ctrl-C stops a turn; at the prompt it leaves.
    """
    loaded = load(spec, model=model)
    save_history = _enable_line_editing()
    try:
        with _event_loop_thread() as portal:
            try:
                Chat(loaded, portal, session or new_session_id(), stream=stream).loop()
            finally:
                portal.call(_close, loaded)
    finally:
        save_history()


@contextmanager
def _event_loop_thread() -> Iterator[BlockingPortal]:
    """A portal to an event loop on a new thread that never receives SIGINT (the signal is
    blocked there and in every thread it starts), so Ctrl-C always reaches the main thread,
    even while it waits in `readline`."""
    block = getattr(signal, "pthread_sigmask", None)
    previous = block(signal.SIG_BLOCK, {signal.SIGINT}) if block is not None else None
    try:
        manager = start_blocking_portal()
        portal = manager.__enter__()
    finally:
        if block is not None and previous is not None:
            block(signal.SIG_SETMASK, previous)
    try:
        yield portal
    except BaseException:
        if not manager.__exit__(*sys.exc_info()):
            raise
    else:
        manager.__exit__(None, None, None)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT for the calling thread (where `pthread_sigmask` exists): a Ctrl-C pressed
    meanwhile is delivered, as KeyboardInterrupt, when the block ends."""
    block = getattr(signal, "pthread_sigmask", None)
    previous = block(signal.SIG_BLOCK, {signal.SIGINT}) if block is not None else None
    try:
        yield
    finally:
        if block is not None and previous is not None:
            block(signal.SIG_SETMASK, previous)


async def _close(loaded: Loaded) -> None:
    await loaded.__aexit__(None, None, None)


def _history_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "spine" / "chat_history"


def _enable_line_editing() -> Callable[[], None]:
    """Line editing and a persistent history for `input()` when stdin is a terminal; returns
    the function that saves the history."""
    if not os.isatty(0):
        return lambda: None
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input()
        return lambda: None

    path = _history_file()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError:
            pass

    return save


def _ask(prompt: str) -> str | None:
    """A line typed at `prompt`; None at the end of the input. Ctrl-C ends the line (so the
    shell's prompt starts on a line of its own) and raises KeyboardInterrupt."""
    try:
        return input(prompt)
    except EOFError:
        return None
    except KeyboardInterrupt:
        print(flush=True)
        raise


class _Turn:
    """The cancel scope of the turn in flight, so Ctrl-C in the main thread can stop it."""

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None

    def cancel(self) -> None:
        if self.scope is not None:
            self.scope.cancel()


class Chat:
    """One `spine chat` session: the prompt loop and the turns it sends through the portal."""

    def __init__(self, loaded: Loaded, portal: BlockingPortal, session_id: str, *, stream: bool):
        self.loaded = loaded
        self.portal = portal
        self.session_id = session_id
        self.stream = stream
        self.out: Console = render.console()
        self.turn = _Turn()

    # -- the prompt ---------------------------------------------------------------------

    def loop(self) -> None:
        state = self._call(fetch, self.loaded.store, self.loaded.info, self.session_id)
        self._greet(state)
        if state is not None and state.pending is not None:
            self._settle(self._call(self._paused_result, state), printed=True)
        while True:
            line = _ask("you> ")
            if line is None:
                self.out.print()
                return
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if self._command(text):
                    return
                continue
            result = self._run_turn(partial(self._send, line))
            if result is not None:
                self._settle(result, printed=self.stream)

    def _greet(self, state: State | None) -> None:
        what = "continuing" if state is not None else "new"
        self.out.print(
            Text(
                f"{what} session {self.session_id} in the {self.loaded.info} · /help for "
                f"commands · continue later with --session {self.session_id}",
                style="dim",
            )
        )

    def _command(self, text: str) -> bool:
        """Run a slash command; True when the chat should end."""
        name = text.split()[0].lower()
        if name in ("/exit", "/quit"):
            return True
        if name == "/reset":
            self.session_id = new_session_id()
            self.out.print(Text(f"new session {self.session_id}", style="dim"))
        elif name in ("/history", "/usage"):
            state = self._call(fetch, self.loaded.store, self.loaded.info, self.session_id)
            if state is None:
                self.out.print(Text("nothing yet in this session", style="dim"))
            elif name == "/history":
                print_messages(self.out, state)
            else:
                self.out.print(Text(usage_text(state), style="dim"))
        elif name == "/help":
            for command, meaning in COMMANDS.items():
                self.out.print(Text(f"{command:<9} {meaning}"))
        else:
            known = " ".join(COMMANDS)
            self.out.print(Text(f"unknown command {name} (commands: {known})", style="red"))
        return False

    # -- turns --------------------------------------------------------------------------

    def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        """`func(*args)` in the event loop; a one-line `CliError` on failure."""
        try:
            return self.portal.call(func, *args)
        except CliError:
            raise
        except Exception as exc:
            raise failure(unwrap(exc), info=self.loaded.info, session=self.session_id) from None

    def _run_turn(self, start: Callable[[], Future[Result | None]]) -> Result | None:
        """Wait for a turn; Ctrl-C cancels it (a second Ctrl-C leaves at once).

        SIGINT is held while the turn is handed to the event loop: the turn may reach a tool
        before `start` returns here, and a Ctrl-C pressed then must cancel the turn, not
        escape before there is a turn to cancel."""
        future: Future[Result | None] | None = None
        try:
            with _sigint_held():
                future = start()
            return _result(future, self.loaded, self.session_id)
        except KeyboardInterrupt:
            if future is None:  # pressed before the turn was sent: nothing to cancel
                raise
            self.portal.call(self.turn.cancel)
            result = _result(future, self.loaded, self.session_id)
            self.out.print()
            self.out.print(Text("cancelled: the session keeps every finished step", style="yellow"))
            return result

    def _send(self, text: str) -> Future[Result | None]:
        return self.portal.start_task_soon(self._turn_async, text)

    async def _turn_async(self, text: str) -> Result | None:
        """One turn; after Ctrl-C, the cancelled run's `Result` (streamed) or None."""
        agent = self.loaded.agent
        events = None
        with anyio.CancelScope() as scope:
            self.turn.scope = scope
            if not self.stream:
                return await agent.run(text, session_id=self.session_id)
            events = agent.stream(text, session_id=self.session_id)
            at_start = True
            try:
                async for event in events:
                    if event.type is EventType.TOKEN and at_start:
                        self.out.print("agent> ", end="")
                    at_start = render.print_event(
                        self.out, event, at_line_start=at_start, tools=agent.tools
                    )
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()
            if not at_start:
                self.out.print()
            return events.result
        return events.result if events is not None else None

    async def _paused_result(self, state: State) -> Result:
        """A stand-in `Result` for a session found paused when the chat starts."""
        return Result(
            stopped_reason=StopReason.INTERRUPT,
            state=state,
            resume_token=f"{state.session_id}:{state.pending.id}" if state.pending else None,
            interrupt=state.pending,
        )

    def _settle(self, result: Result, *, printed: bool) -> None:
        """Answer the pauses of a turn, then print its answer (or why it stopped); `printed`
        says the turn's tool calls are on screen already (streamed)."""
        tools = self.loaded.agent.tools
        while result.interrupted and result.interrupt is not None:
            if not printed:
                render.print_tool_calls(self.out, result, tools=tools)
            request = result.interrupt
            self.out.print(Text(f"⏸ {request.question}", style="bold yellow"))
            token = result.resume_token or ""
            if request.kind == "approval":
                reply = _ask("approve? [y/N] ")
                ok = (reply or "").strip().lower() in ("y", "yes")
                decision: Literal["approve", "reject"] = "approve" if ok else "reject"
                resumed = self._run_turn(
                    partial(self.portal.start_task_soon, self._resume, token, decision, None)
                )
            else:
                reply = _ask("answer> ")
                resumed = self._run_turn(
                    partial(
                        self.portal.start_task_soon, self._resume, token, "approve", reply or ""
                    )
                )
            if resumed is None:
                return
            result, printed = resumed, False
        if not printed:
            answer = result.answer or "" if result.ok else ""
            render.print_tool_calls(self.out, result, tools=tools, quoted=answer)
        streamed = printed and any(e.type is EventType.TOKEN for e in result.trace)
        if result.ok and not streamed:
            self.out.print(f"agent> {result.answer or ''}", markup=False)
        if not result.ok:
            render.print_stop(self.out, result)
        render.print_usage(self.out, result)

    async def _resume(self, token: str, decision: str, answer: str | None) -> Result | None:
        with anyio.CancelScope() as scope:
            self.turn.scope = scope
            return await self.loaded.agent.resume(token, decision, answer=answer)
        return None


def _result(future: Future[Result | None], loaded: Loaded, session_id: str) -> Result | None:
    try:
        return future.result()
    except CliError:
        raise
    except Exception as exc:
        raise failure(unwrap(exc), info=loaded.info, session=session_id) from None
