"""The README and the pages of docs/ stay true: every relative link (and #anchor) resolves, every
`crboost` command in a fenced block parses with crboost's own argument parser (and every option
of one in running text is an option of its command), the `snakemake --profile` and `python`
lines name what exists, the README stays a front door (short, CI's two commands behind their
markers, a link to every page) and every page is linked from somewhere. Nothing is run."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from crboost.cli import build_parser, cmd_demo, cmd_driver, cmd_run
from crboost.running.driver import driver_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MAX_README_LINES = 120
MARKERS = {"demo command": "python3 -m pip install -e", "test command": "python3 -m pytest"}
FRONT_DOOR_BLOCKS = {"Your own data": 5, "On a cluster": 5}  # at most this many lines each

FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w-]*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SHELL = {"bash", "sh", "shell", "console"}  # other blocks: only `$ ` lines are commands
OPERATORS = {"&&", "||", ";", "|", "&"}
NOT_OURS = {"build", "dist", "venv", "node_modules", "__pycache__"}  # folders of other Markdown
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


# --- reading Markdown ---------------------------------------------------------------------------


def split_page(text: str) -> tuple[str, list[tuple[str, int, list[str]]]]:
    """The prose (fenced blocks blanked, line numbers kept) and the fenced blocks as (language,
    first line number, lines)."""
    prose: list[str] = []
    blocks: list[tuple[str, int, list[str]]] = []
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            blocks.append((match.group(2).lower(), number + 1, []))
            prose.append("")
        elif (
            fence is not None
            and set(line.strip()) == {fence[0]}
            and len(line.strip()) >= len(fence)
        ):
            fence = None  # a closing fence: the same character, at least as many
            prose.append("")
        elif fence is not None:
            blocks[-1][2].append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def code_spans(prose: str) -> list[tuple[int, str]]:
    return [(prose.count("\n", 0, m.start()) + 1, m.group(2)) for m in CODE_SPAN.finditer(prose)]


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link outside code."""
    prose, _ = split_page(text)
    prose = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), prose)
    return [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in LINK.finditer(prose)]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of the page's headings."""
    prose, _ = split_page(path.read_text())
    seen: dict[str, int] = {}
    for line in prose.splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(2).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def local_target(page: Path, target: str) -> tuple[Path, str] | None:
    """The file and anchor a relative link points at; None for an external one."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
        return None
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


def link_errors(page: Path) -> list[str]:
    errors = []
    for line, target in links(page.read_text()):
        resolved = local_target(page, target)
        if resolved is None:
            continue
        path, anchor = resolved
        if not path.exists():
            errors.append(f"{page.name}:{line}: {target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            errors.append(f"{page.name}:{line}: {target}: no heading #{anchor} in {path.name}")
    return errors


def linked_pages(page: Path) -> set[Path]:
    """The existing Markdown pages this page links to."""
    found = set()
    for _, target in links(page.read_text()):
        resolved = local_target(page, target)
        if resolved and resolved[0].suffix == ".md" and resolved[0].is_file():
            found.add(resolved[0])
    return found - {page}


def pages() -> list[Path]:
    """README.md, docs/*.md and every Markdown page they link to, and so on."""
    todo = [README, *sorted(DOCS.glob("*.md"))]
    seen: list[Path] = []
    while todo:
        page = todo.pop(0).resolve()
        if page not in seen:
            seen.append(page)
            todo += sorted(linked_pages(page))
    return seen


# --- commands -----------------------------------------------------------------------------------


def shell_lines(language: str, lines: list[str]) -> list[str]:
    """The command lines of a fenced block: continuations joined; in a block that is not a shell
    script, only the lines after a `$ ` prompt."""
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        else:
            joined.append(line.strip())
    out = []
    for line in joined:
        if line.startswith("$ "):
            out.append(line[2:])
        elif language in SHELL and language != "console":
            out.append(line)
    return out


def simple_commands(line: str) -> list[list[str]]:
    """A shell line's commands (comments dropped, split at && || ; |), leading VAR=value gone."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in OPERATORS:
            commands.append([])
        elif commands[-1] or not re.fullmatch(r"[A-Za-z_]\w*=.*", token):
            commands[-1].append(token)
    return [c for c in commands if c]


def parse_quietly(parser, args: list[str]):
    """(namespace, None) or (None, the parser's error line)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(args), None
    except SystemExit as e:
        said = err.getvalue().strip().splitlines() or [f"exit status {e.code}"]
        return None, said[-1] if e.code else None


@cache
def snakemake_parser():
    from snakemake.cli import get_argument_parser

    return get_argument_parser()


def crboost_errors(args: list[str]) -> list[str]:
    """A crboost command line parsed as `crboost` parses it; what follows -- as Snakemake does."""
    argv, extra = (
        (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
    )
    ns, error = parse_quietly(build_parser(), argv)
    if error or ns is None:
        return [error] if error else []
    if not hasattr(ns, "func"):
        return ["no command"]
    if inexact := crboost_option_errors(["crboost", *argv]):  # argparse takes `--prof` too
        return inexact
    if ns.func in (cmd_run, cmd_demo) and extra:
        _, error = parse_quietly(snakemake_parser(), extra)
        return [f"after --, snakemake says: {error}"] if error else []
    if ns.func is cmd_driver:
        if not (REPO / "drivers" / f"{ns.job_type}.py").is_file():
            return [f"driver {ns.job_type}: no drivers/{ns.job_type}.py"]
        _, error = parse_quietly(driver_parser(), ns.driver_args)
        return [f"driver {ns.job_type}: {error}"] if error else []
    return []


@cache
def subcommands() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    return action.choices


def crboost_option_errors(words: list[str]) -> list[str]:
    """For a command in running text (a synopsis, placeholders): its command exists and every
    option it names is one of that command's."""
    if "--" in words:
        words = words[: words.index("--")]
    if len(words) < 2 or words[1].endswith(":"):  # `crboost progress:` is output, not a command
        return []
    errors = []
    for name in re.split(r"[|/]", words[1]):  # `crboost exclude|include`, `exclude/include`
        sub = subcommands().get(name)
        if sub is None:
            errors.append(f"crboost {name}: no such command")
            continue
        rest = words[2:]
        if name == "driver":
            sub, rest = driver_parser(), rest[1:]
        for option in OPTION.findall(" ".join(rest)):
            if option not in sub._option_string_actions:
                errors.append(f"crboost {name}: no option {option}")
    return errors


@cache
def script_options(script: Path) -> frozenset[str]:
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"{script} --help failed:\n{proc.stderr[-2000:]}"
    return frozenset(re.findall(r"--[\w-]+", proc.stdout))


def command_errors(words: list[str], full: bool) -> list[str]:
    """What is wrong with one command. full: a real command line (crboost parses it whole);
    otherwise running text, where only the command and its options are checked."""
    program, args = Path(words[0]).name, words[1:]
    if program == "crboost":
        return crboost_errors(args) if full else crboost_option_errors(words)
    if program == "snakemake":
        profiles = [b for a, b in zip(args, args[1:], strict=False) if a == "--profile"]
        errors = [f"snakemake --profile {p}: no such profile" for p in profiles
                  if not (REPO / p).is_dir()]  # fmt: skip
        if full:
            _, error = parse_quietly(snakemake_parser(), args)
            errors += [f"snakemake: {error}"] if error else []
        return errors
    if program in ("python", "python3") and args:
        if args[0] == "-m" and len(args) > 1:
            if args[1] == "crboost.cli":
                return command_errors(["crboost", *args[2:]], full)
            if importlib.util.find_spec(args[1]) is None:
                return [f"python -m {args[1]}: no such module"]
        elif args[0].endswith(".py"):
            script = REPO / args[0]
            if not script.is_file():
                return [f"{args[0]}: no such script"]
            known = script_options(script)
            return [f"{args[0]}: no option {o}" for o in OPTION.findall(" ".join(args[1:]))
                    if o.startswith("--") and o not in known]  # fmt: skip
    return []


def page_command_errors(page: Path) -> list[str]:
    text = page.read_text()
    prose, blocks = split_page(text)
    errors = []
    for language, first, lines in blocks:
        for line in shell_lines(language, lines):
            for words in simple_commands(line):
                errors += [f"{page.name}, block at line {first}: {line}: {e}"
                           for e in command_errors(words, full=True)]  # fmt: skip
    for line, span in code_spans(prose):
        words = span.split()
        if words and Path(words[0]).name in ("crboost", "snakemake", "python", "python3"):
            errors += [f"{page.name}:{line}: `{span}`: {e}" for e in command_errors(words, False)]
    return errors


# --- the tests ----------------------------------------------------------------------------------


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_link_resolves(page):
    errors = link_errors(page)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_command_parses(page):
    errors = page_command_errors(page)
    assert not errors, "\n".join(errors)


def readme_command(marker: str) -> str | None:
    """The first line of the fenced block after the marker comment, as .ci/run reads it."""
    found = inblock = False
    for line in README.read_text().splitlines():
        if line == f"<!-- readme: {marker} -->":
            found = True
        elif found and line.startswith("```"):
            if inblock:
                return None
            inblock = True
        elif inblock:
            return line
    return None


def section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no section '## {heading}'"
    return match.group(1)


def test_readme_is_a_front_door():
    text = README.read_text()
    lines = len(text.splitlines())
    assert lines < MAX_README_LINES, f"README.md has {lines} lines: move the detail to docs/"
    for marker, start in MARKERS.items():
        command = readme_command(marker)
        assert command and command.startswith(start), f"{marker}: {command!r}"
    demo = readme_command("demo command")
    assert "crboost demo /tmp/crboost-demo" in demo, ".ci/run puts its own folder there"
    for heading, most in FRONT_DOOR_BLOCKS.items():
        _, blocks = split_page(section(text, heading))
        assert blocks and len(blocks[0][2]) <= most, f"'{heading}': keep it to {most} lines"
    linked = linked_pages(README)
    missing = [page_id(p) for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_every_page_is_linked():
    """Every docs page is linked from the README or another page; and every other Markdown file of
    the repository is reached from the README."""
    everywhere = [p.resolve() for p in REPO.rglob("*.md")
                  if not any(part.startswith(".") or part.endswith(".egg-info") or part in NOT_OURS
                             for part in p.relative_to(REPO).parts)]  # fmt: skip
    linked = set().union(*(linked_pages(p) for p in everywhere))
    orphans = [page_id(p) for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not orphans, f"no page links {orphans}"
    reached = set(pages())
    unreached = [page_id(p) for p in everywhere if p not in reached]
    assert not unreached, f"not reached from README.md: {unreached}"


def test_the_checks_find_a_broken_link_and_a_misspelt_option(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md#a-heading) [gone](nowhere.md) [anchor](there.md#no-such-heading)\n"
        "`[not a link](nowhere.md)` `crboost status --jsn` `crboost inspekt MDOC`\n"
        "```bash\n"
        "crboost run PROJECT --profle slurm   # misspelt\n"
        "crboost run PROJECT -- -n            # fine: Snakemake's\n"
        "crboost run PROJECT -- --dry-rn\n"
        "crboost run PROJECT --verb\n"
        "crboost driver tsCtf --ts TS_01 --print-comands\n"
        "crboost driver noSuchType --ts TS_01\n"
        "snakemake --profile profiles/nowhere --configfile PROJECT/crboost.yaml\n"
        "python3 bench/run.py --quikc\n"
        "```\n"
        "```text\n$ crboost demo /tmp/x --tilt-series many\nnot a command: crboost --nope\n```\n"
    )
    assert link_errors(page) == [
        "page.md:1: nowhere.md: no such file",
        "page.md:1: there.md#no-such-heading: no heading #no-such-heading in there.md",
    ]
    found = page_command_errors(page)
    errors = "\n".join(found)
    wrong = ["--profle", "--dry-rn", "no option --verb", "--print-comands", "noSuchType",
             "profiles/nowhere", "--quikc", "--tilt-series", "no option --jsn",
             "crboost inspekt: no such command"]  # fmt: skip
    for mistake in wrong:
        assert mistake in errors, f"{mistake} not found in:\n{errors}"
    assert len(found) == len(wrong), errors
