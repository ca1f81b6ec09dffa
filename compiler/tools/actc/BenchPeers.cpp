// actc bench: running the peers (hand-written loops, Halide, PyTorch) on act's data.
#include "BenchPeers.h"
#include "Actc.h"

#include "Peers.h"

#include <fmt/core.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#ifndef ACT_TORCH_PEER_SCRIPT
#define ACT_TORCH_PEER_SCRIPT "bench/torch_peer.py"
#endif

using namespace actc;
namespace fs = std::filesystem;

std::vector<Peer> actc::parsePeers(const std::string &text) {
  if (text == "none")
    return {};
  if (text == "all")
    return {Peer::Loop, Peer::Halide, Peer::Torch};
  bool want[3] = {false, false, false};
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, end - start);
    if (item == "loop")
      want[0] = true;
    else if (item == "halide")
      want[1] = true;
    else if (item == "torch")
      want[2] = true;
    else
      throw UsageError{"--peers takes none, all or a list of loop,halide,torch (got '" +
                       item + "')"};
    start = end + 1;
  }
  std::vector<Peer> out;
  for (int i = 0; i < 3; ++i)
    if (want[i])
      out.push_back((Peer)i);
  return out;
}

const char *actc::peerName(Peer peer) {
  switch (peer) {
  case Peer::Loop:
    return "loop";
  case Peer::Halide:
    return "halide";
  case Peer::Torch:
    return "torch";
  }
  return "?";
}

namespace {

const char *kPython = "/usr/bin/python3";

std::string torchMissing() {
  std::error_code ec;
  if (!fs::exists(kPython, ec))
    return "not installed (no /usr/bin/python3)";
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    return "not installed (/usr/bin/python3 cannot import torch; Debian: python3-torch)";
  if (!fs::exists(ACT_TORCH_PEER_SCRIPT, ec))
    return std::string("script not found: ") + ACT_TORCH_PEER_SCRIPT;
  return "";
}

/// True when the activation's parameters have the shapes the peers' code assumes.
bool sameParams(const act::Activation &a, std::string &why) {
  bool known = false;
  std::vector<std::string> shapes = actbench::expectedParams(a.name(), &known);
  if (!known) {
    why = "not implemented";
    return false;
  }
  bool same = a.inputs().size() == 1 && a.params().size() == shapes.size();
  for (size_t i = 0; same && i < shapes.size(); ++i)
    same = a.params()[i].shape() == shapes[i];
  if (!same)
    why = "parameters differ from seeds.act's '" + a.name() + "'";
  return same;
}

actbench::Problem problemFor(const PeerInput &in, std::vector<float> &y, std::vector<float> &dx,
                             std::vector<std::vector<float>> &dparams) {
  actbench::Problem p;
  p.n = in.shape.n;
  p.c = in.shape.c;
  p.s = in.shape.s;
  p.channelsLast = in.shape.layout == act::Layout::NSC;
  p.threads = in.threads;
  p.x = in.x;
  p.params = in.params;
  size_t count = (size_t)in.shape.numElements();
  y.assign(count, 0.0f);
  dx.assign(count, 0.0f);
  p.y = y.data();
  p.dx = dx.data();
  p.dy = in.dy;
  for (const act::ParamInfo &info : in.activation->params()) {
    dparams.emplace_back((size_t)info.numValues(in.shape), 0.0f);
    p.dparams.push_back(dparams.back().data());
  }
  return p;
}

PeerResult runNative(Peer peer, const PeerInput &in) {
  PeerResult r;
  std::vector<float> y, dx;
  std::vector<std::vector<float>> dparams;
  actbench::Problem problem = problemFor(in, y, dx, dparams);
  std::unique_ptr<actbench::Kernel> k =
      peer == Peer::Loop ? actbench::makeLoop(in.activation->name(), problem)
                         : actbench::makeHalide(in.activation->name(), problem, &r.compileMs);
  if (!k) {
    r.why = "not implemented";
    return r;
  }
  // Each round: memcpy, act's forward and the peer's, act's backward and the peer's,
  // each pair in the other order every other round.
  std::vector<std::function<void()>> subjects = {[&] { k->forward(); }, [&] { k->backward(); }};
  bool headToHead = in.actForward && in.actBackward;
  if (headToHead)
    subjects = {in.actForward, [&] { k->forward(); }, in.actBackward, [&] { k->backward(); }};
  std::vector<double> t = timeRoundsOf(in.reps, in.copyMs, subjects, headToHead);
  r.copyMs = t[0];
  r.fwdMs = headToHead ? t[2] : t[1];
  r.bwdMs = headToHead ? t[4] : t[2];
  if (headToHead) {
    r.actFwdMs = t[1];
    r.actBwdMs = t[3];
  }
  size_t count = (size_t)in.shape.numElements();
  r.yDiff = maxRelDiff(y.data(), in.actY, count);
  r.dxDiff = maxRelDiff(dx.data(), in.actDx, count);
  r.ran = true;
  return r;
}

void writeFloats(const fs::path &path, const float *data, size_t count) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(data), (std::streamsize)(count * sizeof(float)));
  if (!out)
    throw act::Error("cannot write '" + path.string() + "'");
}

bool readFloats(const fs::path &path, std::vector<float> &out, size_t count) {
  out.assign(count, 0.0f);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char *>(out.data()), (std::streamsize)(count * sizeof(float)));
  return (bool)in;
}

std::string lastLines(const fs::path &path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty())
      last = line;
  return last;
}

/// bench/torch_peer.py in a child process: it reads x and the parameters from files,
/// prints "torch_peer fwd_ms=... bwd_ms=... copy_ms=..." and writes y and dx back.
PeerResult runTorch(const PeerInput &in) {
  PeerResult r;
  char tmpl[] = "/tmp/actc-bench-XXXXXX";
  if (!mkdtemp(tmpl)) {
    r.why = "cannot make a temporary directory";
    return r;
  }
  fs::path dir(tmpl);
  size_t count = (size_t)in.shape.numElements();
  writeFloats(dir / "x.bin", in.x, count);
  const auto &params = in.activation->params();
  for (size_t k = 0; k < params.size(); ++k)
    writeFloats(dir / fmt::format("p{}.bin", k), in.params[k],
                (size_t)params[k].numValues(in.shape));
  std::string cmd = fmt::format(
      "{} '{}' --fn {} --shape {},{},{} --layout {} --threads {} --reps {} --dir '{}' "
      "2>'{}'",
      kPython, ACT_TORCH_PEER_SCRIPT, in.activation->name(), in.shape.n, in.shape.c,
      in.shape.s, in.shape.layout == act::Layout::NSC ? "nsc" : "ncs", in.threads, in.reps,
      dir.string(), (dir / "stderr").string());
  std::string output;
  if (FILE *pipe = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, pipe)) > 0)
      output.append(buf, got);
    int status = pclose(pipe);
    std::map<std::string, double> values;
    std::istringstream lines(output);
    std::string word;
    while (lines >> word) {
      size_t eq = word.find('=');
      if (eq != std::string::npos)
        values[word.substr(0, eq)] = std::atof(word.c_str() + eq + 1);
    }
    std::vector<float> y, dx;
    if (status == 0 && values.count("fwd_ms") && values.count("bwd_ms") &&
        values.count("copy_ms") && readFloats(dir / "y.bin", y, count) &&
        readFloats(dir / "dx.bin", dx, count)) {
      r.fwdMs = values["fwd_ms"];
      r.bwdMs = values["bwd_ms"];
      r.copyMs = values["copy_ms"];
      r.yDiff = maxRelDiff(y.data(), in.actY, count);
      r.dxDiff = maxRelDiff(dx.data(), in.actDx, count);
      r.ran = true;
    } else {
      std::string err = lastLines(dir / "stderr");
      r.why = "failed" + (err.empty() ? std::string() : ": " + err);
    }
  } else {
    r.why = "cannot start /usr/bin/python3";
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

} // namespace

std::string actc::peerMissing(Peer peer) {
  switch (peer) {
  case Peer::Loop:
    return "";
  case Peer::Halide:
    return actbench::haveHalide()
               ? ""
               : "not built with Halide (libhalide14-0-dev not found at configure time)";
  case Peer::Torch:
    return torchMissing();
  }
  return "unknown";
}

PeerResult actc::runPeer(Peer peer, const PeerInput &in) {
  PeerResult r;
  if (!sameParams(*in.activation, r.why))
    return r;
  return peer == Peer::Torch ? runTorch(in) : runNative(peer, in);
}

double actc::maxRelDiff(const float *got, const float *want, size_t count) {
  double worst = 0;
  for (size_t i = 0; i < count; ++i) {
    double g = got[i], w = want[i];
    if (std::isnan(g) != std::isnan(w))
      return INFINITY;
    if (std::isnan(w) || g == w)
      continue;
    worst = std::max(worst, std::fabs(g - w) / std::max(std::fabs(w), 1.0));
  }
  return worst;
}
