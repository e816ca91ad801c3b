"""The study's report: JSON rows on disk, the tables of ``summary.md``, ``summary.json``, plots.

No torch. :func:`analyse` turns rows into the numbers the summary states
(``summary.json``); :func:`summary_markdown` writes them as tables and
sentences; :func:`write_report` writes both and the plots into an
:class:`eafo_sym.outputs.OutputDir`.

* **Accuracy**: mean ± std over seeds per data set x model x activation;
  paired differences against the baseline (same seed, same split) with a 95%
  t-interval, the paired t-test's p-value and Holm's correction across the
  activations of each (data set, model); a difference is *resolved* when its
  Holm-adjusted p is below 0.05.
* **The premise** (lower output entropy, better separation): Spearman's rho
  between a run's mean layer entropy and its test accuracy, across
  activations and seeds, per (data set, model), with a bootstrap 95% CI. The
  premise predicts rho < 0: *supported* when the whole CI is below 0,
  *contradicted* when it is above 0, *not resolved* otherwise.
* **eps**: CRReLU's ablations, and every learned ``epsilon`` per layer against
  the derived descent sign (``-1`` for a standard normal input,
  ``docs/mathematics.md`` §13).
* **Cost**: per-epoch time (median, the first epoch dropped) and peak memory
  growth per model, activation and backend, as ratios to GELU.
* **The Gaussian assumption**: per layer, how far the pre-activations are from
  normal (Kolmogorov-Smirnov distance to the fitted normal, |skewness|, excess
  kurtosis).

>>> rows = [
...     {"part": "main", "data": "d", "model": "mlp", "activation": a, "seed": s,
...      "test_accuracy": v, "test_loss": 1 - v}
...     for a, vals in {"gelu": [0.90, 0.92, 0.94], "crrelu": [0.91, 0.94, 0.97]}.items()
...     for s, v in enumerate(vals)
... ]
>>> [(c["activation"], c["mean_diff"], c["wins"]) for c in analyse(rows)["accuracy"]["d/mlp"]
...  if c["activation"] != "gelu"]
[('crrelu', 0.02, 3)]
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .stats import holm, mean_std, paired_vs, spearman_ci

__all__ = [
    "DESCENT_SIGN",
    "analyse",
    "plot_accuracy",
    "plot_cost",
    "plot_entropy",
    "read_rows",
    "summary_markdown",
    "write_report",
    "write_rows",
]

#: The derived sign of eps that lowers CRReLU's entropy for a standard normal input
#: (``eafo_sym.derive_crrelu().descent_sign``; the tests check the two agree).
DESCENT_SIGN = -1
_ALPHA = 0.05


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write rows as JSON lines (one object per line, keys in insertion order)."""
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read JSON-lines rows, skipping blank lines; OSError/ValueError on a bad file."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{i}: not a JSON row ({exc.msg})") from None
    return rows


def _groups(rows: Iterable[Mapping[str, Any]], part: str) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("part", "main") == part:
            out[f"{r['data']}/{r['model']}"].append(r)
    return dict(out)


def _nan_to_none(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _accuracy(rows: Sequence[Mapping[str, Any]], baseline: str) -> list[dict[str, Any]]:
    acts = list(dict.fromkeys(r["activation"] for r in rows))
    paired = paired_vs(rows, baseline=baseline)
    keys = [(rows[0]["model"], a) for a in acts if (rows[0]["model"], a) in paired]
    adjusted = dict(zip(keys, holm([paired[k].p_value for k in keys]), strict=True))
    out = []
    for a in acts:
        mine = [r for r in rows if r["activation"] == a]
        acc = mean_std([r["test_accuracy"] for r in mine])
        loss = mean_std([r["test_loss"] for r in mine])
        entry: dict[str, Any] = {
            "activation": a,
            "seeds": acc.n,
            "mean": round(acc.mean, 6),
            "std": _nan_to_none(round(acc.std, 6)),
            "loss_mean": round(loss.mean, 6),
            "loss_std": _nan_to_none(round(loss.std, 6)),
        }
        p = paired.get((rows[0]["model"], a))
        if p is not None:
            wins, losses = sum(d > 0 for d in p.diffs), sum(d < 0 for d in p.diffs)
            q = adjusted[(rows[0]["model"], a)]
            entry.update({
                "mean_diff": round(p.mean, 6),
                "ci_low": _nan_to_none(round(p.low, 6)),
                "ci_high": _nan_to_none(round(p.high, 6)),
                "p": _nan_to_none(p.p_value),
                "p_holm": _nan_to_none(q),
                "resolved": bool(q < _ALPHA) if not math.isnan(q) else False,
                "wins": wins,
                "ties": p.n - wins - losses,
                "losses": losses,
            })  # fmt: skip
        out.append(entry)
    return out


def _run_entropy(row: Mapping[str, Any]) -> float | None:
    layers = row.get("layers") or []
    vals = [lay["entropy"] for lay in layers if math.isfinite(lay.get("entropy", math.nan))]
    return statistics.fmean(vals) if vals else None


def _premise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    pairs = [(h, r["test_accuracy"]) for r in rows if (h := _run_entropy(r)) is not None]
    if len(pairs) < 3 or len({a for _, a in pairs}) < 2 or len({h for h, _ in pairs}) < 2:
        return None
    c = spearman_ci([h for h, _ in pairs], [a for _, a in pairs])
    verdict = (
        "supported" if c.high < 0 else "contradicted" if c.low > 0 else "not resolved"
    )
    return {"rho": round(c.rho, 4), "ci_low": round(c.low, 4), "ci_high": round(c.high, 4),
            "n": c.n, "p": c.p_value, "verdict": verdict}  # fmt: skip


def _eps_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str, str, str, int], list[float]] = defaultdict(list)
    for r in rows:
        if r.get("part") not in ("main", "ablations") or "frozen" in r["activation"]:
            continue
        for i, v in enumerate((r.get("act_params") or {}).get("epsilon", [])):
            cells[(r["part"], r["data"], r["model"], r["activation"], i)].append(v)
    out = []
    for (part, d, m, a, i), vals in cells.items():
        s = mean_std(vals)
        # The derived sign is CRReLU's (ReLU's correction); another base has its own.
        agree = sum((v > 0) - (v < 0) == DESCENT_SIGN for v in vals) if a.startswith(
            "crrelu") else None
        out.append({"part": part, "data": d, "model": m, "activation": a, "layer": i,
                    "mean": round(s.mean, 5), "std": _nan_to_none(round(s.std, 5)),
                    "n": s.n, "agree_with_descent_sign": agree})  # fmt: skip
    return out


def _cost(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = [r for r in rows if r.get("part") == "cost"]
    per: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for r in rows:
        times = r.get("epoch_seconds") or []
        steady = times[1:] or times
        per[(r["data"], r["model"], r["activation"], r["backend"])] = {
            "epoch_s": statistics.median(steady) if steady else math.nan,
            "first_epoch_s": times[0] if times else math.nan,
            "mem_mib": float(r.get("peak_rss_growth_mib", math.nan)),
            "saved_mib": r.get("saved_tensor_mib"),
        }
    out = []
    for (d, m, a, b), v in per.items():
        base = per.get((d, m, "gelu", b))
        out.append({
            "data": d, "model": m, "activation": a, "backend": b,
            "epoch_s": round(v["epoch_s"], 4), "first_epoch_s": round(v["first_epoch_s"], 3),
            "mem_mib": v["mem_mib"],
            "saved_mib": v["saved_mib"],
            "saved_ratio": (round(v["saved_mib"] / base["saved_mib"], 3)
                            if base and v["saved_mib"] and base["saved_mib"] else None),
            "time_ratio": round(v["epoch_s"] / base["epoch_s"], 3) if base else None,
        })  # fmt: skip
    return out


def _normality(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("part") == "main":
            for i, lay in enumerate(r.get("layers") or []):
                cells[(r["data"], r["model"], i)].append(lay)
    out = []
    for (d, m, i), lays in cells.items():
        def avg(k: str, lays: list = lays) -> float:
            vals = [x[k] for x in lays if x.get(k) is not None and math.isfinite(x[k])]
            return round(statistics.fmean(vals), 4) if vals else math.nan

        out.append({"data": d, "model": m, "layer": i, "runs": len(lays),
                    "ks_distance": avg("ks_distance"), "abs_skew": avg("abs_skew"),
                    "excess_kurtosis": avg("excess_kurtosis"),
                    "frac_below_zero": avg("frac_below_zero")})  # fmt: skip
    return out


def analyse(rows: Sequence[Mapping[str, Any]], baseline: str = "gelu") -> dict[str, Any]:
    """Every number the summary states, as plain JSON-ready values (``summary.json``)."""
    main = _groups(rows, "main")
    abl = _groups(rows, "ablations")
    ablations = {}
    for key, group in abl.items():
        ref = [r for r in main.get(key, []) if r["activation"] == "crrelu"]
        if ref:
            ablations[key] = [e for e in _accuracy([*ref, *group], "crrelu")]
    hooks = {bool((r.get("observe_hook") or {}).get("available")) for r in rows if "layers" in r}
    return {
        "baseline": baseline,
        "accuracy": {k: _accuracy(v, baseline) for k, v in main.items()
                     if any(r["activation"] == baseline for r in v)},  # fmt: skip
        "premise": {k: p for k, v in main.items() if (p := _premise(v)) is not None},
        "ablations": ablations,
        "eps": _eps_table(rows),
        "cost": _cost(rows),
        "normality": _normality(rows),
        "observe_hook": True in hooks,
    }


def _pp(v: float | None, signed: bool = True) -> str:
    if v is None:
        return "n/a"
    v = 100 * v
    return f"{0.0 if abs(v) < 5e-3 else v:+.2f}" if signed else f"{v:.2f}"


def _p(v: float | None) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if v >= 1e-3 else f"{v:.1e}")


def _accuracy_table(entries: list[dict[str, Any]], ref: str) -> list[str]:
    lines = [
        f"| activation | seeds | test acc (%) | test loss | diff vs {ref} (pp) | 95% CI (pp) "
        "| p | p (Holm) | W/T/L |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in entries:
        acc = f"{_pp(e['mean'], False)} ± {_pp(e['std'], False)}"
        loss = f"{e['loss_mean']:.3f} ± {e['loss_std'] or 0:.3f}"
        if "mean_diff" in e:
            diff = f"**{_pp(e['mean_diff'])}**" if e["resolved"] else _pp(e["mean_diff"])
            rest = (f"{diff} | [{_pp(e['ci_low'])}, {_pp(e['ci_high'])}] | {_p(e['p'])} "
                    f"| {_p(e['p_holm'])} | {e['wins']}/{e['ties']}/{e['losses']}")  # fmt: skip
        elif e["activation"] == ref:
            rest = "(reference) | | | | "
        else:
            rest = "(fewer than 2 paired seeds) | | | | "
        lines.append(f"| {e['activation']} | {e['seeds']} | {acc} | {loss} | {rest} |")
    return lines


def _resolved_sentence(key: str, entries: list[dict[str, Any]], ref: str) -> str:
    res = [e for e in entries if e.get("resolved")]
    if not res:
        return f"*{key}*: no difference against {ref} is resolved after Holm's correction."
    parts = [f"{e['activation']} ({_pp(e['mean_diff'])} pp)" for e in res]
    return f"*{key}*: resolved against {ref} (Holm p < 0.05): " + ", ".join(parts) + "."


def summary_markdown(analysis: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The whole ``summary.md`` from :func:`analyse`'s result (and ``meta.json``'s)."""
    base = analysis["baseline"]
    out = ["# The CPU study: activations on digits and MNIST-1D", ""]
    if meta:
        out += [
            f"Command: `{meta.get('command', '?')}`; wall time {meta.get('wall_seconds', '?')} s "
            f"on {meta.get('cpu_count', '?')} cores; generated code sha256 "
            f"`{str(meta.get('generated_code_sha256', '?'))[:12]}`.",
            "",
        ]
        for s in meta.get("skipped", []):
            out.append(f"- Skipped {s['what']}: {s['why']}")
        if meta.get("failures"):
            out.append(f"- {len(meta['failures'])} cells failed: {meta['failures'][0]} ...")
        out.append("")
    out += [
        "Final-epoch numbers (no early stopping, no model selection); mean ± sample std "
        f"over seeds. Differences against {base} are paired by seed; the 95% CI is Student's "
        "t with n - 1 degrees of freedom; p is the paired t-test's, Holm-corrected across the "
        "activations of each data set and model. A difference in **bold** is resolved "
        "(Holm p < 0.05).",
        "",
        "## Accuracy",
        "",
    ]
    for key, entries in analysis["accuracy"].items():
        out += [f"### {key}", "", *_accuracy_table(entries, base), "",
                _resolved_sentence(key, entries, base), ""]  # fmt: skip
    out += [
        "## The premise: lower output entropy, better accuracy?",
        "",
        "Entropy of each activation layer's output on the validation split, quantised at a "
        "fixed resolution (finite for outputs with atoms such as ReLU's zero and for "
        "continuous ones; `eafo_sym.experiment.entropy`), averaged over units and layers. "
        "Spearman's rho between that entropy and test accuracy across activations and seeds; "
        "the premise predicts rho < 0.",
        "",
        "| data/model | runs | Spearman rho | bootstrap 95% CI | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for key, p in analysis["premise"].items():
        out.append(f"| {key} | {p['n']} | {p['rho']:+.3f} | [{p['ci_low']:+.3f}, "
                   f"{p['ci_high']:+.3f}] | {p['verdict']} |")  # fmt: skip
    verdicts = [p["verdict"] for p in analysis["premise"].values()]
    if verdicts:
        out += ["", "**Verdict**: the premise is supported in "
                f"{verdicts.count('supported')} of {len(verdicts)} (data set, model) pairs, "
                f"contradicted in {verdicts.count('contradicted')} and not resolved in "
                f"{verdicts.count('not resolved')}.", ""]  # fmt: skip
    if analysis["ablations"]:
        out += ["## CRReLU ablations (against CRReLU with learned eps = 0.01 at start)", ""]
        for key, entries in analysis["ablations"].items():
            out += [f"### {key}", "", *_accuracy_table(entries, "crrelu"), "",
                    _resolved_sentence(key, entries, "crrelu"), ""]  # fmt: skip
    if analysis["eps"]:
        out += [
            "## Learned eps per layer at the end of training",
            "",
            f"The derived descent sign for a standard normal input is {DESCENT_SIGN:+d} "
            "(`derive_crrelu().descent_sign`): a negative eps lowers the output entropy. "
            "`agree` counts the seeds whose final CRReLU eps has that sign.",
            "",
            "| part | data/model | activation | layer | eps (mean ± std) | agree |",
            "|---|---|---|---:|---:|---:|",
        ]
        for e in analysis["eps"]:
            ag = e["agree_with_descent_sign"]
            out.append(f"| {e['part']} | {e['data']}/{e['model']} | {e['activation']} "
                       f"| {e['layer']} | {e['mean']:+.4f} ± {e['std'] or 0:.4f} "
                       f"| {'n/a' if ag is None else str(ag) + '/' + str(e['n'])} |")  # fmt: skip
        crr = [e for e in analysis["eps"] if e["agree_with_descent_sign"] is not None]
        total = sum(e["n"] for e in crr)
        agree = sum(e["agree_with_descent_sign"] for e in crr)
        out += ["", f"In all, {agree} of {total} learned CRReLU eps (layers x seeds) have the "
                "derived descent sign (the `eafo_*` rows are shown for their sign only: each "
                "base has its own derived sign).", ""]  # fmt: skip
    if analysis["cost"]:
        out += [
            "## Cost",
            "",
            "Per-epoch wall time (median after the first epoch, which holds torch.compile's "
            "compilation) as a ratio to GELU with the same model and backend; memory: what "
            "autograd saves for the backward of one training batch (counted exactly; the part "
            "of a step's memory an activation decides; not measured inside a compiled graph) "
            "and the growth of the peak resident memory while training (noisy: the process "
            "reuses memory across cells). Jobs ran side by side on a shared machine, so time "
            "ratios are indicative to about ±10%.",
            "",
            "| data/model | activation | backend | s/epoch | x GELU | first epoch (s) "
            "| saved (MiB) | x GELU | RSS growth (MiB) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for c in analysis["cost"]:
            tr = "n/a" if c["time_ratio"] is None else f"{c['time_ratio']:.2f}"
            sr = "n/a" if c["saved_ratio"] is None else f"{c['saved_ratio']:.2f}"
            sv = "n/a" if c["saved_mib"] is None else f"{c['saved_mib']:.3f}"
            out.append(f"| {c['data']}/{c['model']} | {c['activation']} | {c['backend']} "
                       f"| {c['epoch_s']:.3f} | {tr} | {c['first_epoch_s']:.2f} "
                       f"| {sv} | {sr} | {c['mem_mib']:.1f} |")  # fmt: skip
        out.append("")
    if analysis["normality"]:
        out += [
            "## The Gaussian assumption",
            "",
            "How far each layer's pre-activations are from normal after training (validation "
            "split; per unit, averaged over units, activations and seeds): Kolmogorov-Smirnov "
            "distance to the fitted normal, |skewness|, excess kurtosis, and the fraction "
            "below zero. "
            + ("The observation hook `eafo_sym.observe` was recorded in every row."
               if analysis["observe_hook"] else
               "The observation hook `eafo_sym.observe` was not available; the statistics "
               "are the experiment's own (scipy.stats)."),
            "",
            "| data/model | layer | runs | KS distance | abs skew | excess kurtosis "
            "| below zero |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]  # fmt: skip
        for n in analysis["normality"]:
            out.append(f"| {n['data']}/{n['model']} | {n['layer']} | {n['runs']} "
                       f"| {n['ks_distance']:.3f} | {n['abs_skew']:.2f} "
                       f"| {n['excess_kurtosis']:+.2f} | {n['frac_below_zero']:.2f} |")  # fmt: skip
        out.append("")
    return "\n".join(out)


def _figure(n: int, width: float = 4.8, height: float = 3.6) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                             squeeze=False, constrained_layout=True)  # fmt: skip
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def plot_accuracy(analysis: Mapping[str, Any]) -> Any:
    """Paired differences against the baseline with their 95% CIs, one panel per data/model."""
    items = list(analysis["accuracy"].items())
    fig, axes = _figure(max(1, len(items)), height=4.2)
    for ax, (key, entries) in zip(axes, items, strict=False):
        es = [e for e in entries if "mean_diff" in e]
        for i, e in enumerate(es):
            lo, hi = e["ci_low"], e["ci_high"]
            color = "C3" if e["resolved"] else "0.4"
            ax.plot([100 * (lo or 0), 100 * (hi or 0)], [i, i], color=color, lw=2)
            ax.plot(100 * e["mean_diff"], i, "o", color=color)
        ax.axvline(0, color="C0", ls="--", lw=0.8)
        ax.set_yticks(range(len(es)))
        ax.set_yticklabels([e["activation"] for e in es], fontsize=7)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(f"test accuracy - {analysis['baseline']} (pp)")
    fig.suptitle("Paired differences (95% CI; red: resolved after Holm)")
    return fig


def plot_entropy(rows: Sequence[Mapping[str, Any]], analysis: Mapping[str, Any]) -> Any:
    """Mean layer entropy against test accuracy, one panel per data/model."""
    groups = _groups(rows, "main")
    fig, axes = _figure(max(1, len(groups)))
    for ax, (key, group) in zip(axes, groups.items(), strict=False):
        acts = list(dict.fromkeys(r["activation"] for r in group))
        for j, a in enumerate(acts):
            pts = [(h, 100 * r["test_accuracy"]) for r in group
                   if r["activation"] == a and (h := _run_entropy(r)) is not None]  # fmt: skip
            if pts:
                ax.scatter(*zip(*pts, strict=True), s=10, color=f"C{j % 10}",
                           marker="os^vD"[j // 10 % 5], label=a)  # fmt: skip
        p = analysis["premise"].get(key)
        title = key if p is None else f"{key}: rho {p['rho']:+.2f} ({p['verdict']})"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("mean layer output entropy (nats, quantised)")
        ax.set_ylabel("test accuracy (%)")
    if groups:
        axes[0].legend(fontsize=6, ncol=2)
    return fig


def plot_cost(analysis: Mapping[str, Any]) -> Any:
    """Per-epoch time as a ratio to GELU, per model, activation and backend."""
    cost = [c for c in analysis["cost"] if c["time_ratio"] is not None]
    models = list(dict.fromkeys(f"{c['data']}/{c['model']}" for c in cost))
    fig, axes = _figure(max(1, len(models)))
    for ax, key in zip(axes, models, strict=False):
        mine = [c for c in cost if f"{c['data']}/{c['model']}" == key]
        labels = [f"{c['activation']}\n{c['backend']}" for c in mine]
        ax.bar(range(len(mine)), [c["time_ratio"] for c in mine],
               color=[{"eager": "C0", "fused": "C2", "compile": "C1"}.get(c["backend"], "0.5")
                      for c in mine])  # fmt: skip
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xticks(range(len(mine)))
        ax.set_xticklabels(labels, fontsize=6)
        ax.set_title(key, fontsize=9)
        ax.set_ylabel("s/epoch, x GELU (same backend)")
    return fig


def write_report(
    out: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    baseline: str = "gelu",
    meta: Mapping[str, Any] | None = None,
) -> str:
    """Write ``summary.md``, ``summary.json`` and the plots into ``out`` (an OutputDir).

    Returns:
        The Markdown of ``summary.md``.
    """
    import io

    import matplotlib.pyplot as plt

    analysis = analyse(rows, baseline)
    text = summary_markdown(analysis, meta)
    out.write_text("summary.md", text)
    out.write_text("summary.json", json.dumps(analysis, indent=1) + "\n")
    for name, fig in (
        ("accuracy.png", plot_accuracy(analysis)),
        ("entropy_accuracy.png", plot_entropy(rows, analysis)),
        ("cost.png", plot_cost(analysis)),
    ):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        out.write_bytes(name, buf.getvalue())
    return text
