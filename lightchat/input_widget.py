"""The chat settings inputs under the module name Chainlit apps import them from
(``from chainlit.input_widget import Select`` becomes ``from lightchat.input_widget ...``)."""

from lightchat.api.widgets import (
    Checkbox,
    DatePicker,
    MultiSelect,
    NumberInput,
    RadioGroup,
    Select,
    Slider,
    Switch,
    Tab,
    Tags,
    TextInput,
)

__all__ = [
    "Checkbox",
    "DatePicker",
    "MultiSelect",
    "NumberInput",
    "RadioGroup",
    "Select",
    "Slider",
    "Switch",
    "Tab",
    "Tags",
    "TextInput",
]
