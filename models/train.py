#!/usr/bin/env python3
"""Train vigil's decision models from a dataset made by `vigil dataset`.

policy.onnx  -- a multi-layer perceptron (scikit-learn MLPRegressor) that
                predicts every action's advantage (its rollout cost minus the
                mean over actions) from the features; the probabilities are a
                softmax of the negated predictions at a temperature fitted on
                held-out rows (temperature scaling), so the engine takes the
                action it expects to be cheapest and its confidence means
                something.
shadow.onnx  -- a multinomial logistic regression trained with balanced class
                weights: another model family and another training mix, so it
                disagrees with the policy where the policy leans on non-linear
                structure or on the frequent classes. That disagreement is what
                the console's shadow model is for.

Both are written as plain ONNX graphs (Gemm/Relu/Softmax) from the fitted
weights, with the input standardisation folded into the first layer, a named
batch dimension and a single `probabilities` output: the form tract (the
embedded backend) accepts. Each file carries the contract in its metadata.

Usage: python models/train.py DATA.csv [--out models] [--seed 0] [--noise-before OLD.schema.json]
"""
import argparse
import csv
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor

HERE = os.path.dirname(os.path.abspath(__file__))


def load_contract():
    with open(os.path.join(HERE, "features.json")) as f:
        c = json.load(f)
    return c["version"], [f["name"] for f in c["features"]], c["actions"]


def load_rows(path, features, actions):
    X, costs, seeds, taken, sources = [], [], [], [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            if not row["best_action"]:
                continue  # recorded rows carry one cost only: not for supervised labels
            X.append([float(row[n]) for n in features])
            costs.append([float(row["cost_" + a]) for a in actions])
            seeds.append(int(row["seed"]))
            taken.append(actions.index(row["action_taken"]))
            sources.append(row["source"])
    return (np.array(X, dtype=np.float64), np.array(costs), np.array(seeds), np.array(taken),
            np.array(sources))


def load_noise(path, schema=False):
    """The label-noise figures `vigil dataset` wrote into the dataset's schema."""
    p = path if schema else os.path.splitext(path)[0] + ".schema.json"
    try:
        with open(p) as f:
            s = json.load(f)
    except OSError:
        return None
    return {"noise": s.get("label_noise"), "options": s.get("options")}


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class AdvantagePolicy:
    """An MLP regressor of per-action advantages, read as probabilities
    softmax(-advantage / temperature)."""

    def __init__(self, mlp, temperature):
        self.mlp, self.temperature = mlp, temperature
        self.classes_ = np.arange(mlp.coefs_[-1].shape[1])

    def predict_proba(self, Z):
        return softmax(-self.mlp.predict(Z) / self.temperature)


def fit_temperature(pred, best):
    """Temperature scaling (Guo et al., "On calibration of modern neural
    networks", ICML 2017): the T that maximises the likelihood of the
    cheapest action under softmax(-pred / T)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(200.0), 200))
    rows = np.arange(len(best))
    nll = [-np.log(softmax(-pred / t)[rows, best] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(nll))])


def full_probs(model, X, n_actions):
    """Probabilities over every action, zero for classes never seen in training."""
    p = np.zeros((X.shape[0], n_actions))
    p[:, model.classes_] = model.predict_proba(X)
    return p


def evaluate(name, probs, costs, taken):
    chosen = probs.argmax(axis=1)
    best = costs.argmin(axis=1)
    rows = np.arange(len(costs))
    regret = costs[rows, chosen] - costs[rows, best]
    return {
        "model": name,
        "accuracy": float((chosen == best).mean()),
        "mean_cost_bps": float(costs[rows, chosen].mean()),
        "mean_regret_bps": float(regret.mean()),
        "baseline_policy_cost_bps": float(costs[rows, taken].mean()),
        "oracle_cost_bps": float(costs[rows, best].mean()),
        "mean_confidence": float(probs.max(axis=1).mean()),
    }


def gemm(name, W, b, inp, out):
    """Nodes and initializers for out = inp @ W + b."""
    w = numpy_helper.from_array(W.astype(np.float32), name + "_W")
    bb = numpy_helper.from_array(b.astype(np.float32), name + "_b")
    return helper.make_node("Gemm", [inp, w.name, bb.name], [out], name=name), [w, bb]


def export(path, graph_name, layers, mean, std, version, features, actions, n_actions, classes):
    """layers: list of (W, b); Relu between them, Softmax at the end."""
    nodes, inits = [], []
    # Fold the standardisation into the first layer: (x - m)/s @ W + b = x @ (W/s) + (b - (m/s) @ W)
    W0, b0 = layers[0]
    W0f = W0 / std[:, None]
    b0f = b0 - (mean / std) @ W0
    layers = [(W0f, b0f)] + layers[1:]
    # Widen the last layer to every action: unseen classes get a hopeless logit.
    W_last, b_last = layers[-1]
    Wf = np.zeros((W_last.shape[0], n_actions))
    bf = np.full(n_actions, -30.0)
    Wf[:, classes] = W_last
    bf[classes] = b_last
    layers[-1] = (Wf, bf)
    x = "features"
    for i, (W, b) in enumerate(layers):
        out = f"h{i}"
        n, ini = gemm(f"dense{i}", W, b, x, out)
        nodes.append(n)
        inits += ini
        x = out
        if i + 1 < len(layers):
            nodes.append(helper.make_node("Relu", [x], [x + "_relu"], name=f"relu{i}"))
            x = x + "_relu"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1, name="softmax"))
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(features)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_actions])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="vigil-train", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(
        model,
        {
            "vigil_contract_version": str(version),
            "vigil_features": ",".join(features),
            "vigil_actions": ",".join(actions),
        },
    )
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:12]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-before", help="schema of an earlier dataset, to compare label noise in the card")
    args = ap.parse_args()
    version, features, actions = load_contract()
    X, costs, seeds, taken, sources = load_rows(args.data, features, actions)
    if len(X) < 50:
        sys.exit(f"{args.data}: only {len(X)} labelled rows, too few to train")
    y = costs.argmin(axis=1)
    # Hold out whole episodes (seeds), never single rows: rows of one episode are correlated.
    uniq = np.unique(seeds)
    rng = np.random.default_rng(args.seed)
    test_seeds = set(rng.choice(uniq, size=max(1, len(uniq) // 5), replace=False).tolist())
    test = np.array([s in test_seeds for s in seeds])
    mean = X[~test].mean(axis=0)
    std = X[~test].std(axis=0) + 1e-6
    Z = (X - mean) / std

    # Advantages: the part of an action's cost that depends on the action.
    # Heavy tails (a rollout caught in a sweep) are winsorised so a few rows
    # cannot dominate the squared loss.
    adv = costs - costs.mean(axis=1, keepdims=True)
    lo, hi = np.percentile(adv[~test], [1, 99])
    adv_fit = np.clip(adv, lo, hi)
    # A validation split inside the training episodes fits the temperature.
    train_seeds = np.array(sorted(set(uniq.tolist()) - test_seeds))
    val_seeds = set(rng.choice(train_seeds, size=max(1, len(train_seeds) // 5), replace=False).tolist())
    val = np.array([s in val_seeds for s in seeds]) & ~test
    fit = ~test & ~val
    mlp = MLPRegressor(hidden_layer_sizes=(64, 32), alpha=1e-3, max_iter=800, early_stopping=True,
                       random_state=args.seed)
    mlp.fit(Z[fit], adv_fit[fit])
    temperature = fit_temperature(mlp.predict(Z[val]), y[val])
    # Refit on all training episodes with the same settings.
    mlp = MLPRegressor(hidden_layer_sizes=(64, 32), alpha=1e-3, max_iter=800, early_stopping=True,
                       random_state=args.seed)
    mlp.fit(Z[~test], adv_fit[~test])
    policy = AdvantagePolicy(mlp, temperature)
    lr = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000)
    lr.fit(Z[~test], y[~test])

    n = len(actions)
    metrics = {
        "rows": int(len(X)), "train_rows": int((~test).sum()), "test_rows": int(test.sum()),
        "episodes": int(len(uniq)), "test_episodes": sorted(int(s) for s in test_seeds),
        "train_seed_range": [int(uniq.min()), int(uniq.max())],
        "label_distribution": {a: int((y == i).sum()) for i, a in enumerate(actions)},
        "sources": {str(k): int((sources == k).sum()) for k in np.unique(sources)},
        "policy": evaluate("policy (MLP advantages)", full_probs(policy, Z[test], n), costs[test], taken[test]),
        "shadow": evaluate("shadow (logistic)", full_probs(lr, Z[test], n), costs[test], taken[test]),
    }
    metrics["policy"]["temperature_bps"] = temperature
    pred = mlp.predict(Z[test])
    resid = adv[test] - pred
    metrics["policy"]["advantage_r2"] = float(1 - (resid ** 2).sum() / ((adv[test] - adv[test].mean(axis=0)) ** 2).sum())
    metrics["label_noise"] = load_noise(args.data)
    if args.noise_before:
        metrics["label_noise_before"] = load_noise(args.noise_before, schema=True)
    for a in range(n):
        metrics.setdefault("always", {})[actions[a]] = float(costs[test][:, a].mean())

    # probabilities = softmax(-advantage / T): the last layer absorbs -1/T.
    mlp_layers = [(W, b) for W, b in zip(mlp.coefs_, mlp.intercepts_)]
    W_last, b_last = mlp_layers[-1]
    mlp_layers[-1] = (-W_last / temperature, -b_last / temperature)
    lr_layers = [(lr.coef_.T, lr.intercept_)]
    if lr.coef_.shape[0] == 1:  # binary case: sklearn keeps one row
        lr_layers = [(np.hstack([-lr.coef_.T, lr.coef_.T]) / 2, np.array([-lr.intercept_[0], lr.intercept_[0]]) / 2)]
    h_policy = export(os.path.join(args.out, "policy.onnx"), "policy", mlp_layers, mean, std, version, features,
                      actions, n, policy.classes_)
    h_shadow = export(os.path.join(args.out, "shadow.onnx"), "shadow", lr_layers, mean, std, version, features,
                      actions, n, lr.classes_)
    metrics["policy"]["sha256_prefix"] = h_policy
    metrics["shadow"]["sha256_prefix"] = h_shadow

    # The exported graphs must reproduce scikit-learn's probabilities.
    import onnxruntime as ort
    for name, model in (("policy", policy), ("shadow", lr)):
        sess = ort.InferenceSession(os.path.join(args.out, name + ".onnx"))
        got = sess.run(["probabilities"], {"features": X[test][:200].astype(np.float32)})[0]
        want = full_probs(model, Z[test][:200], n)
        err = float(np.abs(got - want).max())
        metrics[name]["onnx_vs_sklearn_max_abs_diff"] = err
        if err > 1e-4:
            sys.exit(f"{name}.onnx disagrees with scikit-learn by {err}")
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    write_cards(args, metrics, features, actions, version)
    print(json.dumps(metrics, indent=2))


CARD = """# {title}

- File: `models/{file}` (sha256 prefix `{sha}`), contract version {version}.
- Input: `features`, float32 [N, {nf}] in the order of `models/features.json`
  (normalised by the engine). Output: `probabilities`, float32 [N, {na}] over
  `{actions}`. The contract travels in the model's metadata; vigil refuses a
  model whose contract differs.
- Registry: `models/registry.toml` records its hash, status and the held-out
  figures behind the status (`vigil model list`).

## Data
`{data}`: {rows} labelled decision points from `vigil dataset` over {episodes} simulated
days drawn from the market families ({sources}); training seeds {seeds_range}, all below
1,000,000 (evaluation seeds start there and calibration seeds at 3,000,000). Every
order runs the adaptive policy's baseline (VWAP) with random detours (exploration
{explore}), so the data cover orders ahead of and behind their schedule. At a
sampled decision ({sample} of them) the engine is cloned once per action and per
rollout: the action is held for {hold} decisions without re-planning the schedule,
the baseline continues, and the cost over the next {horizon} s is measured (fills
against the starting mid, the position left different from the schedule marked at
the end mid, a 10 bps charge per unit still behind). Rollout k of every action draws
the same future — the market is reseeded with k, and the latent price has its own
random stream — so the {rollouts} rollouts compare actions on common random numbers.
Label counts (cheapest action): {labels}.

## Label noise, before and after
Measured on the rows themselves: the standard error of an action's advantage (its
cost minus the mean over actions in the same rollout) across rollouts, and how often
the cheapest action is the same when computed from two independent halves of the
rollouts (test–retest of the label).

{noise_table}

## Method
{method}

## Held-out rows
Days {test_episodes} ({test_rows} rows) were held out by seed, never seen in training.

| measure | value |
|---|---|
| accuracy (chose the cheapest action) | {accuracy:.3f} |
| mean cost of the chosen action | {mean_cost_bps:.2f} bps |
| mean regret vs the cheapest action | {mean_regret_bps:.2f} bps |
| cost of the behaviour policy's actions | {baseline_policy_cost_bps:.2f} bps |
| cost of the best action (oracle) | {oracle_cost_bps:.2f} bps |
| mean confidence | {mean_confidence:.3f} |
| max abs difference ONNX vs scikit-learn | {onnx_vs_sklearn_max_abs_diff:.2e} |

Cost of always taking one action on the same rows: {always}.

## Held-out evaluation
<!-- evaluation: written by models/evaluate.py -->
(not evaluated yet: run `python models/evaluate.py`)
<!-- /evaluation -->

## Known limits
- Trained on the simulator only: its flow, impact and regimes are models, and the policy
  exploits their regularities (order-book imbalance and flow lean towards the latent
  price; trends persist once they start).
- The labels value an action held for a few decisions with the baseline after it: a
  one-step improvement on the baseline (one round of policy iteration), not an optimal
  policy over the whole horizon.
- A single model serves buys and sells (features are side-oriented).
- Confidence is the model's own probability (temperature-scaled for the policy), not a
  guarantee; the engine falls back to the baseline below its threshold.
"""


def noise_table(metrics):
    """Label noise of this dataset beside the earlier labelling. The earlier
    label was one rollout per action; its dataset was made with two
    independent rollouts only to measure that label's test-retest, so its
    standard error is scaled back to one rollout."""
    rows = []
    for label, key, per_label in (
        ("before: one rollout per action, held one decision", "label_noise_before", 1),
        ("now: this dataset", "label_noise", None),
    ):
        n = metrics.get(key)
        if not n or not n.get("noise"):
            continue
        o, z = n.get("options") or {}, n["noise"]
        k = o.get("rollouts", 1)
        used = per_label or k
        se = z["advantage_se_bps"] * (k / used) ** 0.5
        agree = z.get("split_half_agreement")
        rows.append(
            f"| {label} | {used} | {o.get('hold', '?')} | {o.get('horizon_s', '?'):.0f} s | "
            f"{se:.2f} bps | {z['advantage_range_bps']:.2f} bps | {z['advantage_range_bps'] / se:.1f} | "
            f"{'—' if agree is None else f'{agree * 100:.0f}% ({k // 2} vs {k // 2} rollouts)'} |"
        )
    head = ("| labelling | rollouts in a label | decisions held | horizon | label s.e. | "
            "advantage range | range / s.e. | cheapest action agrees between halves |\n"
            "|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(rows) if rows else "(no label-noise figures in the dataset's schema)"


def write_cards(args, metrics, features, actions, version):
    opts = (metrics.get("label_noise") or {}).get("options") or {}
    seeds = metrics["train_seed_range"]
    common = dict(
        version=version, nf=len(features), na=len(actions), actions=", ".join(actions),
        data=os.path.basename(args.data), rows=metrics["rows"], episodes=metrics["episodes"],
        labels=", ".join(f"{k} {v}" for k, v in metrics["label_distribution"].items()),
        test_episodes=", ".join(str(s) for s in metrics["test_episodes"]), test_rows=metrics["test_rows"],
        always=", ".join(f"{k} {v:.2f} bps" for k, v in metrics["always"].items()),
        sources=", ".join(f"{k} {v} rows" for k, v in metrics["sources"].items()),
        seeds_range=f"{seeds[0]}–{seeds[1]}", explore=opts.get("explore", "?"), sample=opts.get("sample", "?"),
        hold=opts.get("hold", "?"), horizon=opts.get("horizon_s", "?"), rollouts=opts.get("rollouts", "?"),
        noise_table=noise_table(metrics),
    )
    specs = {
        "policy": ("Policy model (policy.onnx)",
                   "An MLP regressor (scikit-learn `MLPRegressor`, hidden layers 64 and 32, ReLU, L2 1e-3, "
                   "early stopping) on standardised features predicts every action's advantage (winsorised at "
                   "the 1st/99th percentiles). The probabilities are softmax(−advantage / T), with the temperature "
                   f"T = {metrics['policy'].get('temperature_bps', float('nan')):.2f} bps fitted on validation days "
                   "inside the training set by maximum likelihood of the cheapest action (temperature scaling, "
                   "Guo et al. 2017), so the engine takes the action it expects to be cheapest and the confidence "
                   "threshold means something. Held-out R² of the advantages: "
                   f"{metrics['policy'].get('advantage_r2', float('nan')):.3f}. Exported by hand as "
                   "Gemm/Relu/Softmax with the standardisation folded into the first layer and −1/T into the last."),
        "shadow": ("Shadow model (shadow.onnx)", "A multinomial logistic regression (scikit-learn `LogisticRegression`, C=0.5) "
                   "with balanced class weights on the cheapest-action labels: another model family and another "
                   "training target than the policy, so that it disagrees where the policy relies on non-linear "
                   "structure or on frequent classes. The console runs it beside every engine decision and flags "
                   "divergences."),
    }
    for name, (title, method) in specs.items():
        m = metrics[name]
        text = CARD.format(title=title, file=name + ".onnx", sha=m["sha256_prefix"], method=method, **common, **m)
        out = os.path.join(args.out, name + ".md")
        # Keep an evaluation section already written for this very file.
        if os.path.exists(out):
            old = open(out).read()
            a, b = "<!-- evaluation", "<!-- /evaluation -->"
            if m["sha256_prefix"] in old and a in old and b in old:
                kept = old[old.index(a):old.index(b) + len(b)]
                text = text[:text.index(a)] + kept + text[text.index(b) + len(b):]
        with open(out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
