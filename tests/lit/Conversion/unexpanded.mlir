// RUN: act-opt %s -convert-act-to-kernels -verify-diagnostics

act.activation @s attributes {input_names = ["x"], param_names = [], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64):
  // expected-error @+1 {{cannot be put in a kernel; run act-expand first}}
  %0 = act.sigmoid %x : f64
  act.yield %0 : f64
}
