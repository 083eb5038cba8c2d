"""Bytes from a terminal in cbreak mode, turned into typed text and the few keys the command line uses.

Arrow keys and the like arrive as escape sequences (`ESC [ A`), possibly split across reads; a
sequence nobody uses (F-keys, Alt+letter, mouse reports) is swallowed whole instead of leaking its
tail into the command. A lone ESC cannot be told from the start of a sequence until the input goes
quiet, so it stays pending until `flush()`.
"""

from __future__ import annotations

import codecs
import enum
from typing import Union


class Key(enum.Enum):
    ENTER = "enter"
    BACKSPACE = "backspace"
    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
    HOME = "home"
    END = "end"
    PAGE_UP = "page_up"
    PAGE_DOWN = "page_down"
    #: Ctrl-P / Ctrl-N: the history, whatever the line holds (Up/Down move the overview's cursor
    #: when the line is empty).
    HISTORY_PREVIOUS = "history_previous"
    HISTORY_NEXT = "history_next"
    ESCAPE = "escape"
    CLEAR_LINE = "clear_line"
    #: Complete the command or the step being typed.
    TAB = "tab"
    #: Ctrl-C as a byte: only seen where the terminal does not turn it into SIGINT.
    INTERRUPT = "interrupt"


#: What `feed` returns: typed text as str, everything else as a Key.
Keystroke = Union[str, Key]

_CONTROL = {"\r": Key.ENTER, "\n": Key.ENTER, "\x7f": Key.BACKSPACE, "\x08": Key.BACKSPACE, "\x03": Key.INTERRUPT, "\t": Key.TAB,
            "\x15": Key.CLEAR_LINE, "\x10": Key.HISTORY_PREVIOUS, "\x0e": Key.HISTORY_NEXT}
#: Final bytes of CSI (`ESC [`) and SS3 (`ESC O`) sequences without parameters.
_FINAL = {"A": Key.UP, "B": Key.DOWN, "C": Key.RIGHT, "D": Key.LEFT, "H": Key.HOME, "F": Key.END}
#: `ESC [ n ~` sequences: Home, End, PgUp, PgDn (as xterm, rxvt and the Linux console send them).
_TILDE = {"1": Key.HOME, "7": Key.HOME, "4": Key.END, "8": Key.END, "5": Key.PAGE_UP, "6": Key.PAGE_DOWN}
_ESC = "\x1b"


class KeyDecoder:
    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def feed(self, data: bytes) -> list[Keystroke]:
        text = self._pending + self._utf8.decode(data)
        self._pending = ""
        keys: list[Keystroke] = []
        typed: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char == _ESC:
                end, key = _escape_sequence(text, index)
                if end is None:
                    self._pending = text[index:]
                    break
                index = end
            elif char >= " " and char != "\x7f":
                typed.append(char)
                index += 1
                continue
            else:
                key = _CONTROL.get(char)
                index += 1
            if typed:
                keys.append("".join(typed))
                typed.clear()
            if key is not None:
                keys.append(key)
        if typed:
            keys.append("".join(typed))
        return keys

    def flush(self) -> list[Keystroke]:
        """The input went quiet: a pending lone ESC was the Escape key; a cut-off sequence is dropped."""
        pending, self._pending = self._pending, ""
        return [Key.ESCAPE] if pending == _ESC else []


def _escape_sequence(text: str, start: int) -> tuple[int | None, Key | None]:
    """(index after the sequence, its key or None if unused); (None, None) if it is not complete yet."""
    if start + 1 >= len(text):
        return None, None
    kind = text[start + 1]
    if kind == "[":
        end = start + 2
        while end < len(text) and "\x20" <= text[end] <= "\x3f":  # parameter and intermediate bytes
            end += 1
        if end >= len(text):
            return None, None
        if end == start + 2:
            return end + 1, _FINAL.get(text[end])
        return end + 1, _TILDE.get(text[start + 2:end]) if text[end] == "~" else None
    if kind == "O":
        if start + 2 >= len(text):
            return None, None
        return start + 3, _FINAL.get(text[start + 2])
    if kind == _ESC:
        return start + 1, Key.ESCAPE
    return start + 2, None  # Alt+key
