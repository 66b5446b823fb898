#!/bin/sh
# Regenerate the sample recordings, byte for byte (the engine is deterministic
# for a scenario, a seed and commands at fixed simulated times; journals carry
# no wall-clock time). Run from the repository root: sh recordings/regenerate.sh
set -eu
cargo build --release --quiet
vigil=target/release/vigil
$vigil record --scenario default --seed 42 --from 12:20:00 --to 13:20:00 \
    --script recordings/default-42-midday.script.toml --out recordings/default-42-midday.vigil
$vigil record --scenario default --seed 7 --from 09:30:00 --to 10:00:00 \
    --script recordings/default-7-open.script.toml --out recordings/default-7-open.vigil
