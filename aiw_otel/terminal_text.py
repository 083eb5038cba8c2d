"""Text that is safe to print on a terminal or to write as one line of a text log.

Plan and model text can carry escape sequences (`ESC ] 0 ; title BEL` renames the terminal,
`ESC [ 2 J` clears it) and line breaks (a newline in a command line would forge a whole new line
in the text log, complete with a fake timestamp and level). Everything we print or write as text
goes through `safe_line` (the live console's panels through `one_line`), so no byte of it can
steer the terminal and one record is always exactly one line.

* Escape sequences (CSI, OSC, and the two-character ones) are dropped whole: command output is
  full of colour codes, and showing them as junk helps no one.
* A line break (LF, CR, CRLF, VT, FF, NEL, U+2028/U+2029) becomes `⏎`, so the break is still
  visible where it was but cannot start a new line.
* Any other control character (C0 except TAB, DEL, C1, a lone ESC) becomes `�`.
"""

from __future__ import annotations

import re

#: The visible stand-in for a line break inside one logical line.
NEWLINE_MARK = "⏎"
#: The stand-in for any other control character.
CONTROL_MARK = "\ufffd"

#: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL` or `ESC ] ... ESC \\`, or unterminated up to the
#: next ESC / end), DCS/SOS/PM/APC strings likewise, and the two-character escapes (`ESC c`).
#: The 8-bit C1 forms (0x9B CSI, 0x9D OSC) are caught by the control-character pass below.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|[ -/]*[0-~])"
)
#: Everything that is not safe: C0 but TAB, DEL, C1, and the Unicode line/paragraph separators.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")


def safe_line(text: str, newline: str = NEWLINE_MARK, control: str = CONTROL_MARK) -> str:
    """`text` with escape sequences dropped, line breaks shown as `newline`, other controls as `control`.

    The same object back when there is nothing to change (the common case: one regex search).
    """
    if _UNSAFE.search(text) is None:
        return text
    if "\x1b" in text:
        text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAK.sub(newline, text)
    return _UNSAFE.sub(lambda _: control, text)


def safe_lines(text: str) -> str:
    """Like `safe_line` but keeps LF line breaks (for a block printed as several lines, e.g. an error)."""
    if _UNSAFE.search(text) is None:
        return text
    return "\n".join(safe_line(part) for part in text.replace("\r\n", "\n").split("\n"))


def one_line(text: str) -> str:
    """For a panel of the live console: one line, every break and tab a plain space."""
    return safe_line(text, " ", " ").replace("\t", " ")
