"""What `compare.ipynb` computes: the three run records and the three notebooks, side by side.

Framework-neutral (json, numpy-free, matplotlib for the one figure; pygments for
code colouring when it is installed). Every function copes with missing pieces:
a record or notebook that does not exist yet becomes a note, not an error, so
the comparison notebook runs at any stage of the project.

    records, notes = load_records("../results")
    notes += comparability_notes(records)
    HTML(notes_html(notes)); HTML(summary_table_html(records)); findings(records)
    cells, notes = load_tagged_cells(".")
    HTML(side_by_side_html(cells, tags=("model",)))
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from .architecture import parameter_count
from .cells import tagged_sources
from .config import TEST_SIZE
from .results import RunRecord, load_record

FRAMEWORKS = ("mxnet", "pytorch", "tensorflow")
NAMES = {"mxnet": "MXNet", "pytorch": "PyTorch", "tensorflow": "TensorFlow"}
COLORS = {"mxnet": "tab:blue", "pytorch": "tab:red", "tensorflow": "tab:green"}
CONFIG_KEYS = ("preset", "epochs", "batch_size", "lr", "resize", "train_limit", "test_limit",
               "seed", "momentum", "weight_decay")
TAGS = ("model", "train")

_CELL = "padding:4px 10px;border-bottom:1px solid #ddd;vertical-align:top;"
_PRE = ("margin:0;padding:6px;background:#f7f7f7;border:1px solid #e3e3e3;border-radius:4px;"
        "font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:11px;line-height:1.35;"
        "white-space:pre-wrap;word-break:break-word;text-align:left;")


def name(framework: str) -> str:
    """Display name of a framework key: `'pytorch'` -> `'PyTorch'`."""
    return NAMES.get(framework, framework)


def record_path(results_dir, framework: str) -> Path:
    """Where a notebook saves its run record (`RunRecord.save` names it this way)."""
    return Path(results_dir) / f"alexnet-{framework}.json"


def notebook_path(notebooks_dir, framework: str) -> Path:
    """The training notebook of a framework."""
    return Path(notebooks_dir) / f"alexnet-{framework}.ipynb"


# --------------------------------------------------------------------------- records

def load_records(results_dir, frameworks=FRAMEWORKS) -> tuple[dict[str, RunRecord], list[str]]:
    """Read the run records that exist; return `({framework: record}, notes)`.

    A missing or unreadable record is skipped with a note that says which file and
    what to do, so callers can show what they have.
    """
    records, notes = {}, []
    for fw in frameworks:
        path = record_path(results_dir, fw)
        if not path.is_file():
            notes.append(f"No run record for {name(fw)}: {path} does not exist yet. "
                         f"Run alexnet-{fw}.ipynb to the end to write it.")
            continue
        try:
            record = load_record(path)
        except ValueError as err:
            notes.append(f"Skipping {name(fw)}: {err}")
            continue
        if record.framework.lower() != fw:
            notes.append(f"{path} says it comes from {record.framework!r}, not {name(fw)}; "
                         f"it is shown under {name(fw)}.")
        records[fw] = record
    return records, notes


def config_differences(records: dict[str, RunRecord]) -> dict[str, dict[str, object]]:
    """The settings that are not the same in all records: `{setting: {framework: value}}`."""
    differences = {}
    for key in CONFIG_KEYS:
        values = {fw: r.config.get(key) for fw, r in records.items()}
        if len(set(map(repr, values.values()))) > 1:
            differences[key] = values
    return differences


def comparability_notes(records: dict[str, RunRecord]) -> list[str]:
    """Why the records cannot be compared like for like (an empty list when they can)."""
    if not records:
        return ["There are no run records yet, so there is nothing to compare."]
    if len(records) == 1:
        (fw,) = records
        return [f"Only {name(fw)} has a run record: its numbers are shown, with nothing to "
                "compare them against yet."]
    notes = []
    differences = config_differences(records)
    if differences:
        parts = ["{}: {}".format(key, ", ".join(f"{name(fw)} {value}" for fw, value in values.items()))
                 for key, values in differences.items()]
        notes.append("The runs used different settings (" + "; ".join(parts) + "). Accuracy and "
                     "speed are therefore not an apples-to-apples comparison: rerun the notebooks "
                     "with the same preset to compare the frameworks.")
    devices = {fw: r.device for fw, r in records.items()}
    if len(set(devices.values())) > 1:
        notes.append("The runs used different devices (" + ", ".join(
            f"{name(fw)} on {d}" for fw, d in devices.items()) + "): speed differences then say "
            "more about the hardware than about the frameworks.")
    return notes


def notes_html(notes: list[str], all_clear: str = "All records found, with the same settings "
               "and device: the numbers below compare like with like.") -> str:
    """The notes as a highlighted box (amber with notes, green without)."""
    if not notes:
        return (f'<div style="background:#e8f5e9;border-left:4px solid #43a047;padding:6px 12px;'
                f'text-align:left">{html.escape(all_clear)}</div>')
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return ('<div style="background:#fff8e1;border-left:4px solid #f9a825;padding:6px 12px;'
            f'text-align:left"><ul style="margin:0;padding-left:18px">{items}</ul></div>')


# --------------------------------------------------------------------------- table

def format_seconds(seconds: float) -> str:
    """`12.34` -> `'12.3 s'`; `245` -> `'4 min 05 s'`; `4000` -> `'1 h 06 min'`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# (label, getter, formatter, best: max/min/None)
_ROWS = (
    ("test accuracy", lambda r: r.final["test_acc"], "{:.3f}".format, max),
    ("train loss", lambda r: r.final["train_loss"], "{:.3f}".format, min),
    ("examples / second", lambda r: r.final["examples_per_sec"], "{:,.0f}".format, max),
    ("wall time (training)", lambda r: r.final["train_seconds"], format_seconds, min),
    ("parameters", lambda r: r.parameters, "{:,}".format, None),
    ("device", lambda r: r.device, str, None),
    ("framework version", lambda r: r.framework_version, str, None),
    ("preset", lambda r: r.config.get("preset"), str, None),
    ("epochs", lambda r: r.config.get("epochs"), str, None),
)


def summary_table(records: dict[str, RunRecord]) -> list[tuple[str, list[str], int | None]]:
    """Rows of the summary as `(label, [cell per record], index of the best cell or None)`."""
    rows = []
    for label, get, fmt, best in _ROWS:
        raw = []
        for record in records.values():
            try:
                raw.append(get(record))
            except (KeyError, TypeError):  # an unfinished record lacks `final`
                raw.append(None)
        cells = ["—" if v is None else fmt(v) for v in raw]
        known = [v for v in raw if v is not None]
        winner = raw.index(best(known)) if best and len(known) > 1 else None
        rows.append((label, cells, winner))
    return rows


def summary_table_html(records: dict[str, RunRecord], mark_best: bool | None = None) -> str:
    """An HTML table, one column per framework.

    With `mark_best` the best value of each measured row is bold; by default that
    happens only when the records are comparable (no `comparability_notes`).
    """
    if not records:
        return "<p><em>No run records to tabulate.</em></p>"
    if mark_best is None:
        mark_best = not comparability_notes(records)
    head = "".join(f'<th style="{_CELL}text-align:right;border-bottom:2px solid #999">'
                   f'{html.escape(name(fw))}</th>' for fw in records)
    body = []
    for label, cells, winner in summary_table(records):
        tds = "".join(
            f'<td style="{_CELL}text-align:right">'
            + (f"<b>{html.escape(c)}</b>" if mark_best and i == winner else html.escape(c))
            + "</td>"
            for i, c in enumerate(cells))
        body.append(f'<tr><th style="{_CELL}text-align:left;font-weight:normal">'
                    f"{html.escape(label)}</th>{tds}</tr>")
    return (f'<table style="border-collapse:collapse;margin:0">'
            f'<thead><tr><th style="{_CELL}border-bottom:2px solid #999"></th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


# --------------------------------------------------------------------------- findings

def _test_examples(record: RunRecord) -> int:
    return record.config.get("test_limit") or TEST_SIZE


def findings(records: dict[str, RunRecord]) -> list[str]:
    """Plain sentences about what the records show: parameters, accuracy, speed, warm-up."""
    done = {fw: r for fw, r in records.items() if r.final}
    if not done:
        return []
    sentences = []
    if comparability_notes(done) and len(done) > 1:
        sentences.append("Caution: these runs differ in settings or hardware (see the notes "
                         "above), so the comparisons below are not like for like.")

    counts = {fw: r.parameters for fw, r in done.items()}
    if len(set(counts.values())) == 1:
        (count,) = set(counts.values())
        sentence = (f"All {len(done)} networks have {count:,} trainable parameters"
                    if len(done) > 1 else f"{name(next(iter(done)))}'s network has {count:,} "
                    "trainable parameters")
        resizes = {r.config.get("resize") for r in done.values()}
        if len(resizes) == 1 and isinstance(next(iter(resizes)), int):
            (resize,) = resizes
            expected = parameter_count(resize)
            sentence += (f", exactly what the shared layer table predicts for {resize}×{resize} "
                         "inputs." if count == expected else
                         f", but the shared layer table predicts {expected:,} for {resize}×{resize}"
                         " inputs: some layer differs from it.")
        else:
            sentence += "."
        sentences.append(sentence)
    else:
        listed = ", ".join(f"{name(fw)} {c:,}" for fw, c in counts.items())
        resizes = {fw: r.config.get("resize") for fw, r in done.items()}
        if all(isinstance(resizes[fw], int) and counts[fw] == parameter_count(resizes[fw])
               for fw in done):
            sentences.append(f"The parameter counts differ ({listed}) only because the input "
                             "sizes differ: the first dense layer's weights grow with the image.")
        else:
            sentences.append(f"The parameter counts differ ({listed}): the networks are not the "
                             "same.")

    if len(done) < 2:
        return sentences

    acc = {fw: r.final["test_acc"] for fw, r in done.items()}
    best, worst = max(acc, key=acc.get), min(acc, key=acc.get)
    spread = 100 * (acc[best] - acc[worst])
    n = min(_test_examples(r) for r in done.values())
    p = sum(acc.values()) / len(acc)
    stderr = 100 * math.sqrt(max(p * (1 - p), 1e-12) / n)
    verdict = ("within the noise to expect between runs" if spread <= 2 * math.sqrt(2) * stderr
               else "larger than the test set's sampling noise alone; each framework also starts "
                    "from its own random weights and dropout masks, and one run per framework "
                    "cannot tell that variation apart from a real difference")
    sentences.append(
        f"Test accuracy ranges from {acc[worst]:.3f} ({name(worst)}) to {acc[best]:.3f} "
        f"({name(best)}), a spread of {spread:.1f} percentage points. With {n:,} test images one "
        f"standard error of an accuracy is about {stderr:.1f} points, so the spread is {verdict}.")

    speed = {fw: r.final["examples_per_sec"] for fw, r in done.items()}
    fastest = max(speed, key=speed.get)
    others = [fw for fw in speed if fw != fastest]
    sentences.append(
        f"{name(fastest)} was fastest at {speed[fastest]:,.0f} examples/s: " + " and ".join(
            f"{speed[fastest] / speed[fw]:.2f}× {name(fw)}" for fw in others) + ".")

    wall = {fw: r.final["train_seconds"] for fw, r in done.items()}
    quick, slow = min(wall, key=wall.get), max(wall, key=wall.get)
    sentences.append(f"Training took from {format_seconds(wall[quick])} ({name(quick)}) to "
                     f"{format_seconds(wall[slow])} ({name(slow)}).")

    for fw, record in done.items():
        rates = [h["examples_per_sec"] for h in record.history]
        if len(rates) >= 2:
            later = sum(rates[1:]) / len(rates[1:])
            if later > 0 and rates[0] < 0.85 * later:
                sentences.append(
                    f"{name(fw)}'s first epoch ran at {rates[0] / later:.2f}× the speed of its "
                    "later ones: a one-off start-up cost (tracing or compiling the graph, "
                    "choosing kernels, allocating memory).")
    return sentences


# --------------------------------------------------------------------------- figure

def plot_learning_curves(records: dict[str, RunRecord], path=None):
    """Loss, accuracy and throughput per epoch, one colour per framework.

    Test accuracy is drawn solid, train accuracy dashed.

    Returns the Figure (None when there is no history to draw); saves it to `path` if given.
    """
    runs = {fw: r for fw, r in records.items() if r.history}
    if not runs:
        return None
    if all(len(r.history) == 1 for r in runs.values()):
        fig = _plot_single_epoch(runs)
    else:
        fig = _plot_epochs(runs)
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def _plot_single_epoch(runs: dict[str, RunRecord]):
    """One epoch per run (the CPU preview) makes no curve: bars of the same three figures."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    names = [name(fw) for fw in runs]
    colors = [COLORS.get(fw) for fw in runs]
    rows = [r.history[0] for r in runs.values()]
    panels = (("train loss", "train_loss"), ("test accuracy (train, hatched)", "test_acc"),
              ("examples / second", "examples_per_sec"))
    for ax, (title, key) in zip(axes, panels):
        bars = ax.bar(names, [h[key] for h in rows], color=colors)
        ax.bar_label(bars, fmt="%.3g", fontsize=9)
        ax.set_title(title, fontsize=11)
        ax.grid(True, axis="y", alpha=0.3)
    axes[1].bar(names, [h["train_acc"] for h in rows], color="none", edgecolor="black",
                hatch="//", width=0.4)
    axes[1].set_ylim(0, 1)
    fig.suptitle("one epoch per run: bars instead of curves", fontsize=10, color="#555")
    fig.tight_layout()
    return fig


def _plot_epochs(runs: dict[str, RunRecord]):
    fig, (loss_ax, acc_ax, speed_ax) = plt.subplots(1, 3, figsize=(13, 3.8))
    for fw, record in runs.items():
        epochs = [h["epoch"] for h in record.history]
        color = COLORS.get(fw)
        loss_ax.plot(epochs, [h["train_loss"] for h in record.history], "-", color=color,
                     marker="o", label=name(fw))
        acc_ax.plot(epochs, [h["train_acc"] for h in record.history], "--", color=color,
                    alpha=0.6)
        acc_ax.plot(epochs, [h["test_acc"] for h in record.history], "-", color=color, marker="o")
        speed_ax.plot(epochs, [h["examples_per_sec"] for h in record.history], "-",
                      color=color, marker="o")
    for ax, title in ((loss_ax, "train loss"), (acc_ax, "accuracy"),
                      (speed_ax, "examples / second")):
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    loss_ax.legend(fontsize=9, title="framework", title_fontsize=9)
    acc_ax.legend([Line2D([], [], color="black", marker="o"), Line2D([], [], color="black",
                                                                     ls="--", alpha=0.6)],
                  ["test", "train"], fontsize=9, title="metric", title_fontsize=9)
    speed_ax.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- code side by side

def load_tagged_cells(notebooks_dir, tags=TAGS, frameworks=FRAMEWORKS
                      ) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """`({framework: {tag: [source, ...]}}, notes)` for the notebooks that exist and parse."""
    cells, notes = {}, []
    for fw in frameworks:
        path = notebook_path(notebooks_dir, fw)
        if not path.is_file():
            notes.append(f"{path.name} does not exist yet in {Path(notebooks_dir)}: "
                         f"the {name(fw)} column stays empty.")
            continue
        try:
            cells[fw] = {tag: tagged_sources(path, tag) for tag in tags}
        except (OSError, ValueError) as err:
            notes.append(f"Could not read {path}: {err}")
            continue
        for tag in tags:
            if not cells[fw][tag]:
                notes.append(f"{path.name} has no code cell tagged {tag!r}.")
    return cells, notes


def highlight(code: str) -> str:
    """Python source as HTML: coloured with inline styles by pygments, or just escaped."""
    try:
        from pygments import highlight as _highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return html.escape(code)
    return _highlight(code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=True)).rstrip("\n")


def side_by_side_html(cells: dict[str, dict[str, list[str]]], tags=TAGS,
                      frameworks=FRAMEWORKS) -> str:
    """A table with one column per framework and one row per tagged cell.

    For each tag, row i holds the i-th cell with that tag from every notebook, so
    the code that does the same job lines up. Missing notebooks and cells show a
    placeholder; all code is escaped (and coloured when pygments is available).
    """
    width = f"{100 / len(frameworks):.2f}%"
    head = "".join(f'<th style="{_CELL}width:{width};text-align:left;border-bottom:2px solid '
                   f'#999">{html.escape(name(fw))} <span style="font-weight:normal;color:#777">'
                   f'alexnet-{html.escape(fw)}.ipynb</span></th>' for fw in frameworks)
    rows = []
    for tag in tags:
        depth = max((len(cells.get(fw, {}).get(tag, [])) for fw in frameworks), default=0)
        rows.append(f'<tr><td colspan="{len(frameworks)}" style="{_CELL}text-align:left;'
                    f'background:#eef2f7"><b>cells tagged <code>{html.escape(tag)}</code></b>'
                    f'{"" if depth else " — none found yet"}</td></tr>')
        for i in range(depth):
            tds = []
            for fw in frameworks:
                if fw not in cells:
                    content = '<em style="color:#999">notebook not found</em>'
                else:
                    sources = cells[fw].get(tag, [])
                    content = (f'<pre style="{_PRE}">{highlight(sources[i])}</pre>' if i < len(sources)
                               else f'<em style="color:#999">no cell {i + 1} tagged '
                                    f'{html.escape(tag)}</em>')
                tds.append(f'<td style="{_CELL}text-align:left">{content}</td>')
            rows.append(f"<tr>{''.join(tds)}</tr>")
    return (f'<table style="border-collapse:collapse;table-layout:fixed;width:100%;margin:0">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
