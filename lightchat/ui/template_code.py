"""Compiled templates, shared by the Jinja environments of every app in the process.

Each app's ``Renderer`` has its own ``Environment`` (its globals are that app's), and an
environment compiles each template it loads: lexing, parsing, generating and compiling
Python, some milliseconds per template and tens for a page. Every app built in one process
(a test suite, several chats mounted in one host app) would compile the same package
templates again. What a template compiles to depends only on its name, file and source and
on how its environment compiles, never on the environment's globals, so environments that
compile alike can share the code: ``SHARED_TEMPLATE_CODE`` is a Jinja bytecode cache held in
memory that does this.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from types import CodeType, FunctionType
from typing import Any

from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache


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
    autoescape = environment.autoescape
    return (
        type(environment),
        environment.code_generator_class,
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
        # An extension's own settings may change what it parses: never shared.
        tuple(sorted((key, id(value)) for key, value in environment.extensions.items())),
        environment.optimized,
        environment.is_async,
        environment.finalize,
        bool(autoescape(name)) if callable(autoescape) else bool(autoescape),
        _functions(environment.filters),
        _functions(environment.tests),
    )


class SharedTemplateCode(BytecodeCache):
    """A Jinja bytecode cache in memory, shared between environments.

    A template's code is found by its name, its file and the way the loading environment
    compiles (``compile_options``); Jinja itself checks the source (a checksum), so an
    edited file compiles again. At most ``max_templates`` are kept, the least recently used
    going first, and the last ``max_options`` ways of compiling (each environment with
    extensions, or with filters that capture variables, is a way of its own).
    """

    def __init__(self, max_templates: int = 1024, max_options: int = 64) -> None:
        self.max_templates = max_templates
        self.max_options = max_options
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
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        """Give ``bucket`` the code compiled for its key and source, if there is some."""
        with self._lock:
            code = self._code.get((bucket.key, bucket.checksum))
            if code is not None:
                self._code.move_to_end((bucket.key, bucket.checksum))
        bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep the code Jinja just compiled into ``bucket``."""
        if bucket.code is None:
            return
        with self._lock:
            self._code[(bucket.key, bucket.checksum)] = bucket.code
            while len(self._code) > self.max_templates:
                self._code.popitem(last=False)

    def clear(self) -> None:
        """Forget every compiled template."""
        with self._lock:
            self._code.clear()
            self._options.clear()


SHARED_TEMPLATE_CODE = SharedTemplateCode()
"""The compiled templates of the apps' renderers (``lightchat.ui.render.Renderer``)."""
