"""AlexNet's convolutions in JAX: XLA's own against `d2l.conv`'s matrix products over patches.

Each of the five convolutions runs forward and backward (the gradients with respect to input and
kernel, as a training step computes them) with `jax.lax.conv_general_dilated` and with
`d2l_helpers.jax.conv` (as the notebook uses it, and building the whole batch's patches at once),
the three alternating repeat after repeat, beside a square float32 matrix product in JAX: the rate
XLA's own matrix products reach here. The matrix products of the whole-batch version are also timed
on their own, with operands of the same shapes: what it takes beyond them is the cost of building
patches and summing their gradients, which the notebook's version cuts, where a batch's patches are
large, by working on a few images at a time. Writes
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

from d2l_helpers import architecture, config, frameworks
from d2l_helpers import jax as d2l

from .report import cpu, machine_info
from .timing import summary

HERE = Path(__file__).parent
WHOLE = "d2l.conv, whole batch"
IMPLEMENTATIONS = {"XLA": lax.conv_general_dilated, "d2l.conv": d2l.conv,
                   WHOLE: functools.partial(d2l.conv, whole_batch_bytes=None)}
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


def dot_generals(fn, *args) -> list:
    """The `dot_general` equations of `fn`'s program, nested jaxprs (jit, vjp) included."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                found.append(eqn)
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else [value]:
                    sub = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr's jaxpr
                    if hasattr(sub, "eqns"):
                        walk(sub)
    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def time_products(eqns, repeats: int) -> list:
    """[(operand shapes, best-of-`repeats` ms)] of each matrix product timed alone."""
    keys = iter(jax.random.split(jax.random.key(2), 2 * len(eqns)))
    rows = []
    for eqn in eqns:
        a, b = (jax.random.normal(next(keys), v.aval.shape, v.aval.dtype) for v in eqn.invars)
        product = jax.jit(functools.partial(
            lax.dot_general, dimension_numbers=eqn.params["dimension_numbers"], precision=eqn.params["precision"],
            preferred_element_type=eqn.params["preferred_element_type"]))
        seconds(product, a, b)  # compile
        rows.append({"shapes": [list(a.shape), list(b.shape)],
                     "ms": min(1e3 * seconds(product, a, b) for _ in range(repeats))})
    return rows


def seconds(fn, *args) -> float:
    begin = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - begin


def measure_layer(layer, repeats: int) -> dict:
    label, x_shape, k_shape, stride, padding, out_shape = layer
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], x_shape)
    kernel = jax.random.normal(keys[1], k_shape) * 0.01
    fns = {name: forward_and_backward(conv, x_shape, k_shape, stride, padding)
           for name, conv in IMPLEMENTATIONS.items()}
    cotangent = jax.random.normal(keys[2], out_shape)
    products = time_products(dot_generals(fns[WHOLE], x, kernel, cotangent), repeats)
    times = {name: [] for name in fns}
    for fn in fns.values():
        seconds(fn, x, kernel, cotangent)  # compile
    for r in range(repeats):
        for name in (list(fns) if r % 2 == 0 else list(fns)[::-1]):  # alternate who goes first
            times[name].append(seconds(fns[name], x, kernel, cotangent))
    # a forward pass costs 2·MACs; each of the two gradients costs as much again
    flops = 3 * 2 * out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3] * k_shape[0] * k_shape[1] * k_shape[2]
    return {"layer": label, "input": list(x_shape), "kernel": list(k_shape), "gflop": flops / 1e9,
            "ms": {name: summary([1e3 * t for t in ts]) for name, ts in times.items()},
            "products": products, "products ms": sum(p["ms"] for p in products),
            "speed-up": summary([a / b for a, b in zip(times["XLA"], times["d2l.conv"])]),
            "speed-up over whole batch": summary([a / b for a, b in zip(times[WHOLE], times["d2l.conv"])])}


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
             f"{doc['matmul_gflops']['median']:.0f} GFLOP/s (median). `d2l.conv` builds a batch's patches "
             f"at once up to {doc['whole_batch_bytes'] / 2 ** 20:.0f} MB, beyond that those of at most "
             f"{doc['chunk_bytes'] / 2 ** 20:.0f} MB of images at a time; the whole-batch version always all "
             "at once; \"its products\": the matrix products of the whole-batch version, each timed on its "
             "own (best of the repeats) with operands of the same shapes.", ""]
    for setting in doc["settings"]:
        lines += [f"## {setting['preset']}: {setting['resize']}×{setting['resize']}, batch {setting['batch_size']}",
                  "", "| layer | GFLOP | XLA, ms | d2l.conv, ms | speed-up | whole batch, ms | its products, ms | "
                  "d2l.conv over whole batch | d2l.conv, share of matmul |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for row in setting["layers"]:
            ms = {name: row["ms"][name]["median"] for name in IMPLEMENTATIONS}
            share = 100 * row["gflop"] / (ms["d2l.conv"] / 1e3) / doc["matmul_gflops"]["median"]
            s, w = row["speed-up"], row["speed-up over whole batch"]
            lines.append(f"| {row['layer']} | {row['gflop']:.2f} | {ms['XLA']:,.1f} | {ms['d2l.conv']:,.1f} | "
                         f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f}) | {ms[WHOLE]:,.1f} | "
                         f"{row['products ms']:,.1f} | {w['median']:.2f}× ({w['min']:.2f}–{w['max']:.2f}) | "
                         f"{share:.0f}% |")
        total = {name: sum(r["ms"][name]["median"] for r in setting["layers"]) for name in IMPLEMENTATIONS}
        products = sum(r["products ms"] for r in setting["layers"])
        lines += ["", f"All five: XLA {total['XLA']:,.0f} ms, d2l.conv {total['d2l.conv']:,.0f} ms "
                  f"({total['XLA'] / total['d2l.conv']:.2f}×); whole batch {total[WHOLE]:,.0f} ms, of which "
                  f"its matrix products alone {products:,.0f} ms.", ""]
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
           "whole_batch_bytes": d2l.WHOLE_BATCH_BYTES, "chunk_bytes": d2l.CHUNK_BYTES, "matmul_size": args.matmul_size,
           "matmul_gflops": matmul_rate(args.matmul_size, args.repeats),
           "settings": settings}
    output = args.output or HERE / f"jax-conv-{device}.json"
    output.write_text(json.dumps(doc, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
