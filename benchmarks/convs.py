"""AlexNet's convolutions, layer by layer, each way the PyTorch and JAX notebooks could compute them.

Each of the five convolutions runs forward and backward as a training step computes them (the
gradients with respect to kernel and input, the first layer's kernel only, since no step needs the
gradient of the images), alternating repeat after repeat between

* JAX: XLA's own `lax.conv_general_dilated`; `d2l.conv`'s matrix products over image patches
  (`winograd=False`); `d2l.conv`'s Winograd F(4×4, r×r) (`winograd=True`), where the kernel allows it;
* PyTorch: `nn.Conv2d` (oneDNN's direct method, channels-last); `d2l.Conv2d`'s Winograd F(4×4, r×r),

beside each framework's square float32 matrix product. The record says which way each notebook's
helper picks for each layer. Writes benchmarks/convs-{cpu,gpu}.json and .md.

    python -m benchmarks.convs            # the preview's and the reference's sizes
"""
from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import json
import os
import sys
import time
from pathlib import Path

from d2l_helpers import architecture, config, frameworks, winograd

from .report import cpu, machine_info
from .timing import summary

HERE = Path(__file__).parent
SETTINGS = ("preview", "reference")
# {framework key: (ways, in timing order; the way the others are compared with; how each compares)}
WAYS = {"jax": (("XLA", "patches", "Winograd"), {"patches": "XLA", "Winograd": "patches"}),
        "pytorch": (("oneDNN", "Winograd"), {"Winograd": "oneDNN"})}


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


def jax_ways(x_shape, k_shape, stride, padding, input_gradient) -> dict:
    """{way: a function of no arguments running forward and backward once, until done}."""
    import jax
    from jax import lax

    from d2l_helpers import jax as d2l

    dims = lax.conv_dimension_numbers(x_shape, k_shape, ("NHWC", "HWIO", "NHWC"))
    convs = {"XLA": lax.conv_general_dilated, "patches": functools.partial(d2l.conv, winograd=False),
             "Winograd": functools.partial(d2l.conv, winograd=True)}
    keys = jax.random.split(jax.random.key(0), 3)
    x, kernel = jax.random.normal(keys[0], x_shape), jax.random.normal(keys[1], k_shape) * 0.01
    out = (x_shape[0], *_out(x_shape, k_shape, stride, padding), k_shape[3])
    cotangent = jax.random.normal(keys[2], out)

    def compiled(conv):
        def run(x, kernel, cotangent):
            def layer(k, x=x):
                return conv(x, k, (stride, stride), [(padding, padding)] * 2, dimension_numbers=dims)
            if input_gradient:
                y, vjp = jax.vjp(lambda x, k: layer(k, x), x, kernel)
            else:
                y, vjp = jax.vjp(layer, kernel)
            return y, vjp(cotangent)
        fn = jax.jit(run)
        return lambda: jax.block_until_ready(fn(x, kernel, cotangent))
    return {way: compiled(conv) for way, conv in convs.items()}


def pytorch_ways(x_shape, k_shape, stride, padding, input_gradient) -> dict:
    """{way: a function of no arguments running forward and backward once}: the notebook's layout."""
    import torch

    from d2l_helpers import torch as d2l

    torch.manual_seed(0)
    n, h, w, c_in = x_shape
    x = torch.randn(n, c_in, h, w).contiguous(memory_format=torch.channels_last).requires_grad_(input_gradient)
    out = _out(x_shape, k_shape, stride, padding)
    cotangent = torch.randn(n, k_shape[3], *out).contiguous(memory_format=torch.channels_last)

    def way(winograd):
        conv = d2l.Conv2d(c_in, k_shape[3], k_shape[0], stride=stride, padding=padding, winograd=winograd)
        conv = conv.to(memory_format=torch.channels_last)
        return lambda: conv(x).backward(cotangent)
    return {"oneDNN": way(False), "Winograd": way(True)}


def _out(x_shape, k_shape, stride, padding) -> tuple:
    return tuple((x_shape[1 + i] + 2 * padding - k_shape[i]) // stride + 1 for i in (0, 1))


def seconds(fn) -> float:
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def measure_layer(key: str, layer, repeats: int, input_gradient: bool = True) -> dict:
    label, x_shape, k_shape, stride, padding, out_shape = layer
    pads = [(padding, padding)] * 2
    names, compared = WAYS[key]
    if not winograd.supports(k_shape[:2], (stride, stride), (1, 1), pads):
        names = tuple(name for name in names if name != "Winograd")
    fns = {name: fn for name, fn in {"jax": jax_ways, "pytorch": pytorch_ways}[key](
        x_shape, k_shape, stride, padding, input_gradient).items() if name in names}
    times = {name: [] for name in names}
    for fn in fns.values():
        fn()  # compile, allocate
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
            times[name].append(seconds(fns[name]))
    # a forward pass costs 2·MACs; each gradient costs as much again
    macs = out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3] * k_shape[0] * k_shape[1] * k_shape[2]
    flops = (3 if input_gradient else 2) * 2 * macs
    return {"layer": label, "input": list(x_shape), "kernel": list(k_shape), "gflop": flops / 1e9,
            "picks": picks(key, x_shape, k_shape, stride, padding),
            "ms": {name: summary([1e3 * t for t in ts]) for name, ts in times.items()},
            "speed-up": {name: summary([a / b for a, b in zip(times[baseline], times[name])])
                         for name, baseline in compared.items() if name in times}}


def picks(key: str, x_shape, k_shape, stride, padding) -> str:
    """The way the notebook's helper takes for this layer, read from what it runs on one image."""
    if key == "jax":
        import jax
        from jax import lax

        from d2l_helpers import jax as d2l

        x, kernel = jax.numpy.zeros((1, *x_shape[1:])), jax.numpy.zeros(k_shape)
        dims = lax.conv_dimension_numbers(x.shape, kernel.shape, ("NHWC", "HWIO", "NHWC"))
        program = jax.make_jaxpr(lambda x, k: d2l.conv(x, k, (stride, stride), [(padding, padding)] * 2,
                                                       dimension_numbers=dims))(x, kernel)
        # Winograd's products are batched, one per position in a tile; the patches' one is not
        return "Winograd" if _batched_product(program.jaxpr) else "patches"
    import torch

    from d2l_helpers import torch as d2l

    conv = d2l.Conv2d(k_shape[2], k_shape[3], k_shape[0], stride=stride, padding=padding)
    y = conv(torch.zeros(1, k_shape[2], *x_shape[1:3], requires_grad=True))
    return "Winograd" if type(y.grad_fn).__name__ == "_WinogradBackward" else "oneDNN"


def _batched_product(jaxpr) -> bool:
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general" and eqn.params["dimension_numbers"][1][0]:
            return True
        for value in eqn.params.values():
            inner = getattr(value, "jaxpr", value)  # a ClosedJaxpr holds its Jaxpr
            if hasattr(inner, "eqns") and _batched_product(inner):
                return True
    return False


def matmul_rate(key: str, n: int, repeats: int) -> dict:
    """GFLOP/s of an n×n float32 matrix product in the framework."""
    if key == "jax":
        import jax

        a = jax.random.normal(jax.random.key(1), (n, n))
        product = jax.jit(lambda a: a @ a)
        fn = lambda: jax.block_until_ready(product(a))
    else:
        import torch

        a = torch.randn(n, n)
        fn = lambda: a @ a
    fn()
    return summary([2 * n ** 3 / seconds(fn) / 1e9 for _ in range(repeats)])


def markdown(doc: dict) -> str:
    lines = [f"# AlexNet's convolutions in PyTorch and JAX, {doc['device'].upper()} ({doc['timestamp']})", "",
             f"Machine: {cpu(doc['machine'])}. Command: `{doc['command']}` ({doc['minutes']:.0f} min). "
             f"Forward and backward of each convolution as a training step computes them (both gradients; the "
             f"first layer's kernel gradient only), {doc['repeats']} alternating repeats, median (min–max). "
             "JAX: XLA's own convolution; patches: `d2l.conv(..., winograd=False)`, matrix products over image "
             "patches; Winograd: `d2l.conv(..., winograd=True)`, F(4×4, r×r), where the kernel allows "
             "it. PyTorch, channels-last as in the notebook: oneDNN: `nn.Conv2d`; Winograd: "
             "`d2l.Conv2d(..., winograd=True)`. \"Picks\": what the notebook's helper computes for the layer. "
             "GFLOP/s count the direct method's operations, so Winograd, which does fewer, can pass the "
             "matmul's rate.", ""]
    for key, result in doc["frameworks"].items():
        names, compared = WAYS[key]
        lines += [f"## {frameworks.get(key).name} {result['version']} (its {doc['matmul_size']}×"
                  f"{doc['matmul_size']} float32 matmul: {result['matmul_gflops']['median']:.0f} GFLOP/s)", ""]
        for setting in result["settings"]:
            lines += [f"### {setting['preset']}: {setting['resize']}×{setting['resize']}, batch "
                      f"{setting['batch_size']}", "",
                      "| layer | GFLOP | " + " | ".join(f"{name}, ms" for name in names) + " | "
                      + " | ".join(f"{name} over {base}" for name, base in compared.items())
                      + " | picks | its GFLOP/s |",
                      "|---|--:|" + "--:|" * (len(names) + len(compared)) + "---|--:|"]
            for row in setting["layers"]:
                ms = {name: row["ms"][name]["median"] for name in row["ms"]}
                cells = [f"{ms[name]:,.1f}" if name in ms else "–" for name in names]
                cells += [f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})" if (s := row["speed-up"].get(name))
                          else "–" for name in compared]
                lines.append(f"| {row['layer']} | {row['gflop']:.2f} | " + " | ".join(cells) +
                             f" | {row['picks']} | {row['gflop'] / ms[row['picks']] * 1e3:.0f} |")
            baseline = names[0]
            total = sum(r["ms"][baseline]["median"] for r in setting["layers"])
            picked = sum(r["ms"][r["picks"]]["median"] for r in setting["layers"])
            gflop = sum(r["gflop"] for r in setting["layers"])
            lines += ["", f"All five: {baseline} {total:,.0f} ms, the notebook's picks {picked:,.0f} ms "
                      f"({total / picked:.2f}× as fast; {gflop / picked * 1e3:.0f} GFLOP/s).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", default="pytorch,jax", help="default pytorch,jax")
    parser.add_argument("--presets", default=",".join(SETTINGS), help="default preview,reference")
    parser.add_argument("--batch-size", type=int, help="instead of each preset's")
    parser.add_argument("--repeats", type=int, default=5, help="default 5")
    parser.add_argument("--matmul-size", type=int, default=2048, help="default 2048")
    parser.add_argument("--output", type=Path, help="default benchmarks/convs-cpu.json (or -gpu)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    keys = args.frameworks.split(",")
    unknown = [key for key in keys if key not in WAYS]
    if unknown:
        parser.error(f"--frameworks: {unknown} (choose from {', '.join(WAYS)})")
    if any(os.environ.get(k) != v for k, v in frameworks.KERNEL_ENV.items()):
        # Measured as the notebooks run: under their kernels' variables, which act only from the start.
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.convs", *argv],
                  {**os.environ, **frameworks.KERNEL_ENV})
    begin = time.perf_counter()
    results = {}
    for key in keys:
        adapter = importlib.import_module(frameworks.get(key).adapter)
        settings = []
        for preset in args.presets.split(","):
            values = config.PRESETS[preset]
            batch = args.batch_size or values["batch_size"]
            layers = [measure_layer(key, layer, args.repeats, input_gradient=i > 0)
                      for i, layer in enumerate(conv_layers(values["resize"], batch))]
            settings.append({"preset": preset, "resize": values["resize"], "batch_size": batch, "layers": layers})
            print(f"{key} {preset}: done", flush=True)
        results[key] = {"version": adapter.VERSION, "has_gpu": adapter.has_gpu(),
                        "matmul_gflops": matmul_rate(key, args.matmul_size, args.repeats), "settings": settings}
    device = "gpu" if any(r["has_gpu"] for r in results.values()) else "cpu"
    doc = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "device": device, "machine": machine_info(), "repeats": args.repeats, "tile": winograd.TILE,
           "command": "python -m benchmarks.convs" + (f" {' '.join(argv)}" if argv else ""),
           "minutes": (time.perf_counter() - begin) / 60, "matmul_size": args.matmul_size, "frameworks": results}
    output = args.output or HERE / f"convs-{device}.json"
    output.write_text(json.dumps(doc, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
