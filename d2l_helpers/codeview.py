"""The frameworks' code lined up row by row: one row per layer of the model, one per job of the step.

Read from the training notebooks' own tagged cells, so the view shows what a reader
runs. Each cell is broken at argument boundaries to a fixed width, never wrapped by
the browser, so the table keeps its rows aligned on one 1280×800 slide; a row that
is the same in every framework is shown once.

    cells, notes = load_cells("notebooks")
    HTML(model_view_html(cells)); HTML(step_view_html(cells))
"""
from __future__ import annotations

import html
import io
import json
import re
import tokenize
from pathlib import Path

from . import frameworks as registry
from .architecture import ALEXNET

WIDTH = 40  # characters per code line in a column: two columns and labels fit 1280 px at 17 px

_TABLE = "border-collapse:collapse;margin:0;font-size:21px;table-layout:auto"
_TD = "padding:2px 6px;border-bottom:1px solid #e3e3e3;vertical-align:top;text-align:left"
_CODE = ("margin:0;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:17px;"
         "line-height:1.25;white-space:pre;background:none;border:none;padding:0")


def tagged_sources(notebook, tag: str) -> list:
    """Sources of the code cells of `notebook` (a path) that carry `tag`, in order."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def load_cells(notebooks_dir, keys=registry.KEYS) -> tuple:
    """({framework key: {"model": source, "train-step": source}}, notes) for the notebooks found."""
    cells, notes = {}, []
    for key in keys:
        path = Path(notebooks_dir) / registry.get(key).notebook
        try:
            model, step = tagged_sources(path, "model"), tagged_sources(path, "train-step")
        except (OSError, ValueError) as err:
            notes.append(f"Could not read {path.name}: {err}")
            continue
        if not model or not step:
            notes.append(f"{path.name} lacks a code cell tagged 'model' or 'train-step'.")
            continue
        cells[key] = {"model": model[0], "train-step": "\n\n\n".join(step)}  # a step may span cells
    return cells, notes


# --- splitting code into pieces -------------------------------------------------------------------

def split_top_level(text: str, separator: str = ",") -> list:
    """`text` split at `separator`s outside brackets and strings, pieces stripped, empty ones dropped."""
    pieces, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            pieces.append(current)
            current = ""
            continue
        current += char
    pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _first_call(code: str) -> tuple:
    """(opening, closing index) of the first call, list or dict at the top level of `code`, or None."""
    depth, quote, opened = 0, None, None
    for i, char in enumerate(code):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            is_call = char == "(" and i and (code[i - 1].isalnum() or code[i - 1] in "_)]")
            if depth == 0 and (is_call or char in "[{"):  # a call, or a list or dict display
                opened = i
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0 and opened is not None:
                return opened, i
    return None


def fit(code: str, width: int = WIDTH, indent: str = "") -> str:
    """`code` (one line) broken between the arguments of its calls so that no line is longer
    than `width`, continuation lines indented four more spaces; what cannot be broken stays whole."""
    if len(indent) + len(code) <= width:
        return indent + code
    call = _first_call(code)
    if call is None:
        return indent + code
    start, end = call
    head, args, tail = code[:start + 1], code[start + 1:end], code[end:]
    comprehension = re.search(r"\sfor\s", args) and " for " in " ".join(split_top_level(args, " "))
    if comprehension:  # break before its `for`, not at the commas of its targets
        where = _top_level_for(args)
        pieces = [args[:where].strip(), "\0" + args[where:].strip()]
    else:
        pieces = split_top_level(args)
    if not pieces:
        return indent + code
    inner = indent + "    "
    lines, current = [], indent + head
    for i, piece in enumerate(pieces):
        piece += ("," if i < len(pieces) - 1 and not comprehension else "")
        piece = piece.replace("\0", "") + (tail if i == len(pieces) - 1 else "")
        joiner = "" if current.endswith(("(", "[", "{")) else " "
        if len(current) + len(joiner) + len(piece) <= width:
            current += joiner + piece
            continue
        lines.append(current)
        current = fit(piece, width, inner)
        if "\n" in current:
            *done, current = current.split("\n")
            lines.extend(done)
    lines.append(current)
    return "\n".join(lines)


def _top_level_for(text: str) -> int:
    depth, quote = 0, None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(" for ", i):
            return i + 1
    return len(text)


def _dedent(lines: list) -> list:
    margin = min((len(line) - len(line.lstrip()) for line in lines), default=0)
    return [line[margin:] for line in lines]


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#[^\"']*$", "", line)


# --- the model: one row per layer ------------------------------------------------------------------

KINDS = {  # what an expression in a Sequential builds, by the names the frameworks use
    "conv": r"Conv", "pool": r"MaxPool|max_pool", "dense": r"Linear|Dense",
    "dropout": r"Dropout", "flatten": r"Flatten|flatten", "relu": r"ReLU|relu$|Activation",
}
PREFIXES = ("keras.layers.", "layers.", "nnx.", "nn.")  # dropped in the view, named in its header


def kind_of(expression: str) -> str:
    """The layer kind an expression builds: conv, pool, dense, dropout, flatten or relu."""
    name = re.match(r"[\w.]+", expression).group(0)
    for kind, pattern in KINDS.items():
        if re.search(pattern, name):
            return kind
    raise ValueError(f"cannot tell which layer {expression!r} builds")


def layer_expressions(model_source: str) -> list:
    """The expressions inside the model cell's Sequential (or `net.add(...)`), comments removed."""
    text = "\n".join(_strip_comment(line) for line in model_source.splitlines())
    match = re.search(r"\.add\(", text) or re.search(r"Sequential\(\[?", text)
    if match is None:
        raise ValueError("no Sequential(...) or net.add(...) in the model cell")
    depth, start = 1, match.end()
    for end in range(start, len(text)):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[end], 0)
        if depth == 0:
            break
    body = text[start:end]
    return [" ".join(e.split()) for e in split_top_level(body)]


def model_rows(model_source: str) -> list:
    """[(kind, expression)] per layer: activations join the layer before them, and the rngs and
    dtype arguments that every Flax layer takes are left out."""
    rows = []
    for expression in layer_expressions(model_source):
        expression = expression.replace(", rngs=rngs", "").replace(", dtype=dtype", "")
        for prefix in PREFIXES:
            expression = expression.replace(prefix, "")
        kind = kind_of(expression)
        if kind == "relu" and rows:
            rows[-1] = (rows[-1][0], f"{rows[-1][1]}, {expression}")
        else:
            rows.append((kind, expression))
    return rows


def model_table(cells: dict) -> list:
    """[(label, {framework key: code})]: one row per AlexNet layer, plus one for flattening."""
    layers = [(layer.kind, layer.label) for layer in ALEXNET]
    first_dense = next(i for i, (kind, _) in enumerate(layers) if kind == "dense")
    layers.insert(first_dense, ("flatten", "flatten the last feature map"))
    table = [(label, {}) for _, label in layers]
    for key, sources in cells.items():
        rows = model_rows(sources["model"])
        i = 0
        for row, (kind, _) in enumerate(layers):
            if i < len(rows) and rows[i][0] == kind:
                table[row][1][key] = fit(rows[i][1])
                i += 1
            else:
                raise ValueError(f"{registry.get(key).notebook}: layer {row + 1} should be a {kind}, "
                                 f"found {rows[i][0] if i < len(rows) else 'nothing'}")
        if i != len(rows):
            raise ValueError(f"{registry.get(key).notebook}: more layers than AlexNet has")
    return table


# --- the training step: one row per job ------------------------------------------------------------

# (label, pattern) in the order of a step; each logical line of a train-step cell takes the
# first label whose pattern matches it, and a decorator takes the label of the line it decorates.
STEP_JOBS = (
    ("loss function", r"^loss_fn =|^def loss_fn|^return optax\.softmax"),
    ("optimiser", r"^(optimizer|trainer) ="),
    ("learning-rate schedule", r"^(schedule|scheduler) =|^scheduler\.step\(\)"),
    ("mixed precision", r"^autocast = |^with autocast:"),
    ("the step", r"^def (train_step|step)\(|^return step\("),
    ("dropout on", r"net\.train\(\)|autograd\.record\(\)"),
    ("record for gradients", r"GradientTape|^def loss_and_logits"),
    ("forward pass", r"^y_hat = net\(X"),
    ("loss", r"^loss = loss_fn|^return loss_fn\("),
    ("gradients", r"zero_grad|backward\(|^weights = |tape\.gradient|value_and_grad"),
    ("weight decay by hand", r"weight_decay \* w"),
    ("update", r"optimizer\.(step|update|apply_gradients)|trainer\.step"),
    ("return", r"^return .*y_hat$"),
    ("inference: dropout off", r"^def (predict|forward)\(|net\.eval\(\)|^return (net|forward)\("),
    ("accuracy", r"^def evaluate|^labels, logits = d2l\.predict_all|^return float\(\(logits"),
)


def logical_lines(source: str) -> list:
    """The cell's logical lines (a statement spread over several lines is one), each with its
    indentation relative to the cell, comments removed and runs of whitespace collapsed."""
    physical = source.splitlines()
    lines, first = [], None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
            continue
        if first is None:
            first = token.start
        if token.type == tokenize.NEWLINE:
            text = " ".join(_strip_comment(line) for line in physical[first[0] - 1:token.end[0]])
            text = re.sub(r"([(\[{]) ", r"\1", " ".join(text.split()))
            lines.append(" " * first[1] + text)
            first = None
    return lines


def step_jobs(step_source: str) -> list:
    """[(job label, logical line)] of a train-step cell, in the cell's order."""
    lines = [(len(line) - len(line.lstrip()), line.strip()) for line in logical_lines(step_source)]
    jobs, pending = [], []
    for indent, line in lines:
        if line.startswith("@"):
            pending.append((indent, line))
            continue
        label = next((label for label, pattern in STEP_JOBS if re.search(pattern, line)), None)
        if label is None:
            raise ValueError(f"no job in STEP_JOBS matches {line!r}")
        for decorator_indent, decorator in pending:
            jobs.append((label, " " * decorator_indent + decorator))
        pending = []
        jobs.append((label, " " * indent + line))
    return jobs


def step_table(cells: dict) -> list:
    """[(label, {framework key: code})] in the order of STEP_JOBS, jobs no framework has left out."""
    per_framework = {key: step_jobs(sources["train-step"]) for key, sources in cells.items()}
    table = []
    for label, _ in STEP_JOBS:
        row = {key: "\n".join(fit(line.lstrip(), indent=line[:len(line) - len(line.lstrip())])
                               for line in _dedent([line for job, line in jobs if job == label]))
               for key, jobs in per_framework.items()}
        if any(row.values()):
            table.append((label, row))
    return table


# --- HTML ------------------------------------------------------------------------------------------

def _highlight(code: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return html.escape(code)
    return highlight(code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=True)).rstrip("\n")


def table_html(table: list, keys, caption: str = "") -> str:
    """An HTML table: a label column, then one column per framework. A row whose code is the same
    in every framework is one cell across all columns; so are neighbours with the same code."""
    keys = list(keys)
    head = "".join(f'<th style="{_TD};border-bottom:2px solid #999">{html.escape(registry.get(k).name)}</th>'
                   for k in keys)
    body = []
    for label, row in table:
        cells, i = [], 0
        while i < len(keys):
            code = row.get(keys[i], "")
            span = 1
            while i + span < len(keys) and row.get(keys[i + span], "") == code:
                span += 1
            content = (f'<pre style="{_CODE}">{_highlight(code)}</pre>' if code
                       else '<span style="color:#aaa">—</span>')
            cells.append(f'<td colspan="{span}" style="{_TD}">{content}</td>')
            i += span
        body.append(f'<tr><th style="{_TD};font-weight:normal;color:#555;width:6.5em">'
                    f'{html.escape(label)}</th>{"".join(cells)}</tr>')
    caption_html = (f'<caption style="caption-side:bottom;text-align:left;color:#777;font-size:21px;'
                    f'padding-top:4px">{html.escape(caption)}</caption>' if caption else "")
    return (f'<table class="d2l-aligned" style="{_TABLE}">{caption_html}<thead><tr><th style="{_TD};'
            f'border-bottom:2px solid #999"></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def model_view_html(cells: dict, keys=None) -> str:
    """The model cells of the notebooks found (or of `keys` among them), one row per layer."""
    keys = [k for k in (keys or cells) if k in cells]
    return table_html(model_table({k: cells[k] for k in keys}), keys, caption="Prefixes left out: nn. "
                      "(PyTorch, MXNet), keras.layers. (TensorFlow), nnx., dtype=dtype and rngs=rngs (JAX).")


def step_view_html(cells: dict, keys=None) -> str:
    """The train-step cells of the notebooks found (or of `keys` among them), one row per job."""
    keys = [k for k in (keys or cells) if k in cells]
    return table_html(step_table({k: cells[k] for k in keys}), keys, caption="Comments left out; long "
                      "lines broken between arguments.")
