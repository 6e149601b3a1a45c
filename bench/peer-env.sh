# bench/peer-env.sh: sourced by the compare-*.sh scripts after LLAVA is set:
# where the peer (llama.cpp from the llama-cpp-python source package) is
# built and where the converted copies of LLAVA go. Overridable: THREADS,
# VTP_PEER_DIR, LLAMA_CPP_PYTHON (the package version), VTP_COMPARE_DIR.
THREADS=${THREADS:-$(nproc)}
PEER=${VTP_PEER_DIR:-$HOME/.cache/vtp-peer}
VERSION=${LLAMA_CPP_PYTHON:-0.3.36}
SRC=$PEER/llama_cpp_python-$VERSION/vendor/llama.cpp
BIN=$SRC/build/bin
WORK=${VTP_COMPARE_DIR:-$PEER/models/$(basename "$LLAVA")}
