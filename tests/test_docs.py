"""The documentation cannot drift from the code.

* ``docs/cli.md`` is the generated CLI reference, byte for byte;
* every setting, variable, unit, flag, source and route is documented (with its default, limits,
  bit or method);
* the README's Quick start is ``make run`` and ``make test``, and the make targets exist;
* relative links (and their ``#anchors``) resolve;
* every ``smartdistricts …`` command line in a code block names a real command path and real
  options, and the README's tour runs against a fresh database;
* the request and answers shown in ``docs/api.md`` are what a running server sends.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import orjson
import pytest
from click.testing import CliRunner

from smartdistricts.api.app import create_app
from smartdistricts.cli.main import cli
from smartdistricts.cli.reference import render_reference
from smartdistricts.config import Settings
from smartdistricts.nomenclature import EXCLUDED_FROM_MEANS, VARIABLES, Flag
from smartdistricts.services import registry
from smartdistricts.services.security import hash_secret
from smartdistricts.store import open_store
from smartdistricts.store.sources import SOURCES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
#: Environment variables the docs may name that are not settings.
OTHER_VARIABLES = {"SMARTDISTRICTS_TEST_PG"}
#: Commands the README tour shows but the test cannot run to completion (they serve forever).
LONG_RUNNING = {"serve", "mqtt", "simulate"}


# -- reading Markdown ------------------------------------------------------------------------
def markdown_files() -> list[Path]:
    return [README, ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


_FENCE = re.compile(r"^\s*(```|~~~)")


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown text."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """Cells of every Markdown table row outside code blocks (header rows included)."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in outside_code_blocks(text).splitlines()
        if line.lstrip().startswith("|")
    ]
    return [row for row in rows if not all(re.fullmatch(r":?-+:?", cell) for cell in row)]


def outside_code_blocks(text: str) -> str:
    """The text without its fenced code blocks."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
        elif not inside:
            out.append(line)
    return "\n".join(out)


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    anchors: set[str] = set()
    for line in outside_code_blocks(text).splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


# -- command lines ----------------------------------------------------------------------------
def command_lines(text: str) -> Iterator[list[str]]:
    """Arguments of each ``smartdistricts …`` line in the code blocks (program name dropped)."""
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = line.strip().removeprefix("$ ").split()
            env = 0
            while env < len(words) and re.match(r"^[A-Z_][A-Z0-9_]*=", words[env]):
                env += 1  # VARIABLE=value prefixes
            words = words[env:]
            if not words:
                continue
            # "smartdistricts", ".venv/bin/smartdistricts", "ExecStart=/…/bin/smartdistricts"
            program = words[0].split("=", 1)[-1]
            if program.endswith("/bin/smartdistricts") or words[0] == "smartdistricts":
                start = 1
            elif words[0].startswith("python") and words[1:3] == ["-m", "smartdistricts"]:
                start = 3
            else:
                continue
            tokens = shlex.split(line.strip().removeprefix("$ "), comments=True)
            yield tokens[env + start :]


def _option(command: click.Command, name: str) -> click.Parameter | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def resolve(args: list[str]) -> tuple[str, click.Command]:
    """Walk ``args`` through the click group: command path, options and their values.

    Fails (AssertionError) on an unknown command or option. Positional arguments are skipped,
    not checked.
    """
    command: click.Command = cli
    path = ["smartdistricts"]
    ctx = click.Context(cli)
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            break
        if token.startswith("-") and token != "-":
            name = token.split("=", 1)[0]
            if name in ("-h", "--help"):
                i += 1
                continue
            option = _option(command, name)
            if option is None and not name.startswith("--") and len(name) > 2:
                # Short options stuck together (-vv) or a short option with its value (-ofile).
                option = _option(command, name[:2])
                assert option is not None, f"{' '.join(path)}: no option {name!r}"
                i += 1
                continue
            assert option is not None, f"{' '.join(path)}: no option {name!r}"
            takes_value = isinstance(option, click.Option) and not (option.is_flag or option.count)
            i += 2 if takes_value and "=" not in token else 1
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(ctx, token)
            assert sub is not None, f"{' '.join(path)}: no command {token!r}"
            command = sub
            path.append(token)
        i += 1  # a subcommand, or a positional argument of the final command
    return " ".join(path), command


def all_command_lines() -> list[tuple[Path, list[str]]]:
    return [(path, args) for path in markdown_files() for args in command_lines(read(path))]


# -- (a) the CLI reference --------------------------------------------------------------------
def test_cli_reference_is_generated_from_the_help() -> None:
    assert read(DOCS / "cli.md") == render_reference(), (
        "docs/cli.md is out of date with the commands' --help: run `make docs`"
    )


def test_cli_reference_lists_every_command() -> None:
    def paths(command: click.Command, prefix: str) -> Iterator[str]:
        yield prefix
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from paths(sub, f"{prefix} {name}")

    text = read(DOCS / "cli.md")
    for path in paths(cli, "smartdistricts"):
        assert re.search(rf"^#+ {re.escape(path)}$", text, re.M), f"{path} missing in cli.md"


def test_cli_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render_reference()
    monkeypatch.setenv("COLUMNS", "250")
    assert render_reference() == narrow


# -- (b) settings ----------------------------------------------------------------------------
def _default_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_every_setting_is_documented_with_its_variable_and_default() -> None:
    rows = {row[0]: row for row in table_rows(read(DOCS / "operations.md")) if len(row) >= 3}
    defaults = Settings()
    for name in Settings.names():
        variable = f"SMARTDISTRICTS_{name.upper()}"
        row = rows.get(f"`{variable}`")
        assert row is not None, f"setting {name}: no row for {variable} in docs/operations.md"
        default = getattr(defaults, name)
        expected = "*(empty)*" if default == "" else f"`{_default_text(default)}`"
        assert row[1] == expected, f"{variable}: documented default {row[1]}, code has {expected}"
        assert row[2], f"{variable}: no meaning given"


def test_docs_name_only_real_settings() -> None:
    known = {f"SMARTDISTRICTS_{n.upper()}" for n in Settings.names()} | OTHER_VARIABLES
    for path in markdown_files():
        for found in re.findall(r"SMARTDISTRICTS_[A-Z0-9_]+", read(path)):
            assert found in known, f"{path.name} names {found}, which is not a setting"


# -- (c) nomenclature --------------------------------------------------------------------------
def _number(x: float) -> str:
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:g}"


def _range(low: float, high: float) -> str:
    if math.isinf(low) and math.isinf(high):
        return "—"
    return f"{_number(low)} … {_number(high)}"


def test_every_variable_is_documented_with_unit_and_limits() -> None:
    text = read(DOCS / "nomenclature.md")
    rows = {row[1]: row for row in table_rows(text) if len(row) == 8}
    for v in VARIABLES:
        row = rows.get(f"`{v.name}`")
        assert row is not None, f"variable {v.name} missing in docs/nomenclature.md"
        expected = [
            str(v.id),
            f"`{v.name}`",
            v.unit,
            "yes" if v.canonical else "",
            _range(v.hard_min, v.hard_max),
            _range(v.soft_min, v.soft_max),
            v.label_en,
            v.label_pl,
        ]
        assert row == expected, f"{v.name}: documented {row}, code has {expected}"
    documented = {row[1] for row in rows.values()} - {"Name"}
    assert documented == {f"`{v.name}`" for v in VARIABLES}, "nomenclature.md lists extra rows"


def test_every_flag_is_documented_with_its_bit_and_mean_rule() -> None:
    rows = {row[1]: row for row in table_rows(read(DOCS / "nomenclature.md")) if len(row) == 4}
    for flag in Flag:
        assert flag.name is not None
        row = rows.get(f"`{flag.name}`")
        assert row is not None, f"flag {flag.name} missing in docs/nomenclature.md"
        assert row[0] == str(int(flag)), f"{flag.name}: documented bit {row[0]}"
        excluded = bool(int(flag) & EXCLUDED_FROM_MEANS)
        assert ("excluded" in row[3]) is excluded, f"{flag.name}: mean rule is wrong"


def test_every_source_is_documented() -> None:
    rows = {row[1]: row for row in table_rows(read(DOCS / "nomenclature.md")) if len(row) == 3}
    for name, sid in SOURCES.items():
        row = rows.get(f"`{name}`")
        assert row is not None, f"source {name} missing in docs/nomenclature.md"
        assert row[0] == str(sid), f"source {name}: documented id {row[0]}, code has {sid}"


# -- (d) routes -------------------------------------------------------------------------------
def app_routes(app: Any) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, those of included routers too (FastAPI ≥ 0.165 keeps
    them behind ``_IncludedRouter`` objects that have no path of their own)."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                yield ctx.path, set(ctx.methods or ())
            continue
        path = getattr(route, "path", None)
        assert path is not None, f"route without a path: {route!r}"
        yield path, set(getattr(route, "methods", None) or ())


def test_every_route_is_documented() -> None:
    text = read(DOCS / "api.md")
    app = create_app(Settings())
    paths = []
    for path, methods in app_routes(app):
        paths.append(path)
        for method in sorted(methods - {"HEAD"}):
            assert f"`{method} {path}`" in text, f"`{method} {path}` missing in docs/api.md"
        assert path in text
    for path in app.hot:  # routes answered before the router
        assert path in text, f"{path} missing in docs/api.md"
    for prefix, _handler in app.hot_prefixes:
        assert prefix in text
    assert "/api/v1/push/sensor-community" in paths  # the inspection works
    assert "/widget/{installation_id}.json" in paths and "/api/v1/sites/{site_id}/hourly" in paths


# -- (e) Quick start and make targets -----------------------------------------------------------
def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", read(MAKEFILE), re.M))


def test_quick_start_is_make_run_and_make_test() -> None:
    blocks = code_blocks(section(read(README), "Quick start"))
    assert blocks, "the Quick start has no code block"
    lines = [line.strip() for line in blocks[0].splitlines() if line.strip()]
    assert lines == ["make run", "make test"]
    assert {"run", "test"} <= make_targets()


def test_documented_make_targets_exist() -> None:
    targets = make_targets()
    for path in markdown_files():
        text = read(path)
        shown = re.findall(r"`make ([a-z][\w-]*)`", text)
        for block in code_blocks(text):
            shown += re.findall(r"^\s*make ([a-z][\w-]*)", block, re.M)
        for target in shown:
            assert target in targets, f"{path.name} shows `make {target}`; no such target"


# -- (f) links -----------------------------------------------------------------------------------
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.M)


def test_relative_links_resolve() -> None:
    checked = 0
    for path in markdown_files():
        for match in _LINK.finditer(outside_code_blocks(read(path))):
            target = match.group(1) or match.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            assert resolved.exists(), f"{path.name}: link to missing {target}"
            if anchor and resolved.suffix == ".md":
                anchors = github_anchors(read(resolved))
                assert anchor in anchors, f"{path.name}: no heading for #{anchor} in {target}"
            checked += 1
    assert checked > 20


# -- (g) command lines -----------------------------------------------------------------------------
def test_command_lines_in_the_docs_name_real_commands_and_options() -> None:
    found = all_command_lines()
    assert len(found) >= 10, "the command-line parser finds too few commands"
    for path, args in found:
        try:
            command_path, command = resolve(args)
        except AssertionError as exc:
            raise AssertionError(f"{path.name}: `smartdistricts {' '.join(args)}`: {exc}") from None
        runs = not isinstance(command, click.Group) or command.invoke_without_command
        assert runs or "-h" in args or "--help" in args, (
            f"{path.name}: `smartdistricts {' '.join(args)}` stops at group {command_path}"
        )


def test_resolve_catches_unknown_commands_and_options() -> None:
    assert resolve(["--db", "sqlite:///x.db", "devices", "add", "esp8266-1"])[0] == (
        "smartdistricts devices add"
    )
    assert resolve(["-vv", "serve", "--port", "8000"])[0] == "smartdistricts serve"
    with pytest.raises(AssertionError, match="no command"):
        resolve(["devices", "frobnicate"])
    with pytest.raises(AssertionError, match="no option"):
        resolve(["demo", "--db", "sqlite:///x.db"])


def test_readme_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of the tour, in order, against a fresh database (servers skipped)."""
    tour = section(read(README), "A 5-minute tour")
    commands = [args for args in command_lines(tour) if not set(args) & LONG_RUNNING]
    assert len(commands) >= 4
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    env = {"SMARTDISTRICTS_DB": f"sqlite:///{tmp_path}/tour.db"}
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(cli, args, env=env, prog_name="smartdistricts")
        assert result.exit_code == 0, (
            f"`smartdistricts {' '.join(args)}` failed ({result.exit_code}):\n{result.output}"
        )


def test_make_run_recipe_uses_real_commands() -> None:
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", read(MAKEFILE), re.M)
    assert recipe
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    invocations = [shlex.split(line)[1:] for line in lines if "smartdistricts " in line]
    assert invocations
    for args in invocations:
        resolve(args)


# -- the API examples are real answers ------------------------------------------------------------
def documented_json(text: str) -> list[Any]:
    """Every JSON value written on one line of a ``json`` code block."""
    values = []
    for block in re.findall(r"^```json\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            if line.startswith("{"):  # one value per line, not inside an array
                values.append(orjson.loads(line))
    return values


def documented_request(text: str) -> tuple[str, dict[str, str], bytes]:
    """Path, headers and body of the ``http`` code block."""
    block = re.search(r"^```http\n(.*?)^```", text, re.M | re.S)
    assert block, "docs/api.md shows no HTTP request"
    head, _, body = block.group(1).partition("\n\n")
    request_line, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    headers.pop("Host")
    return request_line.split()[1], headers, body.strip().encode()


def test_api_examples_are_real_answers(live_server: Any) -> None:
    text = read(DOCS / "api.md")
    documented = documented_json(text)
    path, headers, body = documented_request(text)
    uid = headers["X-Sensor"]
    with open_store(live_server.db) as store:
        registry.add_device(store, uid)
        store.write(  # the password the example's Basic header carries
            lambda tx: tx.execute(
                "UPDATE devices SET secret_hash = ? WHERE uid = ?", (hash_secret("secret"), uid)
            )
        )
        _key, api_key = registry.add_api_key(store, "docs", scopes={"write"})
    live_server.start()
    try:
        check_api_examples(live_server.url, documented, path, headers, body, api_key)
    finally:  # the fixture leaves the server's stderr pipe open (a ResourceWarning)
        live_server.stop()
        if live_server.proc.stderr is not None:
            live_server.proc.stderr.close()


def check_api_examples(
    base: str,
    documented: list[Any],
    path: str,
    headers: dict[str, str],
    body: bytes,
    api_key: str,
) -> None:
    errors = [d for d in documented if "error" in d]
    uid = headers["X-Sensor"]

    stored = httpx.post(base + path, content=body, headers=headers)
    assert stored.status_code == 201, stored.text
    example = next(d for d in documented if d.get("status") == "stored")
    assert set(stored.json()) == set(example)
    assert stored.json()["stored"] == example["stored"]
    again = httpx.post(base + path, content=body, headers=headers)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")

    anonymous = {k: v for k, v in headers.items() if k != "Authorization"}
    wrong = httpx.post(base + path, content=body, headers=anonymous, auth=(uid, "wrong"))
    unknown = httpx.post(
        base + path,
        content=b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": "1"}]}',
        headers={"X-Sensor": "esp8266-42"},
    )
    not_a_number = httpx.post(
        base + path,
        content=b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": "abc"}]}',
        headers=headers,
    )
    batch = httpx.post(
        base + "/api/v1/measurements",
        content=b'[{"sensor": 11, "time": "2026-11-27T12:00:00Z", "variable": "pm25", "value": 1},'
        b' {"sensor": 11, "time": "2026-11-27T12:00:00Z", "variable": "pm10", "value": -3}]',
        headers={"Authorization": f"Bearer {api_key}"},
    )
    for response, status in ((wrong, 401), (unknown, 403), (not_a_number, 422), (batch, 422)):
        assert response.status_code == status, response.text
        assert response.json() in errors, f"docs/api.md lacks this answer: {response.text}"

    health = httpx.get(base + "/api/v1/health").json()
    assert set(health) == set(next(d for d in documented if "writer_backlog" in d))
    sites = httpx.get(base + "/index.json").json()
    example_sites = next(d for d in documented if "sites" in d)
    assert set(sites) == set(example_sites)
