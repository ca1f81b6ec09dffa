# lit configuration for act's FileCheck tests.
import os
import lit.formats

config.name = "act"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".act", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.act_binary_dir, "tests", "lit")

# actc, act-opt first; FileCheck, not, count from LLVM 19.
config.environment["PATH"] = os.pathsep.join(
    [config.act_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
# The JIT's kernel cache stays in the build tree (never the user's ~/.cache).
config.environment["ACT_CACHE_DIR"] = config.act_cache_dir
config.substitutions.append(("%examples", os.path.join(config.act_source_dir, "examples")))

# Kernels only an AVX-512 host gets (table permutes, channels-last tiles): their
# tests say REQUIRES: avx512.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        if " avx512f" in cpuinfo.read():
            config.available_features.add("avx512")
except OSError:
    pass
