#!/usr/bin/env python3
"""Small ONNX files for vigil's tests (tests/fixtures/), regenerated with:
    python models/make_fixtures.py
- contrarian.onnx: a valid vigil model that ignores its input and is 90% sure of
  `aggressive` -- a shadow that disagrees with a passive engine by construction.
- no_contract.onnx: a valid graph without vigil's metadata.
- wrong_features.onnx: a vigil model whose feature list differs from the contract.
- not_a_model.onnx: bytes that are not ONNX at all.
- uniform.onnx: a valid vigil model with no opinion (every action 1/7): its
  confidence is always below the engine's threshold, so it always falls back.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")


def graph_model(logits, props, n_features):
    n = len(logits)
    W = numpy_helper.from_array(np.zeros((n_features, n), dtype=np.float32), "W")
    b = numpy_helper.from_array(np.array(logits, dtype=np.float32), "b")
    nodes = [
        helper.make_node("Gemm", ["features", "W", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    g = helper.make_graph(
        nodes, "fixture",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n])],
        initializer=[W, b],
    )
    m = helper.make_model(g, producer_name="vigil-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    if props:
        helper.set_model_props(m, props)
    onnx.checker.check_model(m)
    return m


def main():
    with open(os.path.join(HERE, "features.json")) as f:
        c = json.load(f)
    feats = [x["name"] for x in c["features"]]
    acts = c["actions"]
    props = {"vigil_contract_version": str(c["version"]), "vigil_features": ",".join(feats),
             "vigil_actions": ",".join(acts)}
    os.makedirs(OUT, exist_ok=True)
    # softmax: aggressive gets e^3.9 / (e^3.9 + 5) = 0.90
    logits = [0.0] * len(acts)
    logits[acts.index("aggressive")] = float(np.log(0.9 / 0.1 * (len(acts) - 1)))
    onnx.save(graph_model(logits, props, len(feats)), os.path.join(OUT, "contrarian.onnx"))
    onnx.save(graph_model([0.0] * len(acts), None, len(feats)), os.path.join(OUT, "no_contract.onnx"))
    wrong = dict(props, vigil_features=",".join(reversed(feats)))
    onnx.save(graph_model([0.0] * len(acts), wrong, len(feats)), os.path.join(OUT, "wrong_features.onnx"))
    onnx.save(graph_model([0.0] * len(acts), props, len(feats)), os.path.join(OUT, "uniform.onnx"))
    with open(os.path.join(OUT, "not_a_model.onnx"), "wb") as f:
        f.write(b"this is not an ONNX protobuf, just text\n" * 4)


if __name__ == "__main__":
    main()
