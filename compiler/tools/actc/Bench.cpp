// actc bench: forward and backward time per activation against memcpy of the same
// bytes, measured side by side in one run (and on the GPU against a device copy), and
// the same against peers (BenchPeers.cpp) on the same formula and data.
#include "Actc.h"
#include "BenchPeers.h"
#include "Peers.h"

#include "act/act.h"
#include "act/cuda.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>
#include <thread>
#include <vector>

using namespace actc;

namespace {

struct Options {
  int64_t size = 16777216;
  int64_t channels = 64;
  unsigned threads = 0;
  act::Layout layout = act::Layout::NCS;
  bool cuda = false;
  int reps = 9;
  double lo = -6, hi = 6; ///< input values sweep [lo, hi)
  bool flushDenormals = false;
  std::vector<Peer> peers = {Peer::Loop, Peer::Halide, Peer::Torch};
};

/// What the peers did over the whole run, for the lines under the table.
struct PeerSummary {
  std::map<Peer, std::string> missing; ///< peer -> why it could not run at all
  std::map<Peer, double> worstY, worstDx, compileMs;
  std::vector<std::string> warnings;
  std::vector<std::string> headToHead; ///< one line per activation and in-process peer
};

/// The peers' columns of one row: their forward and backward time over memcpy.
std::string peerCells(const act::Activation &a, const Options &o, PeerInput in,
                      PeerSummary &summary) {
  std::string cells;
  for (Peer peer : o.peers) {
    PeerResult r;
    if (!summary.missing.count(peer))
      r = runPeer(peer, in);
    if (!r.ran) {
      cells += fmt::format(" {:>11} {:>8}", "-", "-");
      continue;
    }
    cells += fmt::format(" {:>10.2f}x {:>7.2f}x", r.fwdMs / r.copyMs, r.bwdMs / r.copyMs);
    summary.worstY[peer] = std::max(summary.worstY[peer], r.yDiff);
    summary.worstDx[peer] = std::max(summary.worstDx[peer], r.dxDiff);
    summary.compileMs[peer] += r.compileMs;
    if (r.actFwdMs > 0 && r.actBwdMs > 0)
      summary.headToHead.push_back(fmt::format("  {:<16} {:<7} {:>6.2f}x {:>8.2f}x", a.name(),
                                               peerName(peer), r.fwdMs / r.actFwdMs,
                                               r.bwdMs / r.actBwdMs));
    if (!(r.yDiff <= 1e-3 && r.dxDiff <= 1e-3))
      summary.warnings.push_back(fmt::format(
          "warning: {} differs from act on '{}': forward {:.1e}, dx {:.1e} (max |peer - "
          "act| / max(|act|, 1) over the benchmark data; above 1e-3)",
          peerName(peer), a.name(), r.yDiff, r.dxDiff));
  }
  return cells;
}

void benchCPU(const act::Activation &a, const Options &o, PeerSummary &summary) {
  CpuRun run(a, act::TensorShape{1, o.channels, o.size / o.channels, o.layout}, o.lo, o.hi);
  RoundTimes t = run.measure(o.reps);
  double memcpyFwdMs = t.copyMs, fwdMs = t.forwardMs, bwdMs = t.backwardMs;
  std::string row =
      fmt::format("{:<16} {:>9.3f} {:>8.1f} {:>7.2f}x {:>9.3f} {:>7.2f}x {:>9.3f}", a.name(),
                  fwdMs, run.forwardBytes() / fwdMs / 1e6, fwdMs / memcpyFwdMs, bwdMs,
                  bwdMs / memcpyFwdMs, memcpyFwdMs);
  if (!o.peers.empty()) {
    // act's own results on this data, which the peers' results are checked against.
    run.forward();
    run.backward();
    PeerInput pin;
    pin.activation = &a;
    pin.shape = run.shape;
    pin.threads = act::numThreads();
    pin.reps = o.reps;
    pin.x = run.in[0];
    pin.dy = run.dy.data();
    pin.params = run.pp;
    pin.actY = run.y.data();
    pin.actDx = run.din[0];
    pin.copyMs = [&run] { return run.copyOnceMs(); };
    pin.actForward = [&run] { run.forward(); };
    pin.actBackward = [&run] { run.backward(); };
    row += peerCells(a, o, pin, summary);
  }
  std::cout << row << "\n" << std::flush;
}

void benchCUDA(const act::Activation &a, const Options &o) {
  act::TensorShape shape{1, o.channels, o.size / o.channels, o.layout};
  size_t count = (size_t)shape.numElements(), bytes = count * sizeof(float);
  std::vector<float> host(count);
  for (size_t i = 0; i < count; ++i)
    host[i] = (float)(o.lo + (o.hi - o.lo) * (double)(i % 4096) / 4096.0);
  std::vector<act::cuda::Buffer> inputs, params;
  std::vector<const void *> in, pp;
  for (size_t k = 0; k < a.inputs().size(); ++k) {
    inputs.emplace_back(bytes);
    inputs.back().upload(host.data(), bytes);
    in.push_back(inputs.back().data());
  }
  for (auto &v : defaultParams(a, shape)) {
    params.emplace_back(v.size() * sizeof(float));
    params.back().upload(v.data(), v.size() * sizeof(float));
    pp.push_back(params.back().data());
  }
  act::cuda::Buffer y(bytes), copy(bytes), dy(bytes);
  dy.upload(host.data(), bytes);
  std::vector<act::cuda::Buffer> dx, dp;
  std::vector<void *> dxPtr, dpPtr;
  for (size_t k = 0; k < a.inputs().size(); ++k)
    dxPtr.push_back(dx.emplace_back(bytes).data());
  for (const act::ParamInfo &p : a.params())
    dpPtr.push_back(
        dp.emplace_back(std::max<int64_t>(1, p.numValues(shape)) * sizeof(float)).data());
  act::cuda::Timer timer;
  auto time = [&](auto &&fn) {
    fn();
    act::cuda::synchronize();
    timer.start();
    for (int i = 0; i < o.reps; ++i)
      fn();
    return timer.stop() / o.reps;
  };
  double copyMs = time([&] { copy.copyFrom(inputs[0], bytes); });
  double fwdMs = time([&] { a.launch(act::DType::F32, shape, in.data(), y.data(), pp.data()); });
  double bwdMs = time([&] {
    a.launchBackward(act::DType::F32, shape, in.data(), dy.data(), dxPtr.data(), dpPtr.data(),
                     pp.data());
  });
  // The copy moves 2 * bytes (read and write): the yardstick's bandwidth.
  double copyRate = 2.0 * (double)bytes / copyMs / 1e6;
  double fwdBytes = (double)bytes * (double)(in.size() + 1);
  double bwdBytes = (double)bytes * (double)(2 * in.size() + 1); // x..., dy; dx...
  double fwdRate = fwdBytes / fwdMs / 1e6, bwdRate = bwdBytes / bwdMs / 1e6;
  std::cout << fmt::format("{:<16} {:>9.3f} {:>8.1f} {:>7.1f}% {:>9.3f} {:>8.1f} {:>7.1f}% {:>9.1f}\n",
                           a.name(), fwdMs, fwdRate, 100.0 * fwdRate / copyRate, bwdMs, bwdRate,
                           100.0 * bwdRate / copyRate, copyRate);
}

void printPeerSummary(const Options &o, const PeerSummary &summary) {
  if (o.peers.empty()) {
    std::cout << "peers: none measured (--peers none).\n";
    return;
  }
  std::cout << "peers: the same ratios for each peer on the same data and parameters: "
               "fwd and bwd time over memcpy\n"
               "  of the forward's bytes in the same run (torch: over copy_ of the same "
               "bytes in its own process);\n"
               "  loop: hand-written C++ (-O3 -march=native, float, std::exp, "
            << actbench::loopThreading()
            << "); halide: Halide JIT, backward by\n"
               "  propagate_adjoints; torch: PyTorch eager, bwd = forward + autograd "
               "backward; '-': not implemented.\n";
  std::string agree;
  for (Peer peer : o.peers)
    if (summary.worstY.count(peer))
      agree += fmt::format("{}{} {:.1e}/{:.1e}", agree.empty() ? "" : ", ", peerName(peer),
                           summary.worstY.at(peer), summary.worstDx.at(peer));
  if (!agree.empty())
    std::cout << "agreement with act (worst max |peer - act| / max(|act|, 1), forward/dx): "
              << agree << "\n";
  if (!summary.headToHead.empty()) {
    std::cout << "head to head (peer time / act time, medians of the same rounds: memcpy, act "
                 "fwd and peer fwd,\n  act bwd and peer bwd, each pair in the other order "
                 "every other round; above 1: act faster):\n"
              << fmt::format("  {:<16} {:<7} {:>7} {:>9}\n", "activation", "peer", "fwd", "bwd");
    for (const std::string &line : summary.headToHead)
      std::cout << line << "\n";
  }
  if (summary.compileMs.count(Peer::Halide))
    std::cout << fmt::format("halide JIT compile: {:.0f} ms in all, outside the timings\n",
                             summary.compileMs.at(Peer::Halide));
  for (const auto &[peer, why] : summary.missing)
    std::cout << "peer missing: " << peerName(peer) << ": " << why << "\n";
  for (const std::string &w : summary.warnings)
    std::cout << w << "\n";
}

} // namespace

int actc::runBench(Args &args) {
  std::string path, fns;
  Options o;
  while (!args.empty()) {
    std::string v;
    if (args.option("--fn", v))
      fns = v;
    else if (args.option("--size", v))
      o.size = (int64_t)parseNumberList(v, "--size").at(0);
    else if (args.option("--channels", v))
      o.channels = (int64_t)parseNumberList(v, "--channels").at(0);
    else if (args.option("--threads", v))
      o.threads = (unsigned)parseNumberList(v, "--threads").at(0);
    else if (args.option("--reps", v))
      o.reps = std::max(1, (int)parseNumberList(v, "--reps").at(0));
    else if (args.option("--layout", v)) {
      if (v != "ncs" && v != "nsc")
        throw UsageError{"--layout must be ncs or nsc (got '" + v + "')"};
      o.layout = v == "nsc" ? act::Layout::NSC : act::Layout::NCS;
    } else if (args.option("--range", v)) {
      std::vector<double> r = parseNumberList(v, "--range");
      if (r.size() != 2 || !(r[0] < r[1]))
        throw UsageError{"--range expects LO,HI with LO < HI (got '" + v + "')"};
      o.lo = r[0];
      o.hi = r[1];
    } else if (args.flag("--flush-denormals")) {
      o.flushDenormals = true;
    } else if (args.option("--peers", v)) {
      o.peers = parsePeers(v);
    } else if (args.option("--target", v)) {
      if (v != "cpu" && v != "cuda")
        throw UsageError{"--target must be cpu or cuda (got '" + v + "')"};
      o.cuda = v == "cuda";
    } else {
      args.fileOrError(path, "bench");
    }
  }
  if (path.empty())
    throw UsageError{"bench needs a FILE"};
  if (o.size < o.channels || o.channels < 1)
    throw UsageError{"--size must be at least --channels (and both positive)"};
  std::string why;
  if (o.cuda && !act::cuda::available(&why))
    throw UsageError{"--target cuda: " + why};
  act::Module module = act::Module::compileFile(
      path, act::CompileOptions{o.cuda ? act::Target::CUDA : act::Target::CPU, "",
                                o.flushDenormals});
  std::vector<std::string> names = module.names();
  if (!fns.empty()) {
    names.clear();
    size_t start = 0;
    while (start <= fns.size()) {
      size_t end = std::min(fns.find(',', start), fns.size());
      names.push_back(fns.substr(start, end - start));
      module.get(names.back()); // unknown names fail here, with a suggestion
      start = end + 1;
    }
  }
  if (o.threads)
    act::setNumThreads(o.threads);
  int64_t elems = o.size / o.channels * o.channels;
  PeerSummary summary;
  if (o.cuda)
    o.peers.clear(); // the peers run on the CPU
  for (Peer peer : o.peers) {
    std::string why = peerMissing(peer);
    if (!why.empty())
      summary.missing[peer] = why;
  }
  if (o.cuda) {
    std::cout << fmt::format("{} elements float32, {} channels, {}, {} ({})\n", elems,
                             o.channels, o.layout == act::Layout::NCS ? "ncs" : "nsc",
                             act::cuda::deviceName(), act::cuda::deviceArch());
    std::cout << fmt::format("{:<16} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9}\n", "activation",
                             "fwd ms", "GB/s", "of copy", "bwd ms", "GB/s", "of copy",
                             "copy GB/s");
  } else {
    std::cout << fmt::format("{} elements float32 in [{}, {}), {} channels, {}, {} threads{}\n",
                             elems, o.lo, o.hi, o.channels,
                             o.layout == act::Layout::NCS ? "ncs" : "nsc", act::numThreads(),
                             o.flushDenormals ? ", denormals flushed" : "");
    std::string header = fmt::format("{:<16} {:>9} {:>8} {:>8} {:>9} {:>8} {:>9}", "activation",
                                     "fwd ms", "GB/s", "/memcpy", "bwd ms", "/memcpy",
                                     "memcpy ms");
    for (Peer peer : o.peers)
      header += fmt::format(" {:>11} {:>8}", std::string(peerName(peer)) + " fwd", "bwd");
    std::cout << header << "\n";
  }
  if (!o.cuda) {
    // Warm the allocator and the kernel's page handling up first: the first 64 MiB
    // buffers of a process are slower to fill (page faults, huge-page promotion), which
    // made the first row's memcpy and kernel both up to 1.5x slower than later rows.
    std::vector<float> a((size_t)elems, 1.0f), b((size_t)elems);
    for (int i = 0; i < 5; ++i)
      parallelMemcpy(b.data(), a.data(), a.size() * sizeof(float));
  }
  for (const std::string &name : names) {
    if (o.cuda)
      benchCUDA(module.get(name), o);
    else
      benchCPU(module.get(name), o, summary);
  }
  std::cout << (o.cuda ? "of copy: the kernel's bandwidth (forward: inputs read, y written; "
                         "backward: inputs and dy read, dx written) over a device-to-device "
                         "copy's (bytes read and written), same run.\n"
                       : "ratios: time over memcpy of the forward's bytes (inputs read + output "
                         "written) in the same run, split over the same threads; backward also "
                         "reads dy and writes dx.\n");
  if (!o.cuda)
    printPeerSummary(o, summary);
  return 0;
}
