"""An independent bus client (nats-py, from PyPI) against a vigil engine on
NATS: reads the engine's JetStream stream from the start and checks it is
gap-free and in order, reads the keyframe, and sends commands by
request/reply. Prints one JSON object with what it saw; tests/bus.rs checks it.

    python3 tests/bus_peer.py URL ENGINE TRADER_TOKEN VIEWER_TOKEN UNTIL_SEQ
"""

import asyncio
import json
import sys

import nats


async def main(url, engine, trader, viewer, until):
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = "VIGIL_" + engine.replace("-", "_")
    sub = await js.subscribe(f"vigil.{engine}.events.>", stream=stream, ordered_consumer=True,
                             deliver_policy=nats.js.api.DeliverPolicy.ALL)
    seqs, kinds, mismatched = [], set(), []
    while not seqs or seqs[-1] < until:
        msg = await asyncio.wait_for(sub.next_msg(), timeout=20)
        frame = json.loads(msg.data)
        seq = frame["seq"]
        if msg.headers.get("Vigil-Seq") != str(seq):
            mismatched.append(seq)
        if not msg.subject.endswith("." + frame["event"]["kind"]):
            mismatched.append(seq)
        kinds.add(frame["event"]["kind"])
        seqs.append(seq)
    gaps = [b for a, b in zip(seqs, seqs[1:]) if b != a + 1]

    kv = await js.key_value("vigil_keyframes")
    keyframe = json.loads((await kv.get(engine)).value)

    async def command(token, cmd, cid):
        body = json.dumps({"type": "command", "id": cid, "token": token, "command": cmd})
        reply = await nc.request(f"vigil.{engine}.cmd", body.encode(), timeout=10)
        return json.loads(reply.data)

    pause = await command(trader, {"kind": "pause", "order_id": "P-2"}, "py-1")
    viewer_resume = await command(viewer, {"kind": "resume", "order_id": "P-2"}, "py-2")
    resume = await command(trader, {"kind": "resume", "order_id": "P-2"}, "py-3")
    garbage = json.loads((await nc.request(f"vigil.{engine}.cmd", b"{oops", timeout=10)).data)
    await nc.close()
    print(json.dumps({
        "first": seqs[0], "last": seqs[-1], "count": len(seqs), "gaps": gaps,
        "mismatched": mismatched, "kinds": sorted(kinds),
        "keyframe_type": keyframe["type"], "keyframe_seq": keyframe["seq"],
        "pause": pause, "viewer_resume": viewer_resume, "resume": resume, "garbage": garbage,
    }))


if __name__ == "__main__":
    url, engine, trader, viewer, until = sys.argv[1:6]
    asyncio.run(main(url, engine, trader, viewer, int(until)))
