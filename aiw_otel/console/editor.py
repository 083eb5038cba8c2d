"""The command being typed: text, cursor and the history Up and Down walk through."""

from __future__ import annotations


class LineEditor:
    def __init__(self, history_limit: int = 100) -> None:
        self.text = ""
        self.cursor = 0
        self._history: list[str] = []
        self._limit = history_limit
        #: Position in the history while walking it (None: editing the draft).
        self._index: int | None = None
        self._draft = ""

    def insert(self, typed: str) -> None:
        self.text = self.text[:self.cursor] + typed + self.text[self.cursor:]
        self.cursor += len(typed)

    def backspace(self) -> None:
        if self.cursor:
            self.text = self.text[:self.cursor - 1] + self.text[self.cursor:]
            self.cursor -= 1

    def left(self) -> None:
        self.cursor = max(0, self.cursor - 1)

    def right(self) -> None:
        self.cursor = min(len(self.text), self.cursor + 1)

    def home(self) -> None:
        self.cursor = 0

    def end(self) -> None:
        self.cursor = len(self.text)

    def clear(self) -> None:
        self._set("")

    def replace(self, text: str) -> None:
        """The whole line becomes `text`, the cursor at its end (Tab completion)."""
        self._set(text)

    def previous(self) -> None:
        if not self._history or self._index == 0:
            return
        if self._index is None:
            self._draft = self.text
            self._index = len(self._history)
        self._index -= 1
        self._set(self._history[self._index])

    def next(self) -> None:
        if self._index is None:
            return
        self._index += 1
        if self._index == len(self._history):
            self._index = None
            self._set(self._draft)
        else:
            self._set(self._history[self._index])

    def submit(self) -> str:
        """The line as typed, remembered (once in a row) and cleared."""
        line = self.text
        if line.strip() and (not self._history or self._history[-1] != line):
            self._history = [*self._history, line][-self._limit:]
        self._index = None
        self._draft = ""
        self._set("")
        return line

    def _set(self, text: str) -> None:
        self.text = text
        self.cursor = len(text)
