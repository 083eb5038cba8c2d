"""Which command lines need a shell, and the argv of those that do not.

Plans and models write a command as one line of shell. Most lines are just a program and its
arguments (`python test_greet.py`); run through `/bin/sh -c`, their span would be named `sh`, and
its pid, argv and exit code would describe the shell rather than the program doing the work. A
line that gives the shell nothing to do runs the same when executed directly, so it is: then the
CLI span (named `{process.executable.name}`) describes the program that really ran.

"Nothing to do" is decided conservatively, on the words `shlex` makes of the line: no operator,
redirection, expansion, glob, comment, escape or assignment, and a first word that is a program
on PATH, not a builtin or keyword of the shell. A line that fails any test goes to the shell
unchanged: a wrong "needs a shell" costs only the span's name, a wrong "does not" would change
what the command does.
"""

from __future__ import annotations

import shlex
import shutil
from typing import Mapping

SHELL = "/bin/sh"

#: Characters that make the shell do something (in any word, quoted or not: a false alarm only
#: means the line runs through the shell, as before). Quotes themselves are fine: shlex removes
#: them as the shell would, once `$`, backquotes and backslashes are excluded.
_ACTIVE = frozenset("|&;<>()$`\\*?[]{}~#!\n")

#: dash's builtins and the shell's reserved words: found on PATH or not, the shell would not run
#: the program of that name (`cd`, `exit`), or would run its own version (`echo -e` differs).
_SHELL_WORDS = frozenset({
    ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval", "exec", "exit",
    "export", "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read", "readonly",
    "return", "set", "shift", "source", "test", "times", "trap", "true", "type", "ulimit", "umask", "unalias",
    "unset", "wait",
    "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then", "until",
    "while",
})


def direct_argv(line: str, environ: Mapping[str, str]) -> list[str] | None:
    """The argv to execute `line` without a shell, or None when it needs one.

    `environ` is the environment the command will get: its PATH is where the program is looked up.
    """
    if not line.strip() or _ACTIVE.intersection(line):
        return None
    try:
        words = shlex.split(line)
    except ValueError:  # unbalanced quotes: the shell reports that its own way
        return None
    program = words[0]
    if "=" in program or "/" in program or program in _SHELL_WORDS:
        return None
    if shutil.which(program, path=environ.get("PATH")) is None:
        return None  # "not found" stays the shell's answer (exit 127 and its message)
    return words


def shell_argv(line: str) -> list[str]:
    return [SHELL, "-c", line]
