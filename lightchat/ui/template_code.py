"""Compiled templates, shared by the Jinja environments of every app in the process.

Each app's ``Renderer`` has its own ``Environment`` (its globals are that app's), and an
environment compiles each template it loads: lexing, parsing, generating and compiling
Python, some milliseconds per template and tens for a page. Every app built in one process
(a test suite, several chats mounted in one host app) would compile the same package
templates again. What a template compiles to depends only on its name, file and source and
on how its environment compiles, never on the environment's globals, so environments that
compile alike can share the code: ``SHARED_TEMPLATE_CODE`` is a Jinja bytecode cache held in
memory that does this.

The package's own templates are also kept on disk once compiled, as Python keeps the
bytecode of modules: next to the templates (``templates/__pycache__``), or under
``sys.pycache_prefix`` when one is set, and never when ``sys.dont_write_bytecode`` is set
(``PYTHONDONTWRITEBYTECODE``). A server's first page then loads them instead of compiling
some twenty templates (about 0.1 s of each start). Only environments whose compiling can be
named the same way in every process are kept there (``_stable_options``): no extensions,
and filters and tests that are module functions or builtins, with plain default values.
A folder that cannot be written is left alone.
"""

from __future__ import annotations

import hashlib
import itertools
import marshal
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import BuiltinFunctionType, CodeType, FunctionType
from typing import Any

from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache, bc_magic

#: The package's templates (the only ones kept on disk).
PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _known_by(function: Any) -> object:
    """What a filter or test is known by when comparing environments.

    A function without captured variables or default arguments is known by its code: a
    lambda made anew for each environment (as ``Renderer`` does) still runs the same code.
    Anything else is known by its identity. Filters and tests matter because Jinja looks
    them up while compiling, and calls them there on constant arguments.
    """
    if (
        type(function) is FunctionType
        and function.__closure__ is None
        and not function.__defaults__
        and not function.__kwdefaults__
    ):
        return function.__code__
    try:
        hash(function)
    except TypeError:  # a callable object that cannot be a key: known by its identity
        return _Identity(function)
    return function


class _Identity:
    """Holds an object (so its id is not reused) and compares by its identity."""

    __slots__ = ("held",)

    def __init__(self, held: object) -> None:
        self.held = held

    def __hash__(self) -> int:
        return id(self.held)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.held is self.held


def _functions(found: Mapping[str, Any]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted((name, _known_by(function)) for name, function in found.items()))


def compile_options(environment: Environment, name: str) -> tuple[object, ...]:
    """Everything of ``environment`` that what ``name`` compiles to depends on.

    Its class (sandboxing, the operators it intercepts, how it folds constants), syntax
    options, extensions, autoescaping as decided for this template, ``finalize``, and the
    filters and tests.
    """
    return (
        type(environment),
        environment.code_generator_class,
        *_syntax(environment),
        # An extension's own settings may change what it parses: never shared.
        tuple(sorted((key, id(value)) for key, value in environment.extensions.items())),
        environment.finalize,
        _escapes(environment, name),
        _functions(environment.filters),
        _functions(environment.tests),
    )


def _syntax(environment: Environment) -> tuple[object, ...]:
    """The plain options (text, flags) of ``environment`` that change what it compiles."""
    return (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.is_async,
    )


def _escapes(environment: Environment, name: str) -> bool:
    """Whether ``environment`` autoescapes the template ``name``."""
    autoescape = environment.autoescape
    return bool(autoescape(name)) if callable(autoescape) else bool(autoescape)


_PLAIN = (str, int, float, bool, type(None))


def _plain(value: object) -> bool:
    """A value whose ``repr`` names it the same way in every process."""
    if isinstance(value, tuple):
        return all(_plain(item) for item in value)
    return isinstance(value, _PLAIN)


def _named(function: object) -> str | None:
    """How a filter or test is named the same way in every process, or None.

    A builtin, or a function its module holds under its name (made when the module was
    imported: the same in every process), by that name; another function that captures
    nothing and has plain default values (a lambda made for an environment), by its code.
    """
    if isinstance(function, BuiltinFunctionType):
        return f"{function.__module__}.{function.__qualname__}"
    if type(function) is not FunctionType:
        return None
    name = f"{function.__module__}.{function.__qualname__}"
    digest = hashlib.sha256(marshal.dumps(function.__code__)).hexdigest()[:16]
    if _module_attribute(function.__module__, function.__qualname__) is function:
        return f"{name}:{digest}"
    defaults = (function.__defaults__, tuple(sorted((function.__kwdefaults__ or {}).items())))
    if function.__closure__ is not None or not _plain(defaults):
        return None
    return f"{name}:{digest}:{defaults!r}"


def _module_attribute(module: str, qualname: str) -> object:
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _stable_options(environment: Environment, name: str) -> str | None:
    """``compile_options`` as text that is the same in every process (for the disk), or
    None when part of it cannot be named so (see the module docstring)."""
    if environment.extensions or environment.finalize is not None:
        return None
    parts: list[str] = []
    for kind in (type(environment), environment.code_generator_class):
        parts.append(f"{kind.__module__}.{kind.__qualname__}")
    parts.extend(repr(option) for option in _syntax(environment))
    parts.append(repr(_escapes(environment, name)))
    for found in (environment.filters, environment.tests):
        for key, function in sorted(found.items()):
            named = _named(function)
            if named is None:
                return None
            parts.append(f"{key}={named}")
    return "\n".join(parts)


def package_cache_dir() -> Path:
    """Where the package's compiled templates are kept: as Python keeps bytecode."""
    prefix = sys.pycache_prefix
    if prefix:
        return Path(prefix) / PACKAGE_TEMPLATES.relative_to(PACKAGE_TEMPLATES.anchor)
    return PACKAGE_TEMPLATES / "__pycache__"


class SharedTemplateCode(BytecodeCache):
    """A Jinja bytecode cache in memory, shared between environments.

    A template's code is found by its name, its file and the way the loading environment
    compiles (``compile_options``); Jinja itself checks the source (a checksum), so an
    edited file compiles again. At most ``max_templates`` are kept, the least recently used
    going first, and the last ``max_options`` ways of compiling (each environment with
    extensions, or with filters that capture variables, is a way of its own).
    """

    def __init__(
        self,
        max_templates: int = 1024,
        max_options: int = 64,
        *,
        disk: Path | None = None,
    ) -> None:
        """``disk``: the folder for the package's compiled templates (see the module
        docstring); None keeps them in memory only."""
        self.max_templates = max_templates
        self.max_options = max_options
        self.disk = disk
        self._code: OrderedDict[tuple[str, str], CodeType] = OrderedDict()
        # The compile options seen, each by a number never given twice (the key Jinja asks
        # for is text). They hold the functions they name, so no id in them is reused while
        # they are kept; the code of options dropped is unreachable and ages out.
        self._options: OrderedDict[tuple[object, ...], int] = OrderedDict()
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        """The bucket of ``name`` as ``environment`` compiles it (its code, if known)."""
        options = compile_options(environment, name)
        with self._lock:
            number = self._options.get(options)
            if number is None:
                number = self._options[options] = next(self._numbers)
                while len(self._options) > self.max_options:
                    self._options.popitem(last=False)
            else:
                self._options.move_to_end(options)
        key = f"{number}|{self.get_cache_key(name, filename)}"
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        if bucket.code is None:
            path = self._disk_path(environment, name, filename)
            if path is not None:
                bucket.disk_path = path  # type: ignore[attr-defined]  # for dump_bytecode
                self._read(bucket, path)
        return bucket

    def _disk_path(self, environment: Environment, name: str, filename: str | None) -> Path | None:
        """The file of a package template's code as ``environment`` compiles it, if any."""
        if self.disk is None or filename is None:
            return None
        if not Path(filename).resolve().is_relative_to(PACKAGE_TEMPLATES):
            return None
        options = _stable_options(environment, name)
        if options is None:
            return None
        digest = hashlib.sha256(f"{options}\n{name}\n{filename}".encode()).hexdigest()
        return self.disk / f"{digest[:32]}.jinja"

    def _read(self, bucket: Bucket, path: Path) -> None:
        """Load the code kept in ``path`` if it is this Jinja's, this Python's, and this
        source's (anything else is compiled again and the file replaced)."""
        try:
            data = path.read_bytes()
        except OSError:
            return
        header = bc_magic + bucket.checksum.encode() + b"\n"
        if not data.startswith(header):
            return
        try:
            code = marshal.loads(data[len(header) :])
        except (EOFError, ValueError, TypeError):
            return
        if isinstance(code, CodeType):
            bucket.code = code
            self._keep(bucket)

    def load_bytecode(self, bucket: Bucket) -> None:
        """Give ``bucket`` the code compiled for its key and source, if there is some."""
        with self._lock:
            code = self._code.get((bucket.key, bucket.checksum))
            if code is not None:
                self._code.move_to_end((bucket.key, bucket.checksum))
        bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep the code Jinja just compiled into ``bucket`` (on disk too, for the
        package's templates)."""
        if bucket.code is None:
            return
        self._keep(bucket)
        path = getattr(bucket, "disk_path", None)
        if path is not None and not sys.dont_write_bytecode:
            _write(path, bc_magic + bucket.checksum.encode() + b"\n" + marshal.dumps(bucket.code))

    def _keep(self, bucket: Bucket) -> None:
        with self._lock:
            self._code[(bucket.key, bucket.checksum)] = bucket.code  # type: ignore[assignment]
            while len(self._code) > self.max_templates:
                self._code.popitem(last=False)

    def clear(self) -> None:
        """Forget every compiled template."""
        with self._lock:
            self._code.clear()
            self._options.clear()


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all; a folder that cannot be written is left alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return


SHARED_TEMPLATE_CODE = SharedTemplateCode(disk=package_cache_dir())
"""The compiled templates of the apps' renderers (``lightchat.ui.render.Renderer``)."""
