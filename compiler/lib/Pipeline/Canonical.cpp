// act: an activation's simplified forward body as one canonical formula (the search
// API's canonical form, docs/search.md).
//
// The body (after simplifyAct) becomes a term tree; sugar is expanded (gate(v, g) =
// v * sigmoid(g), relu(x) = max(x, 0), a - b = a + -1 * b, -a = -1 * a), sums,
// products, max and min are flattened, their constants folded and their operands
// sorted by their own canonical text. Equal texts mean equal functions; the converse
// is left to the numeric fingerprint.
#include "act/Dialect/ActOps.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>
#include <map>
#include <sstream>

using namespace mlir;

namespace act {
namespace {

struct Term {
  enum Kind { Leaf, Const, Add, Mul, Div, Call } kind = Leaf;
  std::string name; // Leaf: the variable; Call: the function
  double value = 0; // Const
  std::vector<Term> args;
  size_t numTrailing = 0; // Call: arguments after ';'
};

std::string number(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

Term constant(double v) { return Term{Term::Const, "", v, {}, 0}; }

/// How tightly a rendered term binds: 1 sums, 2 products, 3 negated, 4 atoms.
int precedence(const Term &t) {
  switch (t.kind) {
  case Term::Add: return 1;
  case Term::Mul: return t.args.front().kind == Term::Const ? 3 : 2;
  case Term::Div: return 2;
  case Term::Const: return t.value < 0 ? 3 : 4;
  default: return 4;
  }
}

std::string render(const Term &t);

std::string wrap(const Term &t, int minPrec) {
  std::string s = render(t);
  return precedence(t) < minPrec ? "(" + s + ")" : s;
}

/// A product without its sign: "2 * x" for -2 * x; sets `negative`.
std::string renderProduct(const Term &t, bool &negative) {
  negative = false;
  std::string out;
  size_t first = 0;
  if (t.args.front().kind == Term::Const) {
    double c = t.args.front().value;
    negative = c < 0;
    first = 1;
    if (std::abs(c) != 1)
      out = number(std::abs(c));
  }
  for (size_t i = first; i < t.args.size(); ++i)
    out += (out.empty() ? "" : " * ") + wrap(t.args[i], 3);
  return out;
}

std::string render(const Term &t) {
  switch (t.kind) {
  case Term::Leaf: return t.name;
  case Term::Const: return number(t.value);
  case Term::Add: {
    std::string out;
    for (const Term &a : t.args) {
      bool negative = false;
      std::string s = a.kind == Term::Mul     ? renderProduct(a, negative)
                      : a.kind == Term::Const ? number(std::abs(a.value))
                                              : wrap(a, 2);
      if (a.kind == Term::Const)
        negative = a.value < 0;
      if (a.kind == Term::Mul && precedence(a) == 3 && s.find(" + ") != std::string::npos)
        s = "(" + s + ")";
      out += out.empty() ? (negative ? "-" + s : s) : (negative ? " - " : " + ") + s;
    }
    return out;
  }
  case Term::Mul: {
    bool negative = false;
    std::string s = renderProduct(t, negative);
    return negative ? "-" + s : s;
  }
  case Term::Div: return wrap(t.args[0], 2) + " / " + wrap(t.args[1], 3);
  case Term::Call: {
    std::string out = t.name + "(";
    size_t positional = t.args.size() - t.numTrailing;
    for (size_t i = 0; i < t.args.size(); ++i)
      out += (i == 0 ? "" : i == positional ? "; " : ", ") + render(t.args[i]);
    return out + ")";
  }
  }
  return "?";
}

/// Flattens nested `kind` terms into `out`.
void flatten(Term::Kind kind, std::vector<Term> &args, std::vector<Term> &out) {
  for (Term &a : args) {
    if (a.kind == kind)
      flatten(kind, a.args, out);
    else
      out.push_back(std::move(a));
  }
}

void sortByText(std::vector<Term> &args) {
  std::vector<std::pair<std::string, Term>> keyed;
  for (Term &a : args) // names first (x * sigmoid(x)), then by text
    keyed.emplace_back((a.kind == Term::Leaf ? "0" : "1") + render(a), std::move(a));
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  args.clear();
  for (auto &k : keyed)
    args.push_back(std::move(k.second));
}

Term makeMul(std::vector<Term> args);

/// A sum: flattened, constants folded, like terms collected (x + x = 2 * x; a zero
/// coefficient stays, as 0 * t, so NaN and inf keep their way through), sorted.
Term makeAdd(std::vector<Term> args) {
  std::vector<Term> flat;
  flatten(Term::Add, args, flat);
  double c = 0;
  std::vector<Term> rest;
  std::map<std::string, std::pair<double, Term>> like; // text of t -> (sum of k, t)
  std::vector<std::string> order;
  for (Term &a : flat) {
    if (a.kind == Term::Const) {
      c += a.value;
      continue;
    }
    double k = 1;
    Term t = std::move(a);
    if (t.kind == Term::Mul && t.args.front().kind == Term::Const) { // k * t
      k = t.args.front().value;
      std::vector<Term> factors(t.args.begin() + 1, t.args.end());
      t = factors.size() == 1 ? std::move(factors.front())
                              : Term{Term::Mul, "", 0, std::move(factors), 0};
    }
    std::string key = render(t);
    auto [it, fresh] = like.emplace(key, std::make_pair(k, t));
    if (fresh)
      order.push_back(key);
    else
      it->second.first += k;
  }
  for (const std::string &key : order) {
    auto &[k, t] = like[key];
    rest.push_back(k == 1 ? std::move(t) : makeMul({constant(k), std::move(t)}));
  }
  sortByText(rest);
  if (c != 0 || rest.empty())
    rest.push_back(constant(c));
  if (rest.size() == 1)
    return std::move(rest.front());
  return Term{Term::Add, "", 0, std::move(rest), 0};
}

/// A product: flattened, constants multiplied (first), sorted.
Term makeMul(std::vector<Term> args) {
  std::vector<Term> flat;
  flatten(Term::Mul, args, flat);
  double c = 1;
  std::vector<Term> rest;
  for (Term &a : flat) {
    if (a.kind == Term::Const)
      c *= a.value;
    else
      rest.push_back(std::move(a));
  }
  sortByText(rest);
  if (rest.empty())
    return constant(c);
  if (c != 1)
    rest.insert(rest.begin(), constant(c));
  if (rest.size() == 1)
    return std::move(rest.front());
  return Term{Term::Mul, "", 0, std::move(rest), 0};
}

Term makeCall(std::string name, std::vector<Term> args, bool commutative = false,
              size_t numTrailing = 0) {
  if (commutative) {
    std::vector<Term> flat;
    for (Term &a : args) {
      if (a.kind == Term::Call && a.name == name)
        flat.insert(flat.end(), a.args.begin(), a.args.end());
      else
        flat.push_back(std::move(a));
    }
    sortByText(flat);
    args = std::move(flat);
  }
  return Term{Term::Call, std::move(name), 0, std::move(args), numTrailing};
}

class CanonicalPrinter {
public:
  explicit CanonicalPrinter(ActivationOp act) : act(act) {}

  std::string print() {
    Block &body = act.getBodyBlock();
    for (unsigned i = 0; i < body.getNumArguments(); ++i)
      terms[body.getArgument(i)] = Term{Term::Leaf, act.getArgumentName(i).str(), 0, {}, 0};
    for (Operation &op : body.without_terminator())
      if (op.getNumResults() == 1)
        terms[op.getResult(0)] = build(op);
    auto yield = cast<YieldOp>(body.getTerminator());
    std::string out;
    for (Value v : yield.getResults())
      out += (out.empty() ? "" : "; ") + render(terms[v]);
    return out;
  }

private:
  ActivationOp act;
  DenseMap<Value, Term> terms;

  Term of(Value v) { return terms[v]; }
  std::vector<Term> all(ValueRange vs) {
    std::vector<Term> out;
    for (Value v : vs)
      out.push_back(of(v));
    return out;
  }

  Term build(Operation &op) {
    FloatAttr f;
    if (matchPattern(op.getResult(0), m_Constant(&f)))
      return constant(f.getValueAsDouble());
    IntegerAttr i;
    if (matchPattern(op.getResult(0), m_Constant(&i)))
      return constant((double)i.getInt());
    if (isa<arith::AddFOp>(op))
      return makeAdd(all(op.getOperands()));
    if (isa<arith::SubFOp>(op))
      return makeAdd({of(op.getOperand(0)), makeMul({constant(-1), of(op.getOperand(1))})});
    if (isa<arith::NegFOp>(op))
      return makeMul({constant(-1), of(op.getOperand(0))});
    if (isa<arith::MulFOp, SafeMulOp>(op))
      return makeMul(all(op.getOperands()));
    if (isa<arith::DivFOp>(op)) {
      Term den = of(op.getOperand(1));
      if (den.kind == Term::Const && den.value != 0)
        return makeMul({constant(1 / den.value), of(op.getOperand(0))});
      return Term{Term::Div, "", 0, {of(op.getOperand(0)), std::move(den)}, 0};
    }
    if (auto gate = dyn_cast<GateOp>(op))
      return makeMul({of(gate.getValue()), makeCall("sigmoid", {of(gate.getGate())})});
    if (isa<ReluOp>(op))
      return makeCall("max", {of(op.getOperand(0)), constant(0)}, true);
    if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op))
      return makeCall("max", all(op.getOperands()), true);
    if (isa<arith::MinimumFOp, arith::MinNumFOp>(op))
      return makeCall("min", all(op.getOperands()), true);
    if (auto sm = dyn_cast<SmoothMaxOp>(op))
      return makeCall("smooth_max", sortedThen(sm.getInputs(), sm.getBeta()), false, 1);
    if (auto sm = dyn_cast<SmoothMinOp>(op))
      return makeCall("smooth_min", sortedThen(sm.getInputs(), sm.getBeta()), false, 1);
    if (auto sm = dyn_cast<LogSumExpOp>(op))
      return makeCall("logsumexp", sortedThen(sm.getInputs(), sm.getBeta()), false, 1);
    if (auto cmp = dyn_cast<arith::CmpFOp>(op))
      return makeCall(("cmp_" + arith::stringifyCmpFPredicate(cmp.getPredicate())).str(),
                      all(op.getOperands()));
    StringRef name = op.getName().stripDialect();
    static const std::map<std::string, std::string> rename = {{"absf", "abs"},
                                                              {"powf", "pow"}};
    auto it = rename.find(name.str());
    return makeCall(it == rename.end() ? name.str() : it->second, all(op.getOperands()));
  }

  /// smooth_max's inputs (symmetric) sorted, then its beta.
  std::vector<Term> sortedThen(ValueRange inputs, Value beta) {
    std::vector<Term> args = all(inputs);
    sortByText(args);
    args.push_back(of(beta));
    return args;
  }
};

} // namespace

std::string printCanonical(Operation *activation) {
  auto act = dyn_cast<ActivationOp>(activation);
  if (!act)
    return "";
  return CanonicalPrinter(act).print();
}

} // namespace act
