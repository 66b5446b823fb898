#!/usr/bin/env python3
"""Held-out evaluation of the committed policy, written into its model card.

Runs `vigil eval --json` (every strategy on held-out seeds from 1,000,000,
which no training run uses) on the market families and on fixed days the
policy never trained on, then `vigil calibrate no-free-lunch --json`, and
writes the tables between the evaluation markers of models/policy.md and
into models/evaluation.json.

Usage: python models/evaluate.py [--vigil target/release/vigil] [--seeds 30]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FAMILIES = ["regime_family", "volatile_family", "calm_family", "thin_family"]
FIXED_DAYS = [
    ("regime_shift", "the original fixed day"),
    ("scenarios/held_out/regime_shift_reversed.toml", "trend reversed"),
    ("scenarios/held_out/regime_shift_sell.toml", "side flipped"),
    ("scenarios/held_out/regime_shift_moved.toml", "switches moved"),
]


def run(vigil, *args):
    out = subprocess.run([vigil, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"vigil {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def row(name, r):
    s = r["strategies"]
    best = r["best_classic"]
    ad = s["adaptive"]
    p = r["paired_vs_best_classic"]["adaptive"]
    rel = -p["mean_bps"] / s[best]["mean_bps"] * 100 if s[best]["mean_bps"] > 0 else float("nan")
    return (f"| {name} | {ad['mean_bps']:.1f} | {best} {s[best]['mean_bps']:.1f} | "
            f"{p['mean_bps']:+.1f} [{p['ci95_bps'][0]:+.1f}, {p['ci95_bps'][1]:+.1f}] | {rel:+.0f}% |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.path.join(ROOT, "target", "release", "vigil"))
    ap.add_argument("--seeds", type=int, default=30)
    args = ap.parse_args()
    results = {}
    lines = [
        f"`vigil eval --seeds {args.seeds}`: every strategy on the same held-out seeds (from 1,000,000; "
        "training used seeds below 1,000,000), implementation shortfall vs arrival in bps (lower is "
        "better), paired difference adaptive − best classic with its 95% interval (Student t), and "
        "the reduction relative to the best classic's mean.",
        "",
        "| days | adaptive | best classic | adaptive − best classic (paired) | reduction |",
        "|---|---|---|---|---|",
    ]
    for f in FAMILIES:
        r = run(args.vigil, "eval", "--scenario", f, "--seeds", str(args.seeds), "--json")
        results[f] = r
        lines.append(row(f + " (family)", r))
    for path, what in FIXED_DAYS:
        r = run(args.vigil, "eval", "--scenario", path, "--seeds", str(args.seeds), "--json")
        results[path] = r
        lines.append(row(f"{os.path.basename(path).replace('.toml', '')} ({what})", r))
    nfl = run(args.vigil, "calibrate", "no-free-lunch", "--seeds", str(args.seeds), "--json")
    results["no_free_lunch"] = nfl
    d = nfl["adaptive_minus_ac_bps"]
    lines += [
        "",
        f"No-free-lunch world (`vigil calibrate no-free-lunch --seeds {args.seeds}`): adaptive − "
        f"Almgren–Chriss {d['mean']:+.1f} bps [{d['ci95'][0]:+.1f}, {d['ci95'][1]:+.1f}]: "
        + ("not significantly cheaper (pass)." if nfl["pass"] else "significantly cheaper: a leak (FAIL)."),
    ]
    table = "\n".join(lines)
    with open(os.path.join(HERE, "evaluation.json"), "w") as f:
        json.dump({"seeds": args.seeds, "results": results}, f, indent=1)
        f.write("\n")
    card = os.path.join(HERE, "policy.md")
    text = open(card).read()
    a, b = "<!-- evaluation: written by models/evaluate.py -->", "<!-- /evaluation -->"
    if a not in text or b not in text:
        sys.exit(f"{card} has no evaluation markers")
    text = text[:text.index(a) + len(a)] + "\n" + table + "\n" + text[text.index(b):]
    open(card, "w").write(text)
    print(table)


if __name__ == "__main__":
    main()
