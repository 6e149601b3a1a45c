#!/bin/sh
# The whole test suite: kernels, loaders, tokenizer, fidelity against the
# transformers fixtures, elements and pipelines. Builds first.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
meson test -C build --print-errorlogs "$@"
