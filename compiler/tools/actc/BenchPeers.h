// actc bench: the peers act is measured against in the same run (bench/Peers.h for the
// loops and Halide, bench/torch_peer.py for PyTorch).
#pragma once

#include "CpuTiming.h"

#include "act/act.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace actc {

enum class Peer { Loop, Halide, Torch };

/// "none", "all" or a comma-separated subset of "loop,halide,torch" (in that order
/// in the table whatever the order given); a UsageError otherwise.
std::vector<Peer> parsePeers(const std::string &text);
const char *peerName(Peer peer);
/// Why `peer` cannot run here ("" when it can); asked once per run.
std::string peerMissing(Peer peer);

/// What a peer runs on: act's benchmark data and act's results on it.
struct PeerInput {
  const act::Activation *activation = nullptr;
  act::TensorShape shape;
  unsigned threads = 1;
  int reps = 9;
  const float *x = nullptr, *dy = nullptr;
  std::vector<const float *> params;
  const float *actY = nullptr, *actDx = nullptr; ///< act's forward y and backward dx
  /// Times one memcpy of the forward's bytes on act's buffers (milliseconds): each
  /// in-process peer's rounds run it next to the peer's forward and backward.
  std::function<double()> copyMs;
  /// act's forward and backward on the same data: in-process peers time them in
  /// the same rounds, for a head-to-head ratio the machine's drift cannot skew.
  std::function<void()> actForward, actBackward;
};

struct PeerResult {
  bool ran = false;
  std::string why;          ///< why not, when !ran
  double fwdMs = 0, bwdMs = 0;
  double copyMs = 0;        ///< the peer's own memcpy of the forward's bytes
  /// act's forward and backward timed in the peer's rounds (0 when not: torch).
  double actFwdMs = 0, actBwdMs = 0;
  double yDiff = 0, dxDiff = 0; ///< max |peer - act| / max(|act|, 1)
  double compileMs = 0;     ///< JIT compile time, outside the timings (Halide)
};

PeerResult runPeer(Peer peer, const PeerInput &in);

/// max over i of |got[i] - want[i]| / max(|want[i]|, 1) (NaN mismatches: infinity).
double maxRelDiff(const float *got, const float *want, size_t count);

} // namespace actc
