// lightchat: the runtime of Chainlit's JSX custom elements (public/elements/<Name>.jsx),
// inside the element's sandboxed frame (lightchat/ui/jsx.py). The element's source and
// first props arrive as JSON data (#lc-jsx-data), newer props from the chat page; Babel (vendored) turns its JSX and imports into a function,
// which runs with Chainlit's globals (props, updateElement, deleteElement, callAction,
// sendUserMessage, submitElement, cancelElement) and renders with Preact (vendored, its
// compat layer as "react"). The imports Chainlit allows map to small accessible components
// in lightchat's look (shadcn's names, plain HTML) and to Lucide icons. Everything the
// element asks of the chat goes to the chat page (lightchat.elements.js) by postMessage,
// which checks it and posts it as the page's own form. No build step.
(function () {
  "use strict";

  var preact = window.preact;
  var hooks = window.preactHooks;
  var React = window.preactCompat;
  var h = React.createElement;
  var data = JSON.parse(document.getElementById("lc-jsx-data").textContent);
  var root = document.getElementById("lc-jsx-root");
  var texts = data.texts || {};

  // -- the chat page ----------------------------------------------------------------------
  // Only the page that framed this one: the frame's own address names its origin (the
  // sandbox gives the frame an opaque origin of its own, but not another address).
  var pageOrigin = new URL(location.href).origin;
  var pending = {};
  var nextCall = 1;
  // Each message carries the frame's key (the page hears nothing without it).
  function post(message) {
    message.lc = "jsx";
    message.key = data.key;
    window.parent.postMessage(message, pageOrigin);
  }
  function call(op, payload) {
    return new Promise(function (resolve, reject) {
      var id = nextCall++;
      pending[id] = { resolve: resolve, reject: reject };
      post({ type: "call", id: id, op: op, data: payload });
    });
  }

  // The props: one object, changed in place when new props come, so the element's code
  // (which reads the global `props`, as in Chainlit) sees them on its next render.
  var props = Object.assign({}, data.props || {});
  var refresh = function () {};
  function setProps(next) {
    Object.keys(props).forEach(function (key) { delete props[key]; });
    if (next && typeof next === "object") Object.assign(props, next);
    refresh();
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== pageOrigin) return;
    var message = event.data;
    if (!message || message.lc !== "jsx") return;
    if (message.type === "hello") post({ type: "ready" });
    else if (message.type === "props") setProps(message.props);
    else if (message.type === "theme" && typeof message.theme === "string") {
      document.documentElement.setAttribute("data-theme", message.theme);
    } else if (message.type === "result" && pending[message.id]) {
      var waiting = pending[message.id];
      delete pending[message.id];
      if (message.ok) waiting.resolve({ success: true });
      else waiting.reject(new Error(message.error || "refused"));
    }
  });

  // Chainlit's globals for the element's code.
  var api = {
    props: props,
    updateElement: function (nextProps) {
      var copy = JSON.parse(JSON.stringify(nextProps || {}));
      return call("update", copy).then(function (result) { setProps(copy); return result; });
    },
    deleteElement: function () { return call("delete", null); },
    callAction: function (action) {
      action = action || {};
      return call("action", { name: String(action.name || ""), payload: action.payload || {} });
    },
    sendUserMessage: function (message, command) {
      return call("message", { content: String(message), command: command || null });
    },
    submitElement: function (values) {
      return call("submit", JSON.parse(JSON.stringify(values || {})));
    },
    cancelElement: function () { return call("cancel", null); },
  };

  // -- the components Chainlit's elements may import ------------------------------------
  function cx() {
    return Array.prototype.filter.call(arguments, Boolean).join(" ");
  }
  function omit(source, names) {
    var copy = {};
    Object.keys(source).forEach(function (key) { if (names.indexOf(key) < 0) copy[key] = source[key]; });
    return copy;
  }
  // A component drawing `tag` with lightchat's class `base` (and the caller's className).
  function part(tag, base, extra) {
    var component = React.forwardRef(function (given, ref) {
      var attrs = omit(given, ["asChild"]);
      attrs.ref = ref;
      attrs.className = cx(base, given.className);
      if (extra) extra(attrs, given);
      if (given.asChild) return slot(attrs);
      return h(tag, attrs);
    });
    return component;
  }
  // Radix's asChild: the one child element drawn with these attributes merged in.
  function slot(attrs) {
    var child = React.Children.only(attrs.children);
    var merged = omit(attrs, ["children"]);
    merged.className = cx(attrs.className, child.props.className);
    return React.cloneElement(child, merged);
  }
  var buttonVariants = function (options) {
    options = options || {};
    return cx("lc-ui-button", "lc-ui-button-" + (options.variant || "default"),
      "lc-ui-size-" + (options.size || "default"), options.className);
  };
  var Button = React.forwardRef(function (given, ref) {
    var attrs = omit(given, ["variant", "size", "asChild"]);
    attrs.ref = ref;
    attrs.className = buttonVariants({ variant: given.variant, size: given.size, className: given.className });
    if (given.asChild) return slot(attrs);
    if (!attrs.type) attrs.type = "button";
    return h("button", attrs);
  });
  var badgeVariants = function (options) {
    options = options || {};
    return cx("lc-ui-badge", "lc-ui-badge-" + (options.variant || "default"), options.className);
  };
  var Badge = function (given) {
    var attrs = omit(given, ["variant", "asChild"]);
    attrs.className = badgeVariants({ variant: given.variant, className: given.className });
    return given.asChild ? slot(attrs) : h("span", attrs);
  };
  // A checked state the caller may hold (checked + onCheckedChange) or leave to us.
  function useChecked(given) {
    var own = hooks.useState(!!given.defaultChecked);
    var held = given.checked !== undefined;
    var value = held ? !!given.checked : own[0];
    function set(next) {
      if (!held) own[1](next);
      if (given.onCheckedChange) given.onCheckedChange(next);
    }
    return [value, set];
  }
  var Checkbox = React.forwardRef(function (given, ref) {
    var state = useChecked(given);
    var attrs = omit(given, ["checked", "defaultChecked", "onCheckedChange", "asChild"]);
    attrs.ref = ref;
    attrs.type = "checkbox";
    attrs.checked = state[0];
    attrs.className = cx("lc-ui-checkbox", given.className);
    attrs.onChange = function (event) { state[1](event.target.checked); };
    return h("input", attrs);
  });
  var Switch = React.forwardRef(function (given, ref) {
    var state = useChecked(given);
    var attrs = omit(given, ["checked", "defaultChecked", "onCheckedChange", "asChild"]);
    attrs.ref = ref;
    attrs.type = "button";
    attrs.role = "switch";
    attrs["aria-checked"] = state[0] ? "true" : "false";
    attrs.className = cx("lc-ui-switch", given.className);
    attrs.onClick = function () { state[1](!state[0]); };
    return h("button", attrs, h("span", { className: "lc-ui-switch-thumb", "aria-hidden": "true" }));
  });
  var Progress = function (given) {
    var attrs = omit(given, ["value", "max"]);
    attrs.className = cx("lc-ui-progress", given.className);
    attrs.max = given.max || 100;
    attrs.value = given.value || 0;
    return h("progress", attrs);
  };
  var Separator = function (given) {
    var vertical = given.orientation === "vertical";
    var attrs = omit(given, ["orientation", "decorative"]);
    attrs.role = given.decorative === false ? "separator" : "none";
    attrs.className = cx("lc-ui-separator", vertical && "lc-ui-vertical", given.className);
    return h("div", attrs);
  };

  // Select: Radix's parts, drawn as one native <select> (its items read from the parts).
  function SelectTrigger() { return null; }
  function SelectValue() { return null; }
  function SelectContent() { return null; }
  function SelectItem() { return null; }
  function SelectGroup() { return null; }
  function SelectLabel() { return null; }
  function SelectSeparator() { return null; }
  function selectParts(children, found) {
    React.Children.forEach(children, function (child) {
      if (!child || !child.type) return;
      if (child.type === SelectTrigger) {
        found.trigger = child.props;
        selectParts(child.props.children, found);
      } else if (child.type === SelectValue) {
        found.placeholder = child.props.placeholder;
      } else if (child.type === SelectItem) {
        found.items.push(h("option", { value: child.props.value, disabled: child.props.disabled, key: child.props.value }, child.props.children));
      } else if (child.props && child.props.children) {
        selectParts(child.props.children, found);
      }
    });
    return found;
  }
  function Select(given) {
    var own = hooks.useState(given.defaultValue || "");
    var held = given.value !== undefined;
    var value = held ? given.value : own[0];
    var parts = selectParts(given.children, { trigger: {}, placeholder: "", items: [] });
    var trigger = parts.trigger;
    var options = parts.items;
    if (!value) options = [h("option", { value: "", disabled: true, key: "" }, parts.placeholder || "")].concat(options);
    return h("select", {
      id: trigger.id,
      name: given.name,
      required: given.required,
      disabled: given.disabled,
      "aria-label": trigger["aria-label"],
      className: cx("lc-ui-select", trigger.className),
      value: value || "",
      onChange: function (event) {
        if (!held) own[1](event.target.value);
        if (given.onValueChange) given.onValueChange(event.target.value);
      },
    }, options);
  }

  // Tabs: a tablist and panels, the chosen value held by the caller or here.
  var TabsContext = React.createContext(null);
  function Tabs(given) {
    var own = hooks.useState(given.defaultValue);
    var held = given.value !== undefined;
    var value = held ? given.value : own[0];
    var choose = function (next) {
      if (!held) own[1](next);
      if (given.onValueChange) given.onValueChange(next);
    };
    var attrs = omit(given, ["value", "defaultValue", "onValueChange", "orientation"]);
    attrs.className = cx("lc-ui-tabs", given.className);
    return h(TabsContext.Provider, { value: { value: value, choose: choose } }, h("div", attrs));
  }
  var TabsList = part("div", "lc-ui-tabs-list", function (attrs) { attrs.role = "tablist"; });
  function TabsTrigger(given) {
    var tabs = hooks.useContext(TabsContext) || {};
    var selected = tabs.value === given.value;
    var attrs = omit(given, ["value", "asChild"]);
    attrs.type = "button";
    attrs.role = "tab";
    attrs["aria-selected"] = selected ? "true" : "false";
    attrs.className = cx("lc-ui-tabs-trigger", given.className);
    attrs.onClick = function (event) {
      if (tabs.choose) tabs.choose(given.value);
      if (given.onClick) given.onClick(event);
    };
    return h("button", attrs);
  }
  function TabsContent(given) {
    var tabs = hooks.useContext(TabsContext) || {};
    if (tabs.value !== given.value) return null;
    var attrs = omit(given, ["value", "forceMount"]);
    attrs.role = "tabpanel";
    attrs.className = cx("lc-ui-tabs-content", given.className);
    return h("div", attrs);
  }

  // Accordion: each item a <details>, its trigger the <summary>.
  var AccordionItem = part("details", "lc-ui-accordion-item", function (attrs) { delete attrs.value; });
  function Accordion(given) {
    var attrs = omit(given, ["type", "collapsible", "value", "defaultValue", "onValueChange"]);
    attrs.className = cx("lc-ui-accordion", given.className);
    return h("div", attrs);
  }
  var AccordionTrigger = part("summary", "lc-ui-accordion-trigger");
  var AccordionContent = part("div", "lc-ui-accordion-content");

  // Popover, dialog, sheet, dropdown menu, hover card, tooltip: a trigger that opens its
  // content in place (the frame grows with it), open state held by the caller or here.
  function openable(kind) {
    var Context = React.createContext(null);
    function Root(given) {
      var own = hooks.useState(!!given.defaultOpen);
      var held = given.open !== undefined;
      var open = held ? !!given.open : own[0];
      var set = function (next) {
        if (!held) own[1](next);
        if (given.onOpenChange) given.onOpenChange(next);
      };
      return h(Context.Provider, { value: { open: open, set: set } },
        h("div", { className: "lc-ui-" + kind }, given.children));
    }
    function Trigger(given) {
      var state = hooks.useContext(Context) || {};
      var attrs = omit(given, ["asChild"]);
      attrs["aria-expanded"] = state.open ? "true" : "false";
      attrs.onClick = function (event) {
        if (given.onClick) given.onClick(event);
        if (state.set) state.set(!state.open);
      };
      if (given.asChild) return slot(attrs);
      attrs.type = "button";
      attrs.className = cx("lc-ui-button lc-ui-button-outline lc-ui-size-default", given.className);
      return h("button", attrs);
    }
    function Content(given) {
      var state = hooks.useContext(Context) || {};
      if (!state.open) return null;
      var attrs = omit(given, ["side", "align", "sideOffset", "forceMount", "showCloseButton", "onOpenAutoFocus", "onCloseAutoFocus", "onEscapeKeyDown", "onPointerDownOutside", "onInteractOutside"]);
      attrs.className = cx("lc-ui-panel", "lc-ui-" + kind + "-content", given.className);
      if (kind === "dialog") { attrs.role = "dialog"; }
      if (kind === "menu") { attrs.role = "menu"; }
      attrs.onKeyDown = function (event) {
        if (event.key === "Escape" && state.set) state.set(false);
        if (given.onKeyDown) given.onKeyDown(event);
      };
      return h("div", attrs);
    }
    function Close(given) {
      var state = hooks.useContext(Context) || {};
      var attrs = omit(given, ["asChild"]);
      attrs.onClick = function (event) {
        if (given.onClick) given.onClick(event);
        if (state.set) state.set(false);
      };
      if (given.asChild) return slot(attrs);
      attrs.type = "button";
      attrs.className = cx("lc-ui-button lc-ui-button-outline lc-ui-size-default", given.className);
      return h("button", attrs);
    }
    function Item(given) {
      var state = hooks.useContext(Context) || {};
      var attrs = omit(given, ["onSelect", "inset", "asChild", "checked", "onCheckedChange", "variant"]);
      attrs.type = "button";
      attrs.role = given.checked !== undefined ? "menuitemcheckbox" : "menuitem";
      if (given.checked !== undefined) attrs["aria-checked"] = given.checked ? "true" : "false";
      attrs.className = cx("lc-ui-menu-item", given.className);
      attrs.onClick = function (event) {
        if (given.onClick) given.onClick(event);
        if (given.onSelect) given.onSelect(event);
        if (given.onCheckedChange) given.onCheckedChange(!given.checked);
        if (state.set) state.set(false);
      };
      return h("button", attrs);
    }
    return { Root: Root, Trigger: Trigger, Content: Content, Close: Close, Item: Item };
  }
  var popover = openable("popover");
  var dialog = openable("dialog");
  var sheet = openable("dialog");
  var menu = openable("menu");
  var hover = openable("popover");
  var tip = openable("popover");
  function Passthrough(given) { return given.children === undefined ? null : h(React.Fragment, null, given.children); }

  function Avatar(given) {
    var attrs = omit(given, []);
    attrs.className = cx("lc-ui-avatar", given.className);
    return h("span", attrs);
  }
  var AvatarImage = part("img", "lc-ui-avatar-image");
  var AvatarFallback = part("span", "lc-ui-avatar-fallback");
  function AspectRatio(given) {
    var attrs = omit(given, ["ratio"]);
    attrs.style = Object.assign({ aspectRatio: String(given.ratio || 1) }, given.style || {});
    return h("div", attrs);
  }
  var Table = React.forwardRef(function (given, ref) {
    var attrs = omit(given, []);
    attrs.ref = ref;
    attrs.className = cx("lc-table", "lc-ui-table", given.className);
    return h("div", { className: "lc-table-wrap" }, h("table", attrs));
  });

  var ui = {
    button: { Button: Button, buttonVariants: buttonVariants },
    badge: { Badge: Badge, badgeVariants: badgeVariants },
    card: {
      Card: part("div", "lc-ui-card"),
      CardHeader: part("div", "lc-ui-card-header"),
      CardTitle: part("h3", "lc-ui-card-title"),
      CardDescription: part("p", "lc-ui-card-description"),
      CardAction: part("div", "lc-ui-card-action"),
      CardContent: part("div", "lc-ui-card-content"),
      CardFooter: part("div", "lc-ui-card-footer"),
    },
    input: { Input: part("input", "lc-ui-input") },
    textarea: { Textarea: part("textarea", "lc-ui-input lc-ui-textarea") },
    label: { Label: part("label", "lc-ui-label") },
    checkbox: { Checkbox: Checkbox },
    switch: { Switch: Switch },
    progress: { Progress: Progress },
    separator: { Separator: Separator },
    skeleton: { Skeleton: part("div", "lc-ui-skeleton") },
    select: {
      Select: Select, SelectTrigger: SelectTrigger, SelectValue: SelectValue,
      SelectContent: SelectContent, SelectItem: SelectItem, SelectGroup: SelectGroup,
      SelectLabel: SelectLabel, SelectSeparator: SelectSeparator,
    },
    table: {
      Table: Table,
      TableHeader: part("thead", ""),
      TableBody: part("tbody", ""),
      TableFooter: part("tfoot", ""),
      TableRow: part("tr", ""),
      TableHead: part("th", "", function (attrs, given) { if (!given.scope) attrs.scope = "col"; }),
      TableCell: part("td", ""),
      TableCaption: part("caption", ""),
    },
    tabs: { Tabs: Tabs, TabsList: TabsList, TabsTrigger: TabsTrigger, TabsContent: TabsContent },
    accordion: {
      Accordion: Accordion, AccordionItem: AccordionItem,
      AccordionTrigger: AccordionTrigger, AccordionContent: AccordionContent,
    },
    avatar: { Avatar: Avatar, AvatarImage: AvatarImage, AvatarFallback: AvatarFallback },
    "aspect-ratio": { AspectRatio: AspectRatio },
    "scroll-area": { ScrollArea: part("div", "lc-ui-scroll-area"), ScrollBar: function () { return null; } },
    popover: {
      Popover: popover.Root, PopoverTrigger: popover.Trigger, PopoverContent: popover.Content,
      PopoverAnchor: Passthrough,
    },
    dialog: {
      Dialog: dialog.Root, DialogTrigger: dialog.Trigger, DialogContent: dialog.Content,
      DialogClose: dialog.Close, DialogPortal: Passthrough, DialogOverlay: function () { return null; },
      DialogHeader: part("div", "lc-ui-card-header"), DialogFooter: part("div", "lc-ui-card-footer"),
      DialogTitle: part("h2", "lc-ui-card-title"), DialogDescription: part("p", "lc-ui-card-description"),
    },
    sheet: {
      Sheet: sheet.Root, SheetTrigger: sheet.Trigger, SheetContent: sheet.Content,
      SheetClose: sheet.Close, SheetHeader: part("div", "lc-ui-card-header"),
      SheetFooter: part("div", "lc-ui-card-footer"), SheetTitle: part("h2", "lc-ui-card-title"),
      SheetDescription: part("p", "lc-ui-card-description"),
    },
    "dropdown-menu": {
      DropdownMenu: menu.Root, DropdownMenuTrigger: menu.Trigger, DropdownMenuContent: menu.Content,
      DropdownMenuItem: menu.Item, DropdownMenuCheckboxItem: menu.Item,
      DropdownMenuLabel: part("div", "lc-ui-menu-label"),
      DropdownMenuSeparator: part("hr", "lc-ui-separator"),
      DropdownMenuGroup: part("div", ""), DropdownMenuShortcut: part("span", "lc-hint"),
      DropdownMenuPortal: Passthrough,
    },
    "hover-card": { HoverCard: hover.Root, HoverCardTrigger: hover.Trigger, HoverCardContent: hover.Content },
    tooltip: {
      TooltipProvider: Passthrough, Tooltip: tip.Root, TooltipTrigger: tip.Trigger,
      TooltipContent: tip.Content,
    },
  };

  // Lucide icons by lucide-react's names: the server put in the ones the source imports.
  function Icon(nodes, name) {
    var component = React.forwardRef(function (given, ref) {
      var size = given.size || 24;
      var attrs = omit(given, ["size", "color", "strokeWidth", "absoluteStrokeWidth"]);
      Object.assign(attrs, {
        ref: ref, xmlns: "http://www.w3.org/2000/svg", width: size, height: size,
        viewBox: "0 0 24 24", fill: "none", stroke: given.color || "currentColor",
        "stroke-width": given.strokeWidth || 2, "stroke-linecap": "round", "stroke-linejoin": "round",
        className: cx("lc-ui-icon", given.className),
      });
      if (!given["aria-label"]) attrs["aria-hidden"] = "true";
      var children = nodes.map(function (node, index) {
        return h(node[0], Object.assign({ key: index }, node[1]));
      });
      return h("svg", attrs, children, given.children);
    });
    component.displayName = name;
    return component;
  }
  var icons = {};
  Object.keys(data.icons || {}).forEach(function (name) { icons[name] = Icon(data.icons[name], name); });
  var lucide = new Proxy(icons, {
    get: function (target, name) {
      if (name in target || typeof name !== "string") return target[name];
      if (name === "__esModule" || name === "default") return undefined;
      return function () { return null; };  // an icon not imported by name, or unknown
    },
  });

  var modules = {
    react: React,
    "react-dom": React,
    preact: preact,
    "preact/hooks": hooks,
    "lucide-react": lucide,
  };
  Object.keys(ui).forEach(function (name) { modules["@/components/ui/" + name] = ui[name]; });
  function require(name) {
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error('"' + name + '" cannot be imported by an element here. Available: ' +
      Object.keys(modules).join(", "));
  }

  // -- running the element ----------------------------------------------------------------
  function failure(error) {
    var message = error && error.message ? error.message : String(error);
    return h("div", { role: "alert", className: "lc-ui-failure" },
      h("p", null, texts.failed || "This element could not be shown."), h("pre", null, message));
  }
  class Boundary extends preact.Component {
    componentDidCatch(error) { this.setState({ error: error }); }
    render() { return this.state.error ? failure(this.state.error) : this.props.children; }
  }
  function load() {
    var code = window.Babel.transform(data.source, {
      presets: [["react", { pragma: "__lcH", pragmaFrag: "__lcFragment" }]],
      plugins: ["transform-modules-commonjs"],
      sourceType: "module",
      filename: data.name + ".jsx",
    }).code;
    var module = { exports: {} };
    var names = ["require", "module", "exports", "React", "__lcH", "__lcFragment"].concat(Object.keys(api));
    var run = new Function(names.join(","), code);
    run.apply(null, [require, module, module.exports, React, h, React.Fragment].concat(
      Object.keys(api).map(function (key) { return api[key]; })));
    var exported = module.exports;
    var component = exported && (exported.default || exported);
    if (typeof component !== "function") throw new Error("The element's file has no default export (a component).");
    return component;
  }
  function Root(given) {
    var tick = hooks.useState(0);
    refresh = function () { tick[1](function (n) { return n + 1; }); };
    return h(Boundary, null, h(given.component, Object.assign({}, props)));
  }
  try {
    preact.render(h(Root, { component: load() }), root);
  } catch (error) {
    preact.render(failure(error), root);
  }

  // The frame's height follows its content (the page sets it).
  function sayHeight() {
    // Down to the root's end, and the body's padding below it.
    var below = parseFloat(getComputedStyle(document.body).paddingBottom) || 0;
    post({ type: "height", height: Math.ceil(root.getBoundingClientRect().bottom + below) });
  }
  new ResizeObserver(sayHeight).observe(root);
  post({ type: "ready" });
})();
