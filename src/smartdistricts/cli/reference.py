"""The command-line reference (``docs/cli.md``), generated from the commands' own help.

``render_reference()`` walks the ``smartdistricts`` click group and every group and command below
it, and renders one Markdown section per command path: a heading, the command's help text, and its
usage and options as click prints them for ``--help``. The help is formatted at a fixed width, so
the result does not depend on the terminal it is generated in. ``make docs`` writes the file and a
test checks that the committed file equals the output, so the reference cannot drift from the code.

Run ``python -m smartdistricts.cli.reference docs/cli.md`` to write the file (without an argument
it prints the text).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from smartdistricts.cli.main import cli

__all__ = ["WIDTH", "main", "render_reference"]

#: Width [characters] the help blocks are formatted to, whatever the terminal.
WIDTH = 100

_PREAMBLE = """\
# Command-line reference

<!-- Generated from the commands' --help by `make docs` (smartdistricts.cli.reference).
     Do not edit by hand: a test compares this file with the generated text. -->

Every command is `smartdistricts [GLOBAL OPTIONS] COMMAND [ARGS]…`. The global options (`--db`,
`-v`) go *before* the command name, e.g. `smartdistricts --db sqlite:///var/town.db devices list`.
Settings also come from `SMARTDISTRICTS_*` environment variables; see
[operations.md](operations.md#settings). `python -m smartdistricts` is the same program.
"""


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """A help context for ``command`` with the width fixed (no parsing, no callbacks)."""
    settings = {
        **command.context_settings,
        "terminal_width": WIDTH,
        "max_content_width": WIDTH,
    }
    return click.Context(command, info_name=name, parent=parent, **settings)


def _walk(
    command: click.Command, name: str, parent: click.Context | None
) -> Iterator[tuple[click.Context, click.Command]]:
    """Every command below (and including) ``command``, depth first, subcommands sorted."""
    ctx = _context(command, name, parent)
    yield ctx, command
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, sub_name, ctx)


def _help_text(command: click.Command) -> str:
    """The command's help as Markdown (click's ``\\f`` cut-off and ``\\b`` markers honoured)."""
    text = inspect.cleandoc(command.help or "")
    text = text.split("\f", 1)[0]
    lines = [line for line in text.splitlines() if line.strip() != "\b"]
    return "\n".join(lines).strip()


def _usage_and_options(ctx: click.Context, command: click.Command) -> str:
    formatter = ctx.make_formatter()
    command.format_usage(ctx, formatter)
    command.format_options(ctx, formatter)
    return formatter.getvalue().rstrip()


def _anchor(path: str) -> str:
    return path.lower().replace(" ", "-")


def render_reference(root: click.Command | None = None) -> str:
    """The Markdown of ``docs/cli.md`` (deterministic: fixed width, sorted commands)."""
    entries = list(_walk(root or cli, "smartdistricts", None))
    out = [_PREAMBLE, "## Commands\n"]
    for ctx, command in entries[1:]:
        path = ctx.command_path
        summary = command.get_short_help_str(limit=WIDTH)
        out.append(f"{'  ' * (path.count(' ') - 1)}- [{path}](#{_anchor(path)}) — {summary}")
    out.append("")
    for ctx, command in entries:
        path = ctx.command_path
        out.append(f"{'##' if path.count(' ') <= 1 else '###'} {path}\n")
        help_text = _help_text(command)
        if help_text:
            out.append(help_text + "\n")
        out.append("```text")
        out.append(_usage_and_options(ctx, command))
        out.append("```\n")
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Write the reference to the file named in ``argv`` (or print it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_reference()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
