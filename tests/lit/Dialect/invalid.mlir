// RUN: act-opt %s -split-input-file -verify-diagnostics

func.func @one_operand(%x: f64, %b: f64) -> f64 {
  // expected-error @+1 {{needs at least two operands before ';', got 1}}
  %0 = "act.smooth_max"(%x, %b) : (f64, f64) -> f64
  return %0 : f64
}

// -----

func.func @short_table(%x: f64, %y: memref<1xf64>) -> f64 {
  // expected-error @+1 {{table must be one-dimensional with at least 2 knots}}
  %0 = act.pwl %x, %y, %x, %x, %x, %x : f64, memref<1xf64>
  return %0 : f64
}

// -----

// expected-error @+1 {{body has 1 arguments, expected 2 (inputs, then parameters)}}
act.activation @a attributes {input_names = ["x"], param_names = ["beta"], param_shapes = [""],
    param_inits = [array<f64: 1.0>], param_const = array<i1: false>} {
^bb0(%x: f64):
  act.yield %x : f64
}

// -----

// expected-error @+1 {{table parameter 'y' must be a memref<17xf..>, got 'f64'}}
act.activation @a attributes {input_names = ["x"], param_names = ["y"], param_shapes = ["C,17"],
    param_inits = [array<f64>], param_const = array<i1: false>} {
^bb0(%x: f64, %y: f64):
  act.yield %x : f64
}

// -----

// expected-error @+1 {{parameter 'p' has an invalid shape '"C,N"'}}
act.activation @a attributes {input_names = ["x"], param_names = ["p"], param_shapes = ["C,N"],
    param_inits = [array<f64>], param_const = array<i1: false>} {
^bb0(%x: f64, %p: f64):
  act.yield %x : f64
}

// -----

// expected-error @+1 {{has 3 initial values; expected none, one, or one per table entry}}
act.activation @a attributes {input_names = ["x"], param_names = ["p"], param_shapes = ["C"],
    param_inits = [array<f64: 1.0, 2.0, 3.0>], param_const = array<i1: false>} {
^bb0(%x: f64, %p: f64):
  act.yield %x : f64
}

// -----

// expected-error @+1 {{needs one shape, one init list and one const flag per parameter}}
act.activation @a attributes {input_names = ["x"], param_names = ["p"], param_shapes = [],
    param_inits = [], param_const = array<i1>} {
^bb0(%x: f64, %p: f64):
  act.yield %x : f64
}

// -----

func.func @yield_outside(%x: f64) {
  // expected-error @+1 {{expects parent op 'act.activation'}}
  act.yield %x : f64
}
