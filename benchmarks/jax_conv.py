"""AlexNet's convolutions in JAX: XLA's own against `d2l.conv`'s two ways with matrix products.

Each of the five convolutions runs forward and backward (the gradients with respect to input and
kernel, as a training step computes them) with `jax.lax.conv_general_dilated`, with `d2l.conv`'s
matrix products over patches ("im2col", `winograd=False`) and, where the kernel allows it, with its
Winograd F(4×4, r×r) (`winograd=True`), alternating repeat after repeat, beside a square float32
matrix product in JAX: the rate XLA's own matrix products reach here. The record says which of the
two `d2l.conv` picks for each layer as the notebook calls it. Writes
benchmarks/jax-conv-{cpu,gpu}.json and .md.

    python -m benchmarks.jax_conv            # the preview's and the reference's sizes
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import sys
import time
from pathlib import Path

import jax
from jax import lax

from d2l_helpers import architecture, config, frameworks, winograd
from d2l_helpers import jax as d2l

from .report import cpu, machine_info
from .timing import summary

HERE = Path(__file__).parent
IMPLEMENTATIONS = {"XLA": lax.conv_general_dilated, "patches": functools.partial(d2l.conv, winograd=False),
                   "Winograd": functools.partial(d2l.conv, winograd=True)}
SETTINGS = ("preview", "reference")


def conv_layers(resize: int, batch: int) -> list:
    """[(label, NHWC input shape, HWIO kernel shape, stride, padding, NHWC output shape)] of
    AlexNet's convolutions."""
    side, channels, layers = resize, architecture.INPUT_CHANNELS, []
    for layer in architecture.ALEXNET:
        if layer.kind not in ("conv", "pool"):
            continue
        out = architecture.feature_map_sizes(side, [layer])[0]
        if layer.kind == "conv":
            layers.append((layer.label, (batch, side, side, channels),
                           (layer.kernel, layer.kernel, channels, layer.size), layer.stride, layer.padding,
                           (batch, out, out, layer.size)))
            channels = layer.size
        side = out
    return layers


def forward_and_backward(conv, x_shape, k_shape, stride, padding):
    """A compiled function of (x, kernel, cotangent) giving the output and both gradients."""
    dims = lax.conv_dimension_numbers(x_shape, k_shape, ("NHWC", "HWIO", "NHWC"))

    def run(x, kernel, cotangent):
        y, vjp = jax.vjp(lambda x, k: conv(x, k, (stride, stride), [(padding, padding)] * 2,
                                           dimension_numbers=dims), x, kernel)
        return y, vjp(cotangent)
    return jax.jit(run)


def seconds(fn, *args) -> float:
    begin = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - begin


def measure_layer(layer, repeats: int) -> dict:
    label, x_shape, k_shape, stride, padding, out_shape = layer
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], x_shape)
    kernel = jax.random.normal(keys[1], k_shape) * 0.01
    pads = [(padding, padding)] * 2
    names = [name for name in IMPLEMENTATIONS
             if name != "Winograd" or winograd.supports(k_shape[:2], (stride, stride), (1, 1), pads)]
    fns = {name: forward_and_backward(IMPLEMENTATIONS[name], x_shape, k_shape, stride, padding) for name in names}
    cotangent = jax.random.normal(keys[2], out_shape)
    times = {name: [] for name in fns}
    for fn in fns.values():
        seconds(fn, x, kernel, cotangent)  # compile
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
            times[name].append(seconds(fns[name], x, kernel, cotangent))
    # a forward pass costs 2·MACs; each of the two gradients costs as much again
    flops = 3 * 2 * out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3] * k_shape[0] * k_shape[1] * k_shape[2]
    picks = "Winograd" if "Winograd" in names and winograd.pays(k_shape[0], out_shape[1:3]) else "patches"
    return {"layer": label, "input": list(x_shape), "kernel": list(k_shape), "gflop": flops / 1e9, "d2l.conv": picks,
            "ms": {name: summary([1e3 * t for t in ts]) for name, ts in times.items()},
            # patches against XLA's own; Winograd against patches, the choice d2l.conv makes
            "speed-up": {name: summary([a / b for a, b in zip(times[baseline], times[name])])
                         for name, baseline in (("patches", "XLA"), ("Winograd", "patches")) if name in times}}


def matmul_rate(n: int, repeats: int) -> dict:
    """GFLOP/s of an n×n float32 matrix product in JAX."""
    a = jax.random.normal(jax.random.key(1), (n, n))
    product = jax.jit(lambda a: a @ a)
    seconds(product, a)
    return summary([2 * n ** 3 / seconds(product, a) / 1e9 for _ in range(repeats)])


def markdown(doc: dict) -> str:
    m = doc["machine"]
    lines = [f"# AlexNet's convolutions in JAX, {doc['device'].upper()} ({doc['timestamp']})", "",
             f"Machine: {cpu(m)}; JAX {doc['jax']}. Command: `{doc['command']}`. "
             f"Forward and both gradients of each convolution, {doc['repeats']} alternating repeats, "
             f"median (min–max). JAX's own {doc['matmul_size']}×{doc['matmul_size']} float32 matmul: "
             f"{doc['matmul_gflops']['median']:.0f} GFLOP/s (median). Patches: `d2l.conv(..., winograd=False)`, "
             "matrix products over image patches; Winograd: `d2l.conv(..., winograd=True)`, F(4×4, r×r), "
             "where the kernel allows it; `d2l.conv` as the notebook calls it picks Winograd for stride-1 3×3 "
             "and 5×5 kernels where it takes fewer multiplications than the direct method, else patches. "
             "GFLOP/s are the direct method's operations over the time, so Winograd, which does fewer, can "
             "pass the matmul's rate.", ""]
    for setting in doc["settings"]:
        lines += [f"## {setting['preset']}: {setting['resize']}×{setting['resize']}, batch {setting['batch_size']}",
                  "", "| layer | GFLOP | XLA, ms | patches, ms | Winograd, ms | patches over XLA | "
                  "Winograd over patches | d2l.conv picks | its GFLOP/s |",
                  "|---|--:|--:|--:|--:|--:|--:|---|--:|"]
        for row in setting["layers"]:
            ms = {name: row["ms"][name]["median"] for name in row["ms"]}
            picked = ms[row["d2l.conv"]]

            def cell(name, row=row, ms=ms):
                if name not in row["speed-up"]:
                    return "–", "–"
                s = row["speed-up"][name]
                return f"{ms[name]:,.1f}", f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"
            (patches_ms, patches_x), (winograd_ms, winograd_x) = cell("patches"), cell("Winograd")
            lines.append(f"| {row['layer']} | {row['gflop']:.2f} | {ms['XLA']:,.1f} | {patches_ms} | {winograd_ms} | "
                         f"{patches_x} | {winograd_x} | {row['d2l.conv']} | {row['gflop'] / picked * 1e3:.0f} |")
        total = {name: sum(r["ms"][name]["median"] for r in setting["layers"]) for name in ("XLA", "patches")}
        picked = sum(r["ms"][r["d2l.conv"]]["median"] for r in setting["layers"])
        gflop = sum(r["gflop"] for r in setting["layers"])
        lines += ["", f"All five: XLA {total['XLA']:,.0f} ms, patches {total['patches']:,.0f} ms, d2l.conv's picks "
                  f"{picked:,.0f} ms ({total['XLA'] / picked:.2f}× XLA's speed, {total['patches'] / picked:.2f}× "
                  f"patches'; {gflop / picked * 1e3:.0f} GFLOP/s).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jax_conv", description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(SETTINGS), help="default preview,reference")
    parser.add_argument("--batch-size", type=int, help="instead of each preset's")
    parser.add_argument("--repeats", type=int, default=5, help="default 5")
    parser.add_argument("--matmul-size", type=int, default=2048, help="default 2048")
    parser.add_argument("--output", type=Path, help="default benchmarks/jax-conv-cpu.json (or -gpu)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if any(os.environ.get(k) != v for k, v in frameworks.KERNEL_ENV.items()):
        # Measured as the notebook runs: under its kernel's variables, which act only from the start.
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.jax_conv", *argv],
                  {**os.environ, **frameworks.KERNEL_ENV})
    device = "gpu" if d2l.has_gpu() else "cpu"
    settings = []
    for preset in args.presets.split(","):
        values = config.PRESETS[preset]
        batch = args.batch_size or values["batch_size"]
        layers = [measure_layer(layer, args.repeats) for layer in conv_layers(values["resize"], batch)]
        settings.append({"preset": preset, "resize": values["resize"], "batch_size": batch, "layers": layers})
        print(f"{preset}: done", flush=True)
    doc = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "device": device, "machine": machine_info(), "jax": jax.__version__, "repeats": args.repeats,
           "command": "python -m benchmarks.jax_conv" + (f" {' '.join(argv)}" if argv else ""),
           "whole_batch_bytes": d2l.WHOLE_BATCH_BYTES, "chunk_bytes": d2l.CHUNK_BYTES, "tile": winograd.TILE,
           "matmul_size": args.matmul_size,
           "matmul_gflops": matmul_rate(args.matmul_size, args.repeats),
           "settings": settings}
    output = args.output or HERE / f"jax-conv-{device}.json"
    output.write_text(json.dumps(doc, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
