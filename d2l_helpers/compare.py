"""What `compare.ipynb` computes from the run records: notes, a table, curves and findings.

Framework-neutral (json and matplotlib). Every function copes with missing pieces:
a record that does not exist yet, or a framework whose environment is missing on
this machine, becomes a note, not an error, so the comparison runs at any stage.

    records, notes = load_records("../results")
    notes += comparability_notes(records)
    HTML(notes_html(notes)); HTML(summary_table_html(records))
    plot_learning_curves(records); findings(records, parity=load_json(...)); figures_html(...)

The code side by side is in `codeview`.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from . import frameworks as registry
from .architecture import parameter_count
from .config import PRECISIONS, TEST_SIZE
from .results import RunRecord, load_record

CONFIG_KEYS = ("preset", "epochs", "batch_size", "lr", "resize", "train_limit", "test_limit",
               "seed", "precision", "momentum", "weight_decay")
UNSET = {"precision": PRECISIONS[0]}  # a record without the setting trained in float32
LN10 = math.log(10)

_CELL = "padding:4px 10px;border-bottom:1px solid #ddd;vertical-align:top;"


def name(key: str) -> str:
    """Display name of a framework key: `'pytorch'` -> `'PyTorch'`."""
    return registry.BY_KEY[key].name if key in registry.BY_KEY else key


def load_json(path) -> dict | None:
    """A JSON document (results/parity.json, benchmarks/results-cpu.json), or None if absent."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


# --------------------------------------------------------------------------- records

def load_parity(*paths) -> dict | None:
    """The first of `paths` that holds a `tools.parity` record, with its path as "source"; None if none does."""
    for path in paths:
        doc = load_json(path)
        if doc:
            return {**doc, "source": Path(path).as_posix().lstrip("./")}
    return None


def load_records(results_dir, keys=registry.KEYS) -> tuple:
    """Read the run records that exist; return `({framework key: record}, notes)`.

    A missing or unreadable record is skipped with a note that says which file and
    what to do. A framework that cannot run on this machine gets a note with the
    reason; its record, if one is there from an earlier run, is still shown.
    """
    records, notes = {}, []
    for key in keys:
        fw = registry.get(key)
        path = Path(results_dir) / fw.record
        problem = registry.problem(fw)
        if problem:
            notes.append(problem + (f" Its record shown here is from an earlier run ({path.name})."
                                    if path.is_file() else ""))
        if not path.is_file():
            if not problem:
                notes.append(f"No run record for {fw.name}: {path} does not exist yet. "
                             f"Run {fw.notebook} to the end to write it.")
            continue
        try:
            record = load_record(path)
        except ValueError as err:
            notes.append(f"Skipping {fw.name}: {err}")
            continue
        if record.framework != fw.name:
            notes.append(f"{path} says it comes from {record.framework!r}, not {fw.name}; "
                         f"it is shown under {fw.name}.")
        records[key] = record
    return records, notes


def config_differences(records: dict) -> dict:
    """The settings that are not the same in all records: `{setting: {framework: value}}`."""
    differences = {}
    for key in CONFIG_KEYS:
        values = {fw: r.config.get(key, UNSET.get(key)) for fw, r in records.items()}
        if len(set(map(repr, values.values()))) > 1:
            differences[key] = values
    return differences


def comparability_notes(records: dict) -> list:
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


def notes_html(notes: list, all_clear: str = "All records found, with the same settings "
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
    ("train loss (last steps)", lambda r: r.final["train_loss"], "{:.3f}".format, min),
    ("loss before training", lambda r: r.initial_loss, "{:.5f}".format, None),
    ("examples / second (this run)", lambda r: r.final["examples_per_sec"], "{:,.0f}".format, None),
    ("wall time (training)", lambda r: r.final["train_seconds"], format_seconds, None),
    ("parameters", lambda r: r.parameters, "{:,}".format, None),
    ("device", lambda r: r.device, str, None),
    ("framework version", lambda r: r.framework_version, str, None),
    ("preset", lambda r: r.config.get("preset"), str, None),
)


def summary_table(records: dict) -> list:
    """Rows of the summary as `(label, [cell per record], index of the best cell or None)`.

    Speed rows mark no winner: one run on a shared machine is no measurement of
    speed (`make bench` is).
    """
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


def summary_table_html(records: dict, mark_best: bool | None = None) -> str:
    """An HTML table, one column per framework.

    With `mark_best` the best value of each row that has one is bold; by default
    that happens only when the records are comparable (no `comparability_notes`).
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


# --------------------------------------------------------------------------- curves

def aligned_steps(records: dict) -> tuple:
    """(steps, {framework: [row, ...]}) for the logged steps that every record has."""
    runs = {fw: {row["step"]: row for row in r.steps} for fw, r in records.items() if r.steps}
    if not runs:
        return [], {}
    common = sorted(set.intersection(*(set(rows) for rows in runs.values())))
    return common, {fw: [rows[s] for s in common] for fw, rows in runs.items()}


def curve_agreement(records: dict) -> dict | None:
    """How close the training curves stay: per logged step, the largest difference between any two
    frameworks in loss and in accuracy. None with fewer than two comparable records."""
    if len(records) < 2 or comparability_notes(records):
        return None
    steps, rows = aligned_steps(records)
    if not steps:
        return None
    loss = [max(r[i]["loss"] for r in rows.values()) - min(r[i]["loss"] for r in rows.values())
            for i in range(len(steps))]
    acc = [max(r[i]["acc"] for r in rows.values()) - min(r[i]["acc"] for r in rows.values())
           for i in range(len(steps))]
    return {"steps": steps, "loss_spread": loss, "acc_spread": acc,
            "log_every": next(iter(records.values())).log_every}


ROUNDING = 1e-3  # a loss spread this small is rounding, not yet a different path


def plot_learning_curves(records: dict, path=None):
    """Training loss and accuracy every few steps, test accuracy per epoch, one colour per
    framework; the third panel shows each loss curve minus the mean of all, where small
    differences become visible. Returns the Figure (None without any step history)."""
    runs = {fw: r for fw, r in records.items() if r.steps}
    if not runs:
        return None
    fig, (loss_ax, acc_ax, diff_ax) = plt.subplots(1, 3, figsize=(13.5, 3.9))
    steps, aligned = aligned_steps(runs)
    for fw, record in runs.items():
        color = registry.get(fw).color
        per_epoch = record.steps_per_epoch or 1
        x = [row["step"] / per_epoch for row in record.steps]
        loss_ax.plot(x, [row["loss"] for row in record.steps], "-", color=color, lw=1.2, label=name(fw))
        acc_ax.plot(x, [row["acc"] for row in record.steps], "--", color=color, lw=1.0, alpha=0.8)
        acc_ax.plot([h["epoch"] for h in record.history], [h["test_acc"] for h in record.history],
                    "o", color=color, markersize=6)
        if len(aligned) > 1 and fw in aligned:
            mean = [sum(r[i]["loss"] for r in aligned.values()) / len(aligned) for i in range(len(steps))]
            diff_ax.plot([s / per_epoch for s in steps],
                         [row["loss"] - m for row, m in zip(aligned[fw], mean)], "-", color=color, lw=1.0)
    loss_ax.axhline(LN10, color="gray", lw=0.8, ls=":")
    loss_ax.annotate("ln 10", (0, LN10), xytext=(2, 3), textcoords="offset points", fontsize=8, color="gray")
    for ax, title in ((loss_ax, f"training loss (mean of every {next(iter(runs.values())).log_every} steps)"),
                      (acc_ax, "accuracy: training (dashed), test (dots)"),
                      (diff_ax, "training loss minus the mean of all")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    diff_ax.axhline(0, color="gray", lw=0.8)
    loss_ax.legend(fontsize=9)
    acc_ax.legend([Line2D([], [], color="black", ls="--"), Line2D([], [], color="black", marker="o", ls="")],
                  ["training", "test"], fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


# --------------------------------------------------------------------------- findings

def _test_examples(record: RunRecord) -> int:
    return record.config.get("test_limit") or TEST_SIZE


def _parameters_sentence(done: dict) -> str:
    counts = {fw: r.parameters for fw, r in done.items()}
    resizes = {fw: r.config.get("resize") for fw, r in done.items()}
    if len(set(counts.values())) == 1:
        (count,) = set(counts.values())
        sentence = (f"All {len(done)} networks have {count:,} trainable parameters" if len(done) > 1
                    else f"{name(next(iter(done)))}'s network has {count:,} trainable parameters")
        if len(set(resizes.values())) == 1 and isinstance(next(iter(resizes.values())), int):
            resize = next(iter(resizes.values()))
            expected = parameter_count(resize)
            return sentence + (f", exactly what the shared layer table predicts for {resize}×{resize} "
                               "inputs." if count == expected else
                               f", but the shared layer table predicts {expected:,} for {resize}×{resize} "
                               "inputs: some layer differs from it.")
        return sentence + "."
    listed = ", ".join(f"{name(fw)} {c:,}" for fw, c in counts.items())
    if all(isinstance(resizes[fw], int) and counts[fw] == parameter_count(resizes[fw]) for fw in done):
        return (f"The parameter counts differ ({listed}) only because the input sizes differ: the first "
                "dense layer's weights grow with the image.")
    return f"The parameter counts differ ({listed}): the networks are not the same."


def _initial_loss_sentence(done: dict) -> str | None:
    losses = {fw: r.initial_loss for fw, r in done.items() if r.initial_loss is not None}
    if len(losses) < 2:
        return None
    spread = max(losses.values()) - min(losses.values())
    mean = sum(losses.values()) / len(losses)
    return (f"Before any update, the loss on the first batch is {mean:.4f} in every framework (they differ "
            f"by at most {spread:.1e}), {abs(mean - LN10):.4f} away from ln 10 = {LN10:.4f}: the same "
            "start, and a network that does not yet prefer any class.")


def _pair_names(pair: str) -> str:
    return " and ".join(name(key) for key in pair.split("-"))


def _curves_sentence(agreement: dict, parity: dict | None) -> str:
    loss, every = agreement["loss_spread"], agreement["log_every"]
    sentence = (f"The training-loss curves (each point a mean over {every} step{'s' if every != 1 else ''}) "
                f"lie within {max(loss):.3f} of each other over the run.")
    if not parity:
        return sentence
    off, on = parity["no_dropout"]["loss_spread"], parity["dropout"]["loss_spread"]
    source = parity.get("source", "results/parity.json")
    together = next((i for i, spread in enumerate(off) if spread > ROUNDING), len(off))  # steps within rounding
    if together == len(off):
        return (sentence + f" Measured on the same first {len(off)} batches with the learning rate held ({source}): "
                f"with dropout off the four losses stay within {max(off):.0e} of each other, rounding; with "
                f"dropout on, each framework draws its own masks and they differ by up to {max(on):.2f}.")
    widest = max(range(len(off)), key=off.__getitem__)
    return (sentence + f" Measured on the same first {len(off)} batches with the learning rate held ({source}): "
            f"with dropout off the four losses agree to {ROUNDING:.0e} for {together} steps, then part as the "
            f"loss starts to fall, by up to {off[widest]:.2f} at step {widest + 1}: fast learning amplifies "
            f"the rounding of four implementations. Each framework's own dropout masks part them sooner "
            f"({on[together - 1]:.2f} at step {together}).")


def _accuracy_sentence(done: dict) -> str:
    acc = {fw: r.final["test_acc"] for fw, r in done.items()}
    best, worst = max(acc, key=acc.get), min(acc, key=acc.get)
    spread, stderr = 100 * (acc[best] - acc[worst]), _standard_error(done)
    verdict = ("within the noise of a test set this size" if spread <= 2 * math.sqrt(2) * stderr
               else "more than the test set's sampling noise: with the same start and batches, amplified "
                    "rounding and the dropout masks make one run's accuracy partly a matter of chance")
    return (f"Test accuracy ranges from {acc[worst]:.3f} ({name(worst)}) to {acc[best]:.3f} ({name(best)}): "
            f"{spread:.1f} points, {verdict}.")


def _standard_error(done: dict) -> float:
    """One standard error of the runs' mean test accuracy, in percentage points."""
    n = min(_test_examples(r) for r in done.values())
    p = sum(r.final["test_acc"] for r in done.values()) / len(done)
    return 100 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def findings(records: dict, parity: dict | None = None) -> list:
    """At most three plain sentences about what the records show: the same network and start; how
    close the curves stay and why; accuracy against sampling noise. `figures_html` has the numbers."""
    done = {fw: r for fw, r in records.items() if r.final}
    if not done:
        return []
    first = _parameters_sentence(done)
    initial = _initial_loss_sentence(done) if len(done) > 1 else None
    if initial:
        first += " " + initial
    if len(done) > 1 and comparability_notes(done):
        first = "Caution: these runs differ in settings or hardware (the notes above). " + first
    sentences = [first]
    if len(done) < 2:
        return sentences
    agreement = curve_agreement(done)
    if agreement:
        sentences.append(_curves_sentence(agreement, parity))
    sentences.append(_accuracy_sentence(done))
    return sentences


def figures_html(records: dict, parity: dict | None = None) -> str:
    """The figures behind `findings`, one row each, with where each comes from."""
    done = {fw: r for fw, r in records.items() if r.final}
    rows = []
    if done:
        counts = sorted({r.parameters for r in done.values()})
        rows.append(("trainable parameters", ", ".join(f"{c:,}" for c in counts), "run records"))
        losses = [r.initial_loss for r in done.values() if r.initial_loss is not None]
        if len(losses) > 1:
            rows.append(("loss before training: spread", f"{max(losses) - min(losses):.1e}", "run records"))
        agreement = curve_agreement(done)
        if agreement:
            rows.append(("training-loss curves: largest spread", f"{max(agreement['loss_spread']):.3f}",
                         "run records"))
        acc = [r.final["test_acc"] for r in done.values()]
        rows.append(("test accuracy: lowest – highest", f"{min(acc):.3f} – {max(acc):.3f}", "run records"))
        rows.append(("one standard error of an accuracy", f"{_standard_error(done) / 100:.3f}", "test-set size"))
    if parity:
        source, off, on = parity.get("source", "results/parity.json"), parity["no_dropout"], parity["dropout"]
        steps = len(on["loss_spread"])
        rows.append(("logits, same weights: largest difference", f"{max(parity['logits'].values()):.0e}", source))
        pairs = off.get("weights_after_pairs", {})
        if pairs:
            far = max(pairs, key=lambda p: pairs[p]["max"])
            rows.append((f"weights after {parity['settings']['weight_steps']} steps, dropout off: largest "
                         f"difference ({_pair_names(far)})", f"{pairs[far]['max']:.0e}", source))
        rows.append((f"loss spread over {steps} steps, dropout off", f"{max(off['loss_spread']):.0e}", source))
        rows.append((f"loss spread over {steps} steps, dropout on", f"{max(on['loss_spread']):.3f}", source))
    if not rows:
        return "<p><em>No finished run to describe yet.</em></p>"
    body = "".join(f'<tr><th style="{_CELL}text-align:left;font-weight:normal">{html.escape(label)}</th>'
                   f'<td style="{_CELL}text-align:right">{html.escape(value)}</td>'
                   f'<td style="{_CELL}color:#777">{html.escape(source)}</td></tr>' for label, value, source in rows)
    return f'<table style="border-collapse:collapse;margin:0"><tbody>{body}</tbody></table>'
