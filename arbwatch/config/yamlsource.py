"""The config file as YAML values that know their line and path, with ``${VAR}`` filled in.

`read_yaml` turns the text into `ScalarValue`, `ListValue` and `MapValue` nodes; every
node carries the line it starts on and its path (``rules[1].min_ev``), so that every
problem can be reported as ``FILE:LINE: PATH: why`` (`Problems`).

Scalars follow YAML 1.2's core schema rather than PyYAML's YAML 1.1 defaults: only
``true``/``false`` are booleans (a book or team called ``No`` stays text), ``23:00`` is
text rather than the base-60 number 1380, dates stay text, and so does a number with a
leading zero (``007``, which PyYAML would read as octal).

Reading is bounded: an alias is expanded where it is used (``*books`` stands for the whole
list it names), so a few lines of aliases of aliases would stand for billions of values;
the values built from one file are capped at `MAX_VALUES`, and nesting too deep for the
reader is an error rather than a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import yaml

#: What a scalar holds once read.
Scalar = str | int | float | bool | None

#: A name in ``${NAME}``: what a shell would accept as a variable name.
_VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: ``$$`` (a literal ``$``) or ``${...`` (a reference, closed or not); any other ``$`` is
#: kept as it is, so ``currency: "$"`` needs no escaping.
_REFERENCE: Final = re.compile(r"\$\$|\$\{(?P<name>[^}]*)(?P<close>\}?)")
#: The most values (scalars, lists and mappings) one file may hold once its aliases are
#: expanded. A large real config (dozens of feeds and rules, thousands of aliases) holds
#: tens of thousands; a file of nested aliases would otherwise grow without end.
MAX_VALUES: Final = 100_000
#: A key that can stand in a dotted path as it is.
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True, eq=False)
class Value:
    """A node of the config file.

    Attributes:
        line: the 1-based line it starts on.
        path: where it sits (``rules[1].min_ev``); empty for the whole document.
    """

    line: int
    path: str


@dataclass(frozen=True, slots=True, eq=False)
class ScalarValue(Value):
    """A single value.

    Attributes:
        data: the value (text after ``${VAR}`` substitution, a number, a bool or None).
        text: the scalar's text after substitution; odds need it (``+400`` reads as 400).
        written: the scalar's text as written in the file. Messages quote this and never
            ``text``, so a value taken from the environment is never shown.
        flawed: a ``${VAR}`` in it could not be filled in; that was reported, and the
            value is not checked further (it would only fail again).
    """

    data: Scalar
    text: str
    written: str
    flawed: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class ListValue(Value):
    """A YAML sequence."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True, eq=False)
class MapValue(Value):
    """A YAML mapping; keys are text, in file order.

    Attributes:
        entries: key -> value.
        key_lines: key -> the line the key is on (an unknown key is reported there).
    """

    entries: Mapping[str, Value]
    key_lines: Mapping[str, int]


class Problems:
    """The mistakes found in one config file, each as ``FILE:LINE: PATH: why``."""

    def __init__(self, source_name: str, *, ignore: Callable[[str], bool] | None = None) -> None:
        """Collect problems for the file called ``source_name`` in messages.

        A problem at a path ``ignore`` accepts is not recorded: a command that does not
        use that part of the config does not stop for it.
        """
        self.source_name = source_name
        self._ignore = ignore
        self._found: list[tuple[int, str]] = []

    def add(self, line: int, path: str, why: str) -> None:
        """Record one problem at ``line`` and ``path`` (an empty path: the whole file)."""
        if self._ignore is not None and self._ignore(path):
            return
        where = f"{path}: " if path else ""
        self._found.append((line, f"{self.source_name}:{line}: {where}{why}"))

    def at(self, value: Value, why: str) -> None:
        """Record a problem with ``value``, at its own line."""
        self.add(value.line, value.path, why)

    def __len__(self) -> int:
        """How many problems were found so far."""
        return len(self._found)

    def messages(self) -> list[str]:
        """Every problem, in the order of the file's lines."""
        return [message for _, message in sorted(self._found, key=lambda found: found[0])]


def child_path(path: str, key: str) -> str:
    """The path of ``key`` in the mapping at ``path``: ``alerts.queue_size``, ``aliases["LA"]``."""
    if not _PLAIN_KEY.fullmatch(key):
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars (see the module docstring)."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012 - PyYAML's class-level registry


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is where the reader gave up."""

    def __init__(self, line: int, why: str) -> None:
        """Keep the line and the reader's own explanation."""
        super().__init__(why)
        self.line = line
        self.why = why


def read_yaml(text: str, env: Mapping[str, str], problems: Problems) -> Value:
    """Read ``text`` into located values, substituting ``${VAR}`` from ``env``.

    An empty document reads as an empty mapping. Problems that leave the document readable
    (an unset variable, a duplicate key, an unknown tag) go to ``problems``.

    Raises:
        YamlSyntaxError: the text is not YAML, holds more than one document, nests too
            deep, has an alias inside the collection it names (which would never end), or
            holds more than `MAX_VALUES` values once its aliases are expanded.
    """
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        why = f"character #x{error.character:04x}: {error.reason}"
        raise YamlSyntaxError(line, why) from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        why = ", ".join(part for part in (error.context, error.problem) if part)
        raise YamlSyntaxError(line, why) from None
    except RecursionError:
        # PyYAML reads nested collections recursively: thousands of [[[[ exhaust the stack.
        raise YamlSyntaxError(loader.get_mark().line + 1, _TOO_DEEP) from None
    finally:
        loader.dispose()
    if root is None:
        return MapValue(line=1, path="", entries={}, key_lines={})
    try:
        return _Builder(loader, env, problems).build(root, "")
    except RecursionError:
        raise YamlSyntaxError(root.start_mark.line + 1, _TOO_DEEP) from None


#: Why a document nested too deep for the reader's recursion is refused.
_TOO_DEEP: Final = "lists and mappings nested too deep to read"


class _Builder:
    """Turns PyYAML nodes into located values."""

    def __init__(self, loader: _Loader, env: Mapping[str, str], problems: Problems) -> None:
        self._loader = loader
        self._env = env
        self._problems = problems
        # The collections being built, by id: an alias back to one of them is a loop.
        self._open: set[int] = set()
        # Values left to build before the file is refused (see MAX_VALUES).
        self._budget = MAX_VALUES

    def build(self, node: yaml.Node, path: str) -> Value:
        """The value of ``node``, which sits at ``path``."""
        line = node.start_mark.line + 1
        self._budget -= 1
        if self._budget < 0:
            raise YamlSyntaxError(
                line,
                f"more than {MAX_VALUES:,} values once aliases are expanded (aliases of "
                "aliases multiply); write the values out or use fewer aliases",
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            raise YamlSyntaxError(line, "an alias refers to a collection that contains it")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = tuple(
                    self.build(item, f"{path}[{index}]") for index, item in enumerate(node.value)
                )
                return ListValue(line=line, path=path, items=items)
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.Node, path: str) -> MapValue:
        """A mapping whose keys are text and appear once each."""
        entries: dict[str, Value] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self._problems.add(line, path, "a key must be text, not a list or mapping")
                continue
            key = key_node.value
            if key in entries:
                self._problems.add(
                    line, child_path(path, key), f"duplicate key (first at line {key_lines[key]})"
                )
                continue
            key_lines[key] = line
            entries[key] = self.build(value_node, child_path(path, key))
        return MapValue(
            line=node.start_mark.line + 1, path=path, entries=entries, key_lines=key_lines
        )

    def _scalar(self, node: yaml.ScalarNode, path: str) -> ScalarValue:
        """A scalar, with ``${VAR}`` substituted in text."""
        line = node.start_mark.line + 1
        data = self._construct(node, line, path)
        if not isinstance(data, str):
            return ScalarValue(line=line, path=path, data=data, text=node.value, written=node.value)
        text, missing = substitute(data, self._env)
        for why in missing:
            self._problems.add(line, path, why)
        if text != data and node.style is None and not missing:
            # An unquoted ${BANKROLL} becomes what its value would be if written there: 1000
            # is a number, as `bankroll: 1000` would be.
            tag = self._loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            data = self._construct(yaml.ScalarNode(tag, text), line, path)
        elif text != data:
            data = text
        return ScalarValue(
            line=line, path=path, data=data, text=text, written=node.value, flawed=bool(missing)
        )

    def _construct(self, node: yaml.ScalarNode, line: int, path: str) -> Scalar:
        """The Python value of a scalar node; an unsupported tag is a problem, read as text."""
        try:
            data: object = self._loader.construct_object(node)
        except yaml.constructor.ConstructorError:
            self._problems.add(line, path, f"unsupported YAML tag {_short_tag(node.tag)}")
            return str(node.value)
        if data is None or isinstance(data, str | int | float | bool):
            return data
        self._problems.add(line, path, f"unsupported YAML tag {_short_tag(node.tag)}")
        return str(node.value)


def _short_tag(tag: str) -> str:
    """A tag as written: ``tag:yaml.org,2002:binary`` was written ``!!binary``."""
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with each ``${NAME}`` replaced from ``env`` and ``$$`` made ``$``.

    Returns:
        The new text and what went wrong (unset or malformed references). The messages
        never quote ``text``: it may hold a secret written straight into the file.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        name = match.group("name")
        if not match.group("close"):
            missing.append("an unclosed ${ (write $$ for a literal $)")
        elif not _VARIABLE.fullmatch(name):
            missing.append(f"${{{name}}} is not a variable name (letters, digits and _)")
        elif name not in env:
            missing.append(f"environment variable {name} is not set")
        else:
            return env[name]
        return ""

    return _REFERENCE.sub(replace, text), missing
