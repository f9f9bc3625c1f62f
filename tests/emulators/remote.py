# SPDX-License-Identifier: GPL-3.0-or-later
"""An emulator in a process of its own, driven from the test process through a proxy.

Why: the emulators' HTTP servers run on threads. In the process that has ``bpy`` loaded, those threads ran
Python while Blender's glTF importer ran on the main thread, and about one suite run in 25 ended in a
segmentation fault inside Blender (seen on 4.2 and 4.5). A real service runs on other machines; so does
this one, as far as the Blender process can tell.

Contract:

- ``Remote(EmulatorClass, *args, **kwargs)`` builds ``EmulatorClass(*args, **kwargs)`` in a child Python
  (the same interpreter, ``tests/`` on its path). The class must be importable there by module and name.
- On the proxy, reading an attribute returns a *copy* of the child's value (``emu.requests``,
  ``emu.jobs[...]``, ``emu.base_url``); calling a method runs it in the child and returns a copy of its
  result, or raises the child's exception; assigning an attribute sets it in the child
  (``emu.polls_per_step = 4``). Mutating a returned copy changes nothing: use a method for that.
- ``start()`` / ``stop()`` / ``with`` behave as on the emulator: after ``stop()`` its records can still be
  read. The child ends when the proxy is closed (``close()``) or garbage-collected, or when the test process
  dies and its pipe closes.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import subprocess
import sys
import weakref
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
_CALLABLE = "<callable>"


class RemoteError(RuntimeError):
    """An exception in the child that could not be carried back as itself."""


class Remote:
    """Proxy of an emulator that runs in a child process (see the module docstring)."""

    def __init__(self, cls: type, *args: Any, **kwargs: Any) -> None:
        parent, child = Pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH", "")]))
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(child.fileno())],
            pass_fds=[child.fileno()],
            env=env,
        )
        child.close()
        object.__setattr__(self, "_conn", parent)
        object.__setattr__(self, "_proc", proc)
        object.__setattr__(self, "_methods", set())
        object.__setattr__(self, "close", weakref.finalize(self, _end_child, parent, proc))
        self._ask("new", cls.__module__, cls.__qualname__, args, kwargs)

    def _ask(self, *message: Any) -> Any:
        self._conn.send(message)
        kind, value = self._conn.recv()
        if kind == "error":
            raise value
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._methods:
            return lambda *args, **kwargs: self._ask("call", name, args, kwargs)
        value = self._ask("get", name)
        if value == _CALLABLE:
            self._methods.add(name)
            return getattr(self, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("set", name, value)

    def start(self) -> Remote:
        self._ask("call", "start", (), {})
        return self

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._ask("call", "stop", (), {})

    def __enter__(self) -> Remote:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _end_child(conn: Connection, proc: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        conn.send(("exit",))
    conn.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _reply(conn: Connection, kind: str, value: Any) -> None:
    try:
        conn.send((kind, value))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        conn.send(("error", RemoteError(f"{type(value).__name__} cannot be sent back: {exc}")))


def _serve(fd: int) -> int:
    conn = Connection(fd)
    target: Any = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break  # the test process is gone
        if message[0] == "exit":
            break
        try:
            if message[0] == "new":
                module, name, args, kwargs = message[1:]
                target = getattr(importlib.import_module(module), name)(*args, **kwargs)
                value = None
            elif message[0] == "get":
                attr = getattr(target, message[1])
                if callable(attr) and not isinstance(attr, type):
                    value = _CALLABLE
                else:
                    with target.lock:  # a consistent copy while request threads append
                        value = pickle.loads(pickle.dumps(attr))
            elif message[0] == "set":
                with target.lock:
                    setattr(target, message[1], message[2])
                value = None
            else:
                name, args, kwargs = message[1:]
                value = getattr(target, name)(*args, **kwargs)
                if name == "start":
                    value = None  # the emulator itself stays here
        except Exception as exc:  # carried back and raised in the test
            _reply(conn, "error", exc)
            continue
        _reply(conn, "value", value)
    if target is not None:
        target.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1])))
