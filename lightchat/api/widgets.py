"""Chat settings: inputs the user can change during a chat, and the rules their values keep.

They follow Chainlit's names::

    settings = await cl.ChatSettings([
        cl.Select(id="model", label="Model", values=["small", "large"], initial_index=0),
        cl.Slider(id="temperature", label="Temperature", initial=0.7, min=0, max=2, step=0.1),
        cl.Switch(id="stream", label="Stream the answer", initial=True),
    ]).send()

``send()`` returns the initial values (``{"model": "small", "temperature": 0.7, ...}``),
keeps them in ``user_session["chat_settings"]`` and gives the chat a "Settings" button.
When the user confirms new values, the server checks every one against its input
(:func:`parse_settings`), keeps them, and runs ``@on_settings_update`` with the whole dict.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar

from lightchat.chat.session import current_session, dispatch
from lightchat.domain.events import WidgetData, WidgetKind
from lightchat.errors import ConfigError

MAX_TEXT_CHARS = 10_000
"""The longest text a text input takes."""
MAX_TAGS = 100
"""The most tags a tags input takes."""
MAX_TAG_CHARS = 200
"""The longest tag."""


@dataclass
class InputWidget:
    """Base class of the settings inputs: each has an ``id`` (its key in the settings dict),
    a ``label`` (its name in the form), an ``initial`` value, and optionally a ``tooltip``
    and a ``description`` shown with it. A ``disabled`` input is shown and never changes."""

    id: str
    label: str
    initial: Any = None
    tooltip: str | None = None
    description: str | None = None
    disabled: bool = False

    kind: ClassVar[WidgetKind]

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError(
                f"{type(self).__name__} needs an id, its key in the settings dict: "
                f'{type(self).__name__}(id="model", label="Model", ...).'
            )
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError(
                f"{type(self).__name__} {self.id!r} needs a label, its name in the form."
            )

    def _extra(self) -> dict[str, Any]:
        return {}

    def data(self) -> WidgetData:
        """The input as the settings form shows it."""
        return WidgetData(
            id=self.id,
            kind=self.kind,
            label=self.label,
            initial=copy.deepcopy(self.initial),
            description=self.description or "",
            tooltip=self.tooltip or "",
            disabled=bool(self.disabled),
            **self._extra(),
        )

    def to_dict(self) -> dict[str, Any]:
        """The input as a plain dict (Chainlit's shape)."""
        data = self.data()
        shape: dict[str, Any] = {
            "type": data.kind,
            "id": data.id,
            "label": data.label,
            "initial": data.initial,
            "tooltip": self.tooltip,
            "description": self.description,
            "disabled": data.disabled,
        }
        if data.options:
            shape["items"] = [{"label": label, "value": value} for label, value in data.options]
        return shape


def _choices(widget: InputWidget, values: list[Any], items: dict[str, Any]) -> dict[str, Any]:
    """The (label: value) options of a select, multi-select or radio group."""
    name = f"{type(widget).__name__} {widget.id!r}"
    if values and items:
        raise ConfigError(f"{name}: give values= or items=, not both.")
    if not values and not items:
        raise ConfigError(
            f'{name} needs its options: values=["a", "b"] or items={{"Label": "value"}}.'
        )
    if values:
        return {str(value): value for value in values}
    return dict(items)


def _initial_choice(
    widget: InputWidget, options: dict[str, Any], index: int | None, value: Any
) -> Any:
    """The option a select or radio group starts with: ``initial_index``, ``initial_value``
    or ``initial``, checked against the options."""
    name = f"{type(widget).__name__} {widget.id!r}"
    choices = list(options.values())
    if index is not None:
        if not isinstance(index, int) or not -len(choices) <= index < len(choices):
            raise ConfigError(f"{name}: initial_index={index!r} is not one of its options.")
        return choices[index]
    chosen = value if value is not None else widget.initial
    if chosen is not None and str(chosen) not in {str(c) for c in choices}:
        raise ConfigError(f"{name}: the initial value {chosen!r} is not one of its options.")
    return chosen


@dataclass
class Select(InputWidget):
    """A choice of one option: ``values=[...]`` (shown as they are) or ``items={label:
    value}``; it starts at ``initial_index``, ``initial_value`` or ``initial``."""

    initial: Any = None
    initial_index: int | None = None
    initial_value: Any = None
    values: list[Any] = field(default_factory=list)
    items: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[WidgetKind] = "select"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.items = _choices(self, list(self.values), dict(self.items))
        self.initial = _initial_choice(self, self.items, self.initial_index, self.initial_value)

    def _extra(self) -> dict[str, Any]:
        return {"options": list(self.items.items())}


@dataclass
class RadioGroup(Select):
    """A choice of one option shown as radio buttons (options as for ``Select``)."""

    kind: ClassVar[WidgetKind] = "radio"


@dataclass
class MultiSelect(InputWidget):
    """A choice of any number of options (``values=`` or ``items=``, as for ``Select``)."""

    initial: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    items: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[WidgetKind] = "multiselect"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.items = _choices(self, list(self.values), dict(self.items))
        known = {str(value) for value in self.items.values()}
        self.initial = list(self.initial or [])
        unknown = [value for value in self.initial if str(value) not in known]
        if unknown:
            raise ConfigError(
                f"MultiSelect {self.id!r}: the initial values {unknown!r} are not options."
            )

    def _extra(self) -> dict[str, Any]:
        return {"options": list(self.items.items())}


@dataclass
class Slider(InputWidget):
    """A number between ``min`` and ``max``, in steps of ``step`` from ``min``."""

    initial: float = 0
    min: float = 0
    max: float = 10
    step: float = 1

    kind: ClassVar[WidgetKind] = "slider"

    def __post_init__(self) -> None:
        super().__post_init__()
        name = f"Slider {self.id!r}"
        for attr in ("initial", "min", "max", "step"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}: {attr}={value!r} must be a number.")
            if not math.isfinite(value):
                raise ConfigError(f"{name}: {attr}={value!r} must be a finite number.")
        if self.min > self.max:
            raise ConfigError(f"{name}: min={self.min} is above max={self.max}.")
        if self.step <= 0:
            raise ConfigError(f"{name}: step={self.step} must be above 0.")
        if not self.min <= self.initial <= self.max:
            raise ConfigError(f"{name}: initial={self.initial} is outside {self.min}..{self.max}.")

    def _extra(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "step": self.step}


@dataclass
class NumberInput(InputWidget):
    """A number typed in (``None`` when left empty); ``min`` and ``max`` bound it if given."""

    initial: float | None = None
    placeholder: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None

    kind: ClassVar[WidgetKind] = "numberinput"

    def _extra(self) -> dict[str, Any]:
        return {
            "placeholder": self.placeholder or "",
            "min": self.min,
            "max": self.max,
            "step": self.step,
        }


@dataclass
class TextInput(InputWidget):
    """Text typed in: one line, or several with ``multiline=True``."""

    initial: str | None = None
    placeholder: str | None = None
    multiline: bool = False

    kind: ClassVar[WidgetKind] = "textinput"

    def _extra(self) -> dict[str, Any]:
        return {"placeholder": self.placeholder or "", "multiline": bool(self.multiline)}


@dataclass
class Tags(InputWidget):
    """A list of words (typed in, separated by commas); ``values`` are suggestions."""

    initial: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    kind: ClassVar[WidgetKind] = "tags"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.initial = [str(tag) for tag in self.initial or []]

    def _extra(self) -> dict[str, Any]:
        return {"options": [(str(value), str(value)) for value in self.values]}


@dataclass
class DatePicker(InputWidget):
    """A date (ISO ``YYYY-MM-DD``, a string or a ``datetime.date``), between ``min_date`` and
    ``max_date`` if given; the settings hold it as an ISO string, or None.

    With ``mode="range"`` it is two dates, a start and an end: ``initial`` is a pair, and
    the settings hold ``[start, end]`` (ISO strings; an end left empty is the start, as in
    Chainlit), or None when both are left empty.
    """

    initial: str | date | tuple[str | date, str | date] | list[str] | None = None
    mode: str = "single"
    min_date: str | date | None = None
    max_date: str | date | None = None
    format: str | None = None
    """Chainlit's display format; the browser shows dates in the user's own format."""
    placeholder: str | None = None

    kind: ClassVar[WidgetKind] = "datepicker"

    def __post_init__(self) -> None:
        super().__post_init__()
        name = f"DatePicker {self.id!r}"
        if self.mode not in ("single", "range"):
            raise ConfigError(f'{name}: mode is "single" or "range", not {self.mode!r}.')
        first = _iso_date(name, "min_date", self.min_date)
        last = _iso_date(name, "max_date", self.max_date)
        if first and last and first > last:
            raise ConfigError(f"{name}: min_date {first} comes after max_date {last}.")
        if self.mode == "range":
            if self.initial is not None and not isinstance(self.initial, tuple | list):
                raise ConfigError(f'{name}: with mode="range", initial is a (start, end) pair.')
            pair = list(self.initial or ("", ""))
            if len(pair) != 2:
                raise ConfigError(f"{name}: initial is a (start, end) pair, not {len(pair)} dates.")
            start, end = (_iso_date(name, "initial", value) for value in pair)
            if start and end and start > end:
                raise ConfigError(
                    f"{name}: the initial range starts ({start}) after its end ({end})."
                )
            chosen = [d for d in (start, end) if d]
            self.initial = [start, end or start] if start else None
        else:
            chosen = [_iso_date(name, "initial", self.initial)]  # type: ignore[arg-type]
            self.initial = chosen[0] or None
        for day in chosen:
            if day and ((first and day < first) or (last and day > last)):
                raise ConfigError(f"{name}: the initial date {day} is outside its bounds.")
        self.min_date = first or None
        self.max_date = last or None

    def _extra(self) -> dict[str, Any]:
        return {
            "min_date": self.min_date or "",
            "max_date": self.max_date or "",
            "placeholder": self.placeholder or "",
            "date_range": self.mode == "range",
        }

    def to_dict(self) -> dict[str, Any]:
        """The input as a plain dict (Chainlit's shape, with ``mode`` and the bounds)."""
        shape = super().to_dict()
        shape.update(mode=self.mode, min_date=self.min_date, max_date=self.max_date)
        return shape


def _iso_date(name: str, field: str, value: str | date | None) -> str:
    """A date as ISO text ("" for None); ``ConfigError`` for anything else."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ConfigError(f"{name}: {field}={value!r} is not a date like 2025-01-31.") from None


@dataclass
class Tab:
    """A tab of the settings form, grouping inputs under its label (``ChatSettings([Tab(...)
    ...])``); the settings stay one dict, by input id, as in Chainlit."""

    id: str
    label: str
    inputs: list[InputWidget] = field(default_factory=list)


@dataclass
class Switch(InputWidget):
    """On or off."""

    initial: bool = False

    kind: ClassVar[WidgetKind] = "switch"


@dataclass
class Checkbox(InputWidget):
    """Checked or not."""

    initial: bool = False

    kind: ClassVar[WidgetKind] = "checkbox"


class ChatSettings:
    """The chat's settings form: its inputs, in order.

    Example::

        settings = await cl.ChatSettings([cl.Switch(id="stream", label="Stream")]).send()
        # {"stream": False}, also in cl.user_session.get("chat_settings")
    """

    def __init__(self, inputs: Sequence[InputWidget | Tab]) -> None:
        self.tabs: dict[str, str] = {}
        """The label of the tab each input sits in, by input id."""
        flat: list[InputWidget] = []
        for item in inputs:
            if isinstance(item, Tab):
                for widget in item.inputs:
                    self.tabs[getattr(widget, "id", "")] = item.label
                flat += item.inputs
            else:
                flat.append(item)
        inputs = flat
        seen: set[str] = set()
        for widget in inputs:
            if not isinstance(widget, InputWidget):
                raise ConfigError(
                    f"ChatSettings takes inputs such as cl.Select or cl.Slider; got {widget!r}."
                )
            if widget.id in seen:
                raise ConfigError(f"Two settings inputs have the id {widget.id!r}; rename one.")
            seen.add(widget.id)
        self.inputs = inputs

    def settings(self) -> dict[str, Any]:
        """The inputs' initial values, by id."""
        return {widget.id: copy.deepcopy(widget.initial) for widget in self.inputs}

    async def send(self) -> dict[str, Any]:
        """Show the "Settings" button with these inputs; returns their initial values
        (also kept in ``user_session["chat_settings"]``)."""
        session = current_session()
        values = self.settings()
        widgets = [
            replace(widget.data(), group=self.tabs.get(widget.id, "")) for widget in self.inputs
        ]
        dispatch(session, session.show_settings, widgets, copy.deepcopy(values))
        return values


# -- the rules a submitted value keeps ------------------------------------------------------


class SettingError(ValueError):
    """A submitted settings value breaks its input's rules; the message names the input."""


def parse_settings(
    widgets: list[WidgetData], posted: Mapping[str, list[str]], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The new settings from a submitted form: every input's value, checked.

    ``posted`` maps a field name to the strings submitted under it (a field not submitted
    is missing, as a browser leaves out an unchecked box). Disabled inputs keep their
    ``current`` value. Raises ``SettingError`` for the first value that breaks its rules.
    """
    values: dict[str, Any] = {}
    for widget in widgets:
        now = current.get(widget.id, widget.initial)
        if widget.disabled:
            values[widget.id] = now
        else:
            values[widget.id] = parse_value(widget, posted.get(widget.id), now)
    return values


def parse_value(widget: WidgetData, raw: list[str] | None, current: Any = None) -> Any:
    """One input's value from the strings submitted for it (None: not submitted)."""
    name = f"“{widget.label}”"
    kind = widget.kind
    if kind in ("switch", "checkbox"):
        return _flag(name, raw)
    if kind == "multiselect":
        return _chosen_many(name, widget, raw or [])
    if kind == "tags":
        return _tags(name, _one(name, raw, ""))
    if kind in ("select", "radio"):
        text = _one(name, raw, "")
        if text == "" and current is None and "" not in {str(v) for _, v in widget.options}:
            return None  # nothing was chosen yet, and nothing is now
        return _chosen(name, widget, text)
    if kind == "datepicker" and widget.date_range:
        return _date_range(name, widget, raw)
    text = _one(name, raw, None)
    if kind == "slider":
        return _number(name, widget, text, required=True)
    if kind == "numberinput":
        return _number(name, widget, text, required=False)
    if kind == "datepicker":
        return _date(name, widget, text)
    if len(text) > MAX_TEXT_CHARS:
        raise SettingError(
            f"{name} takes at most {MAX_TEXT_CHARS:,} characters; "
            f"{len(text):,} were sent. Shorten it."
        )
    return text


def _date(name: str, widget: WidgetData, text: str) -> str | None:
    """A date picker's value: an ISO date within its bounds, or None when left empty."""
    if not text.strip():
        return None
    try:
        chosen = date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise SettingError(
            f"{name} takes a date like 2025-01-31; {_quoted(text)} is not one."
        ) from None
    if widget.min_date and chosen < widget.min_date:
        raise SettingError(f"{name} takes a date from {widget.min_date} on.")
    if widget.max_date and chosen > widget.max_date:
        raise SettingError(f"{name} takes a date up to {widget.max_date}.")
    return chosen


def _date_range(name: str, widget: WidgetData, raw: list[str] | None) -> list[str] | None:
    """A date range's value: ``[start, end]`` within its bounds (an empty end is the
    start), or None when both are left empty."""
    if not raw or len(raw) != 2:
        raise SettingError(f"{name} takes two dates, a start and an end.")
    start, end = (_date(name, widget, text) for text in raw)
    if start is None:
        if end is not None:
            raise SettingError(f"{name} needs its start date as well as its end.")
        return None
    end = end or start
    if end < start:
        raise SettingError(f"{name} ends ({end}) before it starts ({start}).")
    return [start, end]


def _one(name: str, raw: list[str] | None, missing: str | None) -> str:
    if not raw:
        if missing is None:
            raise SettingError(f"{name} is missing from the form; send a value for it.")
        return missing
    if len(raw) > 1:
        raise SettingError(f"{name} takes one value; {len(raw)} were sent.")
    return raw[0]


def _quoted(text: str) -> str:
    return f"“{text[:40]}…”" if len(text) > 40 else f"“{text}”"


def _flag(name: str, raw: list[str] | None) -> bool:
    if not raw:
        return False
    if len(raw) > 1 or raw[0].lower() not in ("on", "true", "1"):
        raise SettingError(f"{name} is on or off; {_quoted(', '.join(raw))} is neither.")
    return True


def _options_text(widget: WidgetData) -> str:
    labels = [label for label, _ in widget.options[:10]]
    more = ", …" if len(widget.options) > 10 else ""
    return ", ".join(labels) + more


def _chosen(name: str, widget: WidgetData, text: str) -> Any:
    for _, value in widget.options:
        if str(value) == text:
            return value
    raise SettingError(
        f"{name} has no option {_quoted(text)}; choose one of: {_options_text(widget)}."
    )


def _chosen_many(name: str, widget: WidgetData, raw: list[str]) -> list[Any]:
    chosen: list[Any] = []
    for text in raw:
        value = _chosen(name, widget, text)
        if value not in chosen:
            chosen.append(value)
    return chosen


def _tags(name: str, text: str) -> list[str]:
    tags: list[str] = []
    for part in text.split(","):
        tag = part.strip()
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise SettingError(f"{name}: a tag is at most {MAX_TAG_CHARS} characters long.")
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise SettingError(f"{name} takes at most {MAX_TAGS} tags; {len(tags)} were sent.")
    return tags


def show_number(value: float) -> str:
    """A number as people write it: ``2``, ``0.1``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(name: str, widget: WidgetData, text: str, *, required: bool) -> float | int | None:
    text = text.strip()
    if not text and not required:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{name} takes a number; {_quoted(text)} is not one.") from None
    if not math.isfinite(value):
        raise SettingError(f"{name} takes a finite number; {_quoted(text)} is not one.")
    low, high, step = widget.min, widget.max, widget.step
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"between {show_number(low)} and {show_number(high)}"
        elif low is not None:
            bounds = f"at least {show_number(low)}"
        else:
            bounds = f"at most {show_number(high or 0)}"
        raise SettingError(f"{name} must be {bounds}; {show_number(value)} is not.")
    if step:
        steps = (value - (low or 0)) / step
        if not math.isfinite(steps):  # more steps than a float counts: 1e308 in steps of 0.5
            raise SettingError(f"{name} takes a smaller number; {show_number(value)} is too large.")
        if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
            raise SettingError(
                f"{name} goes in steps of {show_number(step)} from {show_number(low or 0)}; "
                f"{show_number(value)} is between two steps."
            )
    value = round(value, 12)  # 0.7, not the 0.7000000000000001 that stepping can give
    # As the browser's JSON would have it: a whole number is an int.
    return int(value) if value.is_integer() else value
